//! Where the embedded index lives on disk, and how a rebuilt index replaces the live one.
//!
//! ```text
//! {data_dir}/search/
//!   CURRENT                 the live generation: a small JSON pointer (see GenerationPointer)
//!   g20261122T060405123/    one tantivy index per generation
//!   building-g2026…/        a generation being built (never touched by the server)
//! ```
//!
//! `ocop-market reindex` (or the server's first start when no index exists) builds a fresh
//! index from the database into `building-<name>/`, renames it to `<name>/` once committed,
//! then swaps it in by writing the pointer to a temporary file and renaming it over `CURRENT`
//! (a rename is atomic on one file system, so a reader sees the old pointer or the new one,
//! never half of one).
//!
//! A running server polls the pointer (see [`super::indexer`]). When it changes, the server
//! opens the new generation, **replays** into it every outbox row written after the rebuild
//! began (`replay_after_id` and `replay_since` below: changes committed while the rebuild was
//! reading the database may be missing from it), and only then switches its searches over.
//! Queries in flight finish on the old index; new ones go to the new index; none fails. The
//! old generation's directory is removed a little later.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};

use super::documents;
use super::embedded::EmbeddedIndex;
use super::model::{DEFAULT_SYNONYMS, SearchIndex};
use super::outbox;
use crate::reference::ReferenceData;

/// File naming the live generation.
const POINTER_FILE: &str = "CURRENT";
/// This server's position in the outbox for a generation (see [`super::follow`]).
const POSITION_FILE: &str = "position.json";
/// Marker written in a generation once its replay is done.
const REPLAYED_MARKER: &str = "replayed";
/// Prefix of directories being built.
const BUILDING_PREFIX: &str = "building-";
/// Products read from the database per page during a rebuild.
const REBUILD_PAGE: u64 = 2_000;
/// The content of `CURRENT`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerationPointer {
    /// Directory name of the generation under the search folder.
    pub generation: String,
    /// Highest outbox id when the rebuild started: rows above it are replayed.
    pub replay_after_id: i64,
    /// On PostgreSQL, rows enqueued at or after this time are replayed too (rebuild start
    /// minus [`outbox::REPLAY_MARGIN`]).
    pub replay_since: Option<DateTime<Utc>>,
    /// Number of documents the rebuild wrote.
    pub documents: u64,
}

/// The search folder of a data directory.
#[derive(Debug, Clone)]
pub struct GenerationStore {
    root: PathBuf,
}

/// What a rebuild did.
#[derive(Debug, Clone)]
pub struct RebuildReport {
    pub pointer: GenerationPointer,
    pub elapsed: Duration,
    /// Pending outbox rows the new index already covers, marked processed.
    pub covered_rows: u64,
}

impl GenerationStore {
    /// The store under `{data_dir}/search`, created if missing.
    pub fn new(data_dir: &Path) -> std::io::Result<Self> {
        let root = data_dir.join("search");
        std::fs::create_dir_all(&root)?;
        Ok(Self { root })
    }

    /// The directory of a generation.
    pub fn dir(&self, generation: &str) -> PathBuf {
        self.root.join(generation)
    }

    /// The live generation, if one was ever swapped in and its directory exists.
    pub fn current(&self) -> Option<GenerationPointer> {
        let text = std::fs::read_to_string(self.root.join(POINTER_FILE)).ok()?;
        let pointer: GenerationPointer = serde_json::from_str(&text).ok()?;
        let valid_name = !pointer.generation.is_empty()
            && pointer
                .generation
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-');
        (valid_name && self.dir(&pointer.generation).is_dir()).then_some(pointer)
    }

    /// Opens a generation's index.
    pub fn open(&self, generation: &str) -> Result<EmbeddedIndex, super::model::SearchError> {
        EmbeddedIndex::open(&self.dir(generation), DEFAULT_SYNONYMS)
    }

    /// Whether a server has already replayed the outbox into this generation.
    pub fn is_replayed(&self, generation: &str) -> bool {
        self.dir(generation).join(REPLAYED_MARKER).exists()
    }

    /// How far this server's index of a generation has followed the outbox, if saved.
    pub fn position(&self, generation: &str) -> Option<super::follow::Position> {
        let text = std::fs::read_to_string(self.dir(generation).join(POSITION_FILE)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Saves how far the index of a generation has followed the outbox: a temporary file
    /// renamed over the last one, so a crash leaves one or the other.
    pub fn save_position(
        &self,
        generation: &str,
        position: &super::follow::Position,
    ) -> std::io::Result<()> {
        let dir = self.dir(generation);
        let temporary = dir.join(format!("{POSITION_FILE}.tmp"));
        std::fs::write(&temporary, serde_json::to_vec(position)?)?;
        std::fs::rename(&temporary, dir.join(POSITION_FILE))
    }

    /// Records that the replay into a generation is done.
    pub fn mark_replayed(&self, generation: &str) -> std::io::Result<()> {
        std::fs::write(self.dir(generation).join(REPLAYED_MARKER), b"")
    }

    /// Builds a new generation from the database and makes it the live one. The caller's
    /// server (if any) keeps serving its index meanwhile and picks the new one up from the
    /// pointer.
    pub async fn rebuild(
        &self,
        db: &impl ConnectionTrait,
        reference: &ReferenceData,
    ) -> anyhow::Result<RebuildReport> {
        let started = Utc::now();
        let clock = std::time::Instant::now();
        // The mark is read before any product: every change committed after it has a row
        // above it (or, on PostgreSQL, a recent `enqueued_at`), so the replay covers it.
        let replay_after_id = outbox::high_water_mark(db).await?;
        let generation = format!("g{}", started.format("%Y%m%dT%H%M%S%3f"));
        let building = self.root.join(format!("{BUILDING_PREFIX}{generation}"));
        std::fs::create_dir_all(&building)?;
        let documents = {
            let index = EmbeddedIndex::open(&building, DEFAULT_SYNONYMS)?;
            let count = documents::fill(db, reference, &index, REBUILD_PAGE).await?;
            index.refresh().await?;
            count
            // The index (and its writer lock) is dropped here, before the rename.
        };
        let dir = self.dir(&generation);
        std::fs::rename(&building, &dir)?;
        let replay_since = outbox::replay_window_start(db, started);
        let pointer = GenerationPointer {
            generation,
            replay_after_id,
            replay_since,
            documents,
        };
        self.swap_in(&pointer)?;
        let covered_rows =
            outbox::mark_covered_by_rebuild(db, replay_after_id, replay_since, Utc::now()).await?;
        self.remove_stale_builds();
        Ok(RebuildReport {
            pointer,
            elapsed: clock.elapsed(),
            covered_rows,
        })
    }

    /// Points `CURRENT` at a generation atomically: a temporary file, flushed, renamed over it.
    fn swap_in(&self, pointer: &GenerationPointer) -> std::io::Result<()> {
        use std::io::Write;
        let temporary = self
            .root
            .join(format!("{POINTER_FILE}.tmp-{}", std::process::id()));
        {
            let mut file = std::fs::File::create(&temporary)?;
            file.write_all(serde_json::to_string_pretty(pointer)?.as_bytes())?;
            file.sync_all()?;
        }
        std::fs::rename(&temporary, self.root.join(POINTER_FILE))?;
        // Makes the rename itself durable.
        if let Ok(dir) = std::fs::File::open(&self.root) {
            let _ = dir.sync_all();
        }
        Ok(())
    }

    /// Removes every generation but `keep` and the one `CURRENT` names now (builds in
    /// progress are left alone).
    pub fn remove_other_generations(&self, keep: &str) {
        let current = self.current().map(|p| p.generation);
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_generation = name.starts_with('g') && entry.path().is_dir();
            if is_generation && name != keep && current.as_deref() != Some(name.as_str()) {
                if let Err(err) = std::fs::remove_dir_all(entry.path()) {
                    tracing::warn!(generation = %name, error = %err, "cannot remove an old search index");
                } else {
                    tracing::info!(generation = %name, "removed an old search index");
                }
            }
        }
    }

    /// Removes builds abandoned by a crashed rebuild (untouched for an hour).
    fn remove_stale_builds(&self) {
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let stale = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > Duration::from_secs(3600));
            if name.starts_with(BUILDING_PREFIX) && stale {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_foreign_pointer_means_no_generation() {
        let dir = tempfile::tempdir().unwrap();
        let store = GenerationStore::new(dir.path()).unwrap();
        assert!(store.current().is_none());
        let pointer = GenerationPointer {
            generation: "../etc".into(),
            replay_after_id: 0,
            replay_since: Some(Utc::now()),
            documents: 0,
        };
        store.swap_in(&pointer).unwrap();
        assert!(store.current().is_none());
        let pointer = GenerationPointer {
            generation: "g1".into(),
            ..pointer
        };
        std::fs::create_dir_all(store.dir("g1")).unwrap();
        store.swap_in(&pointer).unwrap();
        assert_eq!(store.current(), Some(pointer));
    }
}
