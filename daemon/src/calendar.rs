//! The program as an iCalendar feed: scheduled posts (each with a reminder)
//! and tasks (a recurring one as one event with recurrence rules). One
//! implementation serves `clout export --ical` (through the BackupService)
//! and the subscription URL of [`serve`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use icalendar::{Alarm, Calendar, CalendarDateTime, Component, Event, EventLike};
use subtle::ConstantTimeEq;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::Core;
use crate::config::CalendarConfig;
use crate::error::{Error, Result};
use crate::model::{DraftState, label};
use crate::recurrence::Schedule;
use crate::store::Store;

/// Days of occurrences listed for a schedule that no recurrence rule can express.
const LISTED_DAYS: i64 = 90;
/// How long each event lasts in the calendar.
const EVENT_MINUTES: i64 = 15;
/// The reminder of a post comes this long before its time.
const POST_REMINDER_MINUTES: i64 = 10;

fn event_times(e: &mut Event, start: CalendarDateTime, end: CalendarDateTime) {
    e.starts(start).ends(end);
}

fn local(at: chrono::NaiveDateTime, tz: Tz) -> CalendarDateTime {
    CalendarDateTime::WithTimezone { date_time: at, tzid: tz.name().to_string() }
}

/// Years ahead that a zone's offsets are written out for (its `VTIMEZONE`).
const ZONE_YEARS: i64 = 5;

/// The calendar as of `now`.
pub async fn build(store: &Store, now: DateTime<Utc>) -> Result<String> {
    let mut cal = Calendar::new();
    // The zones events name (TZID), each with its earliest event.
    let mut zones: std::collections::BTreeMap<&'static str, (Tz, DateTime<Utc>)> = Default::default();
    cal.name("Clout");
    for d in store.list_drafts(&[]).await? {
        let Some(at) = d.scheduled_at else { continue };
        if d.state == DraftState::Skipped {
            continue;
        }
        let summary = format!("Post: {}", d.label());
        let mut e = Event::new();
        e.uid(&format!("clout-draft-{}@clout", d.id))
            .summary(&summary)
            .description(&d.parts().join("\n---\n"))
            .timestamp(d.updated_at);
        event_times(&mut e, at.into(), (at + Duration::minutes(EVENT_MINUTES)).into());
        let mut alarm = Alarm::display(&summary, -Duration::minutes(POST_REMINDER_MINUTES));
        alarm.uid(&format!("clout-draft-{}-reminder@clout", d.id));
        e.alarm(alarm.done());
        cal.push(e.done());
    }
    for t in store.tasks().await? {
        let Some(next) = t.next_due_at else { continue };
        let tz: Tz = t.tz.parse().unwrap_or(chrono_tz::UTC);
        let mut summary = format!("Task: {}", label("", &t.text));
        if !t.about.is_empty() {
            summary.push_str(&format!(" ({})", t.about));
        }
        let schedule = if t.every.is_empty() { None } else { Schedule::parse(&t.every).ok() };
        let Some(schedule) = schedule else {
            let mut e = Event::new();
            e.uid(&format!("clout-task-{}@clout", t.id))
                .summary(&summary)
                .description(&t.text)
                .timestamp(t.created_at);
            event_times(&mut e, next.into(), (next + Duration::minutes(EVENT_MINUTES)).into());
            cal.push(e.done());
            continue;
        };
        // The series starts at the next occurrence: the ones before are history.
        let after = (next - Duration::seconds(1)).with_timezone(&tz).naive_local();
        match schedule.rrules(after) {
            Some(rules) => {
                let earliest =
                    rules.iter().map(|r| r.first.and_utc() - Duration::days(1)).min().unwrap_or(now);
                let zone = zones.entry(tz.name()).or_insert((tz, earliest));
                zone.1 = zone.1.min(earliest);
                for (i, r) in rules.into_iter().enumerate() {
                    let mut e = Event::new();
                    e.uid(&format!("clout-task-{}-{i}@clout", t.id))
                        .summary(&summary)
                        .description(&format!("{}\n\nEvery: {} ({})", t.text, t.every, t.tz))
                        .timestamp(t.created_at)
                        .add_property("RRULE", r.rule);
                    event_times(
                        &mut e,
                        local(r.first, tz),
                        local(r.first + Duration::minutes(EVENT_MINUTES), tz),
                    );
                    cal.push(e.done());
                }
            }
            None => {
                let until = now + Duration::days(LISTED_DAYS);
                let mut at = Some(next);
                while let Some(occurrence) = at.filter(|a| *a <= until) {
                    let mut e = Event::new();
                    e.uid(&format!("clout-task-{}-{}@clout", t.id, occurrence.timestamp()))
                        .summary(&summary)
                        .description(&t.text)
                        .timestamp(t.created_at);
                    event_times(
                        &mut e,
                        occurrence.into(),
                        (occurrence + Duration::minutes(EVENT_MINUTES)).into(),
                    );
                    cal.push(e.done());
                    at = schedule.next_after(occurrence, tz);
                }
            }
        }
    }
    let until = now + Duration::days(366 * ZONE_YEARS);
    let components: Vec<String> =
        zones.values().map(|(tz, from)| crate::vtimezone::component(*tz, *from, until)).collect();
    Ok(crate::vtimezone::insert(cal.done().to_string(), &components))
}

/// At most this many calendar requests are answered at once; more wait.
const MAX_CONNECTIONS: usize = 8;
/// A request head must arrive within this time, and fit in this many bytes.
const READ_TIMEOUT: StdDuration = StdDuration::from_secs(10);
const MAX_HEAD_BYTES: usize = 8 * 1024;

/// A bound calendar listener.
pub struct Listener {
    listener: tokio::net::TcpListener,
    pub addr: SocketAddr,
    token: Arc<str>,
}

impl Listener {
    pub async fn bind(cfg: &CalendarConfig) -> Result<Listener> {
        let token = clout_proto::read_token_file(&cfg.token_file)
            .map_err(|e| Error::Startup(format!("[calendar] token_file: {e}")))?;
        // The token is a part of the URL's path: letters, digits, `-`, `_`, `.` and `~` only.
        if !token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b)) {
            return Err(Error::Startup(format!(
                "[calendar] token_file {}: the token goes in a URL, so it may hold only letters, digits, \
                 `-`, `_`, `.` and `~` (for example: umask 077; openssl rand -hex 32 > {})",
                cfg.token_file.display(),
                cfg.token_file.display()
            )));
        }
        let listener = tokio::net::TcpListener::bind(cfg.listen).await.map_err(|e| {
            Error::Startup(format!(
                "cannot serve the calendar on {}: {e}; pick another [calendar] listen address",
                cfg.listen
            ))
        })?;
        let addr = listener.local_addr().unwrap_or(cfg.listen);
        Ok(Listener { listener, addr, token: Arc::from(token) })
    }

    /// The URL a calendar app subscribes to.
    pub fn url(&self) -> String {
        url(self.addr, &self.token)
    }

    /// Answers `GET /TOKEN/clout.ics` until `stop` says so. Every connection
    /// gets one answer and is closed; a wrong path gets 404, whatever it holds.
    pub async fn serve(self, core: Arc<Core>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let permits = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        loop {
            let permit = tokio::select! {
                p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
                _ = stop.wait_for(|s| *s) => return,
            };
            let accepted = tokio::select! {
                a = self.listener.accept() => a,
                _ = stop.wait_for(|s| *s) => return,
            };
            let (stream, _) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("calendar listener: cannot accept a connection: {e}");
                    // Out of descriptors, most likely: wait for one to be freed.
                    tokio::time::sleep(StdDuration::from_millis(100)).await;
                    continue;
                }
            };
            let core = core.clone();
            let token = self.token.clone();
            tokio::spawn(async move {
                if let Err(e) = tokio::time::timeout(READ_TIMEOUT * 3, answer(stream, &core, &token)).await {
                    tracing::debug!("calendar request timed out: {e}");
                }
                drop(permit);
            });
        }
    }
}

pub fn url(addr: SocketAddr, token: &str) -> String {
    format!("http://{addr}/{token}/clout.ics")
}

async fn answer(mut stream: tokio::net::TcpStream, core: &Core, token: &str) {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    let complete = loop {
        match tokio::time::timeout(READ_TIMEOUT, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break false,
            Ok(Ok(n)) => {
                head.extend_from_slice(&buf[..n]);
                if head.windows(4).any(|w| w == b"\r\n\r\n") {
                    break true;
                }
                if head.len() > MAX_HEAD_BYTES {
                    break false;
                }
            }
        }
    };
    let (status, ctype, body) = if !complete {
        ("400 Bad Request", "text/plain", "bad request\n".to_string())
    } else {
        let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
        let line = String::from_utf8_lossy(line);
        let mut words = line.split_whitespace();
        let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        let wanted = format!("/{token}/clout.ics");
        let matches = bool::from(path.as_bytes().ct_eq(wanted.as_bytes()));
        match (method, matches) {
            ("GET" | "HEAD", true) => match build(&core.store, crate::clock::now()).await {
                Ok(ics) => ("200 OK", "text/calendar; charset=utf-8", ics),
                Err(e) => {
                    tracing::warn!("cannot build the calendar: {e}");
                    ("503 Service Unavailable", "text/plain", "the calendar is not available now\n".into())
                }
            },
            ("GET" | "HEAD", false) => ("404 Not Found", "text/plain", "not found\n".into()),
            _ => ("405 Method Not Allowed", "text/plain", "only GET\n".into()),
        }
    };
    let is_head = head.starts_with(b"HEAD ");
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(reply.as_bytes()).await;
    if !is_head {
        let _ = stream.write_all(body.as_bytes()).await;
    }
    let _ = stream.shutdown().await;
}
