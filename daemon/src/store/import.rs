//! Import of an export document (see [`super::backup`]): one transaction, so
//! a document that fails half-way (or a daemon killed during it) changes
//! nothing; linear in the size of the document and of the database.
//!
//! Each table is read once for the natural keys already present (a draft's
//! creation time and text, a nudge's occurrence key, …) into a hash map, ids
//! are handed out in memory ([`super::bulk::Ids`]), and the rows go in with many rows per
//! statement. A 64 MiB document holds the write lock for about a second,
//! so firing waits about that long (see the `import64` benchmark), instead of
//! once per row a scan of the table.

use std::collections::{HashMap, HashSet};

use super::backup::{Document, Ms, validate};
use super::bulk::Val;
use super::tx::Tx;
use super::{Store, json_list};
use crate::error::{Error, Result};
use crate::model::{Network, to_ms};

/// The created_at range of some records, to read only the rows that could match.
fn range(times: impl Iterator<Item = i64>) -> (i64, i64) {
    times.fold((i64::MAX, i64::MIN), |(lo, hi), t| (lo.min(t), hi.max(t)))
}

fn bool_int(b: bool) -> i64 {
    i64::from(b)
}

impl Store {
    /// Imports a document in one transaction. Returns (added, skipped).
    pub async fn import(&self, doc: &Document) -> Result<(u32, u32)> {
        validate(doc)?;
        let mut tx = self.begin().await?;
        let counts = import_into(&mut tx, doc).await?;
        tx.commit().await?;
        Ok(counts)
    }
}

/// Counts what was added and what was already there.
#[derive(Default)]
struct Tally {
    added: u32,
    skipped: u32,
}

impl Tally {
    fn add(&mut self, n: usize) {
        self.added = self.added.saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
    }
    fn skip(&mut self, n: usize) {
        self.skipped = self.skipped.saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
    }
}

async fn import_into(tx: &mut Tx, doc: &Document) -> Result<(u32, u32)> {
    let mut tally = Tally::default();
    let p = &doc.program;
    tx.run(
        "UPDATE program SET purpose = $1, posts_per_week = $2, engagements_per_day = $3, tz = $4, paused = $5 WHERE id = 1",
        &[
            Val::Text(&p.purpose),
            Val::Int(i64::from(p.posts_per_week)),
            Val::Int(i64::from(p.engagements_per_day)),
            Val::Text(&p.tz),
            Val::Int(bool_int(p.paused)),
        ],
    )
    .await?;
    slots_and_follows(tx, doc, &mut tally).await?;
    stage_changes(tx, doc, &mut tally).await?;
    accounts(tx, doc).await?;
    let draft_ids = drafts(tx, doc, &mut tally).await?;
    let task_ids = tasks(tx, doc, &mut tally).await?;
    let setback_ids = setbacks(tx, doc, &draft_ids, &task_ids, &mut tally).await?;
    lessons(tx, doc, &setback_ids, &mut tally).await?;
    nudges(tx, doc, &draft_ids, &task_ids, &mut tally).await?;
    results(tx, doc, &draft_ids, &mut tally).await?;
    if tx.is_postgres() {
        for table in [
            "slots",
            "follows",
            "drafts",
            "tasks",
            "setbacks",
            "lessons",
            "nudges",
            "task_occurrences",
            "schedule",
        ] {
            tx.run(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                ),
                &[],
            )
            .await?;
        }
    }
    Ok((tally.added, tally.skipped))
}

async fn slots_and_follows(tx: &mut Tx, doc: &Document, tally: &mut Tally) -> Result<()> {
    let mut have: HashSet<(String, i64)> =
        tx.rows::<(String, i64)>("SELECT spec, created_at FROM slots", &[]).await?.into_iter().collect();
    let mut ids = tx.ids("slots", doc.slots.iter().map(|s| s.id)).await?;
    let mut rows = Vec::new();
    for s in &doc.slots {
        if !have.insert((s.spec.clone(), s.created_at.ms())) {
            tally.skip(1);
            continue;
        }
        rows.push(vec![Val::Int(ids.take(s.id)), Val::Text(&s.spec), Val::Int(s.created_at.ms())]);
    }
    tally.add(rows.len());
    tx.insert_rows("slots", &["id", "spec", "created_at"], &rows, "").await?;

    let mut have: HashSet<(String, String)> =
        tx.rows::<(String, String)>("SELECT handle, platform FROM follows", &[]).await?.into_iter().collect();
    let mut ids = tx.ids("follows", doc.follows.iter().map(|f| f.id)).await?;
    let mut rows = Vec::new();
    for f in &doc.follows {
        if !have.insert((f.handle.clone(), f.platform.clone())) {
            tally.skip(1);
            continue;
        }
        rows.push(vec![
            Val::Int(ids.take(f.id)),
            Val::Text(&f.handle),
            Val::Text(&f.platform),
            Val::Text(&f.why),
            Val::Text(&f.topic),
            Val::Int(f.created_at.ms()),
            Val::Text(&f.server),
        ]);
    }
    tally.add(rows.len());
    tx.insert_rows(
        "follows",
        &["id", "handle", "platform", "why", "topic", "created_at", "server"],
        &rows,
        "",
    )
    .await?;
    Ok(())
}

/// The stage changes the database does not hold yet (the same change at the same instant).
async fn stage_changes(tx: &mut Tx, doc: &Document, tally: &mut Tally) -> Result<()> {
    let mut have: HashSet<(String, String, i64)> = tx
        .rows::<(String, String, i64)>("SELECT from_purpose, to_purpose, changed_at FROM stage_changes", &[])
        .await?
        .into_iter()
        .collect();
    let mut rows = Vec::new();
    for c in &doc.stage_changes {
        if !have.insert((c.from.clone(), c.to.clone(), c.changed_at.ms())) {
            tally.skip(1);
            continue;
        }
        rows.push(vec![Val::Text(&c.from), Val::Text(&c.to), Val::Int(c.changed_at.ms())]);
    }
    tally.add(rows.len());
    tx.insert_rows("stage_changes", &["from_purpose", "to_purpose", "changed_at"], &rows, "").await?;
    Ok(())
}

async fn accounts(tx: &mut Tx, doc: &Document) -> Result<()> {
    let now = to_ms(crate::clock::now());
    let rows: Vec<Vec<Val<'_>>> = doc
        .accounts
        .iter()
        .map(|a| {
            vec![
                Val::Text(&a.name),
                Val::Text(&a.network),
                Val::Text(&a.server),
                Val::Text(&a.handle),
                Val::Text(&a.secret_file),
                Val::Int(now),
            ]
        })
        .collect();
    tx.insert_rows(
        "accounts",
        &["name", "network", "server", "handle", "secret_file", "created_at"],
        &rows,
        "ON CONFLICT (name) DO NOTHING",
    )
    .await?;
    Ok(())
}

/// Existing rows of `table` keyed by (created_at, body), for the records' time range.
async fn by_time_and_text(
    tx: &mut Tx,
    table: &str,
    times: impl Iterator<Item = i64>,
) -> Result<HashMap<(i64, String), i64>> {
    let (lo, hi) = range(times);
    if lo > hi {
        return Ok(HashMap::new());
    }
    let rows = tx
        .rows::<(i64, i64, String)>(
            &format!("SELECT id, created_at, body FROM {table} WHERE created_at BETWEEN $1 AND $2"),
            &[Val::Int(lo), Val::Int(hi)],
        )
        .await?;
    Ok(rows.into_iter().map(|(id, at, body)| ((at, body), id)).collect())
}

/// Drafts, their publications and schedule rows. Returns file id → stored id.
async fn drafts(tx: &mut Tx, doc: &Document, tally: &mut Tally) -> Result<HashMap<i64, i64>> {
    let mut have = by_time_and_text(tx, "drafts", doc.drafts.iter().map(|d| d.created_at.ms())).await?;
    let accounts: HashMap<String, (i64, String)> = tx
        .rows::<(String, i64, String)>("SELECT name, id, network FROM accounts", &[])
        .await?
        .into_iter()
        .map(|(name, id, network)| (name, (id, network)))
        .collect();
    let mut ids = tx.ids("drafts", doc.drafts.iter().map(|d| d.id)).await?;
    let mut map = HashMap::new();
    // (index in the document, stored id) of each draft to insert.
    let mut new: Vec<(usize, i64)> = Vec::new();
    for (i, d) in doc.drafts.iter().enumerate() {
        let key = (d.created_at.ms(), d.text.clone());
        if let Some(&id) = have.get(&key) {
            map.insert(d.id, id);
            tally.skip(1);
            continue;
        }
        if let Some(name) = d.accounts.iter().find(|n| !accounts.contains_key(n.as_str())) {
            return Err(Error::Invalid(format!(
                "drafts[{i}].accounts: there is no account named `{name}` in the file or in this database; add it (clout account add) and import again"
            )));
        }
        let id = ids.take(d.id);
        have.insert(key, id);
        map.insert(d.id, id);
        new.push((i, id));
    }
    tally.add(new.len());
    let lists: Vec<(String, String, String, String)> = new
        .iter()
        .map(|&(i, _)| {
            let d = &doc.drafts[i];
            let images: Vec<crate::media::Image> = d.images.iter().map(|x| x.image()).collect();
            (json_list(&d.platforms), json_list(&d.tags), json_list(&d.thread), super::json_images(&images))
        })
        .collect();
    let mut rows = Vec::with_capacity(new.len());
    let mut schedule = Vec::new();
    // (draft id, account id, name, network, state, idempotency key, last error)
    let mut publications: Vec<(i64, i64, &str, &str, &str, String, &str)> = Vec::new();
    for (&(i, id), (platforms, tags, thread, images)) in new.iter().zip(&lists) {
        let d = &doc.drafts[i];
        let publishing = d.state == "publishing" && !d.accounts.is_empty();
        rows.push(vec![
            Val::Int(id),
            Val::Text(&d.title),
            Val::Text(&d.text),
            Val::Text(platforms),
            Val::Text(tags),
            // Exported mid-publish: whether it went out is not known here.
            Val::Text(if publishing { "failed" } else { &d.state }),
            Val::OptInt(d.scheduled_at.map(Ms::ms)),
            Val::OptInt(d.fired_at.map(Ms::ms)),
            Val::Int(bool_int(d.late)),
            Val::OptInt(d.published_at.map(Ms::ms)),
            Val::Text(&d.published_url),
            Val::Int(bool_int(d.slotted)),
            Val::Int(d.created_at.ms()),
            Val::Int(d.updated_at.ms()),
            Val::Text(&d.visibility),
            Val::Text(&d.content_warning),
            Val::Text(&d.language),
            Val::Text(thread),
            Val::Int(bool_int(d.no_card)),
            Val::Text(images),
        ]);
        let (state, error) = if publishing {
            (
                "failed",
                "it was being published when exported: check the account, then run `clout posted` or `clout draft retry`",
            )
        } else if matches!(d.state.as_str(), "draft" | "scheduled") {
            ("waiting", "")
        } else {
            // What happened on each account is history the file does not hold:
            // such publications are never tried again by themselves.
            ("unknown", "imported: what happened on this account is not in the export")
        };
        for name in &d.accounts {
            if let Some((account_id, network)) = accounts.get(name) {
                let net = Network::parse(network).unwrap_or(Network::Mastodon);
                let key = super::publish::idempotency_key(net, id, *account_id, d.updated_at.ms());
                publications.push((id, *account_id, name, network, state, key, error));
            }
        }
        if let (Some(at), "scheduled") = (d.scheduled_at, d.state.as_str()) {
            schedule.push(vec![Val::Text("post"), Val::Int(id), Val::Int(at.ms())]);
        }
    }
    tx.insert_rows(
        "drafts",
        &[
            "id",
            "title",
            "body",
            "platforms",
            "tags",
            "state",
            "scheduled_at",
            "fired_at",
            "late",
            "published_at",
            "published_url",
            "slotted",
            "created_at",
            "updated_at",
            "visibility",
            "content_warning",
            "language",
            "thread",
            "no_card",
            "images",
        ],
        &rows,
        "",
    )
    .await?;
    let rows: Vec<Vec<Val<'_>>> = publications
        .iter()
        .map(|(draft, account, name, network, state, key, error)| {
            vec![
                Val::Int(*draft),
                Val::Int(*account),
                Val::Text(name),
                Val::Text(network),
                Val::Text(state),
                Val::Text(key),
                Val::Text(error),
            ]
        })
        .collect();
    tx.insert_rows(
        "publications",
        &["draft_id", "account_id", "account_name", "network", "state", "idem_key", "last_error"],
        &rows,
        "ON CONFLICT (draft_id, account_name) DO NOTHING",
    )
    .await?;
    insert_schedule(tx, &schedule).await?;
    Ok(map)
}

/// Followed posts and their snapshots; a post already here is skipped whole.
async fn results(
    tx: &mut Tx,
    doc: &Document,
    draft_ids: &HashMap<i64, i64>,
    tally: &mut Tally,
) -> Result<()> {
    let accounts: HashMap<String, i64> =
        tx.rows::<(String, i64)>("SELECT name, id FROM accounts", &[]).await?.into_iter().collect();
    for (i, p) in doc.results.iter().enumerate() {
        let Some(&draft) = draft_ids.get(&p.draft_id) else {
            return Err(Error::Invalid(format!(
                "results[{i}].draft_id: there is no draft {} in the file",
                p.draft_id
            )));
        };
        if Network::parse(&p.network).is_none() {
            return Err(Error::Invalid(format!(
                "results[{i}].network: `{}` is not mastodon or bluesky",
                p.network
            )));
        }
        let state = if p.state == "deleted" { "deleted" } else { "done" };
        let ids: Vec<(i64,)> = tx
            .rows(
                "INSERT INTO result_posts (draft_id, account_id, account_name, network, server, remote_id, url, \
                 published_at, step, state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1000, $9) \
                 ON CONFLICT (draft_id, network, remote_id) DO NOTHING RETURNING id",
                &[
                    Val::Int(draft),
                    Val::OptInt(accounts.get(&p.account).copied()),
                    Val::Text(&p.account),
                    Val::Text(&p.network),
                    Val::Text(&p.server),
                    Val::Text(&p.remote_id),
                    Val::Text(&p.url),
                    Val::Int(p.published_at),
                    Val::Text(state),
                ],
            )
            .await?;
        let Some(&(id,)) = ids.first() else {
            tally.skip(1);
            continue;
        };
        tally.add(1);
        for s in &p.snapshots {
            tx.run(
                "INSERT INTO result_snapshots (post_id, at, likes, reposts, replies, quotes) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (post_id, at) DO NOTHING",
                &[
                    Val::Int(id),
                    Val::Int(s.at),
                    Val::Int(s.likes),
                    Val::Int(s.reposts),
                    Val::Int(s.replies),
                    Val::OptInt(s.quotes),
                ],
            )
            .await?;
        }
    }
    Ok(())
}

async fn insert_schedule(tx: &mut Tx, rows: &[Vec<Val<'_>>]) -> Result<()> {
    tx.insert_rows("schedule", &["kind", "ref_id", "due_at"], rows, "ON CONFLICT (kind, ref_id) DO NOTHING")
        .await?;
    Ok(())
}

/// Tasks, their schedule rows and occurrences. Returns file id → stored id.
async fn tasks(tx: &mut Tx, doc: &Document, tally: &mut Tally) -> Result<HashMap<i64, i64>> {
    let mut have = by_time_and_text(tx, "tasks", doc.tasks.iter().map(|t| t.created_at.ms())).await?;
    let mut ids = tx.ids("tasks", doc.tasks.iter().map(|t| t.id)).await?;
    let mut map = HashMap::new();
    let (mut rows, mut schedule) = (Vec::new(), Vec::new());
    for t in &doc.tasks {
        let key = (t.created_at.ms(), t.text.clone());
        if let Some(&id) = have.get(&key) {
            map.insert(t.id, id);
            tally.skip(1);
            continue;
        }
        let id = ids.take(t.id);
        have.insert(key, id);
        map.insert(t.id, id);
        rows.push(vec![
            Val::Int(id),
            Val::Text(&t.text),
            Val::OptText(t.every.as_deref()),
            Val::Text(&t.tz),
            Val::Text(&t.about),
            Val::OptInt(t.once_at.map(Ms::ms)),
            Val::OptInt(t.removed_at.map(Ms::ms)),
            Val::Int(t.created_at.ms()),
        ]);
        if let (Some(next), None) = (t.next_due_at, t.removed_at) {
            schedule.push(vec![Val::Text("task"), Val::Int(id), Val::Int(next.ms())]);
        }
    }
    tally.add(rows.len());
    tx.insert_rows(
        "tasks",
        &["id", "body", "spec", "tz", "about", "once_at", "removed_at", "created_at"],
        &rows,
        "",
    )
    .await?;
    insert_schedule(tx, &schedule).await?;

    let occurrences: Vec<Vec<Val<'_>>> = doc
        .task_occurrences
        .iter()
        .map(|o| {
            vec![
                Val::Int(map.get(&o.task_id).copied().unwrap_or(o.task_id)),
                Val::Int(o.due_at.ms()),
                Val::Text(&o.state),
                Val::OptInt(o.fired_at.map(Ms::ms)),
                Val::OptInt(o.resolved_at.map(Ms::ms)),
                Val::Int(bool_int(o.late)),
            ]
        })
        .collect();
    let added = tx
        .insert_rows(
            "task_occurrences",
            &["task_id", "due_at", "state", "fired_at", "resolved_at", "late"],
            &occurrences,
            "ON CONFLICT (task_id, due_at) DO NOTHING",
        )
        .await?;
    let added = usize::try_from(added).unwrap_or(usize::MAX);
    tally.add(added);
    tally.skip(occurrences.len().saturating_sub(added));
    Ok(map)
}

async fn setbacks(
    tx: &mut Tx,
    doc: &Document,
    draft_ids: &HashMap<i64, i64>,
    task_ids: &HashMap<i64, i64>,
    tally: &mut Tally,
) -> Result<HashMap<i64, i64>> {
    let mut have = by_time_and_text(tx, "setbacks", doc.setbacks.iter().map(|s| s.created_at.ms())).await?;
    let mut ids = tx.ids("setbacks", doc.setbacks.iter().map(|s| s.id)).await?;
    let tags: Vec<String> = doc.setbacks.iter().map(|s| json_list(&s.tags)).collect();
    let mut map = HashMap::new();
    let mut rows = Vec::new();
    for (s, tags) in doc.setbacks.iter().zip(&tags) {
        let key = (s.created_at.ms(), s.text.clone());
        if let Some(&id) = have.get(&key) {
            map.insert(s.id, id);
            tally.skip(1);
            continue;
        }
        let id = ids.take(s.id);
        have.insert(key, id);
        map.insert(s.id, id);
        rows.push(vec![
            Val::Int(id),
            Val::Text(&s.text),
            Val::Text(tags),
            Val::OptInt(s.draft_id.map(|d| draft_ids.get(&d).copied().unwrap_or(d))),
            Val::OptInt(s.task_id.map(|t| task_ids.get(&t).copied().unwrap_or(t))),
            Val::Int(s.created_at.ms()),
        ]);
    }
    tally.add(rows.len());
    tx.insert_rows("setbacks", &["id", "body", "tags", "draft_id", "task_id", "created_at"], &rows, "")
        .await?;
    Ok(map)
}

async fn lessons(
    tx: &mut Tx,
    doc: &Document,
    setback_ids: &HashMap<i64, i64>,
    tally: &mut Tally,
) -> Result<()> {
    let mut have: HashSet<(i64, i64, String)> = tx
        .rows::<(i64, i64, String)>("SELECT setback_id, created_at, body FROM lessons", &[])
        .await?
        .into_iter()
        .collect();
    let mut ids = tx.ids("lessons", doc.lessons.iter().map(|l| l.id)).await?;
    let (mut rows, mut schedule) = (Vec::new(), Vec::new());
    for l in &doc.lessons {
        let setback = setback_ids.get(&l.setback_id).copied().unwrap_or(l.setback_id);
        if !have.insert((setback, l.created_at.ms(), l.text.clone())) {
            tally.skip(1);
            continue;
        }
        let id = ids.take(l.id);
        rows.push(vec![
            Val::Int(id),
            Val::Int(setback),
            Val::Text(&l.text),
            Val::Int(l.stage),
            Val::Int(l.created_at.ms()),
        ]);
        if let Some(next) = l.next_at {
            schedule.push(vec![Val::Text("lesson"), Val::Int(id), Val::Int(next.ms())]);
        }
    }
    tally.add(rows.len());
    tx.insert_rows("lessons", &["id", "setback_id", "body", "stage", "created_at"], &rows, "").await?;
    insert_schedule(tx, &schedule).await
}

async fn nudges(
    tx: &mut Tx,
    doc: &Document,
    draft_ids: &HashMap<i64, i64>,
    task_ids: &HashMap<i64, i64>,
    tally: &mut Tally,
) -> Result<()> {
    let mut have: HashSet<String> =
        tx.rows::<(String,)>("SELECT item_key FROM nudges", &[]).await?.into_iter().map(|(k,)| k).collect();
    let mut ids = tx.ids("nudges", doc.nudges.iter().map(|n| n.id)).await?;
    let mut rows = Vec::new();
    for n in &doc.nudges {
        if !have.insert(n.item_key.clone()) {
            tally.skip(1);
            continue;
        }
        rows.push(vec![
            Val::Int(ids.take(n.id)),
            Val::Text(&n.kind),
            Val::Text(&n.message),
            Val::Int(n.due_at.ms()),
            Val::Int(n.fired_at.ms()),
            Val::OptInt(n.draft_id.map(|d| draft_ids.get(&d).copied().unwrap_or(d))),
            Val::OptInt(n.task_id.map(|t| task_ids.get(&t).copied().unwrap_or(t))),
            Val::Int(bool_int(n.late)),
            Val::Text(&n.item_key),
        ]);
    }
    tally.add(rows.len());
    tx.insert_rows(
        "nudges",
        &["id", "kind", "message", "due_at", "fired_at", "draft_id", "task_id", "late", "item_key"],
        &rows,
        "",
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_covers_every_time() {
        assert_eq!(range([5, -3, 9].into_iter()), (-3, 9));
        let (lo, hi) = range(std::iter::empty());
        assert!(lo > hi, "an empty range reads nothing");
    }
}
