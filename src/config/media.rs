//! Photo settings: where files are stored and what an upload may be.

use std::path::PathBuf;

use super::settings::Settings;
use super::{ConfigError, Secret};

/// Photo storage and upload limits.
#[derive(Debug, Clone)]
pub struct MediaConfig {
    pub storage: MediaStorage,
    pub limits: PhotoLimits,
}

/// What one upload may be.
#[derive(Debug, Clone, Copy)]
pub struct PhotoLimits {
    /// Largest upload in bytes.
    pub max_bytes: usize,
    /// Largest picture in pixels (width × height), checked from the header before decoding:
    /// the decompression-bomb guard. 50 megapixels admits every phone camera in common use.
    pub max_pixels: u64,
}

impl Default for PhotoLimits {
    fn default() -> Self {
        Self {
            max_bytes: 20 * 1024 * 1024,
            max_pixels: 50_000_000,
        }
    }
}

/// Where photo files are kept.
#[derive(Debug, Clone)]
pub enum MediaStorage {
    /// Files in a local folder: `OCOP_MEDIA_DIR`, or `{data_dir}/media` when unset.
    Local { dir: Option<PathBuf> },
    /// An S3-compatible bucket (`OCOP_S3_BUCKET`).
    S3(S3Storage),
}

/// An S3-compatible bucket.
#[derive(Debug, Clone)]
pub struct S3Storage {
    pub bucket: String,
    /// `OCOP_S3_REGION` (default `us-east-1`, which most S3-compatible services accept).
    pub region: String,
    /// `OCOP_S3_ENDPOINT` for services other than AWS (MinIO, R2…).
    pub endpoint: Option<String>,
    /// The standard `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`. When unset, the S3 client
    /// looks for credentials the way AWS tools do (instance roles, web identity).
    pub credentials: Option<(String, Secret)>,
}

impl MediaConfig {
    pub(super) fn load(settings: &Settings<'_>) -> Result<Self, ConfigError> {
        let mut limits = PhotoLimits::default();
        if let Some(megapixels) = settings.parse_opt::<u64>("OCOP_PHOTO_MAX_MEGAPIXELS")? {
            limits.max_pixels = megapixels.clamp(1, 200) * 1_000_000;
        }
        let storage = match settings.text("OCOP_S3_BUCKET") {
            None => MediaStorage::Local {
                dir: settings.text("OCOP_MEDIA_DIR").map(PathBuf::from),
            },
            Some(bucket) => MediaStorage::S3(S3Storage {
                bucket,
                region: settings.text_or("OCOP_S3_REGION", "us-east-1"),
                endpoint: settings.text("OCOP_S3_ENDPOINT"),
                credentials: settings
                    .text("AWS_ACCESS_KEY_ID")
                    .zip(settings.secret("AWS_SECRET_ACCESS_KEY")),
            }),
        };
        Ok(Self { storage, limits })
    }
}
