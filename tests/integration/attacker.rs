//! The system tried as an attacker would: each test is a scenario from the threat model
//! (`../shared/THREATS.md`) or from a review of the accounts and edges, and fails if the
//! defence it names is missing.

use reqwest::StatusCode;
use sea_orm::{EntityTrait, PaginatorTrait};
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

// ---------------------------------------------------------------- stamps

/// An app behind a trusted proxy on 127.0.0.1: test phones come from networks of their own.
async fn stamp_app() -> TestApp {
    TestApp::spawn_with(|config| {
        config.proxies.trusted = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await
}

/// A phone on its own network, with its own cookie jar (and an optional user agent).
fn phone_at(address: &str, user_agent: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-forwarded-for", address.parse().unwrap());
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .user_agent(user_agent)
        .build()
        .unwrap()
}

const ANDROID: &str = "Mozilla/5.0 (Linux; Android 12; SM-A135F) Mobile Safari/537.36";

async fn page(client: &reqwest::Client, url: &str) -> (StatusCode, String) {
    let response = client.get(url).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

/// A verified cooperative's published product with a GTIN, a batch and `count` stamps: the
/// owner, the cooperative and product ids, and the codes.
struct Stamped {
    owner: crate::support::User,
    admin: crate::support::User,
    coop: i64,
    product: i64,
    codes: Vec<String>,
}

async fn stamped(app: &TestApp, count: i64) -> Stamped {
    let admin = app.admin().await;
    let owner = app.user("owner@htx.vn").await;
    let coop = verified_cooperative(&admin, &owner, "5300000001", "Hợp tác xã Ong mật").await;
    let (_, product) = owner
        .post(
            &format!("/api/v1/cooperatives/{coop}/products"),
            product_with_gtin("Mật ong bạc hà", "8934567890120"),
        )
        .await;
    let product = product["id"].as_i64().unwrap();
    owner
        .post(&format!("/api/v1/products/{product}/publish"), json!({}))
        .await;
    let (status, batch) = owner
        .post(
            &format!("/api/v1/products/{product}/batches"),
            json!({"lot_code": "MO-01", "quantity": "100", "quantity_unit": "chai"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{batch}");
    let batch = batch["id"].as_i64().unwrap();
    let (status, roll) = owner
        .post(
            &format!("/api/v1/batches/{batch}/stamps"),
            json!({"count": count}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{roll}");
    let (_, stamps) = owner
        .get(&format!("/api/v1/batches/{batch}/stamps?per_page=1000"))
        .await;
    let codes = stamps["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["code"].as_str().unwrap().to_owned())
        .collect();
    Stamped {
        owner,
        admin,
        coop,
        product,
        codes,
    }
}

/// A stranger registers a look-alike cooperative: until the province verifies it, it can
/// neither issue nor print stamps, over the API or the pages.
#[tokio::test]
async fn an_unverified_cooperative_cannot_issue_or_print_stamps() {
    let app = stamp_app().await;
    let stranger = app.user("la@example.vn").await;
    let (_, coop) = stranger
        .post(
            "/api/v1/cooperatives",
            crate::support::cooperative_body("5300000077", "Hợp tác xã Nông nghiệp Gia Phú Mới"),
        )
        .await;
    let coop = coop["id"].as_i64().unwrap();
    let (_, product) = stranger
        .post(
            &format!("/api/v1/cooperatives/{coop}/products"),
            crate::support::product_body("Mật ong giả"),
        )
        .await;
    let product = product["id"].as_i64().unwrap();
    let (status, batch) = stranger
        .post(
            &format!("/api/v1/products/{product}/batches"),
            json!({"lot_code": "X-1", "quantity": "10", "quantity_unit": "chai"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{batch}");
    let batch = batch["id"].as_i64().unwrap();
    let (status, refused) = stranger
        .post(
            &format!("/api/v1/batches/{batch}/stamps"),
            json!({"count": 3}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["code"], "cooperative_not_verified");
    for path in ["labels.pdf", "stamps.csv"] {
        let (status, body) = stranger
            .get(&format!("/api/v1/batches/{batch}/{path}"))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{path}: {body}");
    }
    // The page says why, beside the form.
    let response = stranger
        .form(
            &format!("/workspace/batches/{batch}/stamps"),
            &[("count", "3")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let html = response.text().await.unwrap();
    assert!(html.contains("sau khi tỉnh xác minh"), "{html}");
    let stamps: u64 = ocop_market::entities::stamps::Entity::find()
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(stamps, 0, "nothing was issued");
}

/// Stamps of a cooperative the province suspends, or of a product taken off sale, read at
/// once as not vouched for, never with the genuine styling; they read genuine again when
/// vouched for again.
#[tokio::test]
async fn stamps_read_not_vouched_as_soon_as_the_province_stops_vouching() {
    let app = stamp_app().await;
    let s = stamped(&app, 3).await;
    let url = app.url(&format!("/s/{}", s.codes[0]));
    let phone = phone_at("14.160.1.9", ANDROID);
    let (_, html) = page(&phone, &url).await;
    assert!(html.contains("Hàng chính hãng"));

    let (status, _) = s
        .admin
        .post(
            &format!("/api/v1/admin/cooperatives/{}/decision", s.coop),
            json!({"decision": "suspend", "reason": "Bán hàng không rõ nguồn gốc"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, html) = page(&phone, &url).await;
    assert!(
        !html.contains("Hàng chính hãng"),
        "never genuine while suspended"
    );
    assert!(html.contains("Chưa được tỉnh bảo đảm"), "{html}");
    assert!(html.contains("tạm đình chỉ"));
    let (_, api) =
        crate::support::TestApp::admin_free_get(&app, &format!("/api/v1/scan/{}", s.codes[1]))
            .await;
    assert_eq!(api["verdict"]["kind"], "not_vouched");
    assert_eq!(api["verdict"]["reason"], "cooperative_suspended");

    s.admin
        .post(
            &format!("/api/v1/admin/cooperatives/{}/decision", s.coop),
            json!({"decision": "reinstate"}),
        )
        .await;
    let (_, html) = page(&phone, &url).await;
    assert!(html.contains("Hàng chính hãng"), "vouched for again");

    s.owner
        .post(
            &format!("/api/v1/products/{}/archive", s.product),
            json!({}),
        )
        .await;
    let (_, html) = page(&phone, &url).await;
    assert!(html.contains("ngừng bán"), "{html}");
    assert!(!html.contains("Hàng chính hãng"));
}

/// Walking the printed numbers of a lot's Digital Links, as a person or a crawler, shows
/// verdicts but never a code; the link that carries a code resolves to it.
#[tokio::test]
async fn walking_digital_link_serials_reveals_no_code() {
    let app = stamp_app().await;
    let s = stamped(&app, 5).await;
    let crawler = phone_at("203.0.113.8", "Mozilla/5.0 (compatible; Googlebot/2.1)");
    let person = phone_at("203.0.114.8", ANDROID);
    for client in [&crawler, &person] {
        for serial in 1..=5 {
            let (status, html) = page(
                client,
                &app.url(&format!("/01/08934567890120/10/MO-01/21/{serial}")),
            )
            .await;
            assert_eq!(status, StatusCode::OK);
            for code in &s.codes {
                assert!(
                    !html.contains(code.as_str()),
                    "serial {serial} showed a code"
                );
                assert!(!html.to_lowercase().contains(&code.to_lowercase()));
            }
        }
    }
    // The form printed from now on: the code itself as the serial.
    let (status, html) = page(
        &person,
        &app.url(&format!("/01/08934567890120/10/MO-01/21/{}", s.codes[2])),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(s.codes[2].as_str()),
        "the holder sees their code"
    );
    // Another lot's path, or another product's GTIN, names nothing.
    let (status, _) = page(
        &person,
        &app.url(&format!("/01/08934567890120/10/OTHER/21/{}", s.codes[2])),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A report from a numbered link's page goes to the stamp without showing its code.
    let response = person
        .post(app.url("/01/08934567890120/10/MO-01/21/4/report"))
        .header("sec-fetch-site", "same-origin")
        .form(&[("place_of_purchase", "Chợ Bắc Hà")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    for code in &s.codes {
        assert!(!html.contains(code.as_str()));
    }
    let reports = ocop_market::entities::fake_reports::Entity::find()
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(reports.len(), 1);
    assert!(reports[0].stamp_id.is_some(), "the report names the stamp");
}

/// One phone answering "where did you buy it?" with two provinces, or sharing two far-apart
/// positions, cannot flag a genuine stamp.
#[tokio::test]
async fn one_client_answering_two_provinces_cannot_flag_a_stamp() {
    let app = stamp_app().await;
    let s = stamped(&app, 1).await;
    let url = app.url(&format!("/s/{}", s.codes[0]));
    let prankster = phone_at("14.160.1.9", ANDROID);
    for query in [
        "?province=15",
        "?province=01",
        "?province=79",
        "?lat=22.48&lon=103.97",
        "?lat=10.78&lon=106.70",
    ] {
        let (_, html) = page(&prankster, &format!("{url}{query}")).await;
        assert!(!html.contains("Cảnh báo"), "{query}");
    }
    app.state.scans.flush().await;
    let stamp = ocop_market::entities::stamps::Entity::find()
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert!(!stamp.flagged);
    assert_eq!(stamp.distinct_clients, 1);
}

/// Fresh cookies, user agents, languages or API client ids from one network are one checker:
/// nobody can mint people.
#[tokio::test]
async fn minted_identities_from_one_network_count_once() {
    let app = stamp_app().await;
    let s = stamped(&app, 1).await;
    let url = app.url(&format!("/s/{}", s.codes[0]));
    for i in 0..8 {
        // A new phone each time (no cookie), each with its own model and language.
        let client = phone_at(
            "14.160.1.9",
            &format!("Mozilla/5.0 (Linux; Android 1{i}; X{i}) Mobile"),
        );
        client
            .get(&url)
            .header("accept-language", if i % 2 == 0 { "vi" } else { "en" })
            .send()
            .await
            .unwrap();
        client
            .get(app.url(&format!(
                "/api/v1/scan/{}?client_id=app-install-{i:04}",
                s.codes[0]
            )))
            .send()
            .await
            .unwrap();
    }
    app.state.scans.flush().await;
    let stamp = ocop_market::entities::stamps::Entity::find()
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stamp.distinct_clients, 1, "one network, one checker");
    assert!(!stamp.flagged);
    // A second network is a second checker.
    page(&phone_at("113.161.10.25", ANDROID), &url).await;
    app.state.scans.flush().await;
    let stamp = ocop_market::entities::stamps::Entity::find()
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stamp.distinct_clients, 2);
}

/// A flag is reviewed by the cooperative or the province with a reason, kept in an audit trail,
/// and comes back only on evidence from new checkers.
#[tokio::test]
async fn a_cleared_flag_returns_only_on_new_evidence() {
    let app = stamp_app().await;
    let s = stamped(&app, 1).await;
    let url = app.url(&format!("/s/{}", s.codes[0]));
    let family: Vec<reqwest::Client> = (0..5)
        .map(|i| phone_at(&format!("14.16{i}.1.9"), ANDROID))
        .collect();
    for phone in &family {
        page(phone, &url).await;
    }
    app.state.scans.flush().await;
    let (_, analytics) = s
        .owner
        .get(&format!("/api/v1/cooperatives/{}/scan-analytics", s.coop))
        .await;
    let flagged = &analytics["flagged"][0];
    assert_eq!(flagged["flag_reason"], "many_clients", "{analytics}");
    assert!(flagged.get("code").is_none(), "no code in the list");
    let stamp_id = flagged["stamp_id"].as_i64().unwrap();

    // Another cooperative cannot review it, and a reason is required.
    let rival = app.user("rival@htx.vn").await;
    let (status, _) = rival
        .post(
            &format!("/api/v1/stamps/{stamp_id}/flag-review"),
            json!({"decision": "confirm", "reason": "đối thủ"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = s
        .owner
        .post(
            &format!("/api/v1/stamps/{stamp_id}/flag-review"),
            json!({"decision": "clear", "reason": ""}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, review) = s
        .owner
        .post(
            &format!("/api/v1/stamps/{stamp_id}/flag-review"),
            json!({"decision": "clear", "reason": "Cả nhà cùng quét thử tem"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{review}");

    // The same five again: no new evidence, no flag.
    for phone in &family {
        let (_, html) = page(phone, &url).await;
        assert!(!html.contains("Cảnh báo"), "{html}");
    }
    // Five newcomers: new evidence.
    let mut last = String::new();
    for i in 0..5 {
        last = page(&phone_at(&format!("27.72.{i}.9"), ANDROID), &url)
            .await
            .1;
    }
    assert!(last.contains("Cảnh báo"), "flagged again by new checkers");

    // The province confirms; the audit trail keeps both decisions.
    let (status, _) = s
        .admin
        .post(
            &format!("/api/v1/stamps/{stamp_id}/flag-review"),
            json!({"decision": "confirm", "reason": "Bán tràn lan ở chợ biên giới"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, html) = page(&family[0], &url).await;
    assert!(html.contains("Mã đã bị sao chép"), "{html}");
    let (_, trail) = s
        .owner
        .get(&format!("/api/v1/stamps/{stamp_id}/flag-reviews"))
        .await;
    let decisions: Vec<&str> = trail
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["decision"].as_str().unwrap())
        .collect();
    assert_eq!(decisions, ["confirm", "clear"]);
    assert_eq!(trail[0]["by_administrator"], true);
}

/// A flood of anonymous POSTs (a logout needs no session) does not empty the scan caches:
/// only writes that change what they hold do, and only those entries.
#[tokio::test]
async fn anonymous_posts_do_not_clear_the_caches() {
    let app = stamp_app().await;
    let s = stamped(&app, 1).await;
    let url = app.url(&format!("/s/{}", s.codes[0]));
    let phone = phone_at("14.160.1.9", ANDROID);
    page(&phone, &url).await;
    // Behind the app's back (no write through it), the product is renamed.
    use sea_orm::{ActiveModelTrait, Set};
    let product = ocop_market::entities::products::Entity::find_by_id(s.product)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let mut renamed: ocop_market::entities::products::ActiveModel = product.into();
    renamed.name = Set("Tên đổi ngầm".into());
    renamed.update(app.db()).await.unwrap();
    for _ in 0..5 {
        let response = app
            .client()
            .post(app.url("/logout"))
            .header("sec-fetch-site", "same-origin")
            .send()
            .await
            .unwrap();
        assert!(response.status().is_redirection() || response.status().is_success());
    }
    let (_, html) = page(&phone, &url).await;
    assert!(
        html.contains("Mật ong bạc hà") && !html.contains("Tên đổi ngầm"),
        "the origin was still served from the cache"
    );
    // A write that changes the product does reach it.
    s.owner
        .post(
            &format!("/api/v1/products/{}/archive", s.product),
            json!({}),
        )
        .await;
    let (_, html) = page(&phone, &url).await;
    assert!(
        html.contains("Tên đổi ngầm"),
        "the edit's change forgot the origin"
    );
}

/// A URL with a bad signature costs the server a database read of old keys: it is
/// rate-limited like any scan, before that read.
#[tokio::test]
async fn bad_signed_stamp_urls_are_rate_limited() {
    let app = TestApp::spawn_with(|config| config.scans_per_minute = 3).await;
    let client = app.client();
    let mut statuses = Vec::new();
    for i in 0..5 {
        let response = client
            .get(app.url(&format!("/s/0000000000000000/LOT/{i}/AAAAAAAAAAAAAAAA")))
            .send()
            .await
            .unwrap();
        statuses.push(response.status());
    }
    assert_eq!(statuses[3], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
}

// ---------------------------------------------------------------- slow clients

/// A client that opens a request and stalls its body is cut off (408 or the connection
/// closed) after the body timeout, holding nothing.
#[tokio::test]
async fn a_stalled_request_body_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_with(|config| {
        config.timeouts.body = std::time::Duration::from_secs(1);
        config.timeouts.headers = std::time::Duration::from_secs(1);
    })
    .await;
    let address = app.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    stream
        .write_all(
            b"POST /api/v1/auth/login HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"identi",
        )
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await;
    assert!(read.is_ok(), "the server kept the stalled connection open");
    assert!(started.elapsed() < std::time::Duration::from_secs(8));
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408") || text.starts_with("HTTP/1.1 400"),
        "{text}"
    );

    // Headers that never finish are cut off too.
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut rest),
    )
    .await;
    assert!(read.is_ok(), "the server kept half-sent headers open");
}

// ---------------------------------------------------------------- checkout keys

/// Sending a `checkout_key` again returns that checkout's payment page, so a short key would
/// let a stranger guess their way into someone else's payment: keys under 16 characters are
/// refused with the field named, and a 16-character key works.
#[tokio::test]
async fn a_guessable_checkout_key_is_refused() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let owner = app.user("owner@htx.vn").await;
    let cooperative =
        verified_cooperative(&admin, &owner, "5100000071", "HTX Mật ong Gia Phú").await;
    let (product, _) =
        crate::support::published_product(&owner, cooperative, "Mật ong bạc hà").await;
    let shopper = app.user("shopper@example.vn").await;
    let (status, cart) = shopper
        .post(
            "/api/v1/cart/items",
            json!({"product_id": product, "quantity": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cart}");
    let checkout = |key: &str| {
        json!({
            "recipient_name": "Nguyễn Thị Lan",
            "recipient_phone": "0912345678",
            "province_code": "15",
            "commune_code": "02923",
            "street": "Thôn Cóc 1",
            "payment_method": "vietqr",
            "checkout_key": key,
        })
    };
    for short in ["1", "order-42", "fifteen-chars-x"] {
        let (status, problem) = shopper.post("/api/v1/checkout", checkout(short)).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{short}: {problem}"
        );
        assert!(
            crate::support::names_field(&problem, "checkout_key"),
            "{problem}"
        );
    }
    let (status, body) = shopper
        .post("/api/v1/checkout", checkout("sixteen-chars-ok"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}
