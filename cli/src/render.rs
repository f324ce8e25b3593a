//! Output: JSON for scripts, aligned tables and short sentences for people.

use std::io::Write;

use anstyle::{AnsiColor, Style};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use clout_proto::v1;
use serde_json::{Value, json};

pub const BOLD: Style = Style::new().bold();
pub const DIM: Style = Style::new().dimmed();
pub const GREEN: Style = AnsiColor::Green.on_default();
pub const YELLOW: Style = AnsiColor::Yellow.on_default();
pub const CYAN: Style = AnsiColor::Cyan.on_default();
pub const RED: Style = AnsiColor::Red.on_default();

pub fn time(t: &Option<prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    t.as_ref().and_then(clout_proto::from_ts)
}

pub fn rfc3339(t: &Option<prost_types::Timestamp>) -> Value {
    match time(t) {
        Some(t) => Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        None => Value::Null,
    }
}

/// "Sat 29 Nov 09:00 CET", or with the year when it is not this year's.
pub fn local(t: DateTime<Utc>, tz: Tz) -> String {
    let lt = t.with_timezone(&tz);
    let now = Utc::now().with_timezone(&tz);
    if lt.format("%Y").to_string() == now.format("%Y").to_string() {
        lt.format("%a %d %b %H:%M %Z").to_string()
    } else {
        lt.format("%a %d %b %Y %H:%M %Z").to_string()
    }
}

/// "in 3h 12m" / "5m ago".
pub fn relative(t: DateTime<Utc>) -> String {
    let secs = (t - Utc::now()).num_seconds();
    let a = secs.unsigned_abs();
    let text = if a < 60 {
        format!("{a}s")
    } else if a < 3600 {
        format!("{}m", a / 60)
    } else if a < 86_400 {
        format!("{}h {}m", a / 3600, (a % 3600) / 60)
    } else {
        format!("{}d {}h", a / 86_400, (a % 86_400) / 3600)
    };
    if secs >= 0 { format!("in {text}") } else { format!("{text} ago") }
}

pub fn state_name(s: i32) -> &'static str {
    match v1::DraftState::try_from(s) {
        Ok(v1::DraftState::Draft) => "draft",
        Ok(v1::DraftState::Scheduled) => "scheduled",
        Ok(v1::DraftState::Due) => "due",
        Ok(v1::DraftState::Published) => "published",
        Ok(v1::DraftState::Skipped) => "skipped",
        Ok(v1::DraftState::Publishing) => "publishing",
        Ok(v1::DraftState::Partial) => "partial",
        Ok(v1::DraftState::Failed) => "failed",
        _ => "unknown",
    }
}

pub fn draft_json(d: &v1::Draft) -> Value {
    json!({
        "id": d.id,
        "title": d.title,
        "text": d.text,
        "platforms": d.platforms,
        "tags": d.tags,
        "state": state_name(d.state),
        "scheduled_at": rfc3339(&d.scheduled_at),
        "fired_at": rfc3339(&d.fired_at),
        "late": d.late,
        "published_at": rfc3339(&d.published_at),
        "published_url": d.published_url,
        "created_at": rfc3339(&d.created_at),
        "updated_at": rfc3339(&d.updated_at),
        "slotted": d.slotted,
        "last_time": d.last_time,
        "visibility": d.visibility,
        "content_warning": d.content_warning,
        "language": d.language,
        "fire_error": d.fire_error,
        "thread": d.thread,
        "no_card": d.no_card,
        "publications": d.publications.iter().map(publication_json).collect::<Vec<_>>(),
    })
}

pub fn publication_json(p: &v1::Publication) -> Value {
    json!({
        "account": p.account,
        "network": p.network,
        "state": p.state,
        "url": p.url,
        "remote_id": p.remote_id,
        "attempts": p.attempts,
        "next_attempt_at": rfc3339(&p.next_attempt_at),
        "published_at": rfc3339(&p.published_at),
        "last_error": p.last_error,
        "differences": p.differences,
        "parts": p.parts.iter().map(|x| json!({ "number": x.number, "url": x.url, "remote_id": x.remote_id })).collect::<Vec<_>>(),
        "history": p.history.iter().map(|h| json!({
            "at": rfc3339(&h.at),
            "outcome": h.outcome,
            "http_status": h.http_status,
            "message": h.message,
        })).collect::<Vec<_>>(),
    })
}

pub fn account_json(a: &v1::Account) -> Value {
    json!({
        "id": a.id,
        "name": a.name,
        "network": a.network,
        "server": a.server,
        "handle": a.handle,
        "secret_source": a.secret_source,
        "remote_id": a.remote_id,
        "max_length": a.max_length,
        "checked_at": rfc3339(&a.checked_at),
        "check_error": a.check_error,
        "created_at": rfc3339(&a.created_at),
        "from_config": a.from_config,
    })
}

pub fn nudge_json(n: &v1::Nudge) -> Value {
    json!({
        "id": n.id,
        "kind": n.kind,
        "message": n.message,
        "due_at": rfc3339(&n.due_at),
        "fired_at": rfc3339(&n.fired_at),
        "draft_id": n.draft_id,
        "task_id": n.task_id,
        "late": n.late,
        "acked": n.acked,
    })
}

pub fn queue_item_json(q: &v1::QueueItem) -> Value {
    json!({
        "kind": q.kind,
        "due_at": rfc3339(&q.due_at),
        "id": q.id,
        "title": q.title,
        "text": q.text,
        "about": q.about,
        "slotted": q.slotted,
    })
}

/// Prints JSON on one line (for `--json`).
pub fn print_json(v: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer(&mut out, v);
    let _ = writeln!(out);
}

/// The title, else the first line of the text, cut to `width` characters.
pub fn label(title: &str, text: &str, width: usize) -> String {
    let base = if title.trim().is_empty() { text.lines().next().unwrap_or("") } else { title };
    cut(base.trim(), width)
}

pub fn cut(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(width.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// A plain table: a bold header and left-aligned columns sized to fit.
pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<(String, Style)>>,
}

impl Table {
    pub fn new(header: Vec<&'static str>) -> Table {
        Table { header, rows: Vec::new() }
    }

    pub fn row(&mut self, cells: Vec<(String, Style)>) {
        self.rows.push(cells);
    }

    pub fn print(&self) {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, (c, _)) in r.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(c.chars().count());
                }
            }
        }
        let mut out = anstream::stdout().lock();
        let last = self.header.len().saturating_sub(1);
        let mut line = String::new();
        for (i, h) in self.header.iter().enumerate() {
            if i == last {
                line.push_str(h);
            } else {
                line.push_str(&format!("{h:<w$}  ", w = widths[i]));
            }
        }
        let _ = writeln!(out, "{BOLD}{line}{BOLD:#}");
        for r in &self.rows {
            let mut line = String::new();
            for (i, (c, style)) in r.iter().enumerate() {
                let pad = widths.get(i).copied().unwrap_or(0).saturating_sub(c.chars().count());
                if i == last {
                    line.push_str(&format!("{style}{c}{style:#}"));
                } else {
                    line.push_str(&format!("{style}{c}{style:#}{}  ", " ".repeat(pad)));
                }
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
    }
}
