//! A post comes due: under the missed-run policy it is skipped, moved to
//! the next free slot, handed to the publisher, or nudged for the person to
//! post, with the lessons its tags recall.

use super::{FireCtx, Fired, LATE_AFTER_MS};
use crate::error::Result;
use crate::model;
use crate::rules::MissedPolicy;
use crate::store::tx::Tx;
use crate::store::{DueRow, first_free_slot, last_time};

pub async fn fire(tx: &mut Tx, row: &DueRow, ctx: &FireCtx) -> Result<Fired> {
    let mut fired = Fired::default();
    let Some(draft) = tx.due_post(row.ref_id).await? else { return Ok(fired) };
    let now_ms = ctx.now_ms;
    let late = now_ms - row.due_at > LATE_AFTER_MS;
    let lateness_ok = now_ms - row.due_at <= i64::from(ctx.policy.max_lateness_minutes) * 60_000;
    let policy = draft.missed_policy.as_deref().and_then(MissedPolicy::parse).unwrap_or(ctx.policy.missed);
    let action = match policy {
        _ if !late => MissedPolicy::Ask,
        MissedPolicy::CatchUp if lateness_ok => MissedPolicy::Ask,
        MissedPolicy::CatchUp => MissedPolicy::Skip,
        other => other,
    };
    let slot = if action == MissedPolicy::NextSlot {
        let specs = tx.slot_specs().await?;
        let taken = tx.taken_post_times(now_ms).await?;
        first_free_slot(&specs, ctx.tz, &taken, now_ms).ok()
    } else {
        None
    };
    if let Some(at) = slot {
        // Missed while down: quietly into the next free slot.
        tx.move_draft_to_slot(row.ref_id, at, now_ms).await?;
        fired.next_due = Some(at);
    } else if action == MissedPolicy::Skip {
        // Missed while down: back to the drafts, nothing lost, no nudge.
        tx.unschedule_fired_draft(row.ref_id, now_ms).await?;
    } else if draft.publishes > 0 {
        // The daemon publishes it: the publisher takes it from here.
        tx.start_publishing(row.ref_id, now_ms, late).await?;
    } else {
        let tags: Vec<String> = serde_json::from_str(&draft.tags).unwrap_or_default();
        let label = model::label(&draft.title, &draft.body);
        let mut message = post_due_message(&label, row.due_at, now_ms, late, row.due_at < ctx.opened_ms);
        if !tags.is_empty() {
            let lessons = tx.tagged_lessons().await?;
            for line in last_time(&tags, &lessons) {
                message.push_str(". ");
                message.push_str(&line);
            }
        }
        let thread: Vec<String> = serde_json::from_str(&draft.thread).unwrap_or_default();
        if !thread.is_empty() {
            message.push_str(&thread_text(&model::parts(&draft.body, &thread)));
        }
        let images: Vec<crate::media::Image> = serde_json::from_str(&draft.images).unwrap_or_default();
        if !images.is_empty() {
            message.push_str(&images_text(&images, thread.len() + 1));
        }
        tx.set_fired_state(row.ref_id, "due", now_ms, late).await?;
        let n =
            model::Nudge { draft_id: Some(row.ref_id), late, ..ctx.nudge("post_due", message, row.due_at) };
        fired.nudges.extend(tx.insert_nudge(n, format!("post:{}:{}", row.ref_id, row.due_at)).await?);
    }
    Ok(fired)
}

/// "Time to post: …", and why it is late when it is.
pub fn post_due_message(label: &str, due_ms: i64, now_ms: i64, late: bool, while_down: bool) -> String {
    let mut m = format!("Time to post: \u{201c}{label}\u{201d}");
    if late {
        let mins = (now_ms - due_ms) / 60_000;
        let ago = if mins >= 120 { format!("{}h", mins / 60) } else { format!("{mins} min") };
        let why = if while_down {
            "while cloutd was not running"
        } else {
            "cloutd could not fire it on time; its log says why"
        };
        m.push_str(&format!(" (late: it was due {ago} ago, {why})"));
    }
    m
}

/// A thread for the person to post, every part in order, ready to copy:
/// post the first, then each next one as a reply to the one before.
pub fn thread_text(parts: &[String]) -> String {
    let n = parts.len();
    let mut m =
        format!(". A thread of {n} parts: post part 1, then each next part as a reply to the one before it");
    for (i, p) in parts.iter().enumerate() {
        m.push_str(&format!("\n\n[{}/{n}]\n{p}", i + 1));
    }
    m
}

/// The images to attach by hand: which part each goes on, its file in
/// cloutd's media directory, and its alt text.
pub fn images_text(images: &[crate::media::Image], parts: usize) -> String {
    let n = images.len();
    let mut m = format!(
        "\n\nWith {n} image{} (in cloutd's media directory; `clout draft show` lists them):",
        if n == 1 { "" } else { "s" }
    );
    for i in images {
        let ext = i.mime.strip_prefix("image/").unwrap_or("png").replace("jpeg", "jpg");
        let on = if parts > 1 { format!("part {}: ", i.part + 1) } else { String::new() };
        let alt = if i.alt.is_empty() { "no alt text".to_string() } else { format!("alt: {}", i.alt) };
        m.push_str(&format!("\n{on}{}.{ext} ({alt})", i.sha256));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_nudge_gives_every_part_in_order() {
        let m = thread_text(&["one".into(), "two".into()]);
        assert!(m.starts_with(". A thread of 2 parts"), "{m}");
        assert!(m.ends_with("\n\n[1/2]\none\n\n[2/2]\ntwo"), "{m}");
    }

    #[test]
    fn late_posts_say_why() {
        let m = post_due_message("x", 0, 30 * 60_000, true, true);
        assert!(m.ends_with("(late: it was due 30 min ago, while cloutd was not running)"), "{m}");
        let m = post_due_message("x", 0, 3 * 3_600_000, true, false);
        assert!(
            m.ends_with("(late: it was due 3h ago, cloutd could not fire it on time; its log says why)"),
            "{m}"
        );
        assert_eq!(post_due_message("x", 0, 1000, false, false), "Time to post: \u{201c}x\u{201d}");
    }
}
