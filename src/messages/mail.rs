//! E-mail: SMTP through lettre (STARTTLS or implicit TLS with rustls), or, without
//! `OCOP_SMTP_URL`, one `.eml` file per message under `{data_dir}/outbox-mail/` — the embedded
//! default, so a demo shows what would be sent.

use std::path::PathBuf;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::channel::SendError;
use crate::config::MessagesConfig;

/// Where e-mails go.
pub enum Mailer {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
    Files {
        dir: PathBuf,
        from: Mailbox,
    },
}

/// One e-mail to send.
pub struct Email<'a> {
    pub to: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    /// RFC 8058 one-click unsubscribe: the https link (and an optional mailto).
    pub unsubscribe: Option<(&'a str, Option<&'a str>)>,
    /// A stable id, so a message sent twice after a crash can be recognised by the recipient's
    /// server.
    pub message_id: String,
    /// The template's name, in an `X-OCOP-Message` header (for filters and support).
    pub kind: &'a str,
}

impl Mailer {
    /// The mailer the configuration asks for.
    pub fn from_config(
        config: &MessagesConfig,
        data_dir: &std::path::Path,
    ) -> anyhow::Result<Self> {
        let from: Mailbox = config.mail_from.parse().map_err(|e| {
            anyhow::anyhow!(
                "OCOP_MAIL_FROM {:?} is not an address: {e}",
                config.mail_from
            )
        })?;
        match &config.smtp_url {
            None => Ok(Self::Files {
                dir: data_dir.join("outbox-mail"),
                from,
            }),
            Some(url) => {
                let url = smtp_url_with_tls(url.expose())?;
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)
                    .map_err(|e| anyhow::anyhow!("OCOP_SMTP_URL is not valid: {e}"))?
                    .timeout(Some(config.smtp_timeout))
                    .build();
                Ok(Self::Smtp { transport, from })
            }
        }
    }

    pub async fn send(&self, email: Email<'_>) -> Result<(), SendError> {
        let from = match self {
            Self::Smtp { from, .. } | Self::Files { from, .. } => from.clone(),
        };
        let to: Mailbox = email
            .to
            .parse()
            .map_err(|e| SendError::Permanent(format!("not an e-mail address: {e}")))?;
        let domain = from.email.domain().to_owned();
        let mut message = Message::builder()
            .from(from)
            .to(to)
            .subject(email.subject)
            .message_id(Some(format!("<{}@{domain}>", email.message_id)))
            .header(ContentType::TEXT_PLAIN)
            .body(email.text.to_owned())
            .map_err(|e| SendError::Permanent(format!("cannot build the e-mail: {e}")))?;
        message.headers_mut().insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-OCOP-Message"),
            email.kind.to_owned(),
        ));
        if let Some((https, mailto)) = email.unsubscribe {
            let value = match mailto {
                Some(mailto) => format!("<{https}>, <{mailto}>"),
                None => format!("<{https}>"),
            };
            let headers = message.headers_mut();
            headers.insert_raw(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                value,
            ));
            headers.insert_raw(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".to_owned(),
            ));
        }
        match self {
            Self::Smtp { transport, .. } => match transport.send(message).await {
                Ok(_) => Ok(()),
                Err(err) if err.is_permanent() => Err(SendError::Permanent(err.to_string())),
                Err(err) => Err(SendError::Transient(err.to_string())),
            },
            Self::Files { dir, .. } => {
                let path = dir.join(format!("{}.eml", email.message_id));
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| SendError::Transient(format!("{}: {e}", dir.display())))?;
                tokio::fs::write(&path, message.formatted())
                    .await
                    .map_err(|e| SendError::Transient(format!("{}: {e}", path.display())))?;
                tracing::info!(path = %path.display(), to = email.to, "e-mail written (no OCOP_SMTP_URL)");
                Ok(())
            }
        }
    }
}

/// `smtp://` means STARTTLS, required, unless the host is this machine (a local relay or a
/// test server, spoken to in plain text); `?tls=` given explicitly is kept.
fn smtp_url_with_tls(url: &str) -> anyhow::Result<String> {
    if !url.starts_with("smtp://") || url.contains("tls=") {
        return Ok(url.to_owned());
    }
    let after_scheme = &url["smtp://".len()..];
    let authority = after_scheme.split(['/', '?']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let host = if host_port.starts_with('[') {
        host_port
            .split(']')
            .next()
            .unwrap_or("")
            .trim_start_matches('[')
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    let local = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if local {
        return Ok(url.to_owned());
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    Ok(format!("{url}{separator}tls=required"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_require_starttls_except_on_this_machine() {
        assert_eq!(
            smtp_url_with_tls("smtp://u:p@mail.example.vn:587").unwrap(),
            "smtp://u:p@mail.example.vn:587?tls=required"
        );
        assert_eq!(
            smtp_url_with_tls("smtp://127.0.0.1:2525").unwrap(),
            "smtp://127.0.0.1:2525"
        );
        assert_eq!(
            smtp_url_with_tls("smtp://localhost:25?tls=opportunistic").unwrap(),
            "smtp://localhost:25?tls=opportunistic"
        );
        assert_eq!(
            smtp_url_with_tls("smtps://u:p@mail.example.vn").unwrap(),
            "smtps://u:p@mail.example.vn"
        );
    }
}
