//! `--split` for a new draft: each part too long for the accounts it names
//! is cut into several.

use crate::model::{Account, Network};
use crate::publish::{check_fits, split, text};

/// Splits every part that does not fit all of `accounts` (without accounts:
/// Bluesky's 300 graphemes, the shortest limit of the networks cloutd knows).
pub fn split(parts: Vec<String>, accounts: &[Account], content_warning: &str, numbered: bool) -> Vec<String> {
    let fits = |t: &str| {
        if accounts.is_empty() {
            text::graphemes(t) <= text::BLUESKY_MAX_GRAPHEMES && t.len() <= text::BLUESKY_MAX_BYTES
        } else {
            // Bluesky refuses any warning whatever the length; the add says so.
            accounts.iter().all(|a| {
                let cw = if a.network == Network::Bluesky { "" } else { content_warning };
                check_fits(a, t, cw).is_ok()
            })
        }
    };
    parts.iter().flat_map(|p| split::split_to_fit(p, numbered, &fits)).collect()
}
