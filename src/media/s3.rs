//! The HTTP client the S3 photo store talks through: hyper with rustls and ring, the stack the
//! Stripe client already uses, instead of object_store's default reqwest with aws-lc-rs (minutes
//! of C compilation, and a second TLS stack in the binary). Plain `http://` endpoints (MinIO on
//! the LAN, the tests' local S3) and `https://` ones (AWS, R2, a provider) both work; server
//! certificates are checked against the Mozilla roots compiled in (webpki-roots), so the
//! machine needs no CA bundle.

use std::time::Duration;

use async_trait::async_trait;
use http_body_util::BodyExt;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector as PlainConnector;
use hyper_util::rt::TokioExecutor;
use object_store::ClientOptions;
use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest, HttpRequestBody,
    HttpResponse, HttpResponseBody, HttpService,
};

/// Connects object_store's S3 client through [`HyperService`].
#[derive(Debug, Default)]
pub struct HyperConnector;

impl HttpConnector for HyperConnector {
    fn connect(&self, _options: &ClientOptions) -> object_store::Result<HttpClient> {
        let tls = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|err| object_store::Error::Generic {
                store: "S3",
                source: Box::new(err),
            })?
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(tls);
        Ok(HttpClient::new(HyperService { client }))
    }
}

/// One pooled hyper client. Timeouts and retries are object_store's (its retry layer wraps
/// every call).
#[derive(Debug)]
struct HyperService {
    client: Client<HttpsConnector<PlainConnector>, HttpRequestBody>,
}

#[async_trait]
impl HttpService for HyperService {
    async fn call(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let response = self.client.request(request).await.map_err(|err| {
            // A failure to connect is worth retrying; anything else happened mid-request.
            let kind = if err.is_connect() {
                HttpErrorKind::Connect
            } else {
                HttpErrorKind::Request
            };
            HttpError::new(kind, err)
        })?;
        Ok(response.map(|body| {
            HttpResponseBody::new(body.map_err(|err| HttpError::new(HttpErrorKind::Decode, err)))
        }))
    }
}
