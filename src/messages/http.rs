//! A small JSON-over-HTTPS client for the SMS and Zalo providers: hyper with rustls and ring,
//! the stack the app already carries (see `media::s3`), with a timeout per call.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::channel::SendError;

/// A pooled client for one provider.
pub struct JsonClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl JsonClient {
    pub fn new(timeout: Duration) -> anyhow::Result<Self> {
        let tls = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())?
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(tls);
        Ok(Self { client, timeout })
    }

    /// POSTs `body` as JSON; the status and the parsed answer. A timeout, a refused connection
    /// or a 5xx is [`SendError::Transient`]; an answer that is not JSON is too (a proxy's page).
    pub async fn post_json(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: &serde_json::Value,
    ) -> Result<(u16, serde_json::Value), SendError> {
        let mut request = hyper::Request::post(url).header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| SendError::Permanent(format!("cannot build the request: {e}")))?;
        let call = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| SendError::Transient(format!("{url}: {e}")))?;
            let status = response.status().as_u16();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| SendError::Transient(format!("{url}: {e}")))?
                .to_bytes();
            Ok::<_, SendError>((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| {
                SendError::Transient(format!("{url}: no answer in {:?}", self.timeout))
            })??;
        if status >= 500 {
            return Err(SendError::Transient(format!("{url}: HTTP {status}")));
        }
        let value = serde_json::from_slice(&bytes).map_err(|_| {
            SendError::Transient(format!("{url}: HTTP {status} without a JSON answer"))
        })?;
        Ok((status, value))
    }
}

/// A Vietnamese mobile number as the providers want it: `84912345678`.
pub fn international(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    match digits.strip_prefix('0') {
        Some(rest) => format!("84{rest}"),
        None => digits,
    }
}
