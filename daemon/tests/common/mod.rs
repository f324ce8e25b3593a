//! What the store test suites share: one scenario runs on SQLite and, where
//! reachable, on PostgreSQL (see `clout_e2e::pg`).

use chrono::{DateTime, TimeZone, Utc};
use clout_daemon::store::Store;
use clout_e2e::pg::TestDb;

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 7, 9, 0, 0).single().expect("valid time")
}

pub struct Backend {
    pub store: Store,
    _dir: Option<tempfile::TempDir>,
    db: Option<TestDb>,
}

impl Backend {
    pub async fn finish(self) {
        self.store.close().await;
        if let Some(db) = self.db {
            db.drop_now().await;
        }
    }
}

pub async fn sqlite() -> Backend {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    Backend { store: Store::open(&url, Some("test")).await.expect("open sqlite"), _dir: Some(dir), db: None }
}

pub async fn postgres() -> Option<Backend> {
    let db = TestDb::create("store").await?;
    let store = Store::open(&db.url, None).await.expect("open postgres");
    Some(Backend { store, _dir: None, db: Some(db) })
}

/// Runs one scenario against every reachable backend.
#[macro_export]
macro_rules! on_every_backend {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let b = $crate::common::sqlite().await;
                super::$name(&b.store).await;
                b.finish().await;
            }
            #[tokio::test]
            async fn postgres() {
                if let Some(b) = $crate::common::postgres().await {
                    super::$name(&b.store).await;
                    b.finish().await;
                }
            }
        }
    };
}
