//! What several app servers share through Redis (`OCOP_REDIS_URL`): the connection pool, and
//! the stream of cache changes. The scan state (`trace::scans::shared`) and the rate limits
//! (`http::rate_limit`) use the same pool.
//!
//! Without `OCOP_REDIS_URL` none of this runs: one app server keeps everything in its process.
//!
//! **Changes between servers.** A server that writes publishes a `crate::changes::Change` list:
//! one `XADD` to the `changes` stream and one `INCR` of `changes:epoch`, in one `MULTI`. Every server compares the
//! epoch before a cached read and, when it moved, reads the entries it has not applied yet, so
//! the very next request after a write sees it. Entries beyond the stream's length (a server
//! that fell far behind) cannot be read: the epoch tells how many were missed, and a server that
//! missed some forgets every cached entry.
//!
//! **Keys and Redis Cluster.** Each stamp's keys share one hash slot (`{s7}`-style tags, see
//! `trace::scans::shared`); the other keys are single keys. Nothing here needs more than one
//! slot per command or script.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, RedisResult, Value};
use tokio::sync::Mutex;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::RedisConfig;

/// The stream of cache changes (after the prefix).
const CHANGES: &str = "changes";
/// Changes published so far (after the prefix).
const CHANGES_EPOCH: &str = "changes:epoch";
/// Entries kept in [`CHANGES`]: hours of edits; a server that falls further behind forgets
/// everything it caches.
const CHANGES_KEPT: usize = 10_000;

/// The Redis connections of this app server.
pub struct Shared {
    pool: Vec<ConnectionManager>,
    next: AtomicUsize,
    client: redis::Client,
    config: RedisConfig,
    /// This process among the app servers: names its stream consumer.
    server_id: String,
    /// The last change entry applied, and the epoch it brought us to.
    cursor: Mutex<String>,
    epoch_seen: AtomicI64,
}

impl Shared {
    /// Connects the pool and reads where the change stream stands (changes published before
    /// this server started concern caches it does not have yet).
    pub async fn connect(config: &RedisConfig) -> anyhow::Result<Arc<Self>> {
        let client = redis::Client::open(config.url.expose())
            .map_err(|e| anyhow::anyhow!("OCOP_REDIS_URL is not a Redis URL: {e}"))?;
        let mut pool = Vec::with_capacity(config.pool_size);
        for _ in 0..config.pool_size.max(1) {
            let manager =
                ConnectionManager::new_with_config(client.clone(), manager_config(config))
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!("cannot reach Redis at {}: {e}", config.url_for_logs())
                    })?;
            pool.push(manager);
        }
        let shared = Self {
            next: AtomicUsize::new(0),
            server_id: format!(
                "{}-{}-{:08x}",
                hostname(),
                std::process::id(),
                rand::random::<u32>()
            ),
            pool,
            client,
            config: config.clone(),
            cursor: Mutex::new("0-0".to_owned()),
            epoch_seen: AtomicI64::new(0),
        };
        let mut connection = shared.connection();
        let epoch: Option<i64> = connection.get(shared.key(CHANGES_EPOCH)).await?;
        let last: Value = redis::cmd("XREVRANGE")
            .arg(shared.key(CHANGES))
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut connection)
            .await?;
        if let Some((id, _)) = stream_entries(&last).into_iter().next() {
            *shared.cursor.lock().await = id;
        }
        shared
            .epoch_seen
            .store(epoch.unwrap_or(0), Ordering::SeqCst);
        Ok(Arc::new(shared))
    }

    /// A connection of the pool (multiplexed: cheap to clone, shared by many requests).
    pub fn connection(&self) -> ConnectionManager {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.pool.len();
        self.pool[i].clone()
    }

    /// A connection of its own, for commands that block (stream reads): with a timeout long
    /// enough for their blocking time.
    pub async fn dedicated(&self, blocking: Duration) -> RedisResult<ConnectionManager> {
        let mut config = manager_config(&self.config);
        config = config.set_response_timeout(Some(self.config.timeout + blocking));
        ConnectionManager::new_with_config(self.client.clone(), config).await
    }

    pub fn server_id(&self) -> &str {
        &self.server_id
    }

    pub fn config(&self) -> &RedisConfig {
        &self.config
    }

    /// A key of this deployment: the configured prefix, a colon, `name`.
    pub fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.config.prefix)
    }

    /// Publishes changes (see `crate::changes`) to every app server.
    pub async fn publish_changes<C: Serialize>(&self, changes: &[C]) -> anyhow::Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let payload = serde_json::to_string(changes)?;
        let mut connection = self.connection();
        let () = redis::pipe()
            .atomic()
            .cmd("XADD")
            .arg(self.key(CHANGES))
            .arg("MAXLEN")
            .arg("~")
            .arg(CHANGES_KEPT)
            .arg("*")
            .arg("c")
            .arg(payload)
            .ignore()
            .cmd("INCR")
            .arg(self.key(CHANGES_EPOCH))
            .ignore()
            .query_async(&mut connection)
            .await?;
        Ok(())
    }

    /// The changes published since this server last asked (its own included: applying them
    /// twice is harmless), and whether some were missed (trimmed before this server read them).
    /// One `GET` when nothing changed.
    pub async fn changes_since_last<C: DeserializeOwned>(&self) -> anyhow::Result<(Vec<C>, bool)> {
        let mut connection = self.connection();
        let epoch: i64 = connection
            .get::<_, Option<i64>>(self.key(CHANGES_EPOCH))
            .await?
            .unwrap_or(0);
        if epoch == self.epoch_seen.load(Ordering::SeqCst) {
            return Ok((Vec::new(), false));
        }
        let mut cursor = self.cursor.lock().await;
        let seen = self.epoch_seen.load(Ordering::SeqCst);
        if epoch == seen {
            return Ok((Vec::new(), false));
        }
        let entries: Value = redis::cmd("XRANGE")
            .arg(self.key(CHANGES))
            .arg(format!("({}", cursor.as_str()))
            .arg("+")
            .arg("COUNT")
            .arg(CHANGES_KEPT)
            .query_async(&mut connection)
            .await?;
        let entries = stream_entries(&entries);
        let mut changes = Vec::new();
        for (id, fields) in &entries {
            if let Some(payload) = field(fields, "c")
                && let Ok(list) = serde_json::from_slice::<Vec<C>>(payload)
            {
                changes.extend(list);
            }
            *cursor = id.clone();
        }
        // More changes were published than could be read: some were trimmed away.
        let missed = (epoch - seen) > entries.len() as i64 && seen != 0;
        if missed {
            tracing::warn!(
                missed = epoch - seen - entries.len() as i64,
                "changes were missed; forgetting every cached entry"
            );
        }
        self.epoch_seen.store(epoch, Ordering::SeqCst);
        Ok((changes, missed))
    }
}

fn manager_config(config: &RedisConfig) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(config.timeout))
        .set_response_timeout(Some(config.timeout))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_millis(500))
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "app".to_owned())
}

/// A stream entry's fields: name and value pairs.
pub type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// The entries of an `XRANGE`/`XREAD` answer: (id, fields).
pub fn stream_entries(value: &Value) -> Vec<(String, Fields)> {
    let Value::Array(items) = value else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let Value::Array(parts) = item else {
                return None;
            };
            let id = text_of(parts.first()?)?;
            let fields = match parts.get(1)? {
                Value::Array(kv) => kv
                    .chunks(2)
                    .filter_map(|pair| Some((bytes_of(&pair[0])?, bytes_of(pair.get(1)?)?)))
                    .collect(),
                Value::Map(kv) => kv
                    .iter()
                    .filter_map(|(k, v)| Some((bytes_of(k)?, bytes_of(v)?)))
                    .collect(),
                _ => Vec::new(),
            };
            Some((id, fields))
        })
        .collect()
}

/// The value of `name` among an entry's fields.
pub fn field<'a>(fields: &'a [(Vec<u8>, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    fields
        .iter()
        .find(|(k, _)| k.as_slice() == name.as_bytes())
        .map(|(_, v)| v.as_slice())
}

pub fn bytes_of(value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(bytes) => Some(bytes.clone()),
        Value::SimpleString(text) => Some(text.clone().into_bytes()),
        Value::VerbatimString { text, .. } => Some(text.clone().into_bytes()),
        Value::Int(n) => Some(n.to_string().into_bytes()),
        _ => None,
    }
}

pub fn text_of(value: &Value) -> Option<String> {
    bytes_of(value).and_then(|b| String::from_utf8(b).ok())
}
