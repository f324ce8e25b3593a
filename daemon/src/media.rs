//! Images for drafts: cloutd keeps its own copy of each, in its media
//! directory beside the database (`<sha256>.<ext>`, mode 0600, written
//! atomically), so the file a draft was made from may move or go. The type is
//! read from the first bytes (PNG, JPEG, WebP, GIF), never from the name, and
//! the width and height from the header, for Bluesky's `aspectRatio`.
//!
//! A copy no draft names any more (its draft was deleted, or its images
//! replaced) is removed by [`sweep`], once it is an hour old: at start, and
//! after a draft is deleted, edited or imported. The hour covers the time
//! between `AddImage` and the `AddDraft` that names the image.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

/// The largest image cloutd keeps: Mastodon's default limit (16 MiB).
pub const MAX_IMAGE_BYTES: usize = 16 * 1024 * 1024;
/// Most images on one post, on Mastodon and Bluesky alike.
pub const MAX_IMAGES_PER_PART: usize = 4;
/// Longest alt text, in characters: Mastodon's limit on a description.
pub const MAX_ALT_CHARS: usize = 1500;
/// Bluesky's limit on an image blob (`app.bsky.embed.images`: maxSize).
pub const BLUESKY_IMAGE_BYTES: u64 = 1_000_000;
/// What a Mastodon server takes when its instance did not say.
pub const MASTODON_IMAGE_BYTES: u64 = 16 * 1024 * 1024;
pub const IMAGE_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/webp", "image/gif"];
/// How old an image no draft names must be before [`sweep`] removes it.
pub const UNUSED_GRACE: chrono::Duration = chrono::Duration::hours(1);

/// An image on a draft. `part` is 0 for the first part.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Image {
    pub part: u32,
    pub sha256: String,
    pub mime: String,
    pub bytes: u64,
    pub width: u32,
    pub height: u32,
    #[serde(default)]
    pub alt: String,
}

/// What cloutd learned of an image it keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub sha256: String,
    pub mime: &'static str,
    pub bytes: u64,
    pub width: u32,
    pub height: u32,
}

/// Why an image cannot be kept or read.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("the image is empty")]
    Empty,
    #[error(
        "the image is {size} bytes; cloutd takes images of at most {MAX_IMAGE_BYTES} bytes (16 MiB): make it smaller"
    )]
    TooLarge { size: usize },
    #[error(
        "the file is not a PNG, JPEG, WebP or GIF image (by its first bytes): convert it to one of those"
    )]
    NotAnImage,
    #[error("the {mime} image's header is damaged: cloutd cannot read its width and height")]
    NoDimensions { mime: &'static str },
    #[error("cannot keep the image in {}: {source}", dir.display())]
    Write { dir: PathBuf, source: std::io::Error },
    #[error("the image {sha256} is not in cloutd's media directory: add the image to the draft again")]
    Missing { sha256: String },
    #[error(
        "the image {sha256} in cloutd's media directory is damaged (its bytes changed): add the image to the draft again"
    )]
    Damaged { sha256: String },
    #[error(
        "`{0}` is not an image cloutd gave out: send its bytes first (AddImage), then name it by its sha256"
    )]
    BadName(String),
}

/// The MIME type and file extension of an image, by its first bytes.
pub fn sniff(b: &[u8]) -> Option<(&'static str, &'static str)> {
    let mime = crate::publish::card::image_type(b)?;
    Some((mime, extension(mime)))
}

/// The file extension cloutd gives a copy of an image of type `mime` (one of [`IMAGE_TYPES`]).
fn extension(mime: &str) -> &'static str {
    match mime {
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/webp" => "webp",
        _ => "gif",
    }
}

fn be16(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?])))
}

fn le16(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(u16::from_le_bytes([*b.get(at)?, *b.get(at + 1)?])))
}

fn le24(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes([*b.get(at)?, *b.get(at + 1)?, *b.get(at + 2)?, 0]))
}

/// The width and height an image's header gives; None when it is damaged.
pub fn dimensions(b: &[u8], mime: &str) -> Option<(u32, u32)> {
    let dims = match mime {
        // The IHDR chunk comes first: width and height, 4 bytes each, big-endian.
        "image/png" => {
            let w = u32::from_be_bytes(b.get(16..20)?.try_into().ok()?);
            let h = u32::from_be_bytes(b.get(20..24)?.try_into().ok()?);
            (w, h)
        }
        // The logical screen: 2 bytes each, little-endian.
        "image/gif" => (le16(b, 6)?, le16(b, 8)?),
        "image/webp" => match b.get(12..16)? {
            b"VP8 " => (le16(b, 26)? & 0x3fff, le16(b, 28)? & 0x3fff),
            b"VP8L" => {
                let v = u32::from_le_bytes(b.get(21..25)?.try_into().ok()?);
                ((v & 0x3fff) + 1, ((v >> 14) & 0x3fff) + 1)
            }
            b"VP8X" => (le24(b, 24)? + 1, le24(b, 27)? + 1),
            _ => return None,
        },
        "image/jpeg" => jpeg_dimensions(b)?,
        _ => return None,
    };
    (dims.0 > 0 && dims.1 > 0).then_some(dims)
}

/// Walks a JPEG's markers to its frame header (SOF0–SOF15 but DHT, JPG, DAC).
fn jpeg_dimensions(b: &[u8]) -> Option<(u32, u32)> {
    let mut at = 2;
    loop {
        // Fill bytes (0xff) may come before a marker.
        while *b.get(at)? == 0xff && *b.get(at + 1)? == 0xff {
            at += 1;
        }
        if *b.get(at)? != 0xff {
            return None;
        }
        let marker = *b.get(at + 1)?;
        match marker {
            // Markers without a length.
            0x01 | 0xd0..=0xd7 => at += 2,
            0xc0..=0xcf if !matches!(marker, 0xc4 | 0xc8 | 0xcc) => {
                return Some((be16(b, at + 7)?, be16(b, at + 5)?));
            }
            0xd9 | 0xda => return None,
            _ => at += 2 + be16(b, at + 2)? as usize,
        }
    }
}

/// Checks an image's bytes: not empty, not over [`MAX_IMAGE_BYTES`], of a
/// known type with a readable header.
pub fn inspect(b: &[u8]) -> Result<Stored, MediaError> {
    if b.is_empty() {
        return Err(MediaError::Empty);
    }
    if b.len() > MAX_IMAGE_BYTES {
        return Err(MediaError::TooLarge { size: b.len() });
    }
    let (mime, _) = sniff(b).ok_or(MediaError::NotAnImage)?;
    let (width, height) = dimensions(b, mime).ok_or(MediaError::NoDimensions { mime })?;
    Ok(Stored { sha256: sha256_hex(b), mime, bytes: b.len() as u64, width, height })
}

pub fn sha256_hex(b: &[u8]) -> String {
    Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

/// Whether `s` is a SHA-256 in lowercase hex, as cloutd names images.
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

/// cloutd's media directory.
#[derive(Debug, Clone)]
pub struct Media {
    dir: PathBuf,
    /// Held while a copy is written or touched, and while [`Media::remove_unused`]
    /// looks at one and removes it: a copy kept again is never removed under it.
    lock: Arc<Mutex<()>>,
}

impl Media {
    pub fn new(dir: PathBuf) -> Media {
        Media { dir, lock: Arc::new(Mutex::new(())) }
    }

    /// Beside a SQLite database (`…/clout.db` → `…/media`); for PostgreSQL,
    /// beside the default database (`$XDG_DATA_HOME/clout/media`).
    pub fn for_database(url: &str) -> Media {
        let sqlite = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"));
        let file =
            sqlite.map(|p| p.split('?').next().unwrap_or("")).filter(|p| !p.is_empty() && *p != ":memory:");
        let dir = match file.and_then(|f| Path::new(f).parent()) {
            Some(parent) => parent.to_path_buf(),
            None => crate::config::default_database_url()
                .ok()
                .and_then(|u| {
                    u.strip_prefix("sqlite://").and_then(|p| Path::new(p).parent()).map(Path::to_path_buf)
                })
                .unwrap_or_else(std::env::temp_dir),
        };
        Media::new(dir.join("media"))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path(&self, sha256: &str, mime: &str) -> PathBuf {
        self.dir.join(format!("{sha256}.{}", extension(mime)))
    }

    fn write_error(&self, source: std::io::Error) -> MediaError {
        MediaError::Write { dir: self.dir.clone(), source }
    }

    /// Checks an image and keeps a copy, once per content: written to a
    /// temporary file of mode 0600, flushed, then renamed into place.
    pub fn store(&self, b: &[u8]) -> Result<Stored, MediaError> {
        let stored = inspect(b)?;
        let path = self.path(&stored.sha256, stored.mime);
        let _held = self.lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if std::fs::metadata(&path).is_ok_and(|m| m.len() == stored.bytes) {
            // Kept again: young once more, so a sweep leaves it for the draft about to name it.
            if let Ok(f) = std::fs::File::options().write(true).open(&path) {
                let _ = f.set_modified(std::time::SystemTime::now());
            }
            return Ok(stored);
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| self.write_error(e))?;
        let _ = std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700));
        let tmp = self.dir.join(format!(".{}.{:016x}.tmp", stored.sha256, fastrand::u64(..)));
        let written = (|| {
            let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
            f.write_all(b)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            if let Ok(d) = std::fs::File::open(&self.dir) {
                let _ = d.sync_all();
            }
            Ok(())
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(self.write_error(e));
        }
        Ok(stored)
    }

    /// The bytes of a kept image, checked against its name.
    pub fn read(&self, sha256: &str, mime: &str) -> Result<Vec<u8>, MediaError> {
        if !is_sha256(sha256) {
            return Err(MediaError::BadName(sha256.to_string()));
        }
        let b = std::fs::read(self.path(sha256, mime))
            .map_err(|_| MediaError::Missing { sha256: sha256.to_string() })?;
        if sha256_hex(&b) != sha256 {
            return Err(MediaError::Damaged { sha256: sha256.to_string() });
        }
        Ok(b)
    }

    /// Removes the copies not in `used` whose last write was before `before`,
    /// and temporary files a crash left; returns how many copies went.
    pub fn remove_unused(
        &self,
        used: &std::collections::HashSet<String>,
        before: std::time::SystemTime,
    ) -> usize {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return 0 };
        let mut gone = 0;
        for e in entries.flatten() {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            let temporary = name.starts_with('.') && name.ends_with(".tmp");
            let ours = name.split_once('.').is_some_and(|(sha, ext)| {
                is_sha256(sha) && IMAGE_TYPES.iter().any(|t| extension(t) == ext) && !used.contains(sha)
            });
            if !temporary && !ours {
                continue;
            }
            let _held = self.lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let old = e.metadata().and_then(|m| m.modified()).is_ok_and(|t| t < before);
            if old && std::fs::remove_file(e.path()).is_ok() && ours {
                gone += 1;
            }
        }
        gone
    }

    /// What is known of a kept image, by its name.
    pub fn stat(&self, sha256: &str) -> Result<Stored, MediaError> {
        if !is_sha256(sha256) {
            return Err(MediaError::BadName(sha256.to_string()));
        }
        for mime in IMAGE_TYPES {
            if self.path(sha256, mime).exists() {
                return inspect(&self.read(sha256, mime)?);
            }
        }
        Err(MediaError::Missing { sha256: sha256.to_string() })
    }
}

/// Keeps an image in this daemon's media directory and, for a PostgreSQL
/// fleet, in the database, where the other daemons find it.
pub async fn keep(core: &crate::Core, bytes: Vec<u8>) -> crate::error::Result<Stored> {
    let m = core.media.clone();
    let (stored, bytes) =
        tokio::task::spawn_blocking(move || m.store(&bytes).map(|s| (s, bytes)))
            .await
            .map_err(|e| crate::error::Error::Startup(format!("cannot keep the image: {e}")))??;
    core.store.share_media(&stored.sha256, stored.mime, &bytes, crate::clock::now()).await?;
    Ok(stored)
}

/// Makes sure this daemon's media directory holds an image, copying it from
/// the fleet's database when another daemon took it. Missing everywhere
/// leaves it missing: reading it then says so.
pub async fn fetch(core: &crate::Core, sha256: &str) -> crate::error::Result<()> {
    if !is_sha256(sha256) || IMAGE_TYPES.iter().any(|t| core.media.path(sha256, t).exists()) {
        return Ok(());
    }
    if let Some((_, bytes)) = core.store.shared_media(sha256).await? {
        let m = core.media.clone();
        tokio::task::spawn_blocking(move || m.store(&bytes))
            .await
            .map_err(|e| crate::error::Error::Startup(format!("cannot keep the image: {e}")))??;
    }
    Ok(())
}

/// Removes the images no draft names that are older than [`UNUSED_GRACE`],
/// here and in a fleet's database. Failures are logged, never fatal.
pub async fn sweep(core: &crate::Core) {
    let used = match core.store.media_in_use().await {
        Ok(u) => u,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list the images drafts use; none removed");
            return;
        }
    };
    let before = crate::clock::now() - UNUSED_GRACE;
    let m = core.media.clone();
    let keep = used.clone();
    let file_before = std::time::SystemTime::from(before);
    let files = tokio::task::spawn_blocking(move || m.remove_unused(&keep, file_before)).await.unwrap_or(0);
    let shared = core.store.forget_shared_media(&used, before).await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "cannot remove unused images from the database");
        0
    });
    if files > 0 || shared > 0 {
        tracing::info!(files, shared, "removed images no draft names");
    }
}

/// [`sweep`] in the background, so the request that freed images answers first.
pub fn sweep_later(core: &std::sync::Arc<crate::Core>) {
    let core = core.clone();
    tokio::spawn(async move { sweep(&core).await });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid PNG header of `w`×`h` (not a whole image: enough for cloutd and the fakes).
    pub fn png(w: u32, h: u32, pad: usize) -> Vec<u8> {
        let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        b.extend_from_slice(&w.to_be_bytes());
        b.extend_from_slice(&h.to_be_bytes());
        b.extend_from_slice(&[8, 6, 0, 0, 0]);
        b.resize(b.len() + pad, 0);
        b
    }

    #[test]
    fn headers_give_the_size() {
        assert_eq!(dimensions(&png(640, 480, 0), "image/png"), Some((640, 480)));
        let gif = b"GIF89a\x20\x03\x58\x02\0\0".to_vec();
        assert_eq!(dimensions(&gif, "image/gif"), Some((800, 600)));
        // SOI, an APP0 of 16 bytes, then SOF0 with height 300 and width 400.
        let mut jpeg = vec![0xff, 0xd8, 0xff, 0xe0, 0, 16];
        jpeg.extend_from_slice(&[0; 14]);
        jpeg.extend_from_slice(&[0xff, 0xc0, 0, 17, 8, 0x01, 0x2c, 0x01, 0x90, 3]);
        assert_eq!(dimensions(&jpeg, "image/jpeg"), Some((400, 300)));
        let mut webp = b"RIFF\0\0\0\0WEBPVP8X".to_vec();
        webp.extend_from_slice(&[10, 0, 0, 0, 0, 0, 0, 0]);
        webp.extend_from_slice(&[0x7f, 0x07, 0x00, 0x37, 0x04, 0x00]);
        assert_eq!(dimensions(&webp, "image/webp"), Some((1920, 1080)));
        assert_eq!(dimensions(&[0xff, 0xd8, 0xff], "image/jpeg"), None);
        assert_eq!(dimensions(b"\x89PNG\r\n\x1a\n", "image/png"), None);
    }

    #[test]
    fn images_are_kept_once_private_and_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let m = Media::new(dir.path().join("media"));
        let b = png(2, 3, 10);
        let s = m.store(&b).expect("store");
        assert_eq!((s.mime, s.width, s.height, s.bytes), ("image/png", 2, 3, b.len() as u64));
        let path = dir.path().join("media").join(format!("{}.png", s.sha256));
        let mode = std::fs::metadata(&path).expect("kept").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(m.store(&b).expect("again"), s);
        assert_eq!(m.read(&s.sha256, "image/png").expect("read"), b);
        assert_eq!(m.stat(&s.sha256).expect("stat"), s);
        assert!(matches!(m.store(b"hello"), Err(MediaError::NotAnImage)));
        assert!(matches!(m.store(b""), Err(MediaError::Empty)));
        std::fs::write(&path, b"changed").expect("write");
        assert!(matches!(m.read(&s.sha256, "image/png"), Err(MediaError::Damaged { .. })));
        assert!(matches!(m.read("../etc/passwd", "image/png"), Err(MediaError::BadName(_))));
        assert_eq!(
            Media::for_database("sqlite:///var/lib/clout/clout.db?mode=rwc").dir(),
            Path::new("/var/lib/clout/media")
        );
    }

    #[test]
    fn unused_copies_go_once_old_and_used_ones_stay() {
        let dir = tempfile::tempdir().expect("tempdir");
        let m = Media::new(dir.path().join("media"));
        let a = m.store(&png(1, 1, 0)).expect("a");
        let b = m.store(&png(2, 2, 0)).expect("b");
        let stray = m.dir().join(format!(".{}.0000000000000001.tmp", b.sha256));
        std::fs::write(&stray, b"half").expect("stray");
        let other = m.dir().join("notes.txt");
        std::fs::write(&other, b"not ours").expect("other");
        let used: std::collections::HashSet<String> = [a.sha256.clone()].into();
        let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        assert_eq!(m.remove_unused(&used, hour_ago), 0, "young copies stay");
        assert!(stray.exists());
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(1);
        assert_eq!(m.remove_unused(&used, later), 1);
        assert!(m.path(&a.sha256, a.mime).exists(), "a used copy went");
        assert!(!m.path(&b.sha256, b.mime).exists(), "an unused copy stayed");
        assert!(!stray.exists(), "a crash's temporary file stayed");
        assert!(other.exists(), "a file cloutd did not write went");
        // Kept again, an old copy is young again.
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
        std::fs::File::options()
            .write(true)
            .open(m.path(&a.sha256, a.mime))
            .expect("open")
            .set_modified(old)
            .expect("age");
        m.store(&png(1, 1, 0)).expect("again");
        assert_eq!(m.remove_unused(&Default::default(), hour_ago), 0, "a copy kept again went");
    }
}
