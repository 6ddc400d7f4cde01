//! An upstream answering from memory: canned answers by path, every request recorded. For service
//! tests where a socket adds nothing; the HTTP tests keep their in-process fake server.

use std::{collections::HashMap, sync::Mutex};

use bytes::Bytes;
use futures::future::BoxFuture;

use super::{Upstream, UpstreamError, UpstreamRequest, UpstreamResponse, Validators};

#[derive(Default)]
pub struct MemoryUpstream {
    answers: Mutex<HashMap<String, (u16, String, Bytes)>>,
    requests: Mutex<Vec<UpstreamRequest>>,
}

impl MemoryUpstream {
    /// Answers requests to `path` (any query) with this status, media type and body.
    pub fn answer(&self, path: &str, status: u16, content_type: &str, body: impl Into<Bytes>) {
        self.answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                path.to_string(),
                (status, content_type.to_string(), body.into()),
            );
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<UpstreamRequest> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Upstream for MemoryUpstream {
    fn get<'a>(
        &'a self,
        request: &'a UpstreamRequest,
    ) -> BoxFuture<'a, Result<UpstreamResponse, UpstreamError>> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(request.clone());
        let answer = self
            .answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&request.path)
            .cloned();
        Box::pin(async move {
            match answer {
                Some((status, content_type, body)) if (200..300).contains(&status) => {
                    Ok(UpstreamResponse {
                        status,
                        content_type,
                        body,
                        validators: Validators::default(),
                    })
                }
                Some((status, _, body)) => Err(UpstreamError::Status {
                    api: request.api,
                    status,
                    message: String::from_utf8_lossy(&body).chars().take(200).collect(),
                }),
                None => Err(UpstreamError::Status {
                    api: request.api,
                    status: 404,
                    message: format!("no answer in memory for {}", request.path),
                }),
            }
        })
    }

    fn base_url(&self) -> &str {
        "memory:"
    }
}
