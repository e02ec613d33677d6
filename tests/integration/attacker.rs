//! The system tried as an attacker would: each test is a scenario from the threat model
//! (`../shared/THREATS.md`) or from a review of the accounts and edges, and fails if the
//! defence it names is missing.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestApp, verified_cooperative};

// ---------------------------------------------------------------- staff invitations

/// An owner naming someone for staff learns nothing about whether that person has an account,
/// and nobody becomes a member without accepting.
#[tokio::test]
async fn an_invitation_answers_alike_for_existing_and_unknown_accounts() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let owner = app.user("owner@htx.vn").await;
    let existing = app.user("existing@htx.vn").await;
    let coop = verified_cooperative(&admin, &owner, "5300000001", "Hợp tác xã A").await;

    let path = format!("/api/v1/cooperatives/{coop}/invitations");
    let (known_status, known) = owner
        .post(&path, json!({"identifier": "existing@htx.vn"}))
        .await;
    let (unknown_status, unknown) = owner
        .post(&path, json!({"identifier": "nobody-here@htx.vn"}))
        .await;
    assert_eq!(known_status, StatusCode::CREATED);
    assert_eq!(unknown_status, known_status);
    let keys = |v: &Value| {
        let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(&known), keys(&unknown), "the same answer either way");

    // Not a member until they accept.
    let (status, _) = existing
        .post(
            &format!("/api/v1/cooperatives/{coop}/products"),
            crate::support::product_body("Chè"),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// A code reserved for one account does nothing for another; a code works once; a revoked
/// code works never.
#[tokio::test]
async fn invitation_codes_are_for_their_invitee_once_and_can_be_revoked() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let owner = app.user("owner@htx.vn").await;
    let invitee = app.user("0912345678").await;
    let intruder = app.user("intruder@htx.vn").await;
    let coop = verified_cooperative(&admin, &owner, "5300000001", "Hợp tác xã A").await;
    let path = format!("/api/v1/cooperatives/{coop}/invitations");

    // Reserved for the invitee's phone, typed another way.
    let (_, reserved) = owner
        .post(&path, json!({"identifier": "+84 912 345 678"}))
        .await;
    let code = reserved["code"].as_str().unwrap().to_owned();
    let (status, _) = intruder
        .post("/api/v1/invitations/accept", json!({"code": code}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not the invitee");
    let (status, view) = invitee
        .post(
            "/api/v1/invitations/accept",
            json!({"code": code.to_lowercase()}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["role"], "staff");
    let (status, _) = invitee
        .post("/api/v1/invitations/accept", json!({"code": code}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "used once");

    // An open code, revoked before use.
    let (_, open) = owner.post(&path, json!({})).await;
    let id = open["id"].as_i64().unwrap();
    let response = owner
        .client
        .delete(owner.url(&format!("{path}/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (status, _) = intruder
        .post("/api/v1/invitations/accept", json!({"code": open["code"]}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "revoked");

    // Staff cannot invite.
    let (status, _) = invitee.post(&path, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// The invitation link works without JavaScript: a logged-out visitor is asked to log in and
/// learns nothing about the cooperative; a logged-in one sees it and accepts with one button.
#[tokio::test]
async fn an_invitation_link_is_accepted_from_its_page() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let owner = app.user("owner@htx.vn").await;
    let invitee = app.user("staff@htx.vn").await;
    let coop = verified_cooperative(&admin, &owner, "5300000001", "Hợp tác xã Tả Van").await;
    let (_, created) = owner
        .post(
            &format!("/api/v1/cooperatives/{coop}/invitations"),
            json!({}),
        )
        .await;
    let link = created["accept_url"].as_str().unwrap();
    assert!(link.starts_with(&app.base), "{link}");
    let path = link.strip_prefix(&app.base).unwrap();

    let anonymous = app.client().get(app.url(path)).send().await.unwrap();
    let text = anonymous.text().await.unwrap();
    assert!(!text.contains("Tả Van"), "no name before logging in");
    assert!(text.contains("/login?next="));

    let page = invitee.client.get(invitee.url(path)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Tả Van"));
    let accepted = invitee.form(path, &[]).await;
    assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
    let (status, mine) = invitee.get("/api/v1/me/cooperatives").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(mine[0]["id"], coop);
}

// ---------------------------------------------------------------- redirects

/// `next` and language links only ever lead to a path of this site, however the attacker
/// encodes the way out.
#[tokio::test]
async fn redirect_targets_never_leave_the_site() {
    let app = TestApp::spawn().await;
    let client = app.client();
    for next in [
        "/%09/evil.example",
        "/\\evil.example",
        "/%2F%2Fevil.example",
        "//evil.example",
        "https://evil.example/",
        "/%5C%5Cevil.example",
        "/%0D%0ALocation:%20https://evil.example",
    ] {
        let response = client
            .get(app.url("/lang/en"))
            .query(&[("next", next)])
            .send()
            .await
            .unwrap();
        assert!(response.status().is_redirection(), "{next}");
        let location = response.headers()["location"].to_str().unwrap();
        assert_eq!(location, "/", "next={next:?} led to {location:?}");
    }
    let response = client
        .get(app.url("/lang/en"))
        .query(&[("next", "/products?page=2")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["location"], "/products?page=2");
}

// ---------------------------------------------------------------- client addresses

/// Behind our proxy, a client that writes its own `X-Forwarded-For` entries still counts as
/// itself: its budget is not reset by inventing addresses.
#[tokio::test]
async fn a_forged_forwarded_for_does_not_buy_a_new_budget() {
    let app = TestApp::spawn_with(|config| {
        config.proxies.trusted = vec!["127.0.0.1/32".parse().unwrap()];
        config.scans_per_minute = 3;
    })
    .await;
    let client = app.client();
    let mut statuses = Vec::new();
    for i in 0..6 {
        // As our proxy would send it: the client's forged entry, then the address the proxy saw.
        let forwarded = format!("10.9.{i}.1, 113.161.10.25");
        let response = client
            .get(app.url("/s/0000000000000000"))
            .header("x-forwarded-for", forwarded)
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
        3,
        "{statuses:?}"
    );
    // Another real client behind the same proxy has its own budget.
    let response = client
        .get(app.url("/s/0000000000000000"))
        .header("x-forwarded-for", "14.160.5.9")
        .send()
        .await
        .unwrap();
    assert_ne!(response.status(), StatusCode::TOO_MANY_REQUESTS);
}

// ---------------------------------------------------------------- GTIN squatting

fn product_with_gtin(name: &str, gtin: &str) -> Value {
    let mut body = crate::support::product_body(name);
    body["gtin"] = json!(gtin);
    body
}

/// A stranger's unverified cooperative types a real brand's GTIN first: it blocks nobody, and
/// the brand's verified cooperative still gets it.
#[tokio::test]
async fn a_pending_cooperatives_gtin_claim_blocks_nobody() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let squatter = app.user("squatter@example.vn").await;
    let owner = app.user("owner@htx.vn").await;
    let (status, pending) = squatter
        .post(
            "/api/v1/cooperatives",
            crate::support::cooperative_body("5300000099", "Hợp tác xã Gia Phú Mới"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let pending = pending["id"].as_i64().unwrap();
    let gtin = "8934567890120";
    let (status, squatted) = squatter
        .post(
            &format!("/api/v1/cooperatives/{pending}/products"),
            product_with_gtin("Mật ong giả", gtin),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{squatted}");
    assert!(squatted["gtin"].is_null(), "a pending claim owns nothing");

    let coop = verified_cooperative(&admin, &owner, "5300000001", "Hợp tác xã A").await;
    let (status, real) = owner
        .post(
            &format!("/api/v1/cooperatives/{coop}/products"),
            product_with_gtin("Mật ong bạc hà", gtin),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "not blocked: {real}");
    assert_eq!(real["gtin"], gtin);

    // Verifying the squatter later does not take the GTIN away: it waits for an administrator.
    let (status, _) = admin
        .post(
            &format!("/api/v1/admin/cooperatives/{pending}/decision"),
            json!({"decision": "verify"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, real_again) = owner.get(&format!("/api/v1/products/{}", real["id"])).await;
    assert_eq!(real_again["gtin"], gtin);
    let (_, disputes) = admin.get("/api/v1/admin/gtin-disputes").await;
    assert_eq!(disputes[0]["gtin"], "08934567890120");
    assert_eq!(disputes[0]["owner"]["product_id"], real["id"]);
}

/// Two verified cooperatives on one GTIN: not first-come, but the administrators' decision.
#[tokio::test]
async fn a_second_verified_claim_waits_for_the_administrators() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let first = app.user("first@htx.vn").await;
    let second = app.user("second@htx.vn").await;
    let coop_1 = verified_cooperative(&admin, &first, "5300000001", "Hợp tác xã A").await;
    let coop_2 = verified_cooperative(&admin, &second, "5300000002", "Hợp tác xã B").await;
    let gtin = "8934567890120";
    let (_, one) = first
        .post(
            &format!("/api/v1/cooperatives/{coop_1}/products"),
            product_with_gtin("Chè Shan tuyết", gtin),
        )
        .await;
    let (status, two) = second
        .post(
            &format!("/api/v1/cooperatives/{coop_2}/products"),
            product_with_gtin("Chè Shan tuyết cổ thụ", gtin),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "not a 409: {two}");
    assert!(two["gtin"].is_null());
    assert_eq!(one["gtin"], gtin);

    let (status, disputes) = admin.get("/api/v1/admin/gtin-disputes").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(disputes.as_array().unwrap().len(), 1);
    assert_eq!(disputes[0]["claims"][0]["product_id"], two["id"]);
    let (status, _) = second.get("/api/v1/admin/gtin-disputes").await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, _) = admin
        .post(
            &format!("/api/v1/admin/gtins/{gtin}/owner"),
            json!({"product_id": two["id"]}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, one) = first.get(&format!("/api/v1/products/{}", one["id"])).await;
    let (_, two) = second.get(&format!("/api/v1/products/{}", two["id"])).await;
    assert!(one["gtin"].is_null());
    assert_eq!(two["gtin"], gtin);
    let (_, disputes) = admin.get("/api/v1/admin/gtin-disputes").await;
    assert_eq!(disputes, json!([]));

    // One cooperative cannot give one GTIN to two of its own products.
    let (status, _) = second
        .post(
            &format!("/api/v1/cooperatives/{coop_2}/products"),
            product_with_gtin("Chè khác", gtin),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

// ---------------------------------------------------------------- login budgets

/// Behind a trusted proxy on 127.0.0.1, requests carrying `X-Forwarded-For: {address}` come
/// from that address.
async fn spawn_behind_proxy(login_attempts_per_minute: u32) -> TestApp {
    TestApp::spawn_with(move |config| {
        config.proxies.trusted = vec!["127.0.0.1/32".parse().unwrap()];
        config.login_attempts_per_minute = login_attempts_per_minute;
    })
    .await
}

async fn login_from(app: &TestApp, address: &str, identifier: &str, password: &str) -> StatusCode {
    app.client()
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", address)
        .json(&json!({"identifier": identifier, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
}

/// Guessing a password from several addresses, spelling the phone a different way each time,
/// still spends one budget: the account's.
#[tokio::test]
async fn one_phone_spelt_many_ways_has_one_login_budget() {
    // Four attempts a minute; the victim's own login below spends one.
    let app = spawn_behind_proxy(4).await;
    let _victim = app.user("0912345678").await;
    let spellings = [
        "0912 345 678",
        "0912.345.678",
        "+84912345678",
        "84912345678",
    ];
    let mut statuses = Vec::new();
    for (i, spelling) in spellings.iter().enumerate() {
        statuses.push(
            login_from(
                &app,
                &format!("14.160.{i}.7"),
                spelling,
                "doan-sai-mat-khau",
            )
            .await,
        );
    }
    assert_eq!(
        statuses,
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::TOO_MANY_REQUESTS
        ],
        "the fourth guess, however spelt, is over the account's budget"
    );
}

/// Registration attempts that name the victim's phone cost the victim nothing: the victim can
/// still log in.
#[tokio::test]
async fn registration_attempts_cannot_lock_a_victim_out() {
    let app = spawn_behind_proxy(3).await;
    let victim = "0912345678";
    let _ = app.user(victim).await;
    let attacker = app.client();
    let mut refused = false;
    for _ in 0..8 {
        let status = attacker
            .post(app.url("/api/v1/auth/register"))
            .header("x-forwarded-for", "203.0.113.50")
            .json(
                &json!({"identifier": victim, "password": "mat-khau-bat-ky", "display_name": "X"}),
            )
            .send()
            .await
            .unwrap()
            .status();
        refused |= status == StatusCode::TOO_MANY_REQUESTS;
    }
    assert!(refused, "the attacker's own registrations are limited");
    assert_eq!(
        login_from(&app, "113.161.10.25", victim, crate::support::PASSWORD).await,
        StatusCode::OK,
        "the victim still logs in"
    );
}

/// Every address of one IPv6 /64 is one client.
#[tokio::test]
async fn an_ipv6_client_cannot_rotate_addresses_inside_its_64() {
    let app = spawn_behind_proxy(3).await;
    let _ = app.user("an@htx.vn").await;
    let mut statuses = Vec::new();
    for i in 0..4 {
        let address = format!("2402:800:6310:1a2b::{:x}", 0x100 + i);
        // A different account each time, so only the client budget can refuse.
        statuses
            .push(login_from(&app, &address, &format!("khach{i}@htx.vn"), "sai-mat-khau").await);
    }
    assert_eq!(statuses[3], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
}
