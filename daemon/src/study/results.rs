//! Where study meets the results of your own posts: the one join point.
//!
//! The stage evidence and the slot suggestions read your posts' results
//! only through [`OwnResults`], so tests can hand them any results.

use std::future::Future;

use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::model::study::OwnResult;
use crate::store::Store;

/// Your published posts since a time, with their latest counts.
pub trait OwnResults {
    fn own_results(&self, since: DateTime<Utc>) -> impl Future<Output = Result<Vec<OwnResult>>> + Send;
}

/// Your posts' results as the results fetcher keeps them
/// (`store::results::post_results`); a post not measured yet is left out.
impl OwnResults for Store {
    async fn own_results(&self, since: DateTime<Utc>) -> Result<Vec<OwnResult>> {
        let posts = self.post_results(since).await?;
        Ok(posts
            .into_iter()
            .filter(|p| p.latest.is_some())
            .map(|p| {
                let c = p.counts();
                OwnResult {
                    published_at: p.published_at,
                    network: p.network.as_str().to_string(),
                    likes: c.likes,
                    reposts: c.reposts,
                    replies: c.replies,
                    quotes: c.quotes.unwrap_or(0),
                    is_thread: p.thread,
                }
            })
            .collect())
    }
}

/// Fixed results, for tests and tools.
pub struct Given(pub Vec<OwnResult>);

impl OwnResults for Given {
    async fn own_results(&self, since: DateTime<Utc>) -> Result<Vec<OwnResult>> {
        Ok(self.0.iter().filter(|r| r.published_at >= since).cloned().collect())
    }
}
