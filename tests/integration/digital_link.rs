//! The GS1 Digital Link resolver over HTTP: a trade item `/01/{gtin}`, a lot
//! `/01/{gtin}/10/{lot}` and a stamp `/01/{gtin}/10/{lot}/21/{serial}`, their linksets (checked
//! with the Digital Link grammar and as JSON), and label rolls that print the Digital Link form.

use ocop_market::domain::DigitalLink;
use ocop_market::trace::labels::raster::rasterise_first_page;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, LINK, LOCATION};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::support::{TestApp, User, verified_cooperative};

const GTIN: &str = "08934567890120";
const LOT: &str = "MO-2025-11";
const LINKSET: &str = "application/linkset+json";
const ANDROID: &str = "Mozilla/5.0 (Linux; Android 12; SM-A135F) Mobile Safari/537.36";

/// A verified cooperative's published product with GTIN 8934567890120, one lot of it with a
/// certification and a trace event, and `count` stamps.
struct Resolver {
    app: TestApp,
    owner: User,
    admin: User,
    product: i64,
    slug: String,
    batch: i64,
    codes: Vec<String>,
}

async fn resolver(count: i64) -> Resolver {
    let app = TestApp::spawn_with(|config| {
        config.proxies.trusted = vec!["127.0.0.1/32".parse().unwrap()];
        config.scans_per_minute = 10_000;
    })
    .await;
    let admin = app.admin().await;
    let owner = app.user("owner@htx.vn").await;
    let coop =
        verified_cooperative(&admin, &owner, "5300123456", "Hợp tác xã Ong mật Gia Phú").await;
    let (status, product) = owner
        .post(
            &format!("/api/v1/cooperatives/{coop}/products"),
            json!({"name": "Mật ong bạc hà Gia Phú", "short_name": "Mật ong bạc hà",
                   "category_code": "food-processed", "price_vnd": 250000, "unit": "chai 500 ml",
                   "stock_quantity": 40, "gtin": "8934567890120"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{product}");
    let product_id = product["id"].as_i64().unwrap();
    let slug = product["slug"].as_str().unwrap().to_owned();
    owner
        .post(&format!("/api/v1/products/{product_id}/publish"), json!({}))
        .await;
    let (status, batch) = owner
        .post(
            &format!("/api/v1/products/{product_id}/batches"),
            json!({"lot_code": LOT, "harvested_on": "2025-10-20", "best_before": "2027-10-20",
                   "quantity": "500", "quantity_unit": "chai", "certifications": "VietGAP"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{batch}");
    let batch = batch["id"].as_i64().unwrap();
    let (status, event) = owner
        .post(
            &format!("/api/v1/batches/{batch}/events"),
            json!({"event_type": "commissioning", "occurred_at": "2025-10-20T06:00:00+07:00",
                   "actor": "Tổ ong thôn Cóc"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{event}");
    let mut codes = Vec::new();
    if count > 0 {
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
        codes = stamps["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["code"].as_str().unwrap().to_owned())
            .collect();
    }
    Resolver {
        app,
        owner,
        admin,
        product: product_id,
        slug,
        batch,
        codes,
    }
}

/// A phone on its own network, which follows no redirect.
fn phone(address: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-forwarded-for", address.parse().unwrap());
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .user_agent(ANDROID)
        .build()
        .unwrap()
}

async fn get(client: &reqwest::Client, url: &str) -> reqwest::Response {
    client.get(url).send().await.unwrap()
}

/// The linkset of `url`, checked as RFC 9264 JSON of a GS1-conformant resolver: one context
/// whose anchor is `url`, a canonical GS1 Digital Link; keys that are GS1 link types; absolute
/// HTML targets in Vietnamese and English. Answers the context object.
async fn linkset_of(client: &reqwest::Client, app: &TestApp, url: &str) -> Value {
    linkset_of_gtin(client, app, url, GTIN).await
}

async fn linkset_of_gtin(client: &reqwest::Client, app: &TestApp, url: &str, gtin: &str) -> Value {
    let response = client
        .get(url)
        .header(ACCEPT, LINKSET)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{url}");
    assert_eq!(response.headers()[CONTENT_TYPE], LINKSET);
    let document: Value = response.json().await.unwrap();
    let contexts = document["linkset"].as_array().expect("a linkset array");
    assert_eq!(contexts.len(), 1, "{document}");
    let context = contexts[0].as_object().unwrap();
    assert_eq!(context["anchor"], url);
    let parsed = DigitalLink::parse_uri(url).expect("the anchor is a GS1 Digital Link");
    assert!(parsed.canonical_path, "{url}");
    assert_eq!(parsed.link.gtin.as_gtin14(), gtin);
    for (key, targets) in context.iter().filter(|(k, _)| k.as_str() != "anchor") {
        let name = key
            .strip_prefix("https://gs1.org/voc/")
            .unwrap_or_else(|| panic!("{key} is not a GS1 link type"));
        assert!(
            [
                "pip",
                "traceability",
                "certificationInfo",
                "recallStatus",
                "defaultLink"
            ]
            .contains(&name),
            "{key}"
        );
        let targets = targets.as_array().unwrap();
        assert!(!targets.is_empty());
        for target in targets {
            let href = target["href"].as_str().unwrap();
            assert!(href.starts_with(&app.url("/")), "absolute: {href}");
            assert_eq!(target["type"], "text/html");
            assert_eq!(target["hreflang"], json!(["vi", "en"]));
            assert!(!target["title"].as_str().unwrap().is_empty());
        }
    }
    // The same document by query, for a client that cannot set headers.
    let by_query: Value = get(client, &format!("{url}?linkType=linkset"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_query, document);
    Value::Object(context.clone())
}

fn hrefs(context: &Value, link_type: &str) -> Vec<String> {
    context[format!("https://gs1.org/voc/{link_type}")]
        .as_array()
        .map(|targets| {
            targets
                .iter()
                .map(|t| t["href"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn linkset_header(response: &reqwest::Response, anchor: &str) {
    let link = response.headers()[LINK].to_str().unwrap();
    assert_eq!(
        link,
        format!("<{anchor}?linkType=linkset>; rel=\"linkset\"; type=\"{LINKSET}\"")
    );
}

async fn scans_recorded(app: &TestApp) -> (u64, i64) {
    use ocop_market::entities::{scans, stamps};
    let scans = scans::Entity::find().count(app.db()).await.unwrap();
    let counted: i64 = stamps::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .iter()
        .map(|s| s.scan_count + i64::from(s.distinct_clients))
        .sum();
    (scans, counted)
}

#[tokio::test]
async fn a_trade_item_link_opens_its_product_with_the_size_chosen() {
    let r = resolver(0).await;
    let phone = phone("100.64.1.9");
    let item = r.app.url(&format!("/01/{GTIN}"));
    let response = get(&phone, &item).await;
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    linkset_header(&response, &item);
    let variant = ocop_market::entities::product_variants::Entity::find()
        .filter(ocop_market::entities::product_variants::Column::ProductId.eq(r.product))
        .one(r.app.db())
        .await
        .unwrap()
        .unwrap();
    let product_page = r
        .app
        .url(&format!("/products/{}?variant={}", r.slug, variant.id));
    assert_eq!(response.headers()[LOCATION], product_page.as_str());
    let response = get(&phone, &product_page).await;
    assert_eq!(response.status(), StatusCode::OK);

    // GTIN-13, -12 and -8 forms of the number go to the 14-digit form, query kept.
    let response = get(&phone, &r.app.url("/01/8934567890120?linkType=gs1:pip")).await;
    assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(
        response.headers()[LOCATION],
        format!("/01/{GTIN}?linkType=gs1:pip").as_str()
    );

    // A wrong check digit, or a number no product owns: a page for people, a problem for
    // programs.
    for path in ["/01/08934567890121", "/01/04006381333931", "/01/abc"] {
        let response = get(&phone, &r.app.url(path)).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(
            response.headers()[CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let response = phone
            .get(r.app.url(path))
            .header(ACCEPT, LINKSET)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(response.headers()[CONTENT_TYPE], "application/problem+json");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["code"], "not_found", "{problem}");
    }
}

/// Each size owns its GTIN: its link opens the product page with that size chosen, and the
/// certificate is named once the province verified it.
#[tokio::test]
async fn a_size_link_chooses_its_size_and_names_the_verified_certificate() {
    let r = resolver(0).await;
    let (status, second) = r
        .owner
        .post(
            &format!("/api/v1/products/{}/variants", r.product),
            json!({"label": "chai 1 l", "price_vnd": 450000, "weight_grams": 1300,
                   "stock_quantity": 5, "gtin": "8934567890137"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    let second = second["id"].as_i64().unwrap();
    let phone = phone("100.64.5.9");
    let response = get(&phone, &r.app.url("/01/08934567890137")).await;
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    let location = response.headers()[LOCATION].to_str().unwrap().to_owned();
    assert_eq!(
        location,
        r.app.url(&format!("/products/{}?variant={second}", r.slug))
    );
    let html = get(&phone, &location).await.text().await.unwrap();
    assert!(
        html.contains(&format!("value=\"{second}\" checked")),
        "the size named is chosen: {html}"
    );
    let html = get(&phone, &r.app.url(&format!("/products/{}", r.slug)))
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains(&format!("value=\"{second}\" checked")));

    let item = r.app.url("/01/08934567890137");
    let context = linkset_of_gtin(&phone, &r.app, &item, "08934567890137").await;
    assert!(hrefs(&context, "certificationInfo").is_empty());
    assert!(
        hrefs(&context, "traceability").is_empty(),
        "no lot of this size"
    );
    let (status, cert) = r
        .owner
        .post(
            &format!("/api/v1/products/{}/certificates", r.product),
            json!({"stars": 4, "certificate_number": "2857/QĐ-UBND", "issuing_level": "province",
                   "issued_on": "2025-01-10", "expires_on": "2028-01-10"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{cert}");
    let context = linkset_of_gtin(&phone, &r.app, &item, "08934567890137").await;
    assert!(
        hrefs(&context, "certificationInfo").is_empty(),
        "not verified yet"
    );
    let (status, _) = r
        .admin
        .post(
            &format!("/api/v1/admin/certificates/{}/decision", cert["id"]),
            json!({"decision": "verify"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let context = linkset_of_gtin(&phone, &r.app, &item, "08934567890137").await;
    assert_eq!(
        hrefs(&context, "certificationInfo"),
        vec![format!("{location}#certificate")]
    );
    let html = get(&phone, &location).await.text().await.unwrap();
    assert!(html.contains("id=\"certificate\""));
}

#[tokio::test]
async fn linksets_of_the_three_forms_name_the_pages_that_exist() {
    let r = resolver(3).await;
    let phone = phone("100.64.2.9");
    let item = r.app.url(&format!("/01/{GTIN}"));
    let lot = r.app.url(&format!("/01/{GTIN}/10/{LOT}"));
    let stamp = r.app.url(&format!("/01/{GTIN}/10/{LOT}/21/2"));
    let product_page = |suffix: &str| format!("{}{suffix}", hrefs_prefix(&r.app, &r.slug));

    let context = linkset_of(&phone, &r.app, &item).await;
    assert_eq!(hrefs(&context, "pip").len(), 1);
    assert!(hrefs(&context, "pip")[0].starts_with(&product_page("")));
    assert_eq!(hrefs(&context, "defaultLink"), hrefs(&context, "pip"));
    assert!(hrefs(&context, "traceability")[0].ends_with("#origin"));
    assert!(
        hrefs(&context, "certificationInfo").is_empty(),
        "no OCOP certificate"
    );
    assert!(
        hrefs(&context, "recallStatus").is_empty(),
        "a recall is of a lot"
    );

    let context = linkset_of(&phone, &r.app, &lot).await;
    assert_eq!(hrefs(&context, "defaultLink"), vec![lot.clone()]);
    assert_eq!(
        hrefs(&context, "traceability"),
        vec![format!("{lot}#trace")]
    );
    assert_eq!(
        hrefs(&context, "certificationInfo"),
        vec![format!("{lot}#certifications")]
    );
    assert_eq!(
        hrefs(&context, "recallStatus"),
        vec![format!("{lot}#recall")]
    );
    assert!(hrefs(&context, "pip")[0].starts_with(&product_page("")));

    let context = linkset_of(&phone, &r.app, &stamp).await;
    assert_eq!(hrefs(&context, "defaultLink"), vec![stamp.clone()]);
    assert_eq!(
        hrefs(&context, "recallStatus"),
        vec![format!("{lot}#recall")]
    );
    let text = context.to_string();
    for code in &r.codes {
        assert!(
            !text.contains(code.as_str()),
            "a numbered link names no code"
        );
    }
    // The form with the code: the holder's own address, nothing more.
    let with_code = r.app.url(&format!("/01/{GTIN}/10/{LOT}/21/{}", r.codes[1]));
    let context = linkset_of(&phone, &r.app, &with_code).await;
    assert_eq!(hrefs(&context, "defaultLink"), vec![with_code.clone()]);

    // Every page the linksets name answers.
    for url in [&lot, &stamp] {
        let response = get(&phone, url).await;
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        linkset_header(&response, url);
    }

    // A link type redirects to its link; one the item does not have, to the default link.
    let response = get(&phone, &format!("{lot}?linkType=gs1:recallStatus")).await;
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(
        response.headers()[LOCATION],
        format!("{lot}#recall").as_str()
    );
    let response = get(&phone, &format!("{stamp}?linkType=https://gs1.org/voc/pip")).await;
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert!(
        response.headers()[LOCATION]
            .to_str()
            .unwrap()
            .starts_with(&product_page(""))
    );
    let response = get(&phone, &format!("{item}?linkType=gs1:recallStatus")).await;
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert!(
        response.headers()[LOCATION]
            .to_str()
            .unwrap()
            .starts_with(&product_page(""))
    );
}

fn hrefs_prefix(app: &TestApp, slug: &str) -> String {
    app.url(&format!("/products/{slug}?variant="))
}

#[tokio::test]
async fn an_unowned_or_pending_gtin_names_nothing() {
    let app = TestApp::spawn().await;
    let owner = app.user("cho@htx.vn").await;
    // A cooperative the province has not verified: its GTIN is only claimed.
    let (status, coop) = owner
        .post(
            "/api/v1/cooperatives",
            crate::support::cooperative_body("5300999999", "Hợp tác xã Chờ"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{coop}");
    let coop = coop["id"].as_i64().unwrap();
    let (status, product) = owner
        .post(
            &format!("/api/v1/cooperatives/{coop}/products"),
            json!({"name": "Mật ong chờ", "category_code": "food-processed", "price_vnd": 100000,
                   "unit": "chai", "stock_quantity": 1, "gtin": "8934567890120"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{product}");
    let product = product["id"].as_i64().unwrap();
    let (status, batch) = owner
        .post(
            &format!("/api/v1/products/{product}/batches"),
            json!({"lot_code": LOT, "quantity": "10", "quantity_unit": "chai"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{batch}");
    let client = app.client();
    for path in [
        format!("/01/{GTIN}"),
        format!("/01/{GTIN}/10/{LOT}"),
        format!("/01/{GTIN}/10/{LOT}/21/1"),
    ] {
        let response = get(&client, &app.url(&path)).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        let response = client
            .get(app.url(&path))
            .header(ACCEPT, LINKSET)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        let body = response.text().await.unwrap();
        assert!(!body.contains("Mật ong chờ"), "{body}");
    }
}

#[tokio::test]
async fn the_lot_page_shows_the_origin_counts_no_scan_and_shows_no_code() {
    let r = resolver(4).await;
    let lot = r.app.url(&format!("/01/{GTIN}/10/{LOT}"));
    for (i, address) in ["100.64.3.9", "100.65.3.9", "100.66.3.9"]
        .iter()
        .enumerate()
    {
        let phone = phone(address);
        let response = get(&phone, &lot).await;
        assert_eq!(response.status(), StatusCode::OK);
        let html = response.text().await.unwrap();
        assert!(html.contains("Mật ong bạc hà Gia Phú"));
        assert!(html.contains(LOT));
        assert!(html.contains("chai 500 ml"), "the size");
        assert!(html.contains("VietGAP"));
        assert!(html.contains("Tổ ong thôn Cóc"), "the trace timeline");
        assert!(html.contains("20/10/2025") && html.contains("20/10/2027"));
        assert!(html.contains("id=\"recall\""));
        for code in &r.codes {
            assert!(!html.contains(code.as_str()), "phone {i} saw a code");
        }
        // Its linkset and its links neither.
        let context = linkset_of(&phone, &r.app, &lot).await;
        assert!(
            r.codes
                .iter()
                .all(|c| !context.to_string().contains(c.as_str()))
        );
        get(&phone, &format!("{lot}?linkType=gs1:traceability")).await;
    }
    // A lower-case lot is the same lot, at its canonical address.
    let response = get(
        &phone("100.67.3.9"),
        &r.app.url(&format!("/01/{GTIN}/10/mo-2025-11")),
    )
    .await;
    assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(
        response.headers()[LOCATION],
        format!("/01/{GTIN}/10/{LOT}").as_str()
    );
    assert_eq!(
        scans_recorded(&r.app).await,
        (0, 0),
        "no scan recorded or counted"
    );
    // A stamp scan still counts, so the check above could fail.
    let (status, _) = {
        let response = get(
            &phone("100.68.3.9"),
            &r.app.url(&format!("/01/{GTIN}/10/{LOT}/21/1")),
        )
        .await;
        (response.status(), response.text().await.unwrap())
    };
    assert_eq!(status, StatusCode::OK);
    crate::support::eventually(|| async { scans_recorded(&r.app).await.0 == 1 }).await;
}

/// Walking lot codes, as a person or a crawler, shows lots but never a code, and an unknown
/// lot is 404; nothing of it is counted as a scan.
#[tokio::test]
async fn walking_lots_reveals_no_codes() {
    let r = resolver(5).await;
    let crawler = {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.8".parse().unwrap());
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .user_agent("Mozilla/5.0 (compatible; Googlebot/2.1)")
            .build()
            .unwrap()
    };
    let person = phone("203.0.114.8");
    for client in [&crawler, &person] {
        for lot in [LOT, "MO-2025-10", "MO-2025-12", "MO-01", "X"] {
            for accept in ["text/html", LINKSET, "application/json"] {
                let response = client
                    .get(r.app.url(&format!("/01/{GTIN}/10/{lot}")))
                    .header(ACCEPT, accept)
                    .send()
                    .await
                    .unwrap();
                let status = response.status();
                let headers = format!("{:?}", response.headers());
                let body = response.text().await.unwrap();
                if lot == LOT {
                    assert_eq!(status, StatusCode::OK);
                } else {
                    assert_eq!(status, StatusCode::NOT_FOUND, "{lot}");
                }
                for code in &r.codes {
                    for text in [&body, &headers] {
                        assert!(!text.contains(code.as_str()), "{lot} {accept}");
                        assert!(!text.to_lowercase().contains(&code.to_lowercase()));
                    }
                }
            }
        }
        for serial in 1..=5 {
            let response = client
                .get(r.app.url(&format!("/01/{GTIN}/10/{LOT}/21/{serial}")))
                .header(ACCEPT, LINKSET)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let headers = format!("{:?}", response.headers());
            let body = response.text().await.unwrap();
            for code in &r.codes {
                assert!(!body.contains(code.as_str()) && !headers.contains(code.as_str()));
            }
        }
    }
    assert_eq!(scans_recorded(&r.app).await, (0, 0));
}

#[tokio::test]
async fn a_digital_link_label_roll_decodes_back_to_its_urls() {
    let r = resolver(6).await;
    let response = r
        .owner
        .client
        .get(r.owner.url(&format!(
            "/api/v1/batches/{}/labels.pdf?roll=1&digital_link=true",
            r.batch
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/pdf");
    // The batch page offers it for each roll, since the size has a GTIN.
    let (_, html) = r
        .owner
        .page(&format!("/workspace/batches/{}", r.batch))
        .await;
    assert!(html.contains(&format!(
        "/workspace/batches/{}/labels.pdf?roll=1&amp;digital_link=true",
        r.batch
    )));
    let pdf = response.bytes().await.unwrap();
    let base = r.app.url("").to_uppercase();
    let mut expected: Vec<String> = r
        .codes
        .iter()
        .map(|code| format!("{base}/01/{GTIN}/10/{LOT}/21/{code}"))
        .collect();
    expected.sort();
    let Some(page) = rasterise_first_page(&pdf, 300) else {
        return;
    };
    let (width, height) = page.dimensions();
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(width as usize, height as usize, |x, y| {
            page.get_pixel(x as u32, y as u32).0[0]
        });
    let mut decoded: Vec<String> = prepared
        .detect_grids()
        .iter()
        .map(|grid| {
            let (meta, text) = grid.decode().expect("every printed QR code decodes");
            assert!(meta.version.0 <= 10, "version {}", meta.version.0);
            assert_eq!(meta.ecc_level, 0, "level M");
            text
        })
        .collect();
    decoded.sort();
    assert_eq!(decoded, expected);
    for url in &decoded {
        let parsed = DigitalLink::parse_uri(url).expect("a GS1 Digital Link");
        assert!(parsed.canonical_path);
        let matrix = ocop_market::qr::QrMatrix::encode(url, ocop_market::qr::EcLevel::M).unwrap();
        assert!(matrix.version() <= 10);
    }
    // Each resolves to its stamp's verdict.
    let response = get(&phone("100.70.1.9"), &decoded[0]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().contains("Hàng chính hãng"));
    // The print shop's CSV carries the same addresses.
    let csv = r
        .owner
        .client
        .get(r.owner.url(&format!(
            "/api/v1/batches/{}/stamps.csv?digital_link=true",
            r.batch
        )))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut urls: Vec<String> = csv
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().to_owned())
        .collect();
    urls.sort();
    assert_eq!(urls, expected);
}

#[tokio::test]
async fn a_digital_link_sheet_needs_a_gtin_of_the_size() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let owner = app.user("owner@htx.vn").await;
    let coop = verified_cooperative(&admin, &owner, "5300123456", "Hợp tác xã Không mã").await;
    let (_, product) = owner
        .post(
            &format!("/api/v1/cooperatives/{coop}/products"),
            crate::support::product_body("Chè không mã"),
        )
        .await;
    let product = product["id"].as_i64().unwrap();
    let (_, batch) = owner
        .post(
            &format!("/api/v1/products/{product}/batches"),
            json!({"lot_code": "C-1", "quantity": "10", "quantity_unit": "gói"}),
        )
        .await;
    let batch = batch["id"].as_i64().unwrap();
    owner
        .post(
            &format!("/api/v1/batches/{batch}/stamps"),
            json!({"count": 2}),
        )
        .await;
    let (status, problem) = owner
        .get(&format!(
            "/api/v1/batches/{batch}/labels.pdf?digital_link=true"
        ))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "digital_link", "{problem}");
    assert_eq!(problem["errors"][0]["code"], "no_gtin");
    let (status, _) = owner
        .get(&format!("/api/v1/batches/{batch}/labels.pdf"))
        .await;
    assert_eq!(status, StatusCode::OK, "the plain form needs no GTIN");
    let (_, html) = owner.page(&format!("/workspace/batches/{batch}")).await;
    assert!(html.contains("labels.pdf?roll=1"));
    assert!(
        !html.contains("digital_link=true"),
        "no Digital Link without a GTIN"
    );
}
