//! Catalogue search end to end: the API and the page, visibility rules, freshness after a
//! write, crash safety of the outbox (the real binary, killed with SIGKILL), and a reindex
//! while queries run.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ocop_market::config::Config;
use ocop_market::entities::products;
use ocop_market::reference::ReferenceData;
use reqwest::StatusCode;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use serde_json::{Value, json};

use crate::support::{TestApp, TestDatabase, names_field, published_product, verified_cooperative};

async fn search(app_base: &str, query: &str) -> (StatusCode, Value) {
    let response = reqwest::get(format!("{app_base}/api/v1/search?{query}"))
        .await
        .unwrap();
    crate::support::into_json(response).await
}

fn names(body: &Value) -> Vec<String> {
    body["hits"]
        .as_array()
        .map(|hits| {
            hits.iter()
                .map(|h| h["name"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Polls a search until `done` holds, failing after `deadline`; returns the time it took.
async fn wait_for_search(
    base: &str,
    query: &str,
    deadline: Duration,
    done: impl Fn(&Value) -> bool,
) -> Duration {
    let started = Instant::now();
    loop {
        let (status, body) = search(base, query).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if done(&body) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < deadline,
            "search `{query}` did not reach the expected state within {deadline:?}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn mat_ong_finds_mat_ong_in_the_demo_catalogue_through_the_api_and_the_page() {
    let app = TestApp::spawn().await;
    ocop_market::seed::demo(app.db(), &app.state.reference, &app.state.signer)
        .await
        .unwrap()
        .expect("an empty database takes the demo catalogue");
    let body = {
        wait_for_search(&app.base, "q=mat%20ong", Duration::from_secs(10), |b| {
            b["total"].as_u64().unwrap_or(0) > 0
        })
        .await;
        search(&app.base, "q=mat%20ong").await.1
    };
    let first = &body["hits"][0];
    assert!(
        first["name"].as_str().unwrap().starts_with("Mật ong"),
        "{body}"
    );
    assert!(
        first["highlighted_name"]
            .as_str()
            .unwrap()
            .starts_with("<mark>Mật</mark> <mark>ong</mark>"),
        "{first}"
    );
    assert!(
        body["facets"]["provinces"]
            .as_array()
            .is_some_and(|p| !p.is_empty())
    );

    // Diacritics typed, a typo, and a prefix still find it.
    for (query, expected) in [
        ("q=m%E1%BA%ADt%20ong", "Mật ong"),
        ("q=mat%20on", "Mật ong"),
        ("q=che%20shann", "Chè Shan tuyết"),
    ] {
        let (_, body) = search(&app.base, query).await;
        assert!(
            names(&body).iter().any(|n| n.starts_with(expected)),
            "{query}: {body}"
        );
    }

    let (status, html) = app
        .client()
        .get(app.url("/search?q=mat+ong"))
        .send()
        .await
        .map(|r| (r.status(), r))
        .unwrap();
    let html = html.text().await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<mark>Mật</mark> <mark>ong</mark>"), "{html}");
    assert!(
        html.contains("<label for=\"top-q\""),
        "the header search box is labelled"
    );
    assert!(
        html.contains("aria-label=\"Thu hẹp kết quả\""),
        "facets are shown"
    );

    // Nothing found: never a blank page, a relaxed search is offered.
    let html = app
        .client()
        .get(app.url("/search?q=mat+ong+zzzzqqq"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Không tìm thấy sản phẩm nào"), "{html}");
    assert!(
        html.contains("Mật ong"),
        "the nearest matches are shown: {html}"
    );

    let (status, body) = search(&app.base, "q=zzzzqqq&province=15").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total"], 0);
    assert!(body["hits"].as_array().unwrap().is_empty());

    let response = reqwest::get(app.url("/api/v1/search/suggestions?q=mat%20o"))
        .await
        .unwrap();
    let suggestions: Value = response.json().await.unwrap();
    assert!(
        suggestions["suggestions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s.as_str().unwrap().starts_with("Mật ong")),
        "{suggestions}"
    );
}

#[tokio::test]
async fn archived_products_and_products_of_a_suspended_cooperative_leave_search() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let owner = app.user("owner@htx.vn").await;
    let coop =
        verified_cooperative(&admin, &owner, "5300123456", "Hợp tác xã Ong mật Gia Phú").await;
    let (honey, _) = published_product(&owner, coop, "Mật ong bạc hà").await;
    published_product(&owner, coop, "Chè Shan tuyết cổ thụ").await;

    let deadline = Duration::from_secs(1);
    let has = |name: &'static str| move |b: &Value| names(b).iter().any(|n| n == name);
    let lacks = |name: &'static str| move |b: &Value| !names(b).iter().any(|n| n == name);
    wait_for_search(&app.base, "q=mat%20ong", deadline, has("Mật ong bạc hà")).await;
    wait_for_search(
        &app.base,
        "q=che%20shan%20tuyet",
        deadline,
        has("Chè Shan tuyết cổ thụ"),
    )
    .await;

    let (status, _) = owner
        .post(&format!("/api/v1/products/{honey}/archive"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    wait_for_search(&app.base, "q=mat%20ong", deadline, lacks("Mật ong bạc hà")).await;
    wait_for_search(&app.base, "", deadline, |b| b["total"] == 1).await;

    let (status, body) = admin
        .post(
            &format!("/api/v1/admin/cooperatives/{coop}/decision"),
            json!({"decision": "suspend", "reason": "Bán hàng giả nhãn mác"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    wait_for_search(&app.base, "", deadline, |b| b["total"] == 0).await;

    let (status, _) = admin
        .post(
            &format!("/api/v1/admin/cooperatives/{coop}/decision"),
            json!({"decision": "reinstate"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    wait_for_search(
        &app.base,
        "q=che%20shan",
        deadline,
        has("Chè Shan tuyết cổ thụ"),
    )
    .await;
    let (_, body) = search(&app.base, "").await;
    assert_eq!(body["total"], 1, "the archived product stays out: {body}");
}

#[tokio::test]
async fn an_edited_product_is_searchable_under_its_new_name_within_a_second() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let owner = app.user("owner@htx.vn").await;
    let coop = verified_cooperative(&admin, &owner, "5300123456", "Hợp tác xã Gia Phú").await;
    let (id, _) = published_product(&owner, coop, "Mật ong bạc hà").await;
    wait_for_search(&app.base, "q=mat%20ong", Duration::from_secs(1), |b| {
        b["total"] == 1
    })
    .await;

    let body = crate::support::product_body("Trà hoa vàng Bình Liêu");
    let (status, body) = owner.put(&format!("/api/v1/products/{id}"), body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = owner
        .post(
            &format!("/api/v1/products/{id}/stock"),
            json!({"delta": -40, "reason": "Bán hết tại chợ phiên"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The write has committed: from here search must follow within a second.
    let took = wait_for_search(
        &app.base,
        "q=tra%20hoa%20vang&in_stock=false",
        Duration::from_secs(1),
        |b| b["total"] == 1,
    )
    .await;
    assert!(took < Duration::from_secs(1));
    let (_, body) = search(&app.base, "q=mat%20ong%20bac%20ha").await;
    assert_eq!(
        names(&body),
        vec!["Trà hoa vàng Bình Liêu"],
        "the old name is gone (the description still says mật ong): {body}"
    );
}

#[tokio::test]
async fn bad_search_parameters_answer_400_naming_the_field_and_never_500() {
    let app = TestApp::spawn().await;
    for (query, field) in [
        ("per_page=0", "per_page"),
        ("per_page=1000", "per_page"),
        ("page=0", "page"),
        ("min_stars=9", "min_stars"),
        ("sort=cheapest", "sort"),
        ("min_price=abc", "min_price"),
        ("max_price=1.5", "max_price"),
        ("province=xx", "province"),
        ("in_stock=maybe", "in_stock"),
        ("cooperative=-3", "cooperative"),
    ] {
        let (status, body) = search(&app.base, query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert!(names_field(&body, field), "{query}: {body}");
    }
    for query in [
        "q=%00%01%02",
        "q=%F0%9F%8D%AF%F0%9F%8D%AF",
        "q=a%20b%20c%20d%20e%20f%20g%20h%20i%20j%20k%20l%20m",
        "q=************",
        "q=%22%27%3C%3E%26%5C",
        "q=x&page=500&per_page=100",
        "q=&facets=false",
        "q[]=1&page[]=2",
    ] {
        let (status, body) = search(&app.base, query).await;
        assert!(
            status == StatusCode::OK || status == StatusCode::BAD_REQUEST,
            "{query}: {status} {body}"
        );
        let page = app
            .client()
            .get(app.url(&format!("/search?{query}")))
            .send()
            .await
            .unwrap();
        assert!(
            !page.status().is_server_error(),
            "{query}: {}",
            page.status()
        );
    }
    let long = "m".repeat(5000);
    let (status, _) = search(&app.base, &format!("q={long}")).await;
    assert_eq!(status, StatusCode::OK);
}

/// The app binary running as a child process; killed (SIGKILL) when dropped.
struct AppProcess {
    child: Child,
    base: String,
}

impl AppProcess {
    async fn start(database: &TestDatabase, data_dir: &std::path::Path, delay_ms: u64) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_ocop-market"))
            .arg("serve")
            .env("DATABASE_URL", database.url())
            .env("OCOP_DATA_DIR", data_dir)
            .env("OCOP_LISTEN", format!("127.0.0.1:{port}"))
            .env("OCOP_SEARCH_INDEXER_DELAY_MS", delay_ms.to_string())
            .env("OCOP_LOG", "warn")
            .env_remove("OCOP_CONFIG")
            .env_remove("MEILI_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
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
                started.elapsed() < Duration::from_secs(30),
                "the app did not come up"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self { child, base }
    }

    /// SIGKILL: no graceful shutdown, nothing flushed.
    fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }
}

impl Drop for AppProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn changes_committed_but_not_yet_indexed_survive_a_sigkill() {
    let database = TestDatabase::create().await;
    let data_dir = database.data_dir().join("app");
    std::fs::create_dir_all(&data_dir).unwrap();
    // The indexer leaves rows younger than ten minutes alone: nothing gets indexed.
    let app = AppProcess::start(&database, &data_dir, 600_000).await;

    let config = Config::for_database(database.url(), &data_dir);
    let db = ocop_market::db::connect(&config).await.unwrap();
    let reference = ReferenceData::embedded();
    ocop_market::seed::synthetic(&db, &reference, 300, 3)
        .await
        .unwrap();
    let pending = ocop_market::search::outbox::pending_count(&db)
        .await
        .unwrap();
    assert_eq!(
        pending, 300,
        "one outbox row per product, committed with it"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, body) = search(&app.base, "per_page=1").await;
    assert_eq!(body["total"], 0, "held back by the indexer delay: {body}");

    app.kill();

    let app = AppProcess::start(&database, &data_dir, 0).await;
    wait_for_search(&app.base, "per_page=1", Duration::from_secs(20), |b| {
        b["total"] == 300
    })
    .await;
    // The rows are marked processed just after the index commit that made them searchable.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pending = ocop_market::search::outbox::pending_count(&db)
            .await
            .unwrap();
        if pending == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{pending} outbox rows still pending"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Every product is there, under its own name.
    let sample = products::Entity::find()
        .filter(products::Column::Id.eq(150))
        .one(&db)
        .await
        .unwrap()
        .expect("product 150");
    let (_, body) = search(
        &app.base,
        &format!("q={}&per_page=100", urlencode(&sample.name)),
    )
    .await;
    assert!(
        body["hits"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["id"] == sample.id),
        "{} not found: {body}",
        sample.name
    );
    drop(app);
    db.close().await.unwrap();
}

fn urlencode(text: &str) -> String {
    ocop_market::http::page::urlencode(text)
}

#[tokio::test]
async fn reindex_swaps_in_a_new_index_while_queries_run_and_keeps_changes_made_meanwhile() {
    let app = TestApp::spawn().await;
    ocop_market::seed::synthetic(app.db(), &app.state.reference, 2_000, 5)
        .await
        .unwrap();
    wait_for_search(&app.base, "per_page=1", Duration::from_secs(30), |b| {
        b["total"] == 2000
    })
    .await;
    let old_generation = app
        .state
        .search
        .generation()
        .expect("an embedded generation");

    // Shoppers keep searching throughout.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut shoppers = Vec::new();
    for query in [
        "per_page=5",
        "q=mat%20ong&per_page=5",
        "q=che&min_stars=3&per_page=5",
    ] {
        let base = app.base.clone();
        let stop = stop.clone();
        shoppers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut answered = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let response = client
                    .get(format!("{base}/api/v1/search?{query}"))
                    .send()
                    .await
                    .expect("the server answers");
                assert_eq!(response.status(), StatusCode::OK, "{query}");
                let body: Value = response.json().await.unwrap();
                if query == "per_page=5" {
                    assert_eq!(body["total"], 2000, "browse sees the whole catalogue");
                }
                answered += 1;
            }
            answered
        }));
    }

    // Another process rebuilds the index...
    let mut reindex = Command::new(env!("CARGO_BIN_EXE_ocop-market"))
        .arg("reindex")
        .env("DATABASE_URL", app.state.config.database_url.expose())
        .env("OCOP_DATA_DIR", &app.state.config.data_dir)
        .env("OCOP_LOG", "warn")
        .env_remove("OCOP_CONFIG")
        .env_remove("MEILI_URL")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // ...while products are renamed, as another app server would (write + outbox, one
    // transaction).
    let mut renamed = 0;
    let started = Instant::now();
    loop {
        let done = reindex.try_wait().unwrap().is_some();
        if renamed < 200 {
            renamed += 1;
            let txn = app.db().begin().await.unwrap();
            products::Entity::update_many()
                .col_expr(
                    products::Column::Name,
                    Expr::value(format!("Sản phẩm đổi tên {renamed}")),
                )
                .filter(products::Column::Id.eq(renamed as i64))
                .exec(&txn)
                .await
                .unwrap();
            ocop_market::catalog::outbox::enqueue_products(&txn, &[renamed as i64])
                .await
                .unwrap();
            txn.commit().await.unwrap();
        }
        if done {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "reindex hangs"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(reindex.wait().unwrap().success(), "reindex succeeded");

    // The server switches over and nothing renamed meanwhile is lost.
    let started = Instant::now();
    while app.state.search.generation().as_deref() == Some(old_generation.as_str()) {
        assert!(started.elapsed() < Duration::from_secs(10), "no switch");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    wait_for_search(
        &app.base,
        "q=san%20pham%20doi%20ten&per_page=1",
        Duration::from_secs(2),
        |b| b["total"] == renamed,
    )
    .await;
    wait_for_search(&app.base, "per_page=1", Duration::from_secs(1), |b| {
        b["total"] == 2000
    })
    .await;

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for shopper in shoppers {
        let answered = shopper.await.expect("no query failed");
        assert!(answered > 0);
    }
}

#[tokio::test]
async fn meilisearch_passes_the_conformance_suite_when_configured() {
    let Ok(url) = std::env::var("MEILI_URL") else {
        eprintln!(
            "SKIPPED: MEILI_URL is not set; set it (and MEILI_API_KEY) to run the search \
             conformance suite against a Meilisearch server"
        );
        return;
    };
    let config = ocop_market::config::MeilisearchConfig {
        url,
        api_key: std::env::var("MEILI_API_KEY")
            .ok()
            .map(ocop_market::config::Secret::new),
        index: "unused".into(),
    };
    let uid = format!(
        "conformance_{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    );
    let index = ocop_market::search::meili::MeiliIndex::connect_to(&config, &uid)
        .await
        .expect("Meilisearch reachable at MEILI_URL");
    let failures = ocop_market::search::conformance::run(&index).await;
    index.delete_index().await.unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn on_postgresql_two_indexers_claim_different_outbox_rows() {
    let app = TestApp::spawn_with(|config| {
        // This app's own indexer stays out of the way: the test claims rows itself.
        config.search_indexer_delay = Duration::from_secs(600);
    })
    .await;
    if app.db().get_database_backend() != sea_orm::DbBackend::Postgres {
        eprintln!("SKIPPED on SQLite: one writer, one indexer per database; no row claims");
        return;
    }
    let txn = app.db().begin().await.unwrap();
    ocop_market::catalog::outbox::enqueue_products(&txn, &(1..=10).collect::<Vec<i64>>())
        .await
        .unwrap();
    txn.commit().await.unwrap();
    let now = chrono::Utc::now() + chrono::Duration::seconds(1);
    let first = app.db().begin().await.unwrap();
    let second = app.db().begin().await.unwrap();
    let a = ocop_market::search::outbox::claim_due(&first, 6, now)
        .await
        .unwrap();
    let b = ocop_market::search::outbox::claim_due(&second, 6, now)
        .await
        .unwrap();
    assert_eq!(a.len(), 6);
    assert_eq!(
        b.len(),
        4,
        "the second indexer skips the rows the first holds"
    );
    assert!(a.iter().all(|row| b.iter().all(|other| other.id != row.id)));
    first.rollback().await.unwrap();
    second.rollback().await.unwrap();
}

#[tokio::test]
async fn failed_outbox_rows_are_retried_later_with_a_growing_wait_and_their_error() {
    use ocop_market::catalog::outbox::enqueue_products;
    use ocop_market::entities::search_outbox;
    use ocop_market::search::outbox;
    let database = TestDatabase::create().await;
    let config = Config::for_database(database.url(), database.data_dir());
    let db = ocop_market::db::connect(&config).await.unwrap();
    ocop_market::db::migrate(&db).await.unwrap();
    enqueue_products(&db, &[1, 2, 3]).await.unwrap();
    let now = chrono::Utc::now();
    let rows = outbox::claim_due(&db, 10, now).await.unwrap();
    assert_eq!(rows.len(), 3);

    // Rows 1 and 2 fail for the first time, row 3 for the fourth.
    search_outbox::Entity::update_many()
        .col_expr(search_outbox::Column::Attempts, Expr::value(3))
        .filter(search_outbox::Column::Id.eq(rows[2].id))
        .exec(&db)
        .await
        .unwrap();
    let rows = search_outbox::Entity::find().all(&db).await.unwrap();
    outbox::mark_failed(&db, &rows, "the index is read-only", now)
        .await
        .unwrap();
    let after = search_outbox::Entity::find().all(&db).await.unwrap();
    let waits: Vec<(i32, i64)> = after
        .iter()
        // Rounded: PostgreSQL keeps microseconds, so the stored time may sit a hair early.
        .map(|r| {
            let wait = (r.next_attempt_at - now).num_milliseconds();
            (r.attempts, (wait + 500).div_euclid(1000))
        })
        .collect();
    assert_eq!(waits, vec![(1, 1), (1, 1), (4, 8)]);
    assert!(
        after
            .iter()
            .all(|r| r.last_error.as_deref() == Some("the index is read-only"))
    );
    assert!(after.iter().all(|r| r.processed_at.is_none()));
    // Not due yet; due once the wait is over.
    assert!(outbox::claim_due(&db, 10, now).await.unwrap().is_empty());
    let later = now + chrono::Duration::seconds(2);
    assert_eq!(outbox::claim_due(&db, 10, later).await.unwrap().len(), 2);
}
