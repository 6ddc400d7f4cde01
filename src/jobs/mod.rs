//! Asynchronous process jobs: started, followed (status, progress), fetched (results), dismissed.
//! Bounded in number and age; results are kept in memory up to a byte budget, then on disk.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use indexmap::IndexMap;

pub mod uploads;

pub use crate::services::process::Progress;
use crate::services::{process::ProcessOutput, ServiceError};

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
    #[error("{0} jobs are running, the most this gateway keeps; retry when one finishes")]
    TooMany(usize),
    #[error("the results of job {0:?} could not be read back: {1}")]
    Storage(String, String),
}

pub struct JobStore {
    jobs: Mutex<IndexMap<String, Job>>,
    max_jobs: usize,
    max_age: Duration,
    memory_budget: usize,
    dir: PathBuf,
}

impl JobStore {
    pub fn new(max_jobs: usize, max_age: Duration, memory_budget: usize, dir: PathBuf) -> Self {
        JobStore {
            jobs: Mutex::new(IndexMap::new()),
            max_jobs: max_jobs.max(1),
            max_age,
            memory_budget,
            dir,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, IndexMap<String, Job>> {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts `work` as a job of `process_id`; `progress` is the handle the work reports through.
    pub fn submit<F>(
        self: &Arc<Self>,
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
            while jobs.len() >= self.max_jobs {
                let oldest_finished = jobs
                    .iter()
                    .find(|(_, j)| j.info.status.is_finished())
                    .map(|(k, _)| k.clone());
                match oldest_finished {
                    Some(k) => self.remove(&mut jobs, &k),
                    None => return Err(JobError::TooMany(jobs.len())),
                }
            }
            jobs.insert(
                id.clone(),
                Job {
                    info: JobInfo {
                        id: id.clone(),
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
            let outcome = work.await;
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

    fn update(&self, id: &str, change: impl FnOnce(&mut Job)) {
        if let Some(j) = self.lock().get_mut(id) {
            if j.info.status != JobStatus::Dismissed {
                change(j);
                j.info.updated = SystemTime::now();
            }
        }
    }

    async fn finish(&self, id: &str, outcome: Result<ProcessOutput, ServiceError>) {
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

    pub fn get(&self, id: &str) -> Result<JobInfo, JobError> {
        let mut jobs = self.lock();
        self.expire(&mut jobs);
        jobs.get(id)
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

    /// A page of jobs, newest first, and how many there are.
    pub fn list(&self, offset: usize, limit: usize) -> (Vec<JobInfo>, usize) {
        let mut jobs = self.lock();
        self.expire(&mut jobs);
        let total = jobs.len();
        (
            jobs.values()
                .rev()
                .skip(offset)
                .take(limit)
                .map(Job::info)
                .collect(),
            total,
        )
    }

    pub async fn results(&self, id: &str) -> Result<Arc<ProcessOutput>, JobError> {
        let stored = {
            let jobs = self.lock();
            let job = jobs
                .get(id)
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
    pub fn dismiss(&self, id: &str) -> Result<JobInfo, JobError> {
        let mut jobs = self.lock();
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

    fn store(max: usize, budget: usize) -> Arc<JobStore> {
        let dir = std::env::temp_dir().join(format!("geopf-jobs-{}", uuid::Uuid::new_v4()));
        Arc::new(JobStore::new(max, Duration::from_secs(60), budget, dir))
    }

    fn output(n: usize) -> ProcessOutput {
        ProcessOutput::geojson(
            json!({"type": "FeatureCollection", "features": vec![json!(1); n]}),
            crate::cache::CacheStatus::Miss,
        )
    }

    async fn wait(store: &JobStore, id: &str) -> JobInfo {
        for _ in 0..200 {
            let info = store.get(id).unwrap();
            if info.status.is_finished() {
                return info;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("job {id} did not finish");
    }

    #[tokio::test]
    async fn results_beyond_the_budget_go_to_disk_and_come_back() {
        let s = store(10, 50);
        let small = s
            .submit("p", Progress::default(), async { Ok(output(1)) })
            .unwrap();
        let big = s
            .submit("p", Progress::default(), async { Ok(output(100)) })
            .unwrap();
        wait(&s, &small.id).await;
        assert_eq!(wait(&s, &big.id).await.status, JobStatus::Successful);
        assert!(matches!(s.lock()[&big.id].result, Some(Stored::Disk(_))));
        let back = s.results(&big.id).await.unwrap();
        assert_eq!(
            back.outputs[0].value["features"].as_array().unwrap().len(),
            100
        );
    }

    #[tokio::test]
    async fn the_oldest_finished_job_makes_room_and_running_ones_are_kept() {
        let s = store(2, 1 << 20);
        let a = s
            .submit("p", Progress::default(), async { Ok(output(1)) })
            .unwrap();
        wait(&s, &a.id).await;
        let _b = s
            .submit("p", Progress::default(), std::future::pending())
            .unwrap();
        let _c = s
            .submit("p", Progress::default(), std::future::pending())
            .unwrap();
        assert!(matches!(s.get(&a.id), Err(JobError::NoSuchJob(_))));
        assert!(matches!(
            s.submit("p", Progress::default(), async { Ok(output(1)) }),
            Err(JobError::TooMany(2))
        ));
    }
}
