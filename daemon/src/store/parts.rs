//! The parts of a thread that a server confirmed: kept one by one as they
//! are confirmed, so an attempt cut off half-way resumes after the last one.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::{Pool, Store};
use crate::error::Result;
use crate::model::publication::{PostedPart, Upload};
use crate::model::to_ms;

type PartRow = (i64, i64, String, String, String, String);

fn part(r: PartRow) -> (i64, PostedPart) {
    let (publication, position, idem_key, remote_id, cid, url) = r;
    let position = u32::try_from(position).unwrap_or(u32::MAX);
    (publication, PostedPart { position, idem_key, remote_id, cid, url })
}

impl Store {
    /// The confirmed parts of one publication, in order.
    pub async fn posted_parts(&self, publication: i64) -> Result<Vec<PostedPart>> {
        let rows: Vec<PartRow> = on_pool!(self, |p| sqlx::query_as(
            "SELECT publication_id, position, idem_key, remote_id, cid, url FROM publication_parts \
             WHERE publication_id = $1 ORDER BY position"
        )
        .bind(publication)
        .fetch_all(p)
        .await)?;
        Ok(rows.into_iter().map(|r| part(r).1).collect())
    }

    /// The confirmed parts of every publication of a draft, by publication id.
    pub async fn posted_parts_of_draft(&self, draft: i64) -> Result<Vec<(i64, PostedPart)>> {
        let rows: Vec<PartRow> = on_pool!(self, |p| sqlx::query_as(
            "SELECT pp.publication_id, pp.position, pp.idem_key, pp.remote_id, pp.cid, pp.url \
             FROM publication_parts pp JOIN publications p ON p.id = pp.publication_id \
             WHERE p.draft_id = $1 ORDER BY pp.publication_id, pp.position"
        )
        .bind(draft)
        .fetch_all(p)
        .await)?;
        Ok(rows.into_iter().map(part).collect())
    }

    /// Keeps a part the server confirmed, with what the server made
    /// differently from what was asked (`differences`, each kept once), if
    /// `owner` still holds the claim on the publication (false when it lost
    /// it: another daemon took over). Its outcome is known now.
    pub async fn record_posted_part(
        &self,
        publication: i64,
        owner: &str,
        p: &PostedPart,
        differences: &[String],
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let held = in_tx!(self, |tx| {
            let held: Option<(String,)> = sqlx::query_as(
                "SELECT differences FROM publications WHERE id = $1 AND lease_owner = $2 AND state = 'publishing'",
            )
            .bind(publication)
            .bind(owner)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((known,)) = &held {
                let mut all: Vec<&str> = known.split("; ").filter(|d| !d.is_empty()).collect();
                for d in differences {
                    if !all.contains(&d.as_str()) {
                        all.push(d);
                    }
                }
                sqlx::query("UPDATE publications SET differences = $2, unsure_since = NULL WHERE id = $1")
                    .bind(publication)
                    .bind(all.join("; "))
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO publication_parts (publication_id, position, idem_key, remote_id, cid, url, published_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (publication_id, position) DO NOTHING",
                )
                .bind(publication)
                .bind(i64::from(p.position))
                .bind(&p.idem_key)
                .bind(&p.remote_id)
                .bind(&p.cid)
                .bind(&p.url)
                .bind(to_ms(now))
                .execute(&mut *tx)
                .await?;
            }
            held.is_some()
        });
        Ok(held)
    }
}

impl Store {
    /// The images servers took for one publication.
    pub async fn uploads(&self, publication: i64) -> Result<Vec<Upload>> {
        let rows: Vec<(i64, i64, String, String)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT position, idx, sha256, remote FROM publication_media WHERE publication_id = $1 \
             ORDER BY position, idx"
        )
        .bind(publication)
        .fetch_all(p)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|(position, idx, sha256, remote)| Upload {
                position: u32::try_from(position).unwrap_or(u32::MAX),
                idx: u32::try_from(idx).unwrap_or(u32::MAX),
                sha256,
                remote,
            })
            .collect())
    }

    /// Keeps what a server answered for an image it took, as soon as it
    /// answered: an attempt cut off after the upload reuses it.
    pub async fn record_upload(&self, publication: i64, u: &Upload, now: DateTime<Utc>) -> Result<()> {
        on_pool!(self, |p| {
            sqlx::query(
            "INSERT INTO publication_media (publication_id, position, idx, sha256, remote, uploaded_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (publication_id, position, idx) \
             DO UPDATE SET sha256 = excluded.sha256, remote = excluded.remote, uploaded_at = excluded.uploaded_at"
        )
        .bind(publication)
        .bind(i64::from(u.position))
        .bind(i64::from(u.idx))
        .bind(&u.sha256)
        .bind(&u.remote)
        .bind(to_ms(now))
        .execute(p)
        .await
        .map(|_| ())
        })?;
        Ok(())
    }

    /// Forgets an upload the server no longer has (so it is made again).
    pub async fn forget_upload(&self, publication: i64, position: u32, idx: u32) -> Result<()> {
        on_pool!(self, |p| sqlx::query(
            "DELETE FROM publication_media WHERE publication_id = $1 AND position = $2 AND idx = $3"
        )
        .bind(publication)
        .bind(i64::from(position))
        .bind(i64::from(idx))
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }
}

impl Store {
    /// Keeps an image's bytes in the database, for the other daemons of a
    /// PostgreSQL fleet (a SQLite database holds none: one daemon, one
    /// media directory).
    pub async fn share_media(&self, sha256: &str, mime: &str, data: &[u8], now: DateTime<Utc>) -> Result<()> {
        if !self.is_postgres() {
            return Ok(());
        }
        on_pool!(self, |p| sqlx::query(
            "INSERT INTO media (sha256, mime, data, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (sha256) DO NOTHING"
        )
        .bind(sha256)
        .bind(mime)
        .bind(data)
        .bind(to_ms(now))
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// An image's bytes as another daemon of the fleet kept them, if any.
    pub async fn shared_media(&self, sha256: &str) -> Result<Option<(String, Vec<u8>)>> {
        if !self.is_postgres() {
            return Ok(None);
        }
        let row: Option<(String, Vec<u8>)> =
            on_pool!(self, |p| sqlx::query_as("SELECT mime, data FROM media WHERE sha256 = $1")
                .bind(sha256)
                .fetch_optional(p)
                .await)?;
        Ok(row)
    }

    /// Every image some draft still names, by SHA-256.
    pub async fn media_in_use(&self) -> Result<HashSet<String>> {
        let rows: Vec<(String,)> =
            on_pool!(self, |p| sqlx::query_as("SELECT images FROM drafts WHERE images <> '[]'")
                .fetch_all(p)
                .await)?;
        let mut used = HashSet::new();
        for (json,) in rows {
            let images: Vec<crate::media::Image> = serde_json::from_str(&json).unwrap_or_default();
            used.extend(images.into_iter().map(|i| i.sha256));
        }
        Ok(used)
    }

    /// Drops the fleet's copies (PostgreSQL) of images kept before `before`
    /// that are not in `used`; returns how many went.
    pub async fn forget_shared_media(&self, used: &HashSet<String>, before: DateTime<Utc>) -> Result<u64> {
        if !self.is_postgres() {
            return Ok(0);
        }
        let old: Vec<(String,)> =
            on_pool!(self, |p| sqlx::query_as("SELECT sha256 FROM media WHERE created_at < $1")
                .bind(to_ms(before))
                .fetch_all(p)
                .await)?;
        let mut gone = 0;
        for (sha256,) in old.into_iter().filter(|(s,)| !used.contains(s)) {
            let done =
                on_pool!(self, |p| sqlx::query("DELETE FROM media WHERE sha256 = $1 AND created_at < $2")
                    .bind(&sha256)
                    .bind(to_ms(before))
                    .execute(p)
                    .await
                    .map(|d| d.rows_affected()))?;
            gone += done;
        }
        Ok(gone)
    }
}
