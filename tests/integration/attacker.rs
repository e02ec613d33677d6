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
