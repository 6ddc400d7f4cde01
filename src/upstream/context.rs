//! Who a request to the upstream is made for: the caller's key (for fair sharing of the quotas)
//! and the request id (sent upstream as `X-Request-Id`). Set by the edge around each request.

use std::{future::Future, sync::Arc};

#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    /// The access key's name; empty on an open gateway.
    pub caller: Arc<str>,
    /// An admin key sees every key's jobs and uploads.
    pub admin: bool,
    pub request_id: Option<String>,
}

tokio::task_local! {
    static CONTEXT: RequestContext;
}

impl RequestContext {
    /// The context of the running task (the default one outside any request).
    pub fn current() -> RequestContext {
        CONTEXT.try_with(Clone::clone).unwrap_or_default()
    }

    /// Runs `f` within this context.
    pub fn scope<F: Future>(self, f: F) -> impl Future<Output = F::Output> {
        CONTEXT.scope(self, f)
    }
}
