//! The province administrator: log in → verify a waiting cooperative → verify a waiting OCOP
//! certificate → the province dashboard (once it exists; until then the administration page).

use ocop_market::entities::{cooperatives, ocop_certificates, products};
use reqwest::StatusCode;
use sea_orm::EntityTrait;
use serde_json::json;

use crate::driver::{self, Browser, Setup};
use crate::support::TestApp;
use crate::world::{self, t};

const WAITING_COOP: &str = "HTX Gạo Séng Cù Mường Khương";

#[tokio::test]
async fn an_administrator_verifies_a_cooperative_and_a_certificate() {
    let app = world::app().await;
    let waiting = waiting_work(&app).await;
    let Some(browser) = driver::open(&app.base, Setup::phone("admin", true, "vi")).await else {
        return;
    };
    browser
        .run(move |b| async move { walk(b, app, waiting).await })
        .await;
}

struct Waiting {
    cooperative: i64,
    certificate: i64,
    product: i64,
}

/// A cooperative waiting for verification, and a 4-star certificate of another (verified)
/// cooperative's product waiting for the province.
async fn waiting_work(app: &TestApp) -> Waiting {
    let admin = app.admin().await;
    let newcomer = app.user("moi@htx.vn").await;
    let cooperative =
        world::pending_cooperative(&newcomer, "5300777001", WAITING_COOP, "02923").await;
    let owner = app.user("ong@htx.vn").await;
    let verified =
        world::verified_cooperative(&admin, &owner, "5300777002", "HTX Ong mật Gia Phú", "02923")
            .await;
    let product =
        world::published_product(&owner, verified, "Mật ong bạc hà Gia Phú", 250_000).await;
    let (status, cert) = owner
        .post(
            &format!("/api/v1/products/{product}/certificates"),
            json!({"stars": 4, "certificate_number": "1234/QĐ-UBND", "issuing_level": "province",
                   "issued_on": "2025-01-15", "expires_on": "2028-01-15"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{cert}");
    Waiting {
        cooperative,
        certificate: cert["id"].as_i64().unwrap(),
        product,
    }
}

async fn walk(mut b: Browser, app: TestApp, waiting: Waiting) {
    let lang = b.setup.lang;
    world::log_in(&mut b, "admin@test.vn").await;
    let admin = b.link_in("nav", t(lang, "nav.admin")).await;
    b.click(admin).await;
    assert_eq!(b.path().await, "/admin");
    b.sees(t(lang, "admin.pending_cooperatives")).await;
    b.sees(WAITING_COOP).await;
    b.sees("1234/QĐ-UBND").await;
    b.shot("admin-waiting").await;

    let verify = b
        .find(&format!(
            "#coop-{} button[value=verify]",
            waiting.cooperative
        ))
        .await;
    b.click(verify).await;
    let coop = cooperatives::Entity::find_by_id(waiting.cooperative)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(coop.status, "verified");
    assert!(coop.reviewed_at.is_some());
    // Now listed among the verified cooperatives, linked to its public page.
    b.find(&format!(
        "tr#coop-{} a[href=\"/cooperatives/{}\"]",
        coop.id, coop.slug
    ))
    .await;
    b.shot("cooperative-verified").await;

    let verify = b
        .find(&format!(
            "#cert-{} button[value=verify]",
            waiting.certificate
        ))
        .await;
    b.click(verify).await;
    let cert = ocop_certificates::Entity::find_by_id(waiting.certificate)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cert.status, "verified");
    let product = products::Entity::find_by_id(waiting.product)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        product.ocop_stars,
        Some(4),
        "the product now shows its stars"
    );
    assert!(
        b.find_all(&format!("#cert-{}", waiting.certificate))
            .await
            .is_empty(),
        "nothing left to decide for the certificate"
    );
    b.sees(t(lang, "admin.nothing_pending")).await;
    b.shot("certificate-verified").await;

    open_the_province_dashboard(&mut b).await;
}

/// The last step: the province dashboard (`/admin/dashboard`) is being built alongside; until
/// the administration page links to it, the journey ends on the administration page.
async fn open_the_province_dashboard(b: &mut Browser) {
    if b.find_all("main a[href=\"/admin/dashboard\"]")
        .await
        .is_empty()
    {
        driver::loud("administrator journey: no dashboard link yet; the journey ends on /admin");
        return;
    }
    let link = b.find("main a[href=\"/admin/dashboard\"]").await;
    b.click(link).await;
    assert_eq!(b.path().await, "/admin/dashboard");
    b.find("main svg").await;
    b.shot("dashboard").await;
}
