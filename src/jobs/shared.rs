//! The job store's side of cluster mode: a job's record as the other replicas read it, written by
//! the replica running the job at each change ([`crate::cluster::jobs`] keeps it in Redis).

use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde::{Deserialize, Serialize};

use super::{JobInfo, JobStatus};
use crate::services::ServiceError;

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Record {
    id: String,
    owner: String,
    process_id: String,
    status: String,
    message: String,
    created_ms: u64,
    started_ms: Option<u64>,
    finished_ms: Option<u64>,
    updated_ms: u64,
    progress: u8,
    /// A failed job's HTTP status.
    failure_status: Option<u16>,
    /// The replica running (or that ran) it.
    pub replica: String,
}

pub(super) fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn time(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

fn status_of(name: &str) -> JobStatus {
    match name {
        "accepted" => JobStatus::Accepted,
        "running" => JobStatus::Running,
        "successful" => JobStatus::Successful,
        "dismissed" => JobStatus::Dismissed,
        _ => JobStatus::Failed,
    }
}

impl Record {
    pub fn of(info: &JobInfo, replica: &str) -> Self {
        Record {
            id: info.id.clone(),
            owner: info.owner.to_string(),
            process_id: info.process_id.clone(),
            status: info.status.as_str().into(),
            message: info.message.clone(),
            created_ms: millis(info.created),
            started_ms: info.started.map(millis),
            finished_ms: info.finished.map(millis),
            updated_ms: millis(info.updated),
            progress: info.progress,
            failure_status: info
                .error
                .as_ref()
                .map(|e| crate::error::ApiError::from(e.clone()).status.as_u16()),
            replica: replica.into(),
        }
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    pub fn is_finished(&self) -> bool {
        status_of(&self.status).is_finished()
    }

    /// The record of a job whose replica stopped renewing its lease.
    pub fn orphaned(mut self, lease: Duration) -> Self {
        let now = SystemTime::now();
        self.status = JobStatus::Failed.as_str().into();
        self.message = format!(
            "the gateway replica running this job stopped (no news from it for {} s): the job is lost, start it again",
            lease.as_secs()
        );
        self.failure_status = Some(503);
        self.finished_ms = Some(millis(now));
        self.updated_ms = millis(now);
        self
    }

    pub fn into_info(self) -> JobInfo {
        let status = status_of(&self.status);
        let error = (status == JobStatus::Failed).then(|| ServiceError::Elsewhere {
            status: self.failure_status.unwrap_or(502),
            detail: self.message.clone(),
        });
        JobInfo {
            id: self.id,
            owner: Arc::from(self.owner),
            process_id: self.process_id,
            status,
            message: self.message,
            created: time(self.created_ms),
            started: self.started_ms.map(time),
            finished: self.finished_ms.map(time),
            updated: time(self.updated_ms),
            progress: self.progress,
            error,
        }
    }
}
