//! Fake reports are worked to an outcome: by the cooperative whose stamp was reported and by
//! the province, never by anyone else, and the reporter who left a contact hears the outcome
//! once, without anyone seeing their contact.

use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::support::{TestApp, User, names_field, published_product, verified_cooperative};
use ocop_market::entities::message_outbox;

const CONTACT: &str = "nguoi.mua@example.vn";

struct Setup {
    app: TestApp,
    admin: User,
    owner: User,
    cooperative: i64,
    code: String,
}

async fn setup() -> Setup {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let owner = app.user("owner@htx.vn").await;
    let cooperative =
        verified_cooperative(&admin, &owner, "5300123456", "Hợp tác xã Ong mật Gia Phú").await;
    let (product, _) = published_product(&owner, cooperative, "Mật ong bạc hà").await;
    let (status, batch) = owner
        .post(
            &format!("/api/v1/products/{product}/batches"),
            json!({"lot_code": "mo-2025-11", "harvested_on": "2025-10-20", "quantity": "500", "quantity_unit": "chai"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{batch}");
    let batch = batch["id"].as_i64().unwrap();
    let (status, roll) = owner
        .post(
            &format!("/api/v1/batches/{batch}/stamps"),
            json!({"count": 1, "signed": false}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{roll}");
    let (_, stamps) = owner.get(&format!("/api/v1/batches/{batch}/stamps")).await;
    let code = stamps["items"][0]["code"].as_str().unwrap().to_owned();
    Setup {
        app,
        admin,
        owner,
        cooperative,
        code,
    }
}

async fn report(app: &TestApp, code: &str, contact: &str) -> (StatusCode, Value) {
    crate::support::into_json(
        app.client()
            .post(app.url(&format!("/api/v1/scan/{code}/reports")))
            .json(&json!({"place_of_purchase": "Chợ Cốc Lếu", "seller": "Chị Lan", "contact": contact}))
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn outcome_messages(app: &TestApp) -> Vec<message_outbox::Model> {
    message_outbox::Entity::find()
        .filter(message_outbox::Column::Template.eq("fake_report_outcome"))
        .all(app.db())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_report_is_worked_by_its_cooperative_and_the_reporter_hears_the_outcome_once() {
    let Setup {
        app,
        owner,
        cooperative,
        code,
        ..
    } = setup().await;

    // A contact that is neither an e-mail address nor a mobile number is refused by name.
    let (status, problem) = report(&app, &code, "gọi cho tôi").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(names_field(&problem, "contact"), "{problem}");
    let (status, _) = report(&app, &code, CONTACT).await;
    assert_eq!(status, StatusCode::ACCEPTED);

    let (status, list) = owner
        .get(&format!(
            "/api/v1/fake-reports?cooperative_id={cooperative}"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let reports = list.as_array().unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0]["status"], "new");
    assert_eq!(reports[0]["reporter_waits_for_outcome"], true);
    assert!(
        !list.to_string().contains(CONTACT),
        "the reporter's contact is never shown: {list}"
    );
    let id = reports[0]["id"].as_i64().unwrap();

    // Bad steps are refused, each naming its field, and change nothing.
    for (body, field) in [
        (json!({"status": "closed", "note": "Đã xem"}), "status"),
        (json!({"status": "looking", "note": "x"}), "note"),
    ] {
        let (status, problem) = owner
            .post(&format!("/api/v1/fake-reports/{id}/notes"), body)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert!(names_field(&problem, field), "{problem}");
    }

    // Looking into it tells the reporter nothing yet.
    let (status, detail) = owner
        .post(
            &format!("/api/v1/fake-reports/{id}/notes"),
            json!({"status": "looking", "note": "Đã liên hệ người bán ở chợ Cốc Lếu"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["status"], "looking");
    assert!(outcome_messages(&app).await.is_empty());

    // The outcome is told once, to the contact left, in the reporter's language.
    for note in [
        "Tem in lại, không phải tem của hợp tác xã",
        "Đã báo quản lý thị trường",
    ] {
        let (status, detail) = owner
            .post(
                &format!("/api/v1/fake-reports/{id}/notes"),
                json!({"status": "confirmed_fake", "note": note}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{detail}");
    }
    let messages = outcome_messages(&app).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0].recipient, CONTACT);
    assert_eq!(messages[0].channel, "email");
    assert_eq!(messages[0].locale, "vi");
    assert!(messages[0].params.contains("Mật ong bạc hà"));
    assert!(messages[0].params.contains("Xác nhận là hàng giả"));

    let (status, detail) = owner.get(&format!("/api/v1/fake-reports/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["status"], "confirmed_fake");
    let notes = detail["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 3);
    assert_eq!(notes[0]["status"], "looking");
    assert_eq!(notes[0]["by_administrator"], false);

    // The workspace page shows the status and the history, never the contact.
    let (status, html) = owner
        .page(&format!("/workspace/cooperatives/{cooperative}/scans"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Xác nhận là hàng giả"));
    assert!(html.contains("Đã báo quản lý thị trường"));
    assert!(!html.contains(CONTACT));
}

#[tokio::test]
async fn a_rival_a_stranger_and_a_bystander_see_and_change_nothing() {
    let Setup {
        app,
        admin,
        owner,
        cooperative,
        code,
    } = setup().await;
    report(&app, &code, "0912345678").await;
    // A report of a code nobody issued belongs to no cooperative: only the province sees it.
    let (status, _) = report(&app, "0000000000000000", "").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (_, mine) = owner.get("/api/v1/fake-reports").await;
    assert_eq!(mine.as_array().unwrap().len(), 1, "{mine}");
    let id = mine[0]["id"].as_i64().unwrap();

    let rival = app.user("rival@htx.vn").await;
    verified_cooperative(&admin, &rival, "5300999888", "Hợp tác xã Mật ong Đối Thủ").await;
    let bystander = app.user("bystander@example.vn").await;
    for outsider in [&rival, &bystander] {
        let (status, list) = outsider.get("/api/v1/fake-reports").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(list, json!([]), "sees no one else's reports");
        let (status, _) = outsider
            .get(&format!(
                "/api/v1/fake-reports?cooperative_id={cooperative}"
            ))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = outsider.get(&format!("/api/v1/fake-reports/{id}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = outsider
            .post(
                &format!("/api/v1/fake-reports/{id}/notes"),
                json!({"status": "not_fake", "note": "Hàng thật, đóng báo cáo"}),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let response = outsider
            .form(
                &format!("/workspace/fake-reports/{id}"),
                &[("status", "not_fake"), ("note", "Hàng thật, đóng báo cáo")],
            )
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    let (status, _) = crate::support::into_json(
        app.client()
            .get(app.url("/api/v1/fake-reports"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, detail) = owner.get(&format!("/api/v1/fake-reports/{id}")).await;
    assert_eq!(detail["status"], "new", "nothing moved it");
    assert!(outcome_messages(&app).await.is_empty());

    // The province sees both, and its outcome reaches the reporter by SMS.
    let (_, all) = admin.get("/api/v1/fake-reports").await;
    assert_eq!(all.as_array().unwrap().len(), 2, "{all}");
    let (_, unknown) = admin.get("/api/v1/fake-reports?status=new").await;
    assert_eq!(unknown.as_array().unwrap().len(), 2);
    let (status, problem) = admin.get("/api/v1/fake-reports?status=whatever").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(names_field(&problem, "status"), "{problem}");
    let (status, detail) = admin
        .post(
            &format!("/api/v1/fake-reports/{id}/notes"),
            json!({"status": "not_fake", "note": "Tem thật, người mua quét nhầm mã khác"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["notes"][0]["by_administrator"], true);
    let messages = outcome_messages(&app).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].recipient, "0912345678");
    assert_eq!(messages[0].channel, "sms");
}

#[tokio::test]
async fn the_workspace_form_shows_its_errors_beside_the_field_without_javascript() {
    let Setup {
        app,
        owner,
        cooperative,
        code,
        ..
    } = setup().await;
    report(&app, &code, "").await;
    let (_, mine) = owner.get("/api/v1/fake-reports").await;
    let id = mine[0]["id"].as_i64().unwrap();
    assert_eq!(mine[0]["reporter_waits_for_outcome"], false);
    let response = owner
        .form(
            &format!("/workspace/fake-reports/{id}"),
            &[("status", "looking"), ("note", "")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(html.contains("id=\"note-error\""), "{html}");
    let response = owner
        .form(
            &format!("/workspace/fake-reports/{id}"),
            &[("status", "looking"), ("note", "Đang hỏi người bán")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!("/workspace/cooperatives/{cooperative}/scans")),
        "{location}"
    );
    let (_, html) = owner.page(&location).await;
    assert!(html.contains("Đang xác minh"));
    // No contact was left: no outcome message is asked for.
    owner
        .form(
            &format!("/workspace/fake-reports/{id}"),
            &[("status", "not_fake"), ("note", "Tem thật")],
        )
        .await;
    assert!(outcome_messages(&app).await.is_empty());
}
