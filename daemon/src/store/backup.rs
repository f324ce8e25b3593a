//! Export and import of the whole program as one JSON document.
//!
//! Records carry their ids so references (a setback's draft, a lesson's
//! setback, an occurrence's task) survive. Import is one transaction: a
//! malformed document changes nothing. Records already present (matched by
//! natural key: a draft's creation time and text, a follow's handle and
//! platform, a nudge's occurrence key, …) are skipped, so importing a file
//! twice adds nothing. Into an empty database ids are kept, so an export of
//! the imported database equals the original export.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Pool, Store};
use crate::error::{Error, Result};
use crate::model::{DraftState, MAX_PARTS, MAX_TEXT_BYTES, from_ms, to_ms};
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
    /// The program's stage changes (learn → influence), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stage_changes: Vec<StageX>,
    /// Your posts' results: each followed post (by its draft's id) and its
    /// snapshots. Imported posts are not fetched on a schedule again;
    /// `clout results refresh` fetches them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<super::results::ExportedPost>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
pub struct StageX {
    pub from: String,
    pub to: String,
    #[sqlx(try_from = "i64")]
    pub changed_at: Ms,
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
    /// The server their posts are read from; "" (and absent in older files): the usual one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub server: String,
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
    /// A thread: the parts after the first (`text`), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thread: Vec<String>,
    /// No link card on Bluesky.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_card: bool,
    /// Images, with their bytes in base64.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ImageX>,
}

/// An image of a draft in an export: which part it is on (1 is the first),
/// its alt text, and its bytes (`data`, standard base64). An import reads
/// the type, size and dimensions from the bytes themselves.
#[derive(Debug, Serialize, Deserialize, PartialEq, Clone)]
#[serde(deny_unknown_fields)]
pub struct ImageX {
    pub part: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub alt: String,
    #[serde(default)]
    pub sha256: String,
    #[serde(default)]
    pub mime_type: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub width: u32,
    #[serde(default)]
    pub height: u32,
    pub data: String,
}

impl ImageX {
    pub fn of(i: &crate::media::Image) -> ImageX {
        ImageX {
            part: i.part + 1,
            alt: i.alt.clone(),
            sha256: i.sha256.clone(),
            mime_type: i.mime.clone(),
            size: i.bytes,
            width: i.width,
            height: i.height,
            data: String::new(),
        }
    }

    pub fn image(&self) -> crate::media::Image {
        crate::media::Image {
            part: self.part.saturating_sub(1),
            sha256: self.sha256.clone(),
            mime: self.mime_type.clone(),
            bytes: self.size,
            width: self.width,
            height: self.height,
            alt: self.alt.clone(),
        }
    }
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
    pub(super) fn ms(self) -> i64 {
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
    for (i, c) in doc.stage_changes.iter().enumerate() {
        for (field, v) in [("from", &c.from), ("to", &c.to)] {
            if !["learn", "influence"].contains(&v.as_str()) {
                return bad(format!("stage_changes[{i}].{field}"), "must be learn or influence".into());
            }
        }
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
        if d.thread.len() + 1 > MAX_PARTS {
            return bad(format!("drafts[{i}].thread"), format!("has more than {} parts", MAX_PARTS - 1));
        }
        if let Some(j) = d.thread.iter().position(|p| p.trim().is_empty() || p.len() > MAX_TEXT_BYTES) {
            return bad(format!("drafts[{i}].thread[{j}]"), "must be 1 byte to 64 KiB of text".into());
        }
        let parts = d.thread.len() + 1;
        for (j, img) in d.images.iter().enumerate() {
            if img.part == 0 || img.part as usize > parts {
                return bad(format!("drafts[{i}].images[{j}].part"), format!("must be 1 to {parts}"));
            }
            if d.images.iter().filter(|o| o.part == img.part).count() > crate::media::MAX_IMAGES_PER_PART {
                return bad(
                    format!("drafts[{i}].images[{j}]"),
                    format!("part {} has more than {} images", img.part, crate::media::MAX_IMAGES_PER_PART),
                );
            }
            if img.alt.chars().count() > crate::media::MAX_ALT_CHARS {
                return bad(
                    format!("drafts[{i}].images[{j}].alt"),
                    format!("is longer than {} characters", crate::media::MAX_ALT_CHARS),
                );
            }
            if !crate::media::is_sha256(&img.sha256) {
                return bad(format!("drafts[{i}].images[{j}].data"), "holds no image".into());
            }
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

impl Store {
    /// Everything, as one state of the database: writes wait until it is read.
    pub async fn export(&self) -> Result<Document> {
        let hold = self.hold_writes().await?;
        let doc = self.export_held().await;
        hold.commit().await?;
        doc
    }

    async fn export_held(&self) -> Result<Document> {
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
            "SELECT id, handle, platform, why, topic, created_at, server FROM follows ORDER BY id"
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
                thread: d.thread,
                no_card: d.no_card,
                images: d.images.iter().map(ImageX::of).collect(),
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
        let stage_changes: Vec<StageX> = on_pool!(self, |pool| {
            sqlx::query_as(
            "SELECT from_purpose AS \"from\", to_purpose AS \"to\", changed_at FROM stage_changes ORDER BY changed_at, id"
        )
        .fetch_all(pool)
        .await
        })?;
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
            stage_changes,
            results: self.export_results().await?,
        })
    }
}
