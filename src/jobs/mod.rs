//! Asynchronous process jobs: started, followed (status, progress), fetched (results), dismissed.
//! Bounded in number and age; results are kept in memory up to a byte budget, then on disk.
//! A job belongs to the key that started it: other keys neither see, read nor dismiss it (an
//! admin key sees all), and each key has its own number of slots.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use indexmap::IndexMap;

mod shared;
pub mod uploads;

pub use crate::services::process::Progress;
use crate::{
    cluster::Cluster,
    services::{process::ProcessOutput, ServiceError},
    upstream::RequestContext,
};

/// Who asks about jobs: the key's name (empty on an open gateway) and whether it is an admin.
#[derive(Debug, Clone, Default)]
pub struct Viewer {
    pub name: Arc<str>,
    pub admin: bool,
}

impl Viewer {
    /// The caller of the running request.
    pub fn current() -> Viewer {
        let c = RequestContext::current();
        Viewer {
            name: c.caller,
            admin: c.admin,
        }
    }

    fn sees(&self, owner: &str) -> bool {
        self.admin || *self.name == *owner
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    Accepted,
    Running,
    Successful,
    Failed,
    Dismissed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Accepted => "accepted",
            JobStatus::Running => "running",
            JobStatus::Successful => "successful",
            JobStatus::Failed => "failed",
            JobStatus::Dismissed => "dismissed",
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobStatus::Successful | JobStatus::Failed | JobStatus::Dismissed
        )
    }
}

/// What is known of a job.
#[derive(Debug, Clone)]
pub struct JobInfo {
    pub id: String,
    /// The key that started it.
    pub owner: Arc<str>,
    pub process_id: String,
    pub status: JobStatus,
    pub message: String,
    pub created: SystemTime,
    pub started: Option<SystemTime>,
    pub finished: Option<SystemTime>,
    pub updated: SystemTime,
    pub progress: u8,
    /// Why a failed job failed.
    pub error: Option<ServiceError>,
}

enum Stored {
    Memory(Arc<ProcessOutput>),
    Disk(PathBuf),
}

struct Job {
    info: JobInfo,
    progress: Progress,
    result: Option<Stored>,
    abort: Option<tokio::task::AbortHandle>,
}

impl Job {
    fn info(&self) -> JobInfo {
        let mut info = self.info.clone();
        if info.status == JobStatus::Running {
            info.progress = self.progress.get();
        }
        info
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("there is no job {0:?} (it may have expired or been dismissed)")]
    NoSuchJob(String),
    #[error("job {0:?} is {1}; its results are not ready")]
    NotReady(String, &'static str),
    #[error("the job failed: {0}")]
    Failed(ServiceError),
    #[error("{0} of your jobs are running, the most this gateway keeps for one key (jobs.max_jobs_per_key); retry when one finishes")]
    TooMany(usize),
    #[error("{0} jobs are running on this gateway, the most it keeps (jobs.max_jobs); retry when one finishes")]
    Full(usize),
    #[error("the results of job {0:?} could not be read back: {1}")]
    Storage(String, String),
    #[error("the results of job {0:?} are held only by the gateway replica that ran it (too large to share, or Redis was unavailable); retry, the load balancer may reach it")]
    HeldElsewhere(String),
}

pub struct JobStore {
    jobs: Mutex<IndexMap<String, Job>>,
    max_jobs: usize,
    max_per_key: usize,
    max_age: Duration,
    memory_budget: usize,
    dir: PathBuf,
    /// Cluster mode: jobs written through to Redis, where every replica finds them.
    shared: Option<Cluster>,
}

impl JobStore {
    pub fn new(
        max_jobs: usize,
        max_per_key: usize,
        max_age: Duration,
        memory_budget: usize,
        dir: PathBuf,
    ) -> Self {
        JobStore {
            jobs: Mutex::new(IndexMap::new()),
            max_jobs: max_jobs.max(1),
            max_per_key: max_per_key.clamp(1, max_jobs.max(1)),
            max_age,
            memory_budget,
            dir,
            shared: None,
        }
    }

    /// Shares the jobs with the other replicas through `cluster` (none: this process only).
    pub fn with_cluster(mut self, cluster: Option<Cluster>) -> Self {
        self.shared = cluster;
        self
    }

    /// How long a job's record is kept in Redis: a finished one as long as here, a running one
    /// until it finishes (its replica rewrites it then) or its lease ends.
    fn keep_for(&self, info: &JobInfo) -> Duration {
        if info.status.is_finished() {
            self.max_age
        } else {
            self.max_age.saturating_mul(2)
        }
    }

    /// Writes the job's record for the other replicas (cluster mode).
    async fn publish(&self, info: &JobInfo) {
        if let Some(cluster) = &self.shared {
            let record = shared::Record::of(info, cluster.replica());
            if let Ok(json) = serde_json::to_vec(&record) {
                cluster
                    .put_job(
                        &info.id,
                        shared::millis(info.created),
                        &json,
                        self.keep_for(info),
                    )
                    .await;
            }
        }
    }

    /// The job's info as held here, to publish.
    fn info_of(&self, id: &str) -> Option<JobInfo> {
        self.lock().get(id).map(Job::info)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, IndexMap<String, Job>> {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts `work` as a job of `process_id` for `owner`; `progress` is the handle the work
    /// reports through.
    pub async fn submit<F>(
        self: &Arc<Self>,
        owner: &Arc<str>,
        process_id: &str,
        progress: Progress,
        work: F,
    ) -> Result<JobInfo, JobError>
    where
        F: std::future::Future<Output = Result<ProcessOutput, ServiceError>> + Send + 'static,
    {
        let id = uuid::Uuid::new_v4().to_string();
        let now = SystemTime::now();
        {
            let mut jobs = self.lock();
            self.expire(&mut jobs);
            self.make_room(&mut jobs, owner)?;
            jobs.insert(
                id.clone(),
                Job {
                    info: JobInfo {
                        id: id.clone(),
                        owner: owner.clone(),
                        process_id: process_id.to_string(),
                        status: JobStatus::Accepted,
                        message: "accepted".into(),
                        created: now,
                        started: None,
                        finished: None,
                        updated: now,
                        progress: 0,
                        error: None,
                    },
                    progress,
                    result: None,
                    abort: None,
                },
            );
        }
        if let (Some(cluster), Some(info)) = (&self.shared, self.info_of(&id)) {
            // Listed and leased before any replica can be asked about it.
            cluster.renew_job(&id).await;
            self.publish(&info).await;
        }
        let store = Arc::clone(self);
        let job_id = id.clone();
        // The job keeps its caller: its upstream calls share the quota as the caller's.
        let context = crate::upstream::RequestContext::current();
        let handle = tokio::spawn(context.scope(async move {
            store.update(&job_id, |j| {
                j.info.status = JobStatus::Running;
                j.info.message = "running".into();
                j.info.started = Some(SystemTime::now());
            });
            let Some(outcome) = store.run(&job_id, work).await else {
                // Dismissed through another replica.
                let mut jobs = store.lock();
                store.remove(&mut jobs, &job_id);
                return;
            };
            store.finish(&job_id, outcome).await;
        }));
        let abort = handle.abort_handle();
        let mut jobs = self.lock();
        match jobs.get_mut(&id) {
            Some(j) => {
                j.abort = Some(abort);
                Ok(j.info())
            }
            None => Err(JobError::NoSuchJob(id)),
        }
    }

    /// Room for one more job of `owner`: within its own slots its oldest finished job goes first;
    /// when the whole store is full, the oldest finished job of the key holding the most does.
    fn make_room(
        &self,
        jobs: &mut IndexMap<String, Job>,
        owner: &Arc<str>,
    ) -> Result<(), JobError> {
        let oldest_finished_of = |jobs: &IndexMap<String, Job>, who: &str| {
            jobs.iter()
                .find(|(_, j)| *j.info.owner == *who && j.info.status.is_finished())
                .map(|(k, _)| k.clone())
        };
        let count_of = |jobs: &IndexMap<String, Job>, who: &str| {
            jobs.values().filter(|j| *j.info.owner == *who).count()
        };
        while count_of(jobs, owner) >= self.max_per_key {
            match oldest_finished_of(jobs, owner) {
                Some(k) => self.remove(jobs, &k),
                None => return Err(JobError::TooMany(count_of(jobs, owner))),
            }
        }
        while jobs.len() >= self.max_jobs {
            let mut counts: std::collections::HashMap<&str, usize> = Default::default();
            for j in jobs.values().filter(|j| j.info.status.is_finished()) {
                *counts.entry(&j.info.owner).or_default() += 1;
            }
            let Some(biggest) = counts
                .into_iter()
                .max_by_key(|(_, n)| *n)
                .map(|(who, _)| who.to_string())
            else {
                return Err(JobError::Full(jobs.len()));
            };
            if let Some(k) = oldest_finished_of(jobs, &biggest) {
                self.remove(jobs, &k);
            }
        }
        Ok(())
    }

    /// Runs the job's work; in cluster mode also renews its lease, publishes its progress and
    /// watches for a cancel from another replica (`None` then).
    async fn run<F>(&self, id: &str, work: F) -> Option<Result<ProcessOutput, ServiceError>>
    where
        F: std::future::Future<Output = Result<ProcessOutput, ServiceError>>,
    {
        let Some(cluster) = &self.shared else {
            return Some(work.await);
        };
        if let Some(info) = self.info_of(id) {
            self.publish(&info).await;
        }
        let mut tick = tokio::time::interval(
            (cluster.job_lease() / 3).clamp(Duration::from_millis(100), Duration::from_secs(1)),
        );
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(work);
        let mut published = 0;
        loop {
            tokio::select! {
                outcome = &mut work => return Some(outcome),
                _ = tick.tick() => {
                    if cluster.renew_job(id).await {
                        tracing::info!(job = id, "job dismissed through another replica: cancelled");
                        return None;
                    }
                    if let Some(info) = self.info_of(id).filter(|i| i.progress != published) {
                        published = info.progress;
                        self.publish(&info).await;
                    }
                }
            }
        }
    }

    fn update(&self, id: &str, change: impl FnOnce(&mut Job)) {
        if let Some(j) = self.lock().get_mut(id) {
            if j.info.status != JobStatus::Dismissed {
                change(j);
                j.info.updated = SystemTime::now();
            }
        }
    }

    async fn finish(&self, id: &str, outcome: Result<ProcessOutput, ServiceError>) {
        let shared_results = match (&self.shared, &outcome) {
            (Some(_), Ok(output)) => serde_json::to_vec(&output.outputs).ok(),
            _ => None,
        };
        let stored = match outcome {
            Ok(output) => match self.store_result(id, output).await {
                Ok(s) => Ok(s),
                Err(e) => Err(ServiceError::NotFound(format!(
                    "the results could not be stored: {e}"
                ))),
            },
            Err(e) => Err(e),
        };
        self.update(id, |j| {
            j.info.finished = Some(SystemTime::now());
            j.abort = None;
            match stored {
                Ok(s) => {
                    j.info.status = JobStatus::Successful;
                    j.info.message = "done".into();
                    j.info.progress = 100;
                    j.result = Some(s);
                }
                Err(e) => {
                    j.info.status = JobStatus::Failed;
                    j.info.message = e.to_string();
                    j.info.progress = j.progress.get();
                    j.info.error = Some(e);
                }
            }
        });
        if let (Some(cluster), Some(info)) = (&self.shared, self.info_of(id)) {
            // Dismissed through another replica just before it finished: not brought back.
            if cluster.job_dismissed(id).await == Some(true) {
                let mut jobs = self.lock();
                self.remove(&mut jobs, id);
                return;
            }
            // The results first: a replica that reads "successful" finds them.
            if let Some(json) = shared_results {
                if !cluster.put_job_results(id, &json, self.max_age).await {
                    tracing::warn!(job = id, bytes = json.len(), "job results too large to share (cluster.max_value_kb) or Redis unavailable: only this replica answers them");
                }
            }
            self.publish(&info).await;
            cluster.release_job(id).await;
        }
    }

    /// Keeps a result in memory while the budget allows, else writes it under the cache dir.
    async fn store_result(&self, id: &str, output: ProcessOutput) -> std::io::Result<Stored> {
        let in_memory: usize = self
            .lock()
            .values()
            .filter_map(|j| match &j.result {
                Some(Stored::Memory(o)) => Some(o.weight()),
                _ => None,
            })
            .sum();
        if in_memory + output.weight() <= self.memory_budget {
            return Ok(Stored::Memory(Arc::new(output)));
        }
        tokio::fs::create_dir_all(&self.dir).await?;
        let path = self.dir.join(format!("{id}.json"));
        let tmp = self.dir.join(format!("{id}.json.tmp"));
        let bytes = serde_json::to_vec(&output.outputs).map_err(std::io::Error::other)?;
        tokio::fs::write(&tmp, bytes).await?;
        tokio::fs::rename(&tmp, &path).await?;
        Ok(Stored::Disk(path))
    }

    fn expire(&self, jobs: &mut IndexMap<String, Job>) {
        let now = SystemTime::now();
        let old: Vec<String> = jobs
            .iter()
            .filter(|(_, j)| {
                j.info.status.is_finished()
                    && j.info
                        .finished
                        .and_then(|f| now.duration_since(f).ok())
                        .is_some_and(|age| age > self.max_age)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in old {
            self.remove(jobs, &k);
        }
    }

    fn remove(&self, jobs: &mut IndexMap<String, Job>, id: &str) {
        if let Some(job) = jobs.shift_remove(id) {
            if let Some(a) = job.abort {
                a.abort();
            }
            if let Some(Stored::Disk(path)) = job.result {
                let _ = std::fs::remove_file(path);
            }
        }
    }

    pub fn get(&self, id: &str, viewer: &Viewer) -> Result<JobInfo, JobError> {
        let mut jobs = self.lock();
        self.expire(&mut jobs);
        jobs.get(id)
            .filter(|j| viewer.sees(&j.info.owner))
            .map(Job::info)
            .ok_or_else(|| JobError::NoSuchJob(id.to_string()))
    }

    /// How many jobs are in each state.
    pub fn counts(&self) -> Vec<(JobStatus, usize)> {
        let jobs = self.lock();
        [
            JobStatus::Accepted,
            JobStatus::Running,
            JobStatus::Successful,
            JobStatus::Failed,
        ]
        .into_iter()
        .map(|s| (s, jobs.values().filter(|j| j.info.status == s).count()))
        .collect()
    }

    /// A page of the jobs `viewer` sees, newest first, and how many it sees.
    pub fn list(&self, viewer: &Viewer, offset: usize, limit: usize) -> (Vec<JobInfo>, usize) {
        let mut jobs = self.lock();
        self.expire(&mut jobs);
        let seen = || jobs.values().filter(|j| viewer.sees(&j.info.owner));
        let total = seen().count();
        let page = seen()
            .rev()
            .skip(offset)
            .take(limit)
            .map(Job::info)
            .collect();
        (page, total)
    }

    /// The job's record in Redis (cluster mode), if `viewer` sees it. A running job whose
    /// replica stopped renewing its lease is marked failed, for every replica.
    async fn shared_record(
        &self,
        id: &str,
        viewer: &Viewer,
    ) -> Result<(&Cluster, shared::Record), JobError> {
        let no_such_job = || JobError::NoSuchJob(id.to_string());
        let cluster = self.shared.as_ref().ok_or_else(no_such_job)?;
        let found = cluster.job(id).await.ok_or_else(no_such_job)?;
        let record: shared::Record =
            serde_json::from_slice(&found.json).map_err(|_| no_such_job())?;
        if !viewer.sees(record.owner()) {
            return Err(no_such_job());
        }
        if record.is_finished() || found.leased {
            return Ok((cluster, record));
        }
        let orphan = record.orphaned(cluster.job_lease());
        let info = orphan.into_info();
        tracing::warn!(
            job = id,
            "job lost with its replica (lease expired): marked failed"
        );
        self.publish(&info).await;
        Ok((cluster, shared::Record::of(&info, "")))
    }

    /// Whether a job held here was dismissed through another replica (then forgotten here too).
    async fn dismissed_elsewhere(&self, id: &str) -> bool {
        let Some(cluster) = &self.shared else {
            return false;
        };
        if cluster.job_dismissed(id).await != Some(true) {
            return false;
        }
        let mut jobs = self.lock();
        self.remove(&mut jobs, id);
        true
    }

    /// The job, wherever it runs (here, or in cluster mode on another replica).
    pub async fn status(&self, id: &str, viewer: &Viewer) -> Result<JobInfo, JobError> {
        match self.get(id, viewer) {
            Ok(_) if self.dismissed_elsewhere(id).await => Err(JobError::NoSuchJob(id.into())),
            Err(JobError::NoSuchJob(_)) if self.shared.is_some() => {
                Ok(self.shared_record(id, viewer).await?.1.into_info())
            }
            other => other,
        }
    }

    /// A page of the jobs `viewer` sees on every replica (cluster mode) or here, newest first,
    /// and how many it sees.
    pub async fn page(
        &self,
        viewer: &Viewer,
        offset: usize,
        limit: usize,
    ) -> (Vec<JobInfo>, usize) {
        let records = match &self.shared {
            Some(cluster) => cluster.jobs().await,
            None => None,
        };
        let Some(records) = records else {
            return self.list(viewer, offset, limit);
        };
        // Every job is listed in Redis when it starts; those held here read live progress.
        let (here, _) = self.list(viewer, 0, usize::MAX);
        let mut here: std::collections::HashMap<String, JobInfo> =
            here.into_iter().map(|j| (j.id.clone(), j)).collect();
        let seen: Vec<JobInfo> = records
            .iter()
            .filter_map(|r| serde_json::from_slice::<shared::Record>(r).ok())
            .filter(|r| viewer.sees(r.owner()))
            .map(|r| {
                let info = r.into_info();
                here.remove(&info.id).unwrap_or(info)
            })
            .collect();
        let total = seen.len();
        (seen.into_iter().skip(offset).take(limit).collect(), total)
    }

    /// Dismisses the job wherever it runs: here, or (cluster mode) through Redis, which cancels
    /// it on its replica.
    pub async fn cancel(&self, id: &str, viewer: &Viewer) -> Result<JobInfo, JobError> {
        match self.dismiss(id, viewer) {
            Ok(info) => {
                if let Some(cluster) = &self.shared {
                    cluster.dismiss_job(id, self.max_age).await;
                }
                Ok(info)
            }
            Err(JobError::NoSuchJob(_)) if self.shared.is_some() => {
                let (cluster, record) = self.shared_record(id, viewer).await?;
                if !cluster.dismiss_job(id, self.max_age).await {
                    return Err(JobError::NoSuchJob(id.to_string()));
                }
                let mut info = record.into_info();
                info.status = JobStatus::Dismissed;
                info.message = "dismissed".into();
                info.updated = SystemTime::now();
                Ok(info)
            }
            Err(e) => Err(e),
        }
    }

    /// The results of a successful job, wherever it ran.
    pub async fn results(&self, id: &str, viewer: &Viewer) -> Result<Arc<ProcessOutput>, JobError> {
        match self.local_results(id, viewer).await {
            Err(JobError::NoSuchJob(_)) if self.shared.is_some() => {}
            Ok(_) if self.dismissed_elsewhere(id).await => {
                return Err(JobError::NoSuchJob(id.into()))
            }
            other => return other,
        }
        let (cluster, record) = self.shared_record(id, viewer).await?;
        let info = record.into_info();
        match info.status {
            JobStatus::Successful => {}
            JobStatus::Failed => {
                return Err(JobError::Failed(
                    info.error
                        .unwrap_or(ServiceError::NoResult("unknown failure".into())),
                ))
            }
            status => return Err(JobError::NotReady(id.to_string(), status.as_str())),
        }
        let bytes = cluster
            .job_results(id)
            .await
            .ok_or_else(|| JobError::HeldElsewhere(id.to_string()))?;
        let outputs = serde_json::from_slice(&bytes)
            .map_err(|e| JobError::Storage(id.into(), e.to_string()))?;
        Ok(Arc::new(ProcessOutput {
            outputs,
            cache_status: None,
        }))
    }

    async fn local_results(
        &self,
        id: &str,
        viewer: &Viewer,
    ) -> Result<Arc<ProcessOutput>, JobError> {
        let stored = {
            let jobs = self.lock();
            let job = jobs
                .get(id)
                .filter(|j| viewer.sees(&j.info.owner))
                .ok_or_else(|| JobError::NoSuchJob(id.to_string()))?;
            match (&job.info.status, &job.result) {
                (JobStatus::Successful, Some(Stored::Memory(o))) => return Ok(Arc::clone(o)),
                (JobStatus::Successful, Some(Stored::Disk(p))) => p.clone(),
                (JobStatus::Failed, _) => {
                    return Err(JobError::Failed(
                        job.info
                            .error
                            .clone()
                            .unwrap_or(ServiceError::NoResult("unknown failure".into())),
                    ))
                }
                (status, _) => return Err(JobError::NotReady(id.to_string(), status.as_str())),
            }
        };
        let bytes = tokio::fs::read(&stored)
            .await
            .map_err(|e| JobError::Storage(id.into(), e.to_string()))?;
        let outputs = serde_json::from_slice(&bytes)
            .map_err(|e| JobError::Storage(id.into(), e.to_string()))?;
        Ok(Arc::new(ProcessOutput {
            outputs,
            cache_status: None,
        }))
    }

    /// Dismisses a job: a running one is cancelled; its results are dropped.
    pub fn dismiss(&self, id: &str, viewer: &Viewer) -> Result<JobInfo, JobError> {
        let mut jobs = self.lock();
        if !jobs.get(id).is_some_and(|j| viewer.sees(&j.info.owner)) {
            return Err(JobError::NoSuchJob(id.to_string()));
        }
        let mut job = jobs
            .shift_remove(id)
            .ok_or_else(|| JobError::NoSuchJob(id.to_string()))?;
        if let Some(a) = job.abort.take() {
            a.abort();
        }
        if let Some(Stored::Disk(path)) = job.result.take() {
            let _ = std::fs::remove_file(path);
        }
        let mut info = job.info();
        info.status = JobStatus::Dismissed;
        info.message = "dismissed".into();
        info.updated = SystemTime::now();
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn store(max: usize, per_key: usize, budget: usize) -> Arc<JobStore> {
        let dir = std::env::temp_dir().join(format!("geopf-jobs-{}", uuid::Uuid::new_v4()));
        Arc::new(JobStore::new(
            max,
            per_key,
            Duration::from_secs(60),
            budget,
            dir,
        ))
    }

    fn viewer(name: &str) -> Viewer {
        Viewer {
            name: Arc::from(name),
            admin: false,
        }
    }

    fn output(n: usize) -> ProcessOutput {
        ProcessOutput::geojson(
            json!({"type": "FeatureCollection", "features": vec![json!(1); n]}),
            crate::cache::CacheStatus::Miss,
        )
    }

    async fn done(s: &Arc<JobStore>, owner: &str) -> Result<JobInfo, JobError> {
        s.submit(&Arc::from(owner), "p", Progress::default(), async {
            Ok(output(1))
        })
        .await
    }

    async fn running(s: &Arc<JobStore>, owner: &str) -> Result<JobInfo, JobError> {
        s.submit(
            &Arc::from(owner),
            "p",
            Progress::default(),
            std::future::pending(),
        )
        .await
    }

    async fn wait(store: &JobStore, id: &str, owner: &str) -> JobInfo {
        for _ in 0..200 {
            let info = store.get(id, &viewer(owner)).unwrap();
            if info.status.is_finished() {
                return info;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("job {id} did not finish");
    }

    #[tokio::test]
    async fn results_beyond_the_budget_go_to_disk_and_come_back() {
        let s = store(10, 10, 50);
        let small = done(&s, "").await.unwrap();
        let big = s
            .submit(&Arc::from(""), "p", Progress::default(), async {
                Ok(output(100))
            })
            .await
            .unwrap();
        wait(&s, &small.id, "").await;
        assert_eq!(wait(&s, &big.id, "").await.status, JobStatus::Successful);
        assert!(matches!(s.lock()[&big.id].result, Some(Stored::Disk(_))));
        let back = s.results(&big.id, &viewer("")).await.unwrap();
        assert_eq!(
            back.outputs[0].value["features"].as_array().unwrap().len(),
            100
        );
    }

    #[tokio::test]
    async fn the_oldest_finished_job_makes_room_and_running_ones_are_kept() {
        let s = store(2, 2, 1 << 20);
        let a = done(&s, "").await.unwrap();
        wait(&s, &a.id, "").await;
        running(&s, "").await.unwrap();
        running(&s, "").await.unwrap();
        assert!(matches!(
            s.get(&a.id, &viewer("")),
            Err(JobError::NoSuchJob(_))
        ));
        assert!(matches!(done(&s, "").await, Err(JobError::TooMany(2))));
    }

    #[tokio::test]
    async fn a_job_is_its_owners_alone_and_an_admins() {
        let s = store(10, 10, 1 << 20);
        let a = done(&s, "alice").await.unwrap();
        wait(&s, &a.id, "alice").await;
        let bob = viewer("bob");
        assert!(matches!(s.get(&a.id, &bob), Err(JobError::NoSuchJob(_))));
        assert!(matches!(
            s.results(&a.id, &bob).await,
            Err(JobError::NoSuchJob(_))
        ));
        assert!(matches!(
            s.dismiss(&a.id, &bob),
            Err(JobError::NoSuchJob(_))
        ));
        assert_eq!(s.list(&bob, 0, 10).1, 0);
        let admin = Viewer {
            name: Arc::from("root"),
            admin: true,
        };
        assert_eq!(s.list(&admin, 0, 10).1, 1);
        assert!(s.results(&a.id, &viewer("alice")).await.is_ok());
        s.dismiss(&a.id, &admin).unwrap();
    }

    #[tokio::test]
    async fn one_key_cannot_take_every_slot() {
        let s = store(6, 3, 1 << 20);
        for _ in 0..3 {
            running(&s, "alice").await.unwrap();
        }
        assert!(matches!(
            running(&s, "alice").await,
            Err(JobError::TooMany(3))
        ));
        // Bob still has his own slots.
        for _ in 0..3 {
            running(&s, "bob").await.unwrap();
        }
        // A full store makes room from the key holding the most finished jobs, not from bob's.
        let s = store(4, 3, 1 << 20);
        let b = done(&s, "bob").await.unwrap();
        wait(&s, &b.id, "bob").await;
        for _ in 0..2 {
            let a = done(&s, "alice").await.unwrap();
            wait(&s, &a.id, "alice").await;
        }
        running(&s, "carol").await.unwrap();
        done(&s, "carol").await.unwrap();
        assert!(
            s.get(&b.id, &viewer("bob")).is_ok(),
            "bob's only job was dropped"
        );
        assert_eq!(s.list(&viewer("alice"), 0, 10).1, 1);
    }
}
