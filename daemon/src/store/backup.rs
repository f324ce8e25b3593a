//! Export and import of the whole program as one JSON document.
//!
//! Records carry their ids so references (a setback's draft, a lesson's
//! setback, an occurrence's task) survive. Import is one transaction: a
//! malformed document changes nothing. Records already present (matched by
//! natural key: a draft's creation time and text, a follow's handle and
//! platform, a nudge's occurrence key, …) are skipped, so importing a file
//! twice adds nothing. Into an empty database ids are kept, so an export of
//! the imported database equals the original export.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Pool, Store, json_list};
use crate::error::{Error, Result};
use crate::model::{DraftState, MAX_TEXT_BYTES, from_ms, to_ms};
use crate::recurrence::{Schedule, parse_tz};

pub const FORMAT: &str = "clout-export";
pub const VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Document {
    pub format: String,
    pub version: u32,
    pub program: ProgramX,
    #[serde(default)]
    pub slots: Vec<SlotX>,
    #[serde(default)]
    pub follows: Vec<FollowX>,
    #[serde(default)]
    pub drafts: Vec<DraftX>,
    #[serde(default)]
    pub tasks: Vec<TaskX>,
    #[serde(default)]
    pub task_occurrences: Vec<OccurrenceX>,
    #[serde(default)]
    pub setbacks: Vec<SetbackX>,
    #[serde(default)]
    pub lessons: Vec<LessonX>,
    #[serde(default)]
    pub nudges: Vec<NudgeX>,
    /// Accounts drafts publish to (never their secrets); config-file accounts
    /// are declared again by the config file and are left out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<AccountX>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AccountX {
    pub name: String,
    pub network: String,
    pub server: String,
    #[serde(default)]
    pub handle: String,
    /// Where the secret was on the exporting machine.
    #[serde(default)]
    pub secret_file: String,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProgramX {
    pub purpose: String,
    pub posts_per_week: u32,
    pub engagements_per_day: u32,
    pub tz: String,
    pub paused: bool,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
pub struct SlotX {
    pub id: i64,
    pub spec: String,
    #[sqlx(try_from = "i64")]
    pub created_at: Ms,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
pub struct FollowX {
    pub id: i64,
    pub handle: String,
    pub platform: String,
    pub why: String,
    pub topic: String,
    #[sqlx(try_from = "i64")]
    pub created_at: Ms,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DraftX {
    pub id: i64,
    pub title: String,
    pub text: String,
    pub platforms: Vec<String>,
    pub tags: Vec<String>,
    pub state: String,
    pub scheduled_at: Option<Ms>,
    pub fired_at: Option<Ms>,
    pub late: bool,
    pub published_at: Option<Ms>,
    pub published_url: String,
    pub slotted: bool,
    pub created_at: Ms,
    pub updated_at: Ms,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub visibility: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub content_warning: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub language: String,
    /// The accounts cloutd publishes the draft to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TaskX {
    pub id: i64,
    pub text: String,
    pub every: Option<String>,
    pub tz: String,
    pub about: String,
    pub once_at: Option<Ms>,
    pub next_due_at: Option<Ms>,
    pub removed_at: Option<Ms>,
    pub created_at: Ms,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OccurrenceX {
    pub task_id: i64,
    pub due_at: Ms,
    pub state: String,
    pub fired_at: Option<Ms>,
    pub resolved_at: Option<Ms>,
    pub late: bool,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SetbackX {
    pub id: i64,
    pub text: String,
    pub tags: Vec<String>,
    pub draft_id: Option<i64>,
    pub task_id: Option<i64>,
    pub created_at: Ms,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LessonX {
    pub id: i64,
    pub setback_id: i64,
    pub text: String,
    pub stage: i64,
    pub next_at: Option<Ms>,
    pub created_at: Ms,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NudgeX {
    pub id: i64,
    pub kind: String,
    pub message: String,
    pub due_at: Ms,
    pub fired_at: Ms,
    pub draft_id: Option<i64>,
    pub task_id: Option<i64>,
    pub late: bool,
    pub item_key: String,
}

/// An instant, written as RFC 3339 with milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Ms(#[serde(with = "rfc3339_ms")] pub DateTime<Utc>);

impl From<i64> for Ms {
    fn from(v: i64) -> Self {
        Ms(from_ms(v))
    }
}

impl Ms {
    fn ms(self) -> i64 {
        to_ms(self.0)
    }
}

fn ms(v: Option<i64>) -> Option<Ms> {
    v.map(|v| Ms(from_ms(v)))
}

mod rfc3339_ms {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.to_utc())
            .map_err(|e| serde::de::Error::custom(format!("`{s}` is not an RFC 3339 time ({e})")))
    }
}

fn labels(v: &str) -> Vec<String> {
    serde_json::from_str(v).unwrap_or_default()
}

/// Checks what the database constraints cannot, naming the faulty field.
pub fn validate(doc: &Document) -> Result<()> {
    let bad = |field: String, why: String| Err(Error::Invalid(format!("{field}: {why}")));
    if doc.format != FORMAT {
        return bad("format".into(), format!("expected \"{FORMAT}\", found \"{}\"", doc.format));
    }
    if doc.version != VERSION {
        return bad(
            "version".into(),
            format!("this cloutd reads version {VERSION}, the file is version {}", doc.version),
        );
    }
    if !["learn", "influence"].contains(&doc.program.purpose.as_str()) {
        return bad("program.purpose".into(), "must be learn or influence".into());
    }
    if !doc.program.tz.is_empty() && parse_tz(&doc.program.tz).is_err() {
        return bad("program.tz".into(), format!("unknown time zone `{}`", doc.program.tz));
    }
    for (i, s) in doc.slots.iter().enumerate() {
        if let Err(e) = Schedule::parse(&s.spec) {
            return bad(format!("slots[{i}].spec"), e.to_string().lines().next().unwrap_or("").to_string());
        }
    }
    for (i, d) in doc.drafts.iter().enumerate() {
        if DraftState::parse(&d.state).is_none() {
            return bad(format!("drafts[{i}].state"), format!("unknown state `{}`", d.state));
        }
        if d.text.trim().is_empty() || d.text.len() > MAX_TEXT_BYTES {
            return bad(format!("drafts[{i}].text"), "must be 1 byte to 64 KiB of text".into());
        }
    }
    for (i, t) in doc.tasks.iter().enumerate() {
        if let Some(Err(e)) = t.every.as_deref().map(Schedule::parse) {
            return bad(format!("tasks[{i}].every"), e.to_string().lines().next().unwrap_or("").to_string());
        }
        if parse_tz(&t.tz).is_err() {
            return bad(format!("tasks[{i}].tz"), format!("unknown time zone `{}`", t.tz));
        }
    }
    let task_ids: Vec<i64> = doc.tasks.iter().map(|t| t.id).collect();
    for (i, o) in doc.task_occurrences.iter().enumerate() {
        if !["due", "done", "skipped", "missed"].contains(&o.state.as_str()) {
            return bad(format!("task_occurrences[{i}].state"), format!("unknown state `{}`", o.state));
        }
        if !task_ids.contains(&o.task_id) {
            return bad(
                format!("task_occurrences[{i}].task_id"),
                format!("no task {} in the file", o.task_id),
            );
        }
    }
    let setback_ids: Vec<i64> = doc.setbacks.iter().map(|s| s.id).collect();
    for (i, l) in doc.lessons.iter().enumerate() {
        if !setback_ids.contains(&l.setback_id) {
            return bad(
                format!("lessons[{i}].setback_id"),
                format!("no setback {} in the file", l.setback_id),
            );
        }
    }
    Ok(())
}

/// The id of the record that `$sql` finds by its natural key, if any: how an
/// import knows what the database already holds.
macro_rules! find_id {
    ($tx:expr, $sql:literal $(, $arg:expr)* $(,)?) => {{
        let found: Option<(i64,)> = sqlx::query_as($sql)$(.bind($arg))*.fetch_optional(&mut *$tx).await?;
        found.map(|(id,)| id)
    }};
}

/// The id to insert a record under: its own when free, else a new one.
macro_rules! free_id {
    ($tx:expr, $table:literal, $want:expr) => {{
        let want: i64 = $want;
        let taken: Option<(i64,)> = sqlx::query_as(concat!("SELECT id FROM ", $table, " WHERE id = $1"))
            .bind(want)
            .fetch_optional(&mut *$tx)
            .await?;
        if taken.is_none() && want > 0 {
            want
        } else {
            let (next,): (i64,) = sqlx::query_as(concat!("SELECT COALESCE(MAX(id), 0) + 1 FROM ", $table))
                .fetch_one(&mut *$tx)
                .await?;
            next
        }
    }};
}

/// Inserts a record under [`free_id!`]; `$sql` names `id` as its first column ($1).
macro_rules! insert_keeping_id {
    ($tx:expr, $table:literal, $sql:literal, $want:expr, |$q:ident| $binds:expr) => {{
        let id = free_id!($tx, $table, $want);
        let $q = sqlx::query($sql).bind(id);
        $binds.execute(&mut *$tx).await?;
        id
    }};
}

impl Store {
    pub async fn export(&self) -> Result<Document> {
        let p = self.program().await?;
        let (stored_tz,): (String,) =
            on_pool!(self, |pool| sqlx::query_as("SELECT tz FROM program WHERE id = 1")
                .fetch_one(pool)
                .await)?;
        let program = ProgramX {
            purpose: p.purpose.as_str().into(),
            posts_per_week: p.posts_per_week,
            engagements_per_day: p.engagements_per_day,
            tz: stored_tz,
            paused: p.paused,
        };
        let slots: Vec<SlotX> =
            on_pool!(self, |pool| sqlx::query_as("SELECT id, spec, created_at FROM slots ORDER BY id")
                .fetch_all(pool)
                .await)?;
        let follows: Vec<FollowX> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT id, handle, platform, why, topic, created_at FROM follows ORDER BY id"
        )
        .fetch_all(pool)
        .await)?;
        let drafts = self
            .list_drafts(&[])
            .await?
            .into_iter()
            .map(|d| DraftX {
                id: d.id,
                title: d.title,
                text: d.text,
                platforms: d.platforms,
                tags: d.tags,
                state: d.state.as_str().into(),
                scheduled_at: d.scheduled_at.map(Ms),
                fired_at: d.fired_at.map(Ms),
                late: d.late,
                published_at: d.published_at.map(Ms),
                published_url: d.published_url,
                slotted: d.slotted,
                created_at: Ms(d.created_at),
                updated_at: Ms(d.updated_at),
                accounts: d
                    .publications
                    .iter()
                    .filter(|p| p.account_id.is_some())
                    .map(|p| p.account.clone())
                    .collect(),
                visibility: d.visibility,
                content_warning: d.content_warning,
                language: d.language,
            })
            .collect();
        let accounts = self
            .accounts()
            .await?
            .into_iter()
            .filter(|a| !a.from_config)
            .map(|a| AccountX {
                name: a.name,
                network: a.network.as_str().into(),
                server: a.server,
                handle: a.handle,
                secret_file: a.secret_file,
            })
            .collect();
        type TaskRow =
            (i64, String, Option<String>, String, String, Option<i64>, Option<i64>, Option<i64>, i64);
        let tasks: Vec<TaskRow> = on_pool!(self, |pool| {
            sqlx::query_as(
            "SELECT t.id, t.body, t.spec, t.tz, t.about, t.once_at, \
             (SELECT s.due_at FROM schedule s WHERE s.kind = 'task' AND s.ref_id = t.id), t.removed_at, t.created_at \
             FROM tasks t ORDER BY t.id"
        )
        .fetch_all(pool)
        .await
        })?;
        let tasks = tasks
            .into_iter()
            .map(|(id, text, every, tz, about, once_at, next, removed, created)| TaskX {
                id,
                text,
                every,
                tz,
                about,
                once_at: ms(once_at),
                next_due_at: ms(next),
                removed_at: ms(removed),
                created_at: Ms(from_ms(created)),
            })
            .collect();
        type OccRow = (i64, i64, String, Option<i64>, Option<i64>, i64);
        let occ: Vec<OccRow> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT task_id, due_at, state, fired_at, resolved_at, late FROM task_occurrences ORDER BY id"
        )
        .fetch_all(pool)
        .await)?;
        let task_occurrences = occ
            .into_iter()
            .map(|(task_id, due, state, fired, resolved, late)| OccurrenceX {
                task_id,
                due_at: Ms(from_ms(due)),
                state,
                fired_at: ms(fired),
                resolved_at: ms(resolved),
                late: late != 0,
            })
            .collect();
        type SetbackRow = (i64, String, String, Option<i64>, Option<i64>, i64);
        let setbacks: Vec<SetbackRow> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT id, body, tags, draft_id, task_id, created_at FROM setbacks ORDER BY id"
        )
        .fetch_all(pool)
        .await)?;
        let setbacks = setbacks
            .into_iter()
            .map(|(id, text, tags, draft_id, task_id, created)| SetbackX {
                id,
                text,
                tags: labels(&tags),
                draft_id,
                task_id,
                created_at: Ms(from_ms(created)),
            })
            .collect();
        type LessonRow = (i64, i64, String, i64, Option<i64>, i64);
        let lessons: Vec<LessonRow> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT l.id, l.setback_id, l.body, l.stage, \
             (SELECT s.due_at FROM schedule s WHERE s.kind = 'lesson' AND s.ref_id = l.id), l.created_at \
             FROM lessons l ORDER BY l.id"
        )
        .fetch_all(pool)
        .await)?;
        let lessons = lessons
            .into_iter()
            .map(|(id, setback_id, text, stage, next, created)| LessonX {
                id,
                setback_id,
                text,
                stage,
                next_at: ms(next),
                created_at: Ms(from_ms(created)),
            })
            .collect();
        type NudgeRow = (i64, String, String, i64, i64, Option<i64>, Option<i64>, i64, String);
        let nudges: Vec<NudgeRow> = on_pool!(self, |pool| {
            sqlx::query_as(
            "SELECT id, kind, message, due_at, fired_at, draft_id, task_id, late, item_key FROM nudges ORDER BY id"
        )
        .fetch_all(pool)
        .await
        })?;
        let nudges = nudges
            .into_iter()
            .map(|(id, kind, message, due, fired, draft_id, task_id, late, item_key)| NudgeX {
                id,
                kind,
                message,
                due_at: Ms(from_ms(due)),
                fired_at: Ms(from_ms(fired)),
                draft_id,
                task_id,
                late: late != 0,
                item_key,
            })
            .collect();
        Ok(Document {
            format: FORMAT.into(),
            version: VERSION,
            program,
            slots,
            follows,
            drafts,
            tasks,
            task_occurrences,
            setbacks,
            lessons,
            nudges,
            accounts,
        })
    }

    /// Imports a document in one transaction. Returns (added, skipped).
    pub async fn import(&self, doc: &Document) -> Result<(u32, u32)> {
        validate(doc)?;
        let pg = self.is_postgres();
        let (added, skipped) = in_tx!(self, |tx| {
            let (mut added, mut skipped) = (0u32, 0u32);
            sqlx::query(
                "UPDATE program SET purpose = $1, posts_per_week = $2, engagements_per_day = $3, tz = $4, paused = $5 WHERE id = 1",
            )
            .bind(&doc.program.purpose)
            .bind(i64::from(doc.program.posts_per_week))
            .bind(i64::from(doc.program.engagements_per_day))
            .bind(&doc.program.tz)
            .bind(i64::from(doc.program.paused))
            .execute(&mut *tx)
            .await?;

            for s in &doc.slots {
                let found = find_id!(
                    tx,
                    "SELECT id FROM slots WHERE spec = $1 AND created_at = $2",
                    &s.spec,
                    s.created_at.ms()
                );
                if found.is_some() {
                    skipped += 1;
                    continue;
                }
                insert_keeping_id!(
                    tx,
                    "slots",
                    "INSERT INTO slots (id, spec, created_at) VALUES ($1, $2, $3)",
                    s.id,
                    |q| q.bind(&s.spec).bind(s.created_at.ms())
                );
                added += 1;
            }
            for f in &doc.follows {
                let found = find_id!(
                    tx,
                    "SELECT id FROM follows WHERE handle = $1 AND platform = $2",
                    &f.handle,
                    &f.platform
                );
                if found.is_some() {
                    skipped += 1;
                    continue;
                }
                insert_keeping_id!(
                    tx,
                    "follows",
                    "INSERT INTO follows (id, handle, platform, why, topic, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                    f.id,
                    |q| q
                        .bind(&f.handle)
                        .bind(&f.platform)
                        .bind(&f.why)
                        .bind(&f.topic)
                        .bind(f.created_at.ms())
                );
                added += 1;
            }

            for a in &doc.accounts {
                sqlx::query(
                    "INSERT INTO accounts (name, network, server, handle, secret_file, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING",
                )
                .bind(&a.name)
                .bind(&a.network)
                .bind(&a.server)
                .bind(&a.handle)
                .bind(&a.secret_file)
                .bind(to_ms(Utc::now()))
                .execute(&mut *tx)
                .await?;
            }

            let mut draft_ids: HashMap<i64, i64> = HashMap::new();
            for (i, d) in doc.drafts.iter().enumerate() {
                let found = find_id!(
                    tx,
                    "SELECT id FROM drafts WHERE created_at = $1 AND body = $2",
                    d.created_at.ms(),
                    &d.text
                );
                if let Some(id) = found {
                    draft_ids.insert(d.id, id);
                    skipped += 1;
                    continue;
                }
                let id = insert_keeping_id!(
                    tx,
                    "drafts",
                    "INSERT INTO drafts (id, title, body, platforms, tags, state, scheduled_at, fired_at, late, published_at, \
                     published_url, slotted, created_at, updated_at, visibility, content_warning, language) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
                    d.id,
                    |q| q
                        .bind(&d.title)
                        .bind(&d.text)
                        .bind(json_list(&d.platforms))
                        .bind(json_list(&d.tags))
                        .bind(&d.state)
                        .bind(d.scheduled_at.map(Ms::ms))
                        .bind(d.fired_at.map(Ms::ms))
                        .bind(i64::from(d.late))
                        .bind(d.published_at.map(Ms::ms))
                        .bind(&d.published_url)
                        .bind(i64::from(d.slotted))
                        .bind(d.created_at.ms())
                        .bind(d.updated_at.ms())
                        .bind(&d.visibility)
                        .bind(&d.content_warning)
                        .bind(&d.language)
                );
                if !d.accounts.is_empty() {
                    for name in &d.accounts {
                        if find_id!(tx, "SELECT id FROM accounts WHERE name = $1", name).is_none() {
                            return Err(Error::Invalid(format!(
                                "drafts[{i}].accounts: there is no account named `{name}` in the file or in this database; add it (clout account add) and import again"
                            )));
                        }
                    }
                    set_publications!(tx, id, &d.accounts, d.updated_at.ms());
                    if d.state == "publishing" {
                        // Exported mid-publish: whether it went out is not known here.
                        sqlx::query("UPDATE drafts SET state = 'failed' WHERE id = $1")
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                        sqlx::query(
                            "UPDATE publications SET state = 'failed', last_error = $2 WHERE draft_id = $1",
                        )
                        .bind(id)
                        .bind("it was being published when exported: check the account, then run `clout posted` or `clout draft retry`")
                        .execute(&mut *tx)
                        .await?;
                    } else if !matches!(d.state.as_str(), "draft" | "scheduled") {
                        // What happened on each account is history the file does not hold:
                        // such publications are never tried again by themselves.
                        sqlx::query(
                            "UPDATE publications SET state = 'unknown', last_error = $2 WHERE draft_id = $1",
                        )
                        .bind(id)
                        .bind("imported: what happened on this account is not in the export")
                        .execute(&mut *tx)
                        .await?;
                    }
                }
                if let (Some(at), "scheduled") = (d.scheduled_at, d.state.as_str()) {
                    sqlx::query("INSERT INTO schedule (kind, ref_id, due_at) VALUES ('post', $1, $2) ON CONFLICT (kind, ref_id) DO NOTHING")
                        .bind(id)
                        .bind(at.ms())
                        .execute(&mut *tx)
                        .await?;
                }
                draft_ids.insert(d.id, id);
                added += 1;
            }

            let mut task_ids: HashMap<i64, i64> = HashMap::new();
            for t in &doc.tasks {
                let found = find_id!(
                    tx,
                    "SELECT id FROM tasks WHERE created_at = $1 AND body = $2",
                    t.created_at.ms(),
                    &t.text
                );
                if let Some(id) = found {
                    task_ids.insert(t.id, id);
                    skipped += 1;
                    continue;
                }
                let id = insert_keeping_id!(
                    tx,
                    "tasks",
                    "INSERT INTO tasks (id, body, spec, tz, about, once_at, removed_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    t.id,
                    |q| q
                        .bind(&t.text)
                        .bind(&t.every)
                        .bind(&t.tz)
                        .bind(&t.about)
                        .bind(t.once_at.map(Ms::ms))
                        .bind(t.removed_at.map(Ms::ms))
                        .bind(t.created_at.ms())
                );
                if let (Some(next), None) = (t.next_due_at, t.removed_at) {
                    sqlx::query("INSERT INTO schedule (kind, ref_id, due_at) VALUES ('task', $1, $2) ON CONFLICT (kind, ref_id) DO NOTHING")
                        .bind(id)
                        .bind(next.ms())
                        .execute(&mut *tx)
                        .await?;
                }
                task_ids.insert(t.id, id);
                added += 1;
            }
            for o in &doc.task_occurrences {
                let task = task_ids.get(&o.task_id).copied().unwrap_or(o.task_id);
                let done = sqlx::query(
                    "INSERT INTO task_occurrences (task_id, due_at, state, fired_at, resolved_at, late) VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (task_id, due_at) DO NOTHING",
                )
                .bind(task)
                .bind(o.due_at.ms())
                .bind(&o.state)
                .bind(o.fired_at.map(Ms::ms))
                .bind(o.resolved_at.map(Ms::ms))
                .bind(i64::from(o.late))
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 { skipped += 1 } else { added += 1 }
            }

            let mut setback_ids: HashMap<i64, i64> = HashMap::new();
            for s in &doc.setbacks {
                let found = find_id!(
                    tx,
                    "SELECT id FROM setbacks WHERE created_at = $1 AND body = $2",
                    s.created_at.ms(),
                    &s.text
                );
                if let Some(id) = found {
                    setback_ids.insert(s.id, id);
                    skipped += 1;
                    continue;
                }
                let draft = s.draft_id.map(|d| draft_ids.get(&d).copied().unwrap_or(d));
                let task = s.task_id.map(|t| task_ids.get(&t).copied().unwrap_or(t));
                let id = insert_keeping_id!(
                    tx,
                    "setbacks",
                    "INSERT INTO setbacks (id, body, tags, draft_id, task_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                    s.id,
                    |q| q
                        .bind(&s.text)
                        .bind(json_list(&s.tags))
                        .bind(draft)
                        .bind(task)
                        .bind(s.created_at.ms())
                );
                setback_ids.insert(s.id, id);
                added += 1;
            }
            for l in &doc.lessons {
                let setback = setback_ids.get(&l.setback_id).copied().unwrap_or(l.setback_id);
                let found = find_id!(
                    tx,
                    "SELECT id FROM lessons WHERE setback_id = $1 AND created_at = $2 AND body = $3",
                    setback,
                    l.created_at.ms(),
                    &l.text
                );
                if found.is_some() {
                    skipped += 1;
                    continue;
                }
                let id = insert_keeping_id!(
                    tx,
                    "lessons",
                    "INSERT INTO lessons (id, setback_id, body, stage, created_at) VALUES ($1, $2, $3, $4, $5)",
                    l.id,
                    |q| q.bind(setback).bind(&l.text).bind(l.stage).bind(l.created_at.ms())
                );
                if let Some(next) = l.next_at {
                    sqlx::query("INSERT INTO schedule (kind, ref_id, due_at) VALUES ('lesson', $1, $2) ON CONFLICT (kind, ref_id) DO NOTHING")
                        .bind(id)
                        .bind(next.ms())
                        .execute(&mut *tx)
                        .await?;
                }
                added += 1;
            }
            for n in &doc.nudges {
                let found = find_id!(tx, "SELECT id FROM nudges WHERE item_key = $1", &n.item_key);
                if found.is_some() {
                    skipped += 1;
                    continue;
                }
                let draft = n.draft_id.map(|d| draft_ids.get(&d).copied().unwrap_or(d));
                let task = n.task_id.map(|t| task_ids.get(&t).copied().unwrap_or(t));
                insert_keeping_id!(
                    tx,
                    "nudges",
                    "INSERT INTO nudges (id, kind, message, due_at, fired_at, draft_id, task_id, late, item_key) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    n.id,
                    |q| q
                        .bind(&n.kind)
                        .bind(&n.message)
                        .bind(n.due_at.ms())
                        .bind(n.fired_at.ms())
                        .bind(draft)
                        .bind(task)
                        .bind(i64::from(n.late))
                        .bind(&n.item_key)
                );
                added += 1;
            }
            if pg {
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
                    let sql = format!(
                        "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                    );
                    sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *tx).await?;
                }
            }
            (added, skipped)
        });
        Ok((added, skipped))
    }
}
