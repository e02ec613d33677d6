//! A real SMTP server on localhost for the message tests: aiosmtpd (PyPI, installed by
//! `.ci/run`) on a free port, storing every message it accepts in a Maildir. It can be stopped
//! and started again on the same port (an outage). `None` (the test says it skipped) when
//! aiosmtpd is not installed, unless `CI=true`.

use std::path::PathBuf;
use std::time::Duration;

pub struct SmtpSink {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<std::process::Child>,
}

/// One e-mail as the server received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub raw: String,
    /// The recipient of the SMTP envelope.
    pub to: String,
    /// `X-OCOP-Message`: the template.
    pub kind: String,
    /// The decoded text body.
    pub body: String,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<String> {
        header(&self.raw, name)
    }
}

fn aiosmtpd_installed() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .status()
        .is_ok_and(|s| s.success())
}

impl SmtpSink {
    pub async fn start() -> Option<Self> {
        if !aiosmtpd_installed() {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("aiosmtpd is needed in CI (pip install aiosmtpd)");
            }
            eprintln!("SKIPPED: aiosmtpd (pip install aiosmtpd) is not installed");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut sink = Self {
            port,
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        sink.resume().await;
        Some(sink)
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn maildir(&self) -> PathBuf {
        self.dir.path().join("maildir")
    }

    /// Starts (again) on the same port and waits until it answers.
    pub async fn resume(&mut self) {
        let child = std::process::Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{}", self.port))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(self.maildir())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        self.child = Some(child);
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("aiosmtpd did not answer on port {}", self.port);
    }

    /// Stops the server: connections are refused until [`Self::resume`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Every message received so far.
    pub fn messages(&self) -> Vec<Received> {
        let mut out = Vec::new();
        for folder in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(self.maildir().join(folder)) else {
                continue;
            };
            for entry in entries.flatten() {
                let raw = std::fs::read_to_string(entry.path()).unwrap_or_default();
                out.push(Received {
                    to: header(&raw, "X-RcptTo").unwrap_or_default(),
                    kind: header(&raw, "X-OCOP-Message").unwrap_or_default(),
                    body: decoded_body(&raw),
                    raw,
                });
            }
        }
        out
    }

    /// The messages to `to` of template `kind`.
    pub fn to(&self, to: &str, kind: &str) -> Vec<Received> {
        self.messages()
            .into_iter()
            .filter(|m| m.to == to && m.kind == kind)
            .collect()
    }

    /// Waits (up to `limit`) until `count` messages of `kind` reached `to`.
    pub async fn wait_for(
        &self,
        to: &str,
        kind: &str,
        count: usize,
        limit: Duration,
    ) -> Vec<Received> {
        let start = std::time::Instant::now();
        loop {
            let found = self.to(to, kind);
            if found.len() >= count {
                return found;
            }
            if start.elapsed() > limit {
                panic!(
                    "{count} {kind} e-mail(s) to {to} expected within {limit:?}; received: {:?}",
                    self.messages()
                        .iter()
                        .map(|m| (&m.to, &m.kind))
                        .collect::<Vec<_>>()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A header's value (unfolded), by case-insensitive name.
fn header(raw: &str, name: &str) -> Option<String> {
    let head = raw.split("\n\n").next().unwrap_or("").replace("\r\n", "\n");
    let mut value: Option<String> = None;
    for line in head.lines() {
        if let Some(v) = value.as_mut() {
            if line.starts_with([' ', '\t']) {
                v.push(' ');
                v.push_str(line.trim());
                continue;
            }
            return value;
        }
        if let Some((n, v)) = line.split_once(':')
            && n.eq_ignore_ascii_case(name)
        {
            value = Some(v.trim().to_owned());
        }
    }
    value
}

/// The text body, decoded from base64 or quoted-printable.
fn decoded_body(raw: &str) -> String {
    let raw = raw.replace("\r\n", "\n");
    let (_, body) = raw.split_once("\n\n").unwrap_or(("", ""));
    let encoding = header(&raw, "Content-Transfer-Encoding")
        .unwrap_or_default()
        .to_ascii_lowercase();
    match encoding.as_str() {
        "base64" => {
            let clean: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            String::from_utf8(
                data_encoding::BASE64
                    .decode(clean.as_bytes())
                    .unwrap_or_default(),
            )
            .unwrap_or_default()
        }
        "quoted-printable" => {
            let mut bytes = Vec::new();
            let joined = body.replace("=\n", "");
            let mut chars = joined.bytes().peekable();
            while let Some(b) = chars.next() {
                if b == b'=' {
                    let hi = chars.next().unwrap_or(b'0');
                    let lo = chars.next().unwrap_or(b'0');
                    let hex = [hi, lo];
                    let text = std::str::from_utf8(&hex).unwrap_or("00");
                    bytes.push(u8::from_str_radix(text, 16).unwrap_or(b'?'));
                } else {
                    bytes.push(b);
                }
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }
        _ => body.to_owned(),
    }
}
