//! Where photo files live: any `object_store` backend. Local files under `./data/media` by
//! default; S3-compatible storage (AWS, MinIO, Cloudflare R2, Viettel/FPT object storage…) when
//! `OCOP_S3_BUCKET` is set, so that several app servers share one set of photos.
//!
//! A photo's files are named `photos/{digest}-{width}.jpg`. Names never change meaning (the
//! digest covers the upload and the processing version), which is what lets pages serve them
//! with an immutable cache header.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;

use super::processing::ProcessedPhoto;
use crate::config::{MediaConfig, MediaStorage};

pub struct PhotoStore {
    store: Arc<dyn ObjectStore>,
}

impl PhotoStore {
    /// Opens the configured storage; local storage is created under `data_dir` if missing.
    pub fn open(config: &MediaConfig, data_dir: &Path) -> anyhow::Result<Self> {
        let store: Arc<dyn ObjectStore> = match &config.storage {
            MediaStorage::Local { dir } => {
                let dir = dir.clone().unwrap_or_else(|| data_dir.join("media"));
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("creating the photo folder {}", dir.display()))?;
                Arc::new(
                    object_store::local::LocalFileSystem::new_with_prefix(&dir)
                        .with_context(|| format!("opening the photo folder {}", dir.display()))?,
                )
            }
            MediaStorage::S3(s3) => {
                let mut builder = object_store::aws::AmazonS3Builder::from_env()
                    .with_http_connector(super::s3::HyperConnector)
                    .with_bucket_name(&s3.bucket)
                    .with_region(&s3.region);
                if let Some((key_id, secret)) = &s3.credentials {
                    builder = builder
                        .with_access_key_id(key_id)
                        .with_secret_access_key(secret.expose());
                }
                if let Some(endpoint) = &s3.endpoint {
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"))
                        .with_virtual_hosted_style_request(false);
                }
                Arc::new(builder.build().context("configuring S3 photo storage")?)
            }
        };
        Ok(Self { store })
    }

    /// The object name of one variant. `digest` is 32 lower-case hex digits.
    fn key(digest: &str, width: u32) -> ObjectPath {
        ObjectPath::from(format!("photos/{digest}-{width}.jpg"))
    }

    /// Writes every variant of a processed photo. Each write is atomic (a reader never sees
    /// half a file); writing the same photo again rewrites identical bytes.
    pub async fn put(&self, photo: &ProcessedPhoto) -> anyhow::Result<()> {
        for variant in &photo.variants {
            let payload = PutPayload::from(variant.jpeg.clone());
            self.store
                .put(&Self::key(&photo.digest, variant.width), payload)
                .await
                .with_context(|| format!("storing photo {} at {}", photo.digest, variant.width))?;
        }
        Ok(())
    }

    /// One variant's bytes, or `None` when there is no such file.
    pub async fn get(&self, digest: &str, width: u32) -> anyhow::Result<Option<Bytes>> {
        match self.store.get(&Self::key(digest, width)).await {
            Ok(found) => Ok(Some(found.bytes().await?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// Every photo file in storage: its digest, width and when it was written.
    pub async fn list(&self) -> anyhow::Result<Vec<StoredFile>> {
        let mut files = Vec::new();
        let mut listing = self.store.list(Some(&ObjectPath::from("photos")));
        while let Some(meta) = listing.try_next().await? {
            let Some(name) = meta.location.filename() else {
                continue;
            };
            let Some((digest, width)) = parse_file_name(name) else {
                continue;
            };
            files.push(StoredFile {
                digest: digest.to_owned(),
                width,
                written_at: meta.last_modified,
            });
        }
        Ok(files)
    }

    /// Deletes a photo's variants; missing files are not an error (a retry after a crash).
    pub async fn delete(&self, digest: &str, widths: &[u32]) -> anyhow::Result<()> {
        for &width in widths {
            match self.store.delete(&Self::key(digest, width)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(err) => return Err(err.into()),
            }
        }
        Ok(())
    }
}

/// One file found in storage.
#[derive(Debug, Clone)]
pub struct StoredFile {
    pub digest: String,
    pub width: u32,
    pub written_at: DateTime<Utc>,
}

/// `{32 hex digits}-{width}.jpg` as (digest, width); anything else is not a photo file.
pub fn parse_file_name(name: &str) -> Option<(&str, u32)> {
    let stem = name.strip_suffix(".jpg")?;
    let (digest, width) = stem.split_once('-')?;
    let digest_ok = digest.len() == 32
        && digest
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let width: u32 = width.parse().ok().filter(|w| (1..=4096).contains(w))?;
    digest_ok.then_some((digest, width))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_photo_names_are_read() {
        let digest = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            parse_file_name(&format!("{digest}-640.jpg")),
            Some((digest, 640))
        );
        assert_eq!(parse_file_name(&format!("{digest}-640.png")), None);
        assert_eq!(parse_file_name(&format!("{digest}-0.jpg")), None);
        assert_eq!(parse_file_name("../../etc/passwd-640.jpg"), None);
        assert_eq!(
            parse_file_name("0123456789ABCDEF0123456789abcdef-640.jpg"),
            None
        );
    }
}
