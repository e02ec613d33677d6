//! Several app servers, one truth: three app servers on one database and one Redis, requests
//! spread over them in turn. Needs Redis (`TEST_REDIS_URL`, default `redis://127.0.0.1:6379`):
//! without one these tests say so and pass, except under `CI=true` where they fail. Each test
//! keys its Redis data with a prefix of its own, so tests share one Redis safely.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

use crate::support::{TestApp, verified_cooperative};

/// The Redis to test against, or `None` (skipped) when none answers outside CI.
pub(crate) async fn redis_url() -> Option<String> {
    let url = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let answers = async {
        let client = redis::Client::open(url.as_str()).ok()?;
        let mut connection = client.get_multiplexed_async_connection().await.ok()?;
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .ok()
    };
    match tokio::time::timeout(Duration::from_secs(3), answers).await {
        Ok(Some(_)) => Some(url),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("Redis does not answer at {url}; CI=true, so this is a failure")
        }
        _ => {
            eprintln!("SKIPPED: no Redis answers at {url} (set TEST_REDIS_URL)");
            None
        }
    }
}

pub(crate) fn unique_prefix() -> String {
    format!(
        "test{:x}{:04x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
        rand_u16()
    )
}

fn rand_u16() -> u16 {
    (std::process::id() as u16) ^ (Instant::now().elapsed().subsec_nanos() as u16)
}

/// Three app servers on one database and one Redis, behind a trusted proxy on 127.0.0.1 (so
/// that test phones come from networks of their own).
async fn three_servers(adjust: impl Fn(&mut ocop_market::config::Config)) -> Option<Vec<TestApp>> {
    let url = redis_url().await?;
    let prefix = unique_prefix();
    let first = TestApp::spawn_with(|config| {
        config.redis = Some(ocop_market::config::RedisConfig {
            url: ocop_market::config::Secret::new(url.clone()),
            prefix: prefix.clone(),
            pool_size: 2,
            timeout: Duration::from_secs(2),
            claim_idle: Duration::from_secs(2),
        });
        config.proxies.trusted = vec!["127.0.0.1/32".parse().unwrap()];
        adjust(config);
    })
    .await;
    let second = first.another_server().await;
    let third = first.another_server().await;
    Some(vec![first, second, third])
}

/// One server with the same settings but no Redis: the reference the cluster must agree with.
async fn one_server() -> TestApp {
    TestApp::spawn_with(|config| {
        config.proxies.trusted = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await
}

/// A verified cooperative's published product and `count` stamps on `app`: the admin, the
/// owner, the cooperative, the product and the codes.
async fn stamps_on(
    app: &TestApp,
    count: i64,
) -> (
    crate::support::User,
    crate::support::User,
    i64,
    i64,
    Vec<String>,
) {
    let admin = app.admin().await;
    let owner = app.user("owner@htx.vn").await;
    let coop = verified_cooperative(&admin, &owner, "5300000001", "Hợp tác xã Ong mật").await;
    let (id, _) = crate::support::published_product(&owner, coop, "Mật ong bạc hà").await;
    let (_, batch) = owner
        .post(
            &format!("/api/v1/products/{id}/batches"),
            json!({"lot_code": "MO-01", "quantity": "100", "quantity_unit": "chai"}),
        )
        .await;
    let batch = batch["id"].as_i64().unwrap();
    owner
        .post(
            &format!("/api/v1/batches/{batch}/stamps"),
            json!({"count": count}),
        )
        .await;
    let (_, stamps) = owner
        .get(&format!("/api/v1/batches/{batch}/stamps?per_page=1000"))
        .await;
    let codes = stamps["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["code"].as_str().unwrap().to_owned())
        .collect();
    (admin, owner, coop, id, codes)
}

/// A scan through the API as phone `phone` (its own network and app id), with an optional
/// province: the verdict.
async fn scan_as(
    app: &TestApp,
    code: &str,
    phone: u32,
    province: Option<&str>,
) -> (StatusCode, Value) {
    let mut url = format!("{}/api/v1/scan/{code}?client_id=phone-{phone:06}", app.base);
    if let Some(province) = province {
        url.push_str(&format!("&province={province}"));
    }
    let response = reqwest::Client::new()
        .get(url)
        .header(
            "x-forwarded-for",
            format!("100.{}.{}.7", 64 + phone / 256, phone % 256),
        )
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The verdict the same scan sequence gives: kind, others and provinces for each scan.
async fn verdicts(apps: &[&TestApp], code: &str) -> Vec<String> {
    // Phones 1…7 (phone 1 three times, phone 2 with two provinces: one client, one answer).
    let sequence: [(u32, Option<&str>); 10] = [
        (1, None),
        (1, None),
        (2, Some("15")),
        (3, None),
        (2, Some("01")),
        (1, None),
        (4, None),
        (5, None),
        (6, None),
        (3, None),
    ];
    let mut seen = Vec::new();
    for (i, (phone, province)) in sequence.iter().enumerate() {
        let app = apps[i % apps.len()];
        let (status, body) = scan_as(app, code, *phone, *province).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let verdict = &body["verdict"];
        seen.push(format!(
            "{} others={} provinces={}",
            verdict["kind"].as_str().unwrap_or("?"),
            verdict["other_checkers"],
            verdict["provinces"]
        ));
    }
    seen
}

#[tokio::test]
async fn three_servers_give_the_verdicts_one_server_gives() {
    let Some(cluster) = three_servers(|_| {}).await else {
        return;
    };
    let single = one_server().await;
    let (_, _, _, _, cluster_codes) = stamps_on(&cluster[0], 2).await;
    let (_, _, _, _, single_codes) = stamps_on(&single, 2).await;
    let spread: Vec<&TestApp> = cluster.iter().collect();
    let from_cluster = verdicts(&spread, &cluster_codes[0]).await;
    let from_single = verdicts(&[&single], &single_codes[0]).await;
    assert_eq!(
        from_cluster, from_single,
        "the same verdicts, spread or not"
    );
    assert!(from_single[0].starts_with("genuine_first_check"));
    assert!(from_single[1].starts_with("genuine_checked_by_you"));
    assert!(from_single[3].starts_with("genuine_checked_before others=2"));
    assert!(
        from_single[8].starts_with("likely_copy"),
        "the fifth distinct checker flags: {from_single:?}"
    );
    // Two servers never both say "first check" of one package.
    let code = &cluster_codes[1];
    let mut handles = Vec::new();
    for (i, app) in cluster.iter().enumerate() {
        for k in 0..4u32 {
            let base = app.base.clone();
            let code = code.clone();
            let phone = 100 + i as u32 * 10 + k;
            handles.push(tokio::spawn(async move {
                let response = reqwest::Client::new()
                    .get(format!(
                        "{base}/api/v1/scan/{code}?client_id=phone-{phone:06}"
                    ))
                    .header("x-forwarded-for", format!("100.99.{phone}.7"))
                    .send()
                    .await
                    .unwrap();
                let body: Value = response.json().await.unwrap();
                body["verdict"]["kind"].as_str().unwrap_or("").to_owned()
            }));
        }
    }
    let mut firsts = 0;
    for handle in handles {
        if handle.await.unwrap() == "genuine_first_check" {
            firsts += 1;
        }
    }
    assert_eq!(
        firsts, 1,
        "exactly one first check among twelve racing phones"
    );
}

#[tokio::test]
async fn a_write_on_one_server_is_seen_by_the_next_request_on_another() {
    let Some(cluster) = three_servers(|_| {}).await else {
        return;
    };
    let (admin, owner, coop, product, codes) = stamps_on(&cluster[0], 3).await;
    // Every server has the stamps and the origin in its caches.
    for (i, app) in cluster.iter().enumerate() {
        let (_, body) = scan_as(app, &codes[0], 10 + i as u32, None).await;
        assert!(
            body["verdict"]["kind"]
                .as_str()
                .unwrap()
                .starts_with("genuine")
        );
        crate::support::TestApp::admin_free_get(app, &format!("/api/v1/products/{product}")).await;
    }

    // A void on server 1: server 2's very next scan says so.
    let batch = ocop_market::entities::batches::Entity::find()
        .one(cluster[0].db())
        .await
        .unwrap()
        .unwrap()
        .id;
    let first_serial = scan_as(&cluster[0], &codes[0], 99, None).await.1["serial"]
        .as_i64()
        .unwrap();
    let (status, body) = owner
        .post(
            &format!("/api/v1/batches/{batch}/stamps/void"),
            json!({"select": "serial", "serial": first_serial, "reason": "lost"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, body) = scan_as(&cluster[1], &codes[0], 20, None).await;
    assert_eq!(
        body["verdict"]["kind"], "voided",
        "voided on another server at once: {body}"
    );

    // A suspension on server 1: server 3's very next scan is not vouched for.
    let (status, _) = admin
        .post(
            &format!("/api/v1/admin/cooperatives/{coop}/decision"),
            json!({"decision": "suspend", "reason": "Kiểm tra nguồn gốc"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = scan_as(&cluster[2], &codes[2], 30, None).await;
    assert_eq!(body["verdict"]["kind"], "not_vouched", "{body}");
    s_reinstate(&admin, coop).await;

    // A product edit on server 2 (through its own owner session): server 3's next read has it.
    let status = owner
        .client
        .put(cluster[1].url(&format!("/api/v1/products/{product}")))
        .json(
            &json!({"name": "Mật ong bạc hà thượng hạng", "category_code": "food-processed",
                      "price_vnd": 260000, "unit": "chai 500 ml", "stock_quantity": 40}),
        )
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::OK);
    let (_, body) = crate::support::TestApp::admin_free_get(
        &cluster[2],
        &format!("/api/v1/products/{product}"),
    )
    .await;
    assert_eq!(body["name"], "Mật ong bạc hà thượng hạng", "{body}");
}

async fn s_reinstate(admin: &crate::support::User, coop: i64) {
    admin
        .post(
            &format!("/api/v1/admin/cooperatives/{coop}/decision"),
            json!({"decision": "reinstate"}),
        )
        .await;
}

#[tokio::test]
async fn one_clients_budgets_are_shared_by_the_servers() {
    let Some(cluster) = three_servers(|config| {
        config.scans_per_minute = 4;
        config.login_attempts_per_minute = 4;
    })
    .await
    else {
        return;
    };
    let mut statuses = Vec::new();
    for i in 0..6 {
        let response = reqwest::Client::new()
            .get(cluster[i % 3].url("/api/v1/scan/0000000000000000"))
            .header("x-forwarded-for", "203.0.113.77")
            .send()
            .await
            .unwrap();
        statuses.push(response.status());
    }
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count(),
        2,
        "four scans a minute whichever server answers: {statuses:?}"
    );
    let mut logins = Vec::new();
    for i in 0..6 {
        let response = reqwest::Client::new()
            .post(cluster[i % 3].url("/api/v1/auth/login"))
            .header("x-forwarded-for", format!("198.51.{i}.9"))
            .json(&json!({"identifier": "0912345678", "password": "doan-mat-khau"}))
            .send()
            .await
            .unwrap();
        logins.push(response.status());
    }
    assert_eq!(
        logins
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count(),
        2,
        "one account's budget, whatever server: {logins:?}"
    );
}

#[tokio::test]
async fn every_servers_embedded_index_finds_a_change_within_a_second() {
    let Some(cluster) = three_servers(|_| {}).await else {
        return;
    };
    let admin = cluster[0].admin().await;
    let owner = cluster[0].user("owner@htx.vn").await;
    let coop = verified_cooperative(&admin, &owner, "5300000001", "Hợp tác xã Tả Van").await;
    let (id, _) = crate::support::published_product(&owner, coop, "Chè Shan tuyết cổ thụ").await;
    let started = Instant::now();
    for app in &cluster {
        crate::support::eventually(|| async {
            let (_, body) =
                crate::support::TestApp::admin_free_get(app, "/api/v1/search?q=shan+tuyet").await;
            body["hits"]
                .as_array()
                .is_some_and(|hits| hits.iter().any(|h| h["id"] == id))
        })
        .await;
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "found on all three in {:?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------------- a server killed, a database
// stopped

/// A TCP proxy in front of PostgreSQL that can be "stopped": every connection through it is
/// cut and new ones are refused, as if the database went away, and "started" again.
struct DatabaseLink {
    port: u16,
    down: Arc<std::sync::atomic::AtomicBool>,
    connections: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl DatabaseLink {
    async fn start(target: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let connections: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (down2, connections2) = (down.clone(), connections.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if down2.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                connections2.lock().unwrap().push(task);
            }
        });
        Self {
            port,
            down,
            connections,
        }
    }

    fn stop(&self) {
        self.down.store(true, Ordering::SeqCst);
        for task in self.connections.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    fn start_again(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

/// An app server process; SIGKILLed when dropped.
struct ServerProcess {
    child: std::process::Child,
    base: String,
}

impl ServerProcess {
    /// A server on `database_url`; with `redis`, sharing scan state under `prefix`.
    async fn start(
        database_url: &str,
        redis: Option<&str>,
        prefix: &str,
        data_dir: &std::path::Path,
    ) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        std::fs::create_dir_all(data_dir).unwrap();
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_ocop-market"));
        if let Some(redis) = redis {
            command.env("OCOP_REDIS_URL", redis);
        } else {
            command.env_remove("OCOP_REDIS_URL");
        }
        let child = command
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("OCOP_DATA_DIR", data_dir)
            .env("OCOP_LISTEN", format!("127.0.0.1:{port}"))
            .env("OCOP_REDIS_PREFIX", prefix)
            .env("OCOP_SCAN_CLAIM_IDLE_MS", "2000")
            .env("OCOP_SCANS_PER_MINUTE", "10000000")
            .env("OCOP_DATABASE_MAX_CONNECTIONS", "8")
            .env("OCOP_LOG", "error")
            .env_remove("OCOP_CONFIG")
            .env_remove("MEILI_URL")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the app binary starts");
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        loop {
            if let Ok(response) = reqwest::get(format!("{base}/healthz")).await
                && response.status().is_success()
            {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the app did not come up"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self { child, base }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Under scan load, one server is SIGKILLed, then the database goes away for thirty seconds:
/// afterwards the scans table holds exactly one row per scan answered 2xx.
#[tokio::test]
async fn no_answered_scan_is_lost_when_a_server_dies_and_the_database_stops() {
    let Some(redis) = redis_url().await else {
        return;
    };
    let database = crate::support::TestDatabase::create().await;
    if !database.url().starts_with("postgres") {
        eprintln!(
            "SKIPPED on SQLite: this test stops a PostgreSQL link (runs in the PostgreSQL pass)"
        );
        return;
    }
    let (target, proxied) = proxied_url(database.url());
    let link = DatabaseLink::start(target).await;
    let proxied = proxied.replace("{port}", &link.port.to_string());
    let prefix = unique_prefix();
    let root = database.data_dir().to_path_buf();
    // The first server migrates; then the demo data, written straight to the database.
    let mut first = ServerProcess::start(&proxied, Some(&redis), &prefix, &root.join("a")).await;
    let config = ocop_market::config::Config::for_database(database.url(), root.join("seed"));
    let state = ocop_market::AppState::build_offline(config).await.unwrap();
    ocop_market::seed::demo(&state.db, &state.reference, &state.signer)
        .await
        .unwrap();
    let codes: Vec<String> = ocop_market::entities::stamps::Entity::find()
        .all(&state.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|s| s.signature.is_none())
        .take(300)
        .map(|s| s.code)
        .collect();
    let second = ServerProcess::start(&proxied, Some(&redis), &prefix, &root.join("b")).await;
    let third = ServerProcess::start(&proxied, Some(&redis), &prefix, &root.join("c")).await;
    let bases = vec![first.base.clone(), second.base.clone(), third.base.clone()];

    let load = ScanLoad::start(bases, codes, 12, "load");
    tokio::time::sleep(Duration::from_secs(4)).await;
    first.kill();
    tokio::time::sleep(Duration::from_secs(2)).await;
    link.stop();
    tokio::time::sleep(Duration::from_secs(30)).await;
    link.start_again();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let outcomes: Vec<(String, Outcome)> = load
        .stop()
        .await
        .into_iter()
        .map(|(client_id, outcome, _)| (client_id, outcome))
        .collect();
    let answered = outcomes
        .iter()
        .filter(|(_, o)| *o == Outcome::Answered)
        .count() as u64;
    let unknown = outcomes
        .iter()
        .filter(|(_, o)| *o == Outcome::Unknown)
        .count() as u64;
    assert!(answered > 100, "the load ran: {answered} scans answered");
    // Wait for the streams to drain into the database (the dead server's entries are claimed
    // by the others after the claim time).
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let rows = ocop_market::entities::scans::Entity::find()
            .count(&state.db)
            .await
            .unwrap();
        if rows >= answered || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let hasher = ocop_market::trace::scans::ClientHasher::new(state.config.secret_key.clone());
    let mut per_client: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    for (hash, count) in client_row_counts(&state.db).await {
        per_client.insert(hash, count);
    }
    let mut lost = 0;
    let mut doubled = 0;
    let mut refused_recorded = 0;
    let mut expected_hashes = std::collections::HashSet::new();
    for (client_id, outcome) in &outcomes {
        let hash = hasher.of_cookie(client_id).hex();
        let rows = per_client.get(&hash).copied().unwrap_or(0);
        match outcome {
            Outcome::Answered if rows == 0 => lost += 1,
            Outcome::Answered | Outcome::Unknown if rows > 1 => doubled += 1,
            Outcome::Refused if rows > 0 => refused_recorded += 1,
            _ => {}
        }
        expected_hashes.insert(hash);
    }
    let strangers = per_client
        .keys()
        .filter(|hash| !expected_hashes.contains(*hash))
        .count();
    assert_eq!(
        (lost, doubled, refused_recorded, strangers),
        (0, 0, 0, 0),
        "{answered} answered, {unknown} without an answer: every answered scan has exactly one \
         row, none has two, a refused one has none"
    );
    drop((second, third));
}

/// The embedded default (one server, no Redis) killed with SIGKILL under scan load loses at most
/// the scans answered in its last second (the writer commits every 200 ms; docs/stamps.md states
/// the bound): every scan answered earlier has exactly one row, and no scan has two.
#[tokio::test]
async fn a_killed_single_server_loses_only_its_last_second_of_scans() {
    let database = crate::support::TestDatabase::create().await;
    let root = database.data_dir().to_path_buf();
    let mut server = ServerProcess::start(database.url(), None, "single", &root.join("a")).await;
    let config = ocop_market::config::Config::for_database(database.url(), root.join("seed"));
    let state = ocop_market::AppState::build_offline(config).await.unwrap();
    ocop_market::seed::demo(&state.db, &state.reference, &state.signer)
        .await
        .unwrap();
    let codes: Vec<String> = ocop_market::entities::stamps::Entity::find()
        .all(&state.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|s| s.signature.is_none())
        .take(100)
        .map(|s| s.code)
        .collect();
    let load = ScanLoad::start(vec![server.base.clone()], codes, 6, "kill");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let killed_at = Instant::now();
    server.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let outcomes = load.stop().await;
    let hasher = ocop_market::trace::scans::ClientHasher::new(state.config.secret_key.clone());
    let per_client: std::collections::HashMap<String, i64> =
        client_row_counts(&state.db).await.into_iter().collect();
    let bound = Duration::from_secs(1);
    let (mut before_bound, mut lost, mut doubled) = (0, 0, 0);
    for (client_id, outcome, at) in &outcomes {
        let rows = per_client
            .get(&hasher.of_cookie(client_id).hex())
            .copied()
            .unwrap_or(0);
        if rows > 1 {
            doubled += 1;
        }
        if *outcome == Outcome::Answered && *at + bound <= killed_at {
            before_bound += 1;
            if rows == 0 {
                lost += 1;
            }
        }
    }
    assert!(
        before_bound > 100,
        "the load ran: {before_bound} scans answered"
    );
    assert_eq!(
        (lost, doubled),
        (0, 0),
        "of {before_bound} scans answered more than {bound:?} before the kill, {lost} have no row"
    );
}

/// Phones scanning through the servers in turn until stopped. Each request is its own app
/// installation (a unique client id), so each scan's row can be told apart: a row per answered
/// request, none for a refused one, and at most one for a request that never got an answer
/// (the server died, or the client gave up on it).
struct ScanLoad {
    running: Arc<std::sync::atomic::AtomicBool>,
    outcomes: Arc<std::sync::Mutex<Vec<(String, Outcome, Instant)>>>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

impl ScanLoad {
    fn start(bases: Vec<String>, codes: Vec<String>, workers: usize, label: &str) -> Self {
        let running = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let outcomes: Arc<std::sync::Mutex<Vec<(String, Outcome, Instant)>>> = Arc::default();
        let workers = (0..workers)
            .map(|worker| {
                let (bases, codes, outcomes, running) = (
                    bases.clone(),
                    codes.clone(),
                    outcomes.clone(),
                    running.clone(),
                );
                let label = label.to_owned();
                tokio::spawn(async move {
                    let client = reqwest::Client::builder()
                        .timeout(Duration::from_secs(5))
                        .build()
                        .unwrap();
                    let mut i = worker;
                    while running.load(Ordering::SeqCst) {
                        let base = &bases[i % bases.len()];
                        let code = &codes[(i * 7) % codes.len()];
                        let client_id = format!("{label}{worker:02}-{i:09}");
                        i += 1;
                        let outcome = match client
                            .get(format!("{base}/api/v1/scan/{code}?client_id={client_id}"))
                            .send()
                            .await
                        {
                            Ok(response) if response.status().is_success() => {
                                // The body too: an answer cut short is not an answer.
                                match response.bytes().await {
                                    Ok(_) => Outcome::Answered,
                                    Err(_) => Outcome::Unknown,
                                }
                            }
                            Ok(_) => Outcome::Refused,
                            Err(_) => Outcome::Unknown,
                        };
                        outcomes
                            .lock()
                            .unwrap()
                            .push((client_id, outcome, Instant::now()));
                    }
                })
            })
            .collect();
        Self {
            running,
            outcomes,
            workers,
        }
    }

    /// Stops the phones; every request made, with its outcome and when it ended.
    async fn stop(self) -> Vec<(String, Outcome, Instant)> {
        self.running.store(false, Ordering::SeqCst);
        for worker in self.workers {
            worker.await.unwrap();
        }
        std::mem::take(&mut *self.outcomes.lock().unwrap())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// A 2xx answer, body and all.
    Answered,
    /// An error status: no scan was recorded.
    Refused,
    /// No answer (the server was killed, or the client gave up): recorded or not.
    Unknown,
}

/// Rows per client hash in `scans`.
async fn client_row_counts(db: &sea_orm::DatabaseConnection) -> Vec<(String, i64)> {
    use sea_orm::{ColumnTrait, QuerySelect};
    ocop_market::entities::scans::Entity::find()
        .select_only()
        .column(ocop_market::entities::scans::Column::ClientHash)
        .column_as(ocop_market::entities::scans::Column::Id.count(), "rows")
        .group_by(ocop_market::entities::scans::Column::ClientHash)
        .into_tuple()
        .all(db)
        .await
        .unwrap()
}

/// The database URL's host and port, and the URL with `{port}` in place of them on 127.0.0.1.
fn proxied_url(url: &str) -> (String, String) {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (credentials, rest) = match rest.split_once('@') {
        Some((c, r)) => (format!("{c}@"), r),
        None => (String::new(), rest),
    };
    let (host_port, path) = rest.split_once('/').unwrap_or((rest, ""));
    let target = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    };
    (
        target,
        format!("{scheme}://{credentials}127.0.0.1:{{port}}/{path}"),
    )
}
