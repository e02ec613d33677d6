//! What operators rely on: metrics, backups.

use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};

use crate::support::TestApp;

#[tokio::test]
async fn metrics_count_requests_by_route_and_read_the_backlogs() {
    let app = TestApp::spawn().await;
    let client = app.client();
    for _ in 0..3 {
        client.get(app.url("/products")).send().await.unwrap();
    }
    client
        .get(app.url("/no/such/page/123"))
        .send()
        .await
        .unwrap();
    let response = client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("http_requests_total{")
                && l.contains("route=\"/products\"")
                && l.contains("status=\"200\"")
        })
        .unwrap_or_else(|| panic!("no /products counter in\n{text}"));
    let count: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 3.0, "{line}");
    assert!(
        !text.contains("/no/such/page"),
        "raw paths never become series"
    );
    for gauge in [
        "scans_judged",
        "scans_written",
        "search_outbox_pending",
        "db_pool_connections",
        "http_request_duration_seconds_bucket",
    ] {
        assert!(text.contains(gauge), "{gauge} missing");
    }
}

#[tokio::test]
async fn metrics_need_the_token_when_one_is_set_and_are_off_in_production_without() {
    let app = TestApp::spawn_with(|config| {
        config.metrics_token = Some(ocop_market::config::Secret::new("s3cret-scrape-token"));
    })
    .await;
    let client = app.client();
    let anonymous = client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let wrong = client
        .get(app.url("/metrics"))
        .bearer_auth("guess")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let right = client
        .get(app.url("/metrics"))
        .bearer_auth("s3cret-scrape-token")
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), StatusCode::OK);

    let production = TestApp::spawn_with(|config| config.production = true).await;
    let response = production
        .client()
        .get(production.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

/// A backup taken while the app writes is a whole, consistent database.
#[tokio::test]
async fn a_backup_taken_while_serving_is_a_consistent_database() {
    let app = TestApp::spawn().await;
    if app.db().get_database_backend() != DbBackend::Sqlite {
        eprintln!("SKIPPED: `backup` copies SQLite databases; PostgreSQL uses pg_dump");
        return;
    }
    // Writes keep coming while the copy is made: registrations from another task.
    let writer_app_base = app.base.clone();
    let writer = tokio::spawn(async move {
        let client = reqwest::Client::new();
        for i in 0..40 {
            let _ = client
                .post(format!("{writer_app_base}/api/v1/auth/register"))
                .json(&serde_json::json!({
                    "identifier": format!("ban-sao-{i}@htx.vn"),
                    "password": "mat-khau-dai-du",
                    "display_name": "Khách"
                }))
                .send()
                .await;
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.sqlite");
    let bytes = ocop_market::db::backup_sqlite(app.db(), &copy)
        .await
        .unwrap();
    writer.await.unwrap();
    assert!(bytes > 0);
    let db = Database::connect(format!("sqlite://{}?mode=ro", copy.display()))
        .await
        .unwrap();
    let check = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA integrity_check",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(check.try_get_by_index::<String>(0).unwrap(), "ok");
    let provinces = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT count(*) FROM provinces",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(provinces.try_get_by_index::<i64>(0).unwrap(), 34);
    assert!(
        ocop_market::db::backup_sqlite(app.db(), &copy)
            .await
            .is_err(),
        "an existing file is never overwritten"
    );
}

/// The settings file shipped for a province deployment loads, in production mode, with every
/// part of the distributed setup on.
#[test]
fn the_shipped_settings_file_loads_in_production_mode() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/ocop-market.toml.example");
    let config = ocop_market::config::Config::from_file(&path, &|_| None).unwrap();
    assert!(config.production);
    assert!(!config.is_sqlite());
    assert!(config.redis.is_some());
    assert!(config.meilisearch.is_some());
    assert!(config.metrics_token.is_some());
    assert!(config.log_json);
    assert_eq!(config.proxies.trusted.len(), 1);
    assert!(config.commerce.bank_webhook.is_some());
}

/// The nginx configuration shipped in `deploy/` passes `nginx -t` (with a throw-away
/// certificate in place of the real one).
#[test]
fn the_shipped_nginx_configuration_passes_nginx_t() {
    let nginx = ["/usr/sbin/nginx", "/usr/local/sbin/nginx"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let Some(nginx) = nginx else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "nginx is not installed (.ci/run installs nginx-light); CI=true, so this is a failure"
            );
        }
        eprintln!("SKIPPED: nginx is not installed (apt-get install nginx-light)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let certificate = dir.path().join("fullchain.pem");
    let key = dir.path().join("privkey.pem");
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=ocop.example.vn",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&certificate)
        .output()
        .expect("openssl runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let shipped = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/nginx.conf"),
    )
    .unwrap();
    let checked = shipped
        .replace(
            "/etc/letsencrypt/live/ocop.example.vn/fullchain.pem",
            certificate.to_str().unwrap(),
        )
        .replace(
            "/etc/letsencrypt/live/ocop.example.vn/privkey.pem",
            key.to_str().unwrap(),
        );
    let conf = dir.path().join("nginx.conf");
    std::fs::write(&conf, checked).unwrap();
    let output = std::process::Command::new(nginx)
        .arg("-t")
        .arg("-c")
        .arg(&conf)
        .arg("-p")
        .arg(dir.path())
        .output()
        .expect("nginx runs");
    assert!(
        output.status.success(),
        "nginx -t refused the configuration:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
