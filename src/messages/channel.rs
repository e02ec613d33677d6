//! SMS and Zalo behind one trait. Each provider is an HTTP adapter for its documented API;
//! without one configured, texts are written to `{data_dir}/outbox-{channel}/` like e-mails.

use std::path::PathBuf;

use async_trait::async_trait;

/// Why a message was not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// The provider refused it for good (no such address, template not approved…): no retry.
    Permanent(String),
    /// Worth trying again later (server down, 5xx, timeout, quota for today).
    Transient(String),
}

/// Sends a short text to a phone number.
#[async_trait]
pub trait MessageChannel: Send + Sync {
    /// `tracking_id` is the message's own id, which providers echo for reconciliation and use
    /// against duplicates.
    async fn send(&self, phone: &str, text: &str, tracking_id: &str) -> Result<(), SendError>;
}

/// The embedded default: one text file per message.
pub struct TextFiles {
    pub dir: PathBuf,
}

#[async_trait]
impl MessageChannel for TextFiles {
    async fn send(&self, phone: &str, text: &str, tracking_id: &str) -> Result<(), SendError> {
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| SendError::Transient(format!("{}: {e}", self.dir.display())))?;
        let path = self.dir.join(format!("{tracking_id}.txt"));
        tokio::fs::write(&path, format!("To: {phone}\n\n{text}\n"))
            .await
            .map_err(|e| SendError::Transient(format!("{}: {e}", path.display())))?;
        tracing::info!(path = %path.display(), "text message written (no provider configured)");
        Ok(())
    }
}
