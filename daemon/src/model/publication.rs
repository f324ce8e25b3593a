//! Publications: a claimed publication, how an attempt ended, and the keys
//! that make a retried publish land once (Mastodon's Idempotency-Key,
//! Bluesky's record key, an atproto TID).

use chrono::{DateTime, Utc};

use super::{Network, Publication};

/// How one publishing attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The server confirmed the post.
    Published { url: String, remote_id: String },
    /// A temporary error: try again at `at`.
    Retry { at: DateTime<Utc>, http_status: u16, message: String },
    /// A permanent error: stop and tell the person what to do.
    Failed { http_status: u16, message: String },
}

/// A publication the publisher claimed, with what it needs to publish.
#[derive(Debug, Clone)]
pub struct Claim {
    pub publication: Publication,
    /// The attempt before this one was cut off (the daemon stopped mid-request).
    pub interrupted: bool,
    /// When the cut-off attempt began.
    pub interrupted_at: Option<DateTime<Utc>>,
    /// Tries since the draft came due, this one included.
    pub tries: u32,
    pub text: String,
    pub label: String,
    pub visibility: String,
    pub content_warning: String,
    pub language: String,
}

/// A publication's key, fixed when the row is made so every retry sends the
/// same one: Mastodon's Idempotency-Key, or Bluesky's record key.
pub fn idempotency_key(network: Network, draft_id: i64, account_id: i64, now_ms: i64) -> String {
    match network {
        Network::Mastodon => format!("clout-{draft_id}-{account_id}-{now_ms}"),
        Network::Bluesky => derive_rkey(now_ms, draft_id, account_id),
    }
}

/// The base32-sortable alphabet of atproto TIDs.
pub(crate) const S32: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";
const TID_LEN: usize = 13;
pub(crate) const MICROS_MASK: u64 = (1 << 53) - 1;

/// An atproto TID: 53 bits of microseconds since the epoch and a 10-bit
/// clock id, as 13 base32-sortable characters, most significant first.
pub fn tid(micros: u64, clock_id: u16) -> String {
    let value = ((micros & MICROS_MASK) << 10) | u64::from(clock_id & 1023);
    (0..TID_LEN).rev().map(|i| char::from(S32[((value >> (i * 5)) & 31) as usize])).collect()
}

/// Whether `s` has the syntax of a TID.
pub fn is_tid(s: &str) -> bool {
    match s.as_bytes().split_first() {
        Some((first, rest)) => {
            s.len() == TID_LEN && S32[..16].contains(first) && rest.iter().all(|b| S32.contains(b))
        }
        None => false,
    }
}

/// A deterministic record key for publishing one draft to one account, so a
/// retried create lands on the same record: a TID at `seed_ms` plus up to
/// 999 µs spread by draft and account, with a clock id hashed from both.
pub fn derive_rkey(seed_ms: i64, draft_id: i64, account_id: i64) -> String {
    let spread = (i128::from(draft_id) * 7919 + i128::from(account_id)).rem_euclid(1000);
    let micros = (i128::from(seed_ms) * 1000 + spread).clamp(0, i128::from(MICROS_MASK));
    let hash = fnv1a(draft_id.to_be_bytes().into_iter().chain(account_id.to_be_bytes()));
    tid(u64::try_from(micros).unwrap_or_default(), (hash % 1024) as u16)
}

/// 64-bit FNV-1a: a stable hash, unlike std's randomly seeded one.
pub(crate) fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}
