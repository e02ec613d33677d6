//! OCOP Market: a marketplace where Vietnamese cooperatives sell their OCOP products, with
//! QR origin stamps. One binary serves the HTML pages and the JSON API from the same services.
//!
//! `main.rs` is a thin shim over [`cli`]; tests build the same router with [`app`].

pub mod accounts;
pub mod admin;
pub mod bench;
pub mod catalog;
pub mod changes;
pub mod cli;
pub mod clock;
pub mod config;
pub mod dashboard;
pub mod db;
pub mod demo_photos;
pub mod domain;
pub mod entities;
pub mod error;
pub mod health;
pub mod http;
pub mod i18n;
pub mod ledger;
pub mod media;
pub mod messages;
pub mod metrics;
pub mod orders;
pub mod payments;
pub mod qr;
pub mod reference;
pub mod reviews;
pub mod search;
pub mod seed;
pub mod shared;
pub mod trace;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Query};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use sea_orm::DatabaseConnection;
use serde::Deserialize;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::csrf::CsrfLayer;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::catalog::cache::ProductCache;
use crate::config::Config;
use crate::error::AppError;
use crate::http::rate_limit::RateLimits;
use crate::i18n::{LANG_COOKIE, Lang};
use crate::reference::ReferenceData;
use crate::search::indexer::{self, IndexerSettings};
use crate::search::live::LiveIndex;
use crate::trace::origin::TraceCache;
use crate::trace::scans::{ClientHasher, ScanService};
use crate::trace::signing::StampSigner;

/// Everything a request handler may need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
    pub reference: Arc<ReferenceData>,
    pub limits: Arc<RateLimits>,
    /// Signs stamps for offline verification.
    pub signer: Arc<StampSigner>,
    /// Judges and records scans.
    pub scans: Arc<ScanService>,
    /// Short-lived caches for the scan page.
    pub trace_cache: Arc<TraceCache>,
    /// Short-lived cache of public product pages.
    pub product_cache: Arc<ProductCache>,
    /// Salted hashing of client identities (never stored raw).
    pub hasher: ClientHasher,
    /// The catalogue search index in use (embedded or Meilisearch), fed by the indexer.
    pub search: Arc<LiveIndex>,
    /// Stripe's API, when a Stripe key is configured.
    pub stripe: Option<Arc<payments::stripe::StripeApi>>,
    /// VNPay's gateway, when configured.
    pub vnpay: Option<Arc<payments::vnpay::VnpayApi>>,
    /// MoMo's gateway, when configured.
    pub momo: Option<Arc<payments::momo::MomoApi>>,
    /// Product and batch photos: processing and storage.
    pub photos: Arc<media::PhotoService>,
    /// Recently computed figures of the province dashboard.
    pub dashboard: Arc<dashboard::DashboardCache>,
    /// Redis shared with the other app servers, when configured (`OCOP_REDIS_URL`).
    pub shared: Option<Arc<shared::Shared>>,
    /// Tells the read caches (here and on the other app servers) what a write changed.
    pub changes: Arc<changes::ChangeFeed>,
    /// The clock of daily jobs (certificate reminders); a test sets it.
    pub clock: clock::Clock,
}

impl AppState {
    /// The payment methods checkout offers: VietQR, then each configured gateway.
    pub fn payment_methods(&self) -> Vec<orders::PaymentMethod> {
        let mut methods = vec![orders::PaymentMethod::VietQr];
        if self.vnpay.is_some() {
            methods.push(orders::PaymentMethod::VnPay);
        }
        if self.momo.is_some() {
            methods.push(orders::PaymentMethod::MoMo);
        }
        if self.stripe.is_some() {
            methods.push(orders::PaymentMethod::Stripe);
        }
        methods
    }

    /// The configured gateways that refund through their API.
    pub fn refund_gateways(&self) -> Vec<Arc<dyn payments::refund_sender::RefundGateway>> {
        let mut gateways: Vec<Arc<dyn payments::refund_sender::RefundGateway>> = Vec::new();
        if let Some(stripe) = &self.stripe {
            gateways.push(stripe.clone());
        }
        if let Some(vnpay) = &self.vnpay {
            gateways.push(vnpay.clone());
        }
        if let Some(momo) = &self.momo {
            gateways.push(momo.clone());
        }
        gateways
    }

    /// Opens the database, applies migrations, stores the reference data and opens the search
    /// index (building it from the database if there is none yet).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let mut state = Self::build_offline(config).await?;
        state.search = Arc::new(LiveIndex::open(&state.config, &state.db, &state.reference).await?);
        state.changes = Arc::new(changes::ChangeFeed::new(
            state.product_cache.clone(),
            state.trace_cache.clone(),
            state.search.clone(),
            state.shared.clone(),
        ));
        Ok(state)
    }

    /// Like [`Self::build`] without opening the search index, for command-line tools that do
    /// not search: a running server may hold the index, and their writes reach it through the
    /// outbox anyway.
    pub async fn build_offline(config: Config) -> anyhow::Result<Self> {
        let db = db::connect(&config).await?;
        db::migrate(&db).await?;
        let reference = ReferenceData::embedded();
        reference.store(&db).await?;
        let signer = Arc::new(StampSigner::from_secret(&config.secret_key));
        signer.publish(&db).await?;
        let stripe = match &config.commerce.stripe {
            Some(stripe) => Some(Arc::new(payments::stripe::StripeApi::new(stripe)?)),
            None => None,
        };
        let vnpay = match &config.commerce.vnpay {
            Some(vnpay) => Some(Arc::new(payments::vnpay::VnpayApi::new(vnpay.clone())?)),
            None => None,
        };
        let momo = match &config.commerce.momo {
            Some(momo) => Some(Arc::new(payments::momo::MomoApi::new(momo.clone())?)),
            None => None,
        };
        let photos = Arc::new(media::PhotoService::new(
            media::store::PhotoStore::open(&config.media, &config.data_dir)?,
            config.media.limits,
        ));
        let shared = match &config.redis {
            Some(redis) => Some(shared::Shared::connect(redis).await?),
            None => None,
        };
        let product_cache = Arc::new(ProductCache::default());
        let trace_cache = Arc::new(TraceCache::new(db.clone()));
        let search = Arc::new(LiveIndex::detached());
        Ok(Self {
            changes: Arc::new(changes::ChangeFeed::new(
                product_cache.clone(),
                trace_cache.clone(),
                search.clone(),
                shared.clone(),
            )),
            photos,
            search,
            stripe,
            vnpay,
            momo,
            dashboard: Arc::new(dashboard::DashboardCache::new(config.dashboard_cache_ttl)),
            scans: ScanService::start(db.clone(), shared.clone()),
            trace_cache,
            db,
            limits: Arc::new(RateLimits::new(&config, shared.clone())),
            hasher: ClientHasher::new(config.secret_key.clone()),
            config: Arc::new(config),
            reference,
            signer,
            product_cache,
            shared,
            clock: clock::Clock::default(),
        })
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "OCOP Market API",
        version = "1",
        description = "Catalogue, cooperatives, OCOP certificates and accounts. Errors are \
                       application/problem+json with a stable `code` and per-field `errors`. \
                       Authenticate with the session cookie or `Authorization: Bearer <token>` \
                       from `POST /api/v1/auth/login`."
    ),
    tags(
        (name = "accounts", description = "Registration, login, sessions"),
        (name = "catalog", description = "Products and cooperatives"),
        (name = "workspace", description = "A cooperative's own data (members only)"),
        (name = "admin", description = "Province administrators"),
        (name = "reference", description = "Administrative units and OCOP categories"),
        (name = "trace", description = "Batches, trace events, stamps, scans and fake reports"),
        (name = "orders", description = "Cart, checkout, payments and orders"),
        (name = "payments", description = "Payment provider webhooks"),
        (name = "search", description = "Catalogue search with facets, and suggestions while typing"),
        (name = "media", description = "Product and batch photos"),
        (name = "messages", description = "Notification choices, unsubscribing, failed messages"),
    )
)]
struct ApiDoc;

/// The JSON API under `/api/v1` with its OpenAPI document, built from the same route list.
pub fn api_router() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let v1 = OpenApiRouter::new()
        .merge(accounts::api_routes())
        .merge(catalog::api_routes())
        .merge(admin::api_routes())
        .merge(dashboard::api_routes())
        .merge(trace::api_routes())
        .merge(orders::api_routes())
        .merge(payments::api_routes())
        .merge(reference::api_routes())
        .merge(search::api_routes())
        .merge(media::api_routes())
        .merge(reviews::routes_api::api_routes())
        .merge(messages::routes::api_routes());
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", v1)
        .split_for_parts();
    http::openapi::complete(&mut doc);
    (router, doc)
}

/// The whole application: pages, API, health checks, static files and middleware.
pub fn app(state: AppState) -> Router {
    let (api, openapi) = api_router();
    let openapi_json = Arc::new(openapi.to_json().unwrap_or_default());
    let max_body = state.config.max_body_bytes;
    let timeouts = state.config.timeouts;
    Router::new()
        .merge(accounts::page_routes())
        .merge(catalog::page_routes())
        .merge(admin::page_routes())
        .merge(dashboard::page_routes())
        .merge(trace::page_routes())
        .merge(orders::page_routes())
        .merge(search::page_routes())
        .merge(media::page_routes())
        .merge(reviews::routes_pages::page_routes())
        .merge(payments::page_routes())
        .merge(messages::routes::page_routes())
        .merge(api)
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let json = openapi_json.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        json.as_str().to_owned(),
                    )
                }
            }),
        )
        .route("/lang/{code}", get(switch_language))
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(metrics::serve_metrics))
        .route("/readyz", get(health::readyz))
        .route(http::assets::js_path(), get(http::assets::serve_js))
        .route(
            http::assets::search_js_path(),
            get(http::assets::serve_search_js),
        )
        .route(
            http::assets::scan_js_path(),
            get(http::assets::serve_scan_js),
        )
        .route(http::assets::icon_path(), get(http::assets::serve_icon))
        .route("/favicon.ico", get(http::assets::favicon))
        .fallback(|| async { AppError::NoRoute })
        .layer(axum::middleware::from_fn(metrics::record_requests))
        .layer(axum::middleware::from_fn(skip_api_errors_html))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(RequestBodyTimeoutLayer::new(timeouts.body))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            timeouts.request,
        ))
        .layer(CsrfLayer::new())
        .layer(axum::middleware::from_fn(
            http::middleware::security_headers,
        ))
        // Fastest gzip: pages are small, and on the scan page's load the CPU matters more than
        // a few hundred bytes.
        .layer(CompressionLayer::new().quality(tower_http::CompressionLevel::Fastest))
        .layer(CatchPanicLayer::custom(|_| {
            AppError::Internal(anyhow::anyhow!("a request handler panicked")).into_response()
        }))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// HTML error pages for everything but the API.
async fn skip_api_errors_html(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if request.uri().path().starts_with("/api/") {
        next.run(request).await
    } else {
        http::middleware::render_page_errors(request, next).await
    }
}

#[derive(Deserialize)]
struct NextParam {
    next: Option<String>,
}

/// Remembers the chosen language in a cookie and goes back to the page.
async fn switch_language(
    axum::extract::Path(code): axum::extract::Path<String>,
    Query(params): Query<NextParam>,
    jar: CookieJar,
) -> Response {
    let Some(lang) = Lang::parse(&code) else {
        return AppError::NotFound.into_response();
    };
    let cookie = Cookie::build((LANG_COOKIE, lang.code()))
        .path("/")
        .same_site(SameSite::Lax)
        .max_age(time_one_year())
        .build();
    let target = http::page::local_redirect_target(params.next.as_deref()).to_owned();
    (jar.add(cookie), Redirect::to(&target)).into_response()
}

fn time_one_year() -> cookie::time::Duration {
    cookie::time::Duration::days(365)
}

/// Serves the app on `listener` until `shutdown` completes, then finishes the requests in
/// flight. Background upkeep (expired sessions, idle rate-limit keys) and the search indexer
/// run meanwhile; the indexer stops after its current batch and the index is closed last.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    metrics::install();
    let upkeep = tokio::spawn(upkeep(state.clone()));
    let expiry = orders::lifecycle::spawn_expiry_sweeper(state.db.clone(), Duration::from_secs(15));
    let indexer = indexer::spawn(
        state.db.clone(),
        state.reference.clone(),
        state.search.clone(),
        IndexerSettings {
            poll_interval: state.config.search_poll_interval,
            delay: state.config.search_indexer_delay,
            batch_size: state.config.search_batch_size,
        },
    );
    let refunds =
        payments::refund_sender::spawn_refund_sender(state.clone(), Duration::from_secs(60));
    let messages =
        messages::sender::spawn(state.db.clone(), state.config.clone(), state.clock.clone())?;
    let void_watch = trace::origin::spawn_void_watch(state.trace_cache.clone());
    let change_watch = changes::spawn_watch(state.changes.clone());
    let scans = state.scans.clone();
    let search = state.search.clone();
    let timeouts = state.config.timeouts;
    let router = app(state);
    let result = http::server::serve(listener, router, timeouts, shutdown).await;
    upkeep.abort();
    expiry.abort();
    void_watch.abort();
    change_watch.abort();
    if let Some(refunds) = refunds {
        refunds.abort();
    }
    // Every request has finished: write the scans still queued before the process exits.
    scans.shutdown().await;
    indexer.shutdown().await;
    messages.shutdown().await;
    // Releases the index files (and the embedded writer's lock) for the next process.
    search.close();
    result.map_err(Into::into)
}

async fn upkeep(state: AppState) {
    let mut interval = tokio::time::interval(Duration::from_secs(600));
    loop {
        interval.tick().await;
        state.limits.forget_idle();
        if let Err(err) = accounts::purge_expired_sessions(&state.db).await {
            tracing::warn!(error = %err, "purging expired sessions failed");
        }
    }
}
