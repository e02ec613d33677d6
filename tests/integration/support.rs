//! `TestApp`: the real application on a free port with its own fresh database — a SQLite file
//! in a temporary folder, or a new PostgreSQL database when `TEST_DATABASE_URL` is set (the
//! database is dropped when the test ends).

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use ocop_market::AppState;
use ocop_market::config::Config;
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub struct TestApp {
    pub base: String,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    database: Arc<TestDatabase>,
    /// The data folder of a second app server (see [`TestApp::another_server`]).
    _own_data_dir: Option<tempfile::TempDir>,
}

/// A database that lives as long as the test.
pub struct TestDatabase {
    url: String,
    data_dir: PathBuf,
    _tempdir: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.postgres.take() {
            // Drop the database from a thread of its own: the test's runtime is shutting down.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    if let Ok(db) = sea_orm::Database::connect(&admin_url).await {
                        let _ = db
                            .execute_unprepared(&format!(
                                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                            ))
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

impl TestDatabase {
    /// A fresh, empty database (not migrated) for a test that starts the app binary itself.
    pub async fn create() -> Arc<Self> {
        Arc::new(fresh_database().await)
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// A temporary folder that lives as long as the database.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }
}

async fn fresh_database() -> TestDatabase {
    let tempdir = tempfile::tempdir().expect("temporary folder");
    let data_dir = tempdir.path().to_path_buf();
    match std::env::var("TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            let name = format!("ocop_test_{}", rand_suffix());
            let admin = sea_orm::Database::connect(&admin_url)
                .await
                .unwrap_or_else(|e| {
                    panic!("TEST_DATABASE_URL is set but PostgreSQL cannot be reached: {e}")
                });
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create the test database");
            let url = replace_database(&admin_url, &name);
            TestDatabase {
                url,
                data_dir,
                _tempdir: tempdir,
                postgres: Some((admin_url, name)),
            }
        }
        _ => TestDatabase {
            url: format!(
                "sqlite://{}?mode=rwc",
                data_dir.join("test.sqlite").display()
            ),
            data_dir,
            _tempdir: tempdir,
            postgres: None,
        },
    }
}

fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let without_db = match base.rfind('/') {
        Some(i) if i > base.find("://").map(|j| j + 2).unwrap_or(0) => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{without_db}/{name}?{q}"),
        None => format!("{without_db}/{name}"),
    }
}

fn rand_suffix() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{:x}{:04x}", nanos, std::process::id() & 0xffff)
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Starts the app with a configuration adjusted by `adjust`.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let database = Arc::new(fresh_database().await);
        let mut config = Config::for_database(database.url.clone(), database.data_dir.clone());
        config.login_attempts_per_minute = 10_000;
        // One flat fee, so that the money tests' sums stay simple; the tests of shipping by
        // weight and place set the real default table.
        config.commerce.default_shipping_rates =
            ocop_market::domain::shipping::RateTable::flat(30_000);
        adjust(&mut config);
        Self::start(config, database).await
    }

    async fn start(config: Config, database: Arc<TestDatabase>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free port");
        let addr = listener.local_addr().expect("local address");
        let mut config = config;
        config.listen = addr;
        config.public_url = format!("http://{addr}");
        let state = AppState::build(config).await.expect("the app starts");
        let (tx, rx) = oneshot::channel::<()>();
        let server_state = state.clone();
        let server = tokio::spawn(async move {
            ocop_market::serve(listener, server_state, async {
                let _ = rx.await;
            })
            .await
            .expect("server runs");
        });
        Self {
            base: format!("http://{addr}"),
            state,
            shutdown: Some(tx),
            server: Some(server),
            database,
            _own_data_dir: None,
        }
    }

    /// A second app server on the same database, as behind a load balancer: its own port,
    /// caches, scan writer and data folder (search index, media).
    #[allow(dead_code)]
    pub async fn another_server(&self) -> Self {
        let data_dir = tempfile::tempdir().expect("temporary folder");
        let mut config = (*self.state.config).clone();
        config.data_dir = data_dir.path().to_path_buf();
        let mut app = Self::start(config, self.database.clone()).await;
        app._own_data_dir = Some(data_dir);
        app
    }

    /// Stops this process and starts a new one on the same database, as a restart would.
    pub async fn restart(self) -> Self {
        self.restart_with(|_| {}).await
    }

    /// Restarts with a changed configuration (a rotated secret, say).
    pub async fn restart_with(mut self, adjust: impl FnOnce(&mut Config)) -> Self {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        let _ = self.state.db.clone().close().await;
        let mut config = (*self.state.config).clone();
        adjust(&mut config);
        let database = self.database.clone();
        Self::start(config, database).await
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.state.db
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A client with its own cookie jar that does not follow redirects.
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
    }

    /// Registers an account and logs it in; returns a client carrying its session cookie.
    pub async fn user(&self, identifier: &str) -> User {
        let client = self.client();
        let response = client
            .post(self.url("/api/v1/auth/register"))
            .json(&json!({"identifier": identifier, "password": PASSWORD, "display_name": "Người thử"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let response = client
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({"identifier": identifier, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "login of {identifier}");
        let body: Value = response.json().await.unwrap();
        User {
            client,
            id: body["user"]["id"].as_i64().unwrap(),
            token: body["token"].as_str().unwrap().to_owned(),
            base: self.base.clone(),
        }
    }

    /// An administrator, created as the CLI does.
    pub async fn admin(&self) -> User {
        ocop_market::accounts::create_admin(self.db(), "admin@test.vn", PASSWORD, "Admin")
            .await
            .expect("admin created");
        let client = self.client();
        let response = client
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({"identifier": "admin@test.vn", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        User {
            client,
            id: body["user"]["id"].as_i64().unwrap(),
            token: body["token"].as_str().unwrap().to_owned(),
            base: self.base.clone(),
        }
    }

    /// Counts the rows of a table, to prove a refused request wrote nothing.
    pub async fn count<E: EntityTrait>(&self, _entity: E) -> u64
    where
        E::Model: Sync,
    {
        E::find().count(self.db()).await.unwrap()
    }

    /// Counts of every table a catalogue request could write to.
    pub async fn snapshot(&self) -> Vec<u64> {
        use ocop_market::entities::*;
        vec![
            self.count(users::Entity).await,
            self.count(cooperatives::Entity).await,
            self.count(cooperative_members::Entity).await,
            self.count(products::Entity).await,
            self.count(ocop_certificates::Entity).await,
        ]
    }
}

pub const PASSWORD: &str = "mat-ong-bac-ha-2025";

/// A logged-in user: a cookie-carrying client plus the bearer token.
pub struct User {
    pub client: reqwest::Client,
    pub id: i64,
    pub token: String,
    base: String,
}

impl User {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        into_json(response).await
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        let response = self
            .client
            .request(method, self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        into_json(response).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, body).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::PUT, path, body).await
    }

    /// Submits a page form as a browser would (same-origin).
    pub async fn form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("sec-fetch-site", "same-origin")
            .form(fields)
            .send()
            .await
            .unwrap()
    }

    pub async fn page(&self, path: &str) -> (StatusCode, String) {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        (response.status(), response.text().await.unwrap())
    }
}

pub async fn into_json(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let is_problem = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/problem+json"));
    let text = response.text().await.unwrap();
    if status.is_client_error() || status.is_server_error() {
        assert!(
            is_problem,
            "an error answers problem+json, got {status}: {text}"
        );
    }
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, value)
}

/// Whether a problem names `field` among its errors.
pub fn names_field(problem: &Value, field: &str) -> bool {
    problem["errors"]
        .as_array()
        .is_some_and(|errors| errors.iter().any(|e| e["field"] == field))
}

pub fn cooperative_body(registration: &str, name: &str) -> Value {
    json!({
        "registration_number": registration,
        "name": name,
        "commune_code": "02923",
        "address": "Thôn Cóc 1, xã Gia Phú",
        "contact_phone": "0912345678",
        "contact_email": null,
        "description": "Hợp tác xã trồng chè và nuôi ong.",
        "bank_bin": "970405",
        "bank_account_number": "1234567890",
        "bank_account_holder": "HTX Nong san Gia Phu"
    })
}

pub fn product_body(name: &str) -> Value {
    json!({
        "name": name,
        "category_code": "food-processed",
        "price_vnd": 250000,
        "unit": "chai 500 ml",
        "stock_quantity": 40,
        "description": "Mật ong hoa bạc hà Hà Giang."
    })
}

/// A verified cooperative owned by `owner`, with its id.
pub async fn verified_cooperative(
    admin: &User,
    owner: &User,
    registration: &str,
    name: &str,
) -> i64 {
    let (status, coop) = owner
        .post("/api/v1/cooperatives", cooperative_body(registration, name))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{coop}");
    let id = coop["id"].as_i64().unwrap();
    let (status, body) = admin
        .post(
            &format!("/api/v1/admin/cooperatives/{id}/decision"),
            json!({"decision": "verify"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    id
}

/// A published product of the cooperative, with its id and slug.
pub async fn published_product(owner: &User, cooperative_id: i64, name: &str) -> (i64, String) {
    let (status, product) = owner
        .post(
            &format!("/api/v1/cooperatives/{cooperative_id}/products"),
            product_body(name),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{product}");
    let id = product["id"].as_i64().unwrap();
    let (status, product) = owner
        .post(&format!("/api/v1/products/{id}/publish"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{product}");
    (id, product["slug"].as_str().unwrap().to_owned())
}

/// Sets a product's stock behind the app's back (its first variant's, and the product's sum),
/// for tests that need a precise starting figure.
#[allow(dead_code)]
pub async fn set_stock(db: &DatabaseConnection, product_id: i64, stock: i64) {
    use ocop_market::entities::{product_variants, products};
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, QueryFilter};
    product_variants::Entity::update_many()
        .col_expr(product_variants::Column::StockQuantity, Expr::value(stock))
        .filter(product_variants::Column::ProductId.eq(product_id))
        .filter(product_variants::Column::Position.eq(0))
        .exec(db)
        .await
        .unwrap();
    // Summed here: PostgreSQL's SUM of a bigint is a numeric.
    let total: i64 = product_variants::Entity::find()
        .filter(product_variants::Column::ProductId.eq(product_id))
        .all(db)
        .await
        .unwrap()
        .iter()
        .map(|v| v.stock_quantity)
        .sum();
    products::Entity::update_many()
        .col_expr(products::Column::StockQuantity, Expr::value(total))
        .filter(products::Column::Id.eq(product_id))
        .exec(db)
        .await
        .unwrap();
}

#[allow(dead_code)]
pub async fn eventually<F, Fut>(mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    // Five seconds: a background task (indexer, refund sender) on a machine busy with the
    // rest of the suite can take more than one.
    for _ in 0..250 {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("condition not met in time");
}

impl TestApp {
    /// A GET as an anonymous visitor.
    pub async fn admin_free_get(&self, path: &str) -> (StatusCode, Value) {
        into_json(self.client().get(self.url(path)).send().await.unwrap()).await
    }
}

impl TestApp {
    /// A POST as an anonymous visitor.
    #[allow(dead_code)]
    pub async fn admin_free_post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        into_json(
            self.client()
                .post(self.url(path))
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Another session of an existing account (logged in with [`PASSWORD`]): a client with
    /// its own cookie.
    #[allow(dead_code)]
    pub async fn user_session(&self, identifier: &str) -> reqwest::Client {
        let client = self.client();
        let response = client
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({"identifier": identifier, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        client
    }
}
