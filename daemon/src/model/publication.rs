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
    /// Every part in order (one for a single post).
    pub parts: Vec<String>,
    /// Parts the server already confirmed, by earlier attempts.
    pub done: Vec<PostedPart>,
    /// No link card on Bluesky.
    pub no_card: bool,
    /// The draft's images, each on one part.
    pub images: Vec<crate::media::Image>,
    /// Images a server already took for this publication, by earlier attempts.
    pub uploads: Vec<Upload>,
}

impl Claim {
    /// The images of part `position`, in order.
    pub fn images_of(&self, position: u32) -> Vec<&crate::media::Image> {
        self.images.iter().filter(|i| i.part == position).collect()
    }

    /// What the server answered when it took image `idx` of part `position`,
    /// if it was this very image.
    pub fn upload(&self, position: u32, idx: u32, sha256: &str) -> Option<&str> {
        self.uploads
            .iter()
            .find(|u| u.position == position && u.idx == idx && u.sha256 == sha256)
            .map(|u| u.remote.as_str())
    }
}

/// An image a server took: Mastodon's media id, or the Bluesky blob (JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    pub position: u32,
    pub idx: u32,
    pub sha256: String,
    pub remote: String,
}

/// One part of a publication that the server confirmed.
#[derive(Debug, Clone, PartialEq)]
pub struct PostedPart {
    /// 0 is the first part.
    pub position: u32,
    pub idem_key: String,
    /// The status id (Mastodon) or the record's at:// URI (Bluesky).
    pub remote_id: String,
    /// The Bluesky record's CID, for the next part's reply reference.
    pub cid: String,
    pub url: String,
}

/// The key of one part of a thread, derived from the publication's key so it
/// is fixed from the moment the draft got the account: the first part uses
/// the publication's key itself; Mastodon's later parts append their number,
/// and Bluesky's later parts are the TID that many microseconds later (same
/// clock id), so every part of a thread has a record key of its own.
pub fn part_key(network: Network, key: &str, position: u32) -> String {
    if position == 0 {
        return key.to_string();
    }
    match network {
        Network::Mastodon => format!("{key}-{}", position + 1),
        Network::Bluesky => match tid_value(key) {
            Some(v) => tid((v >> 10) + u64::from(position), (v & 1023) as u16),
            None => derive_rkey(i64::from(position), i64::from(position), fnv1a(key.bytes()) as i64),
        },
    }
}

/// The 63-bit value of a TID, or None when `s` is not one.
fn tid_value(s: &str) -> Option<u64> {
    if !is_tid(s) {
        return None;
    }
    s.bytes().try_fold(0u64, |v, b| S32.iter().position(|c| *c == b).map(|i| (v << 5) | i as u64))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_keys_are_fixed_distinct_and_valid() {
        let m = idempotency_key(Network::Mastodon, 7, 2, 1_700_000_000_000);
        assert_eq!(part_key(Network::Mastodon, &m, 0), m);
        assert_eq!(part_key(Network::Mastodon, &m, 2), format!("{m}-3"));
        let b = idempotency_key(Network::Bluesky, 7, 2, 1_700_000_000_000);
        assert_eq!(part_key(Network::Bluesky, &b, 0), b);
        let keys: Vec<String> = (0..25).map(|i| part_key(Network::Bluesky, &b, i)).collect();
        assert!(keys.iter().all(|k| is_tid(k)), "{keys:?}");
        let mut sorted = keys.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, keys, "distinct and in order");
        assert_eq!(tid_value(&tid(12345, 7)), Some((12345 << 10) | 7));
    }
}
