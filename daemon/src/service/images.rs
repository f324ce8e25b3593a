//! The image API (AddImage), and the checks a draft's images meet.

use clout_proto::v1;
use tonic::{Request, Response, Status};

use super::{Api, invalid};
use crate::media::{self, Image, Media};

/// Checks a draft's images: each one cloutd keeps (named by its SHA-256), on
/// a part the draft has, at most four on one part, with an alt text of at
/// most [`media::MAX_ALT_CHARS`] characters. Type, size and dimensions come
/// from the kept bytes, not from the request.
pub async fn check_images(
    core: &crate::Core,
    images: &[v1::DraftImage],
    parts: usize,
) -> Result<Vec<Image>, Status> {
    let media: &Media = &core.media;
    let mut out: Vec<Image> = Vec::with_capacity(images.len());
    for (n, i) in images.iter().enumerate() {
        let which = format!("image {}", n + 1);
        if i.part == 0 || i.part as usize > parts {
            return Err(invalid(format!(
                "{which} is on part {}, but the draft has {parts} part{}",
                i.part,
                if parts == 1 { "" } else { "s" }
            )));
        }
        let alt = i.alt.trim().to_string();
        if alt.chars().count() > media::MAX_ALT_CHARS {
            return Err(invalid(format!(
                "the alt text of {which} is {} characters; the limit is {} (Mastodon's): shorten it",
                alt.chars().count(),
                media::MAX_ALT_CHARS
            )));
        }
        if alt.chars().any(|c| c.is_control() && c != '\n') {
            return Err(invalid(format!(
                "the alt text of {which} holds control characters: write plain text"
            )));
        }
        let part = i.part - 1;
        if out.iter().filter(|o| o.part == part).count() >= media::MAX_IMAGES_PER_PART {
            return Err(invalid(format!(
                "part {} has more than {} images; Mastodon and Bluesky take at most {} on one post: move some to another part (--image after --thread)",
                i.part,
                media::MAX_IMAGES_PER_PART,
                media::MAX_IMAGES_PER_PART
            )));
        }
        media::fetch(core, &i.sha256).await?;
        let m = media.clone();
        let sha = i.sha256.clone();
        let stored = tokio::task::spawn_blocking(move || m.stat(&sha))
            .await
            .map_err(|e| Status::internal(format!("cannot read the image: {e}")))?
            .map_err(crate::error::Error::from)?;
        out.push(Image {
            part,
            sha256: stored.sha256,
            mime: stored.mime.to_string(),
            bytes: stored.bytes,
            width: stored.width,
            height: stored.height,
            alt,
        });
    }
    Ok(out)
}

impl From<Image> for v1::DraftImage {
    fn from(i: Image) -> Self {
        v1::DraftImage {
            part: i.part + 1,
            sha256: i.sha256,
            alt: i.alt,
            mime_type: i.mime,
            size: i.bytes,
            width: i.width,
            height: i.height,
        }
    }
}

#[tonic::async_trait]
impl v1::image_service_server::ImageService for Api {
    async fn add_image(
        &self,
        req: Request<v1::AddImageRequest>,
    ) -> Result<Response<v1::StoredImage>, Status> {
        let data = req.into_inner().data;
        let s = media::keep(&self.core, data).await?;
        Ok(Response::new(v1::StoredImage {
            sha256: s.sha256,
            mime_type: s.mime.to_string(),
            size: s.bytes,
            width: s.width,
            height: s.height,
        }))
    }
}
