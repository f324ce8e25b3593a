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

/// "Sat 29 Nov 09:00 CET", or with the year when it is not this year's
/// ([`clout_time::show_time`], which cloutd's messages use too).
pub fn local(t: DateTime<Utc>, tz: Tz) -> String {
    clout_time::show_time(t, tz, Utc::now())
}

/// "in 3h 12m" / "5m ago".
pub fn relative(t: DateTime<Utc>) -> String {
    relative_to(t, Utc::now())
}

/// `t` as seen from `now`: "in 5m", "2h 10m ago".
pub fn relative_to(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (t - now).num_seconds();
    let text = span(secs.unsigned_abs());
    if secs >= 0 { format!("in {text}") } else { format!("{text} ago") }
}

/// A length of time, to two units: `45s`, `12m`, `3h 5m`, `2d 4h`.
pub fn span(a: u64) -> String {
    if a < 60 {
        format!("{a}s")
    } else if a < 3600 {
        format!("{}m", a / 60)
    } else if a < 86_400 {
        format!("{}h {}m", a / 3600, (a % 3600) / 60)
    } else {
        format!("{}d {}h", a / 86_400, (a % 86_400) / 3600)
    }
}

/// "1 item", "2 items", "0 items".
pub fn plural(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    if n == 1 { format!("1 {one}") } else { format!("{n} {many}") }
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
        "images": d.images.iter().map(|i| json!({
            "part": i.part,
            "sha256": i.sha256,
            "alt": i.alt,
            "mime_type": i.mime_type,
            "size": i.size,
            "width": i.width,
            "height": i.height,
        })).collect::<Vec<_>>(),
        "publications": d.publications.iter().map(publication_json).collect::<Vec<_>>(),
    })
}

/// A size in bytes as people read it: 980 B, 12 KB, 1.4 MB.
pub fn bytes(n: u64) -> String {
    match n {
        0..=999 => format!("{n} B"),
        1_000..=999_999 => format!("{} KB", n / 1000),
        _ => format!("{:.1} MB", n as f64 / 1_000_000.0),
    }
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
        "image_size_limit": a.image_size_limit,
        "image_types": a.image_types,
        "checked_at": rfc3339(&a.checked_at),
        "check_error": a.check_error,
        "created_at": rfc3339(&a.created_at),
        "from_config": a.from_config,
        "appview": a.appview,
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

/// Resolves when stdout is a pipe whose reader has gone (`clout watch | head
/// -1`), so a long-running command that has nothing to write can end. The
/// reactor hears it from the kernel (a pipe's write end turns to error when
/// its last reader closes), so nothing polls. For a terminal or a file it
/// never resolves: a terminal that goes away sends SIGHUP, and a file has no
/// reader to lose.
pub async fn stdout_gone() {
    use std::os::fd::{AsFd, OwnedFd};
    use std::os::unix::fs::FileTypeExt;
    use tokio::io::Interest;
    use tokio::io::unix::AsyncFd;

    // A duplicate, so the reactor's registration never closes stdout itself.
    let watched = std::io::stdout().as_fd().try_clone_to_owned().ok().and_then(|fd| {
        let file = std::fs::File::from(fd);
        let fifo = file.metadata().ok()?.file_type().is_fifo();
        fifo.then(|| OwnedFd::from(file))
    });
    // The fd is an OwnedFd duplicated here and owned by the AsyncFd alone, so
    // nothing can close it behind the reactor's back (the concern behind the
    // deprecation, which asks for the unsafe `register_with_interest`).
    #[allow(deprecated)]
    let registered = watched.map(|fd| AsyncFd::with_interest(fd, Interest::ERROR));
    if let Some(Ok(fd)) = registered {
        // Only the error condition is awaited; nothing is read or written
        // through this descriptor, so its blocking mode does not matter.
        if fd.ready(Interest::ERROR).await.is_ok() {
            return;
        }
    }
    std::future::pending::<()>().await
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

/// How many terminal cells `s` takes: two for CJK and most emoji.
pub fn cells(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

/// `s` cut to at most `width` cells, ending in `…` when it was cut.
pub fn cut_cells(s: &str, width: usize) -> String {
    if cells(s) <= width {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// The width of the terminal stdout is, or `None` when it is not one (a
/// pipe, a file): tables are cut to fit a terminal only.
pub fn terminal_width() -> Option<usize> {
    #[allow(unsafe_code)]
    // SAFETY: isatty and ioctl(TIOCGWINSZ) on fd 1 with a local winsize.
    unsafe {
        if libc::isatty(1) != 1 {
            return None;
        }
        let mut ws: libc::winsize = std::mem::zeroed();
        if libc::ioctl(1, libc::TIOCGWINSZ, &mut ws) == 0 && ws.ws_col > 0 {
            return Some(usize::from(ws.ws_col));
        }
    }
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).filter(|&c: &usize| c > 0)
}

/// A plain table: a bold header and left-aligned columns sized to fit, by
/// display width. On a terminal the last column (the text) is cut with `…`
/// so that each row fits on one line.
pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<(String, Style)>>,
}

/// The narrowest the last column is cut to, in cells.
const MIN_LAST_CELLS: usize = 12;

impl Table {
    pub fn new(header: Vec<&'static str>) -> Table {
        Table { header, rows: Vec::new() }
    }

    pub fn row(&mut self, cells: Vec<(String, Style)>) {
        self.rows.push(cells);
    }

    pub fn print(&self) {
        let mut out = anstream::stdout().lock();
        for line in self.lines(terminal_width()) {
            let _ = writeln!(out, "{line}");
        }
    }

    /// The table's lines, styled, with the last column cut to fit `width` cells.
    fn lines(&self, width: Option<usize>) -> Vec<String> {
        let mut widths: Vec<usize> = self.header.iter().map(|h| cells(h)).collect();
        for r in &self.rows {
            for (i, (c, _)) in r.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(cells(c));
                }
            }
        }
        let last = self.header.len().saturating_sub(1);
        let before: usize = widths.iter().take(last).map(|w| w + 2).sum();
        let room = width.map(|w| w.saturating_sub(before).max(MIN_LAST_CELLS));
        let fit = |c: &str| match room {
            Some(room) => cut_cells(c, room),
            None => c.to_string(),
        };
        let mut lines = Vec::with_capacity(self.rows.len() + 1);
        let mut line = String::new();
        for (i, h) in self.header.iter().enumerate() {
            if i == last {
                line.push_str(h);
            } else {
                line.push_str(&format!("{h:<w$}  ", w = widths[i]));
            }
        }
        lines.push(format!("{BOLD}{}{BOLD:#}", line.trim_end()));
        for r in &self.rows {
            let mut line = String::new();
            for (i, (c, style)) in r.iter().enumerate() {
                if i == last {
                    line.push_str(&format!("{style}{}{style:#}", fit(c)));
                } else {
                    let pad = widths.get(i).copied().unwrap_or(0).saturating_sub(cells(c));
                    line.push_str(&format!("{style}{c}{style:#}{}  ", " ".repeat(pad)));
                }
            }
            lines.push(line.trim_end().to_string());
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(t: &Table, width: Option<usize>) -> Vec<String> {
        t.lines(width).iter().map(|l| anstream::adapter::strip_str(l).to_string()).collect()
    }

    #[test]
    fn columns_are_padded_by_display_width() {
        let mut t = Table::new(vec!["ID", "WHO", "WHAT"]);
        t.row(vec![("1".into(), Style::new()), ("日本語".into(), Style::new()), ("a".into(), Style::new())]);
        t.row(vec![("2".into(), Style::new()), ("🙂x".into(), Style::new()), ("b".into(), Style::new())]);
        t.row(vec![("3".into(), Style::new()), ("abc".into(), Style::new()), ("c".into(), Style::new())]);
        let lines = plain(&t, None);
        assert_eq!(lines, vec!["ID  WHO     WHAT", "1   日本語  a", "2   🙂x     b", "3   abc     c"]);
        // Every WHAT starts in the same cell.
        for l in &lines[1..] {
            assert_eq!(cells(l), 13, "{l}");
        }
    }

    #[test]
    fn on_a_terminal_the_text_is_cut_to_fit() {
        let mut t = Table::new(vec!["ID", "WHAT"]);
        let long = "Shipping week: three things I learned about small teams";
        t.row(vec![("1".into(), Style::new()), (long.into(), Style::new())]);
        t.row(vec![("2".into(), Style::new()), ("日本語のテキストはとても長いです".into(), Style::new())]);
        let lines = plain(&t, Some(30));
        assert_eq!(lines[1], "1   Shipping week: three thin…");
        assert!(lines.iter().all(|l| cells(l) <= 30), "{lines:?}");
        assert!(lines[2].ends_with('…') && cells(&lines[2]) <= 30, "{}", lines[2]);
        // Off a terminal nothing is cut.
        assert!(plain(&t, None)[1].ends_with("small teams"));
    }

    #[test]
    fn cutting_counts_cells() {
        assert_eq!(cut_cells("abcdef", 4), "abc…");
        assert_eq!(cut_cells("日本語", 4), "日…");
        assert_eq!(cut_cells("日本語", 6), "日本語");
    }
}
