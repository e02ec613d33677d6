//! The province dashboard: its figures against counts made here from the rows themselves, its
//! CSV files, its SVG charts, who may see it and what a bad filter gets.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, Utc};
use ocop_market::domain::StampCode;
use ocop_market::entities::{
    batches, cooperatives, fake_reports, orders, payments, products, scans, stamps,
};
use reqwest::StatusCode;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait};
use serde_json::{Value, json};

use crate::support::{TestApp, User, published_product, verified_cooperative};

/// A stamp as scans and reports refer to it: (stamp id, cooperative id, code).
type StampRef = (i64, i64, String);

/// Seeded data and the places it uses.
struct World {
    app: TestApp,
    admin: User,
    /// Lào Cai (the province of Xã Gia Phú) and another province.
    p1: String,
    p2: String,
}

fn vietnam(at: DateTime<Utc>) -> chrono::NaiveDateTime {
    at.naive_utc() + Duration::hours(7)
}

fn today() -> NaiveDate {
    vietnam(Utc::now()).date()
}

/// The month of an instant in Vietnam, `YYYY-MM`.
fn month_of(at: DateTime<Utc>) -> String {
    vietnam(at).format("%Y-%m").to_string()
}

/// The 12 months ending with this one, oldest first.
fn window() -> Vec<String> {
    let this = today().with_day(1).unwrap();
    (0..12)
        .rev()
        .map(|k| {
            this.checked_sub_months(Months::new(k))
                .unwrap()
                .format("%Y-%m")
                .to_string()
        })
        .collect()
}

/// The first instant of the window: midnight in Vietnam on the first day of its first month.
fn window_start() -> DateTime<Utc> {
    let first = today()
        .with_day(1)
        .unwrap()
        .checked_sub_months(Months::new(11))
        .unwrap();
    first.and_hms_opt(0, 0, 0).unwrap().and_utc() - Duration::hours(7)
}

/// `hours` after 00:30 (Vietnam) on the first day of the month `months_ago` months back.
fn at(months_ago: u32, hours: i64) -> DateTime<Utc> {
    let first = today()
        .with_day(1)
        .unwrap()
        .checked_sub_months(Months::new(months_ago))
        .unwrap();
    first.and_hms_opt(0, 30, 0).unwrap().and_utc() - Duration::hours(7) + Duration::hours(hours)
}

async fn cooperative(
    app: &TestApp,
    owner: i64,
    n: u32,
    commune: &str,
    province: &str,
    status: &str,
) -> i64 {
    let now = Utc::now();
    cooperatives::ActiveModel {
        slug: Set(format!("htx-dashboard-{n}")),
        registration_number: Set(format!("DB{n:08}")),
        name: Set(format!("Hợp tác xã số {n}")),
        commune_code: Set(commune.into()),
        province_code: Set(province.into()),
        address: Set(String::new()),
        contact_phone: Set("0912345678".into()),
        contact_email: Set(None),
        description: Set(String::new()),
        bank_bin: Set("970405".into()),
        bank_account_number: Set(format!("{n:010}")),
        bank_account_holder: Set("HTX".into()),
        status: Set(status.into()),
        status_reason: Set(None),
        created_by: Set(owner),
        created_at: Set(now),
        updated_at: Set(now),
        reviewed_at: Set(None),
        delivery_fee_vnd: Set(30_000),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap()
    .id
}

struct NewProduct<'a> {
    coop: i64,
    commune: &'a str,
    province: &'a str,
    stars: Option<i16>,
    expires: Option<NaiveDate>,
    listed: bool,
}

async fn product(app: &TestApp, n: u32, p: NewProduct<'_>) -> i64 {
    let now = Utc::now();
    products::ActiveModel {
        cooperative_id: Set(p.coop),
        slug: Set(format!("san-pham-dashboard-{n}")),
        name: Set(format!("Sản phẩm {n}")),
        short_name: Set(format!("Sản phẩm {n}")),
        description: Set(String::new()),
        category_code: Set("food-processed".into()),
        price_vnd: Set(100_000),
        unit: Set("hộp".into()),
        stock_quantity: Set(10),
        status: Set(if p.listed { "published" } else { "draft" }.into()),
        listed: Set(p.listed),
        province_code: Set(p.province.into()),
        commune_code: Set(p.commune.into()),
        ocop_stars: Set(p.stars),
        ocop_expires_on: Set(p.expires),
        created_at: Set(now),
        updated_at: Set(now),
        published_at: Set(None),
        sold_count: Set(0),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap()
    .id
}

async fn order(app: &TestApp, n: u32, coop: i64, paid_at: Option<DateTime<Utc>>, status: &str) {
    let subtotal = 100_000 * i64::from(n);
    let created = paid_at.unwrap_or_else(Utc::now);
    let payment = payments::ActiveModel {
        reference: Set(format!("OCOPDB{n:06}")),
        access_token_hash: Set(format!("dashboard-{n}")),
        checkout_key: Set(None),
        buyer_user_id: Set(None),
        method: Set("vietqr".into()),
        status: Set(if paid_at.is_some() { "paid" } else { "pending" }.into()),
        amount_vnd: Set(subtotal + 30_000),
        received_vnd: Set(if paid_at.is_some() {
            subtotal + 30_000
        } else {
            0
        }),
        expires_at: Set(created + Duration::minutes(30)),
        paid_at: Set(paid_at),
        provider_payment_id: Set(None),
        stripe_session_id: Set(None),
        created_at: Set(created),
        updated_at: Set(created),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap();
    orders::ActiveModel {
        payment_id: Set(payment.id),
        cooperative_id: Set(coop),
        buyer_user_id: Set(None),
        status: Set(status.into()),
        subtotal_vnd: Set(subtotal),
        delivery_fee_vnd: Set(30_000),
        total_vnd: Set(subtotal + 30_000),
        commission_vnd: Set(subtotal * 5 / 100),
        recipient_name: Set("Người mua".into()),
        recipient_phone: Set("0912345678".into()),
        province_code: Set("01".into()),
        commune_code: Set(first_commune_of(app, "01")),
        street: Set(String::new()),
        carrier: Set(None),
        tracking_number: Set(None),
        cancel_reason: Set(None),
        cancelled_by: Set(None),
        created_at: Set(created),
        updated_at: Set(created),
        paid_at: Set(paid_at),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap();
}

fn first_commune_of(app: &TestApp, province: &str) -> String {
    app.state
        .reference
        .communes_of(province)
        .next()
        .unwrap()
        .code
        .clone()
}

/// A batch of `issued.len()` stamps of the product, issued at the given instants; the first
/// `flagged` of them flagged as likely copies. Returns (stamp id, code) pairs.
async fn stamps_for(
    app: &TestApp,
    owner: i64,
    product_id: i64,
    issued: &[DateTime<Utc>],
    flagged: usize,
) -> Vec<(i64, String)> {
    let product = products::Entity::find_by_id(product_id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let batch = batches::ActiveModel {
        cooperative_id: Set(product.cooperative_id),
        product_id: Set(product.id),
        lot_code: Set(format!("L{product_id}")),
        harvested_on: Set(None),
        produced_on: Set(None),
        best_before: Set(None),
        quantity: Set(issued.len() as i64),
        quantity_unit: Set("hộp".into()),
        origin_commune_code: Set(product.commune_code.clone()),
        plot_name: Set(None),
        plot_latitude: Set(None),
        plot_longitude: Set(None),
        certifications: Set(String::new()),
        certification_document_url: Set(None),
        created_by: Set(owner),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap();
    let mut out = Vec::new();
    for (i, issued_at) in issued.iter().enumerate() {
        let stamp = stamps::ActiveModel {
            batch_id: Set(batch.id),
            cooperative_id: Set(product.cooperative_id),
            serial: Set(i as i64 + 1),
            code: Set(StampCode::generate().as_str().to_owned()),
            roll: Set(1),
            status: Set("active".into()),
            void_reason: Set(None),
            voided_at: Set(None),
            key_id: Set(None),
            signature: Set(None),
            issued_at: Set(*issued_at),
            scan_count: Set(0),
            distinct_clients: Set(0),
            first_scanned_at: Set(None),
            last_scanned_at: Set(None),
            flagged: Set(i < flagged),
            flag_reason: Set((i < flagged).then(|| "many_clients".to_owned())),
            ..Default::default()
        }
        .insert(app.db())
        .await
        .unwrap();
        out.push((stamp.id, stamp.code));
    }
    out
}

async fn scan_row(
    app: &TestApp,
    stamp: Option<(i64, i64, &str)>,
    at: DateTime<Utc>,
    province: Option<&str>,
) {
    scans::ActiveModel {
        stamp_id: Set(stamp.map(|s| s.0)),
        cooperative_id: Set(stamp.map(|s| s.1)),
        code: Set(stamp.map_or("ZZZZZZZZZZZZZZZZ".to_owned(), |s| s.2.to_owned())),
        scanned_at: Set(at),
        scanned_on: Set(vietnam(at).date()),
        client_hash: Set(format!("{:032x}", at.timestamp())),
        client_class: Set("mobile".into()),
        verdict: Set(if stamp.is_some() {
            "seen_before"
        } else {
            "unknown"
        }
        .into()),
        repeat_by_same_client: Set(false),
        province_code: Set(province.map(str::to_owned)),
        latitude: Set(None),
        longitude: Set(None),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap();
}

async fn fake_report(
    app: &TestApp,
    stamp: Option<(i64, i64, &str)>,
    at: DateTime<Utc>,
    province: Option<&str>,
) {
    fake_reports::ActiveModel {
        stamp_id: Set(stamp.map(|s| s.0)),
        cooperative_id: Set(stamp.map(|s| s.1)),
        code: Set(stamp.map_or("ZZZZZZZZZZZZZZZZ".to_owned(), |s| s.2.to_owned())),
        place_of_purchase: Set("Chợ Cốc Lếu".into()),
        seller: Set(String::new()),
        note: Set(String::new()),
        province_code: Set(province.map(str::to_owned)),
        client_hash: Set(format!("{:032x}", at.timestamp())),
        created_at: Set(at),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap();
}

/// Cooperatives, products, orders, stamps, scans and fake reports in two provinces, with the
/// cases each figure must tell apart: expired and unlisted OCOP products, rejected and
/// suspended cooperatives, orders cancelled after payment, unpaid or paid before the window,
/// one paid in the first hour of a month in Vietnam (still the previous day in UTC), scans
/// without a place or of codes no stamp has, and reports from before the window.
async fn seed() -> World {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let owner = app.user("owner@htx.vn").await;
    let reference = &app.state.reference;
    let c1 = "02923".to_owned();
    let p1 = reference.commune(&c1).unwrap().province_code.clone();
    let c2 = reference
        .communes_of(&p1)
        .find(|c| c.code != c1)
        .unwrap()
        .code
        .clone();
    let p2 = reference
        .provinces
        .iter()
        .find(|p| p.code != p1)
        .unwrap()
        .code
        .clone();
    let c3 = first_commune_of(&app, &p2);
    let p3 = reference
        .provinces
        .iter()
        .find(|p| p.code != p1 && p.code != p2)
        .unwrap()
        .code
        .clone();

    // Through the API: a verified cooperative (in Xã Gia Phú) with a published product whose
    // 4-star certificate an administrator verified.
    let api_coop = verified_cooperative(&admin, &owner, "5300999999", "HTX Mật ong Gia Phú").await;
    let (api_product, _) = published_product(&owner, api_coop, "Mật ong bạc hà").await;
    let expires = (today() + Duration::days(800))
        .format("%Y-%m-%d")
        .to_string();
    let (status, cert) = owner
        .post(
            &format!("/api/v1/products/{api_product}/certificates"),
            json!({"stars": 4, "certificate_number": "2857/QĐ-UBND", "issuing_level": "province", "issued_on": "2025-01-10", "expires_on": expires}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{cert}");
    let (status, _) = admin
        .post(
            &format!("/api/v1/admin/certificates/{}/decision", cert["id"]),
            json!({"decision": "verify"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let o = owner.id;
    let a = cooperative(&app, o, 1, &c1, &p1, "verified").await;
    let b = cooperative(&app, o, 2, &c2, &p1, "verified").await;
    let _pending = cooperative(&app, o, 3, &c1, &p1, "pending").await;
    let d = cooperative(&app, o, 4, &c3, &p2, "suspended").await;
    let e = cooperative(&app, o, 5, &c3, &p2, "verified").await;
    let _rejected = cooperative(&app, o, 6, &c3, &p2, "rejected").await;

    let valid = Some(today() + Duration::days(365));
    let expired = Some(today() - Duration::days(1));
    let spec = |coop, commune, province, stars, expires, listed| NewProduct {
        coop,
        commune,
        province,
        stars,
        expires,
        listed,
    };
    let specs = vec![
        spec(a, c1.as_str(), p1.as_str(), Some(3), valid, true),
        spec(a, &c1, &p1, Some(4), valid, true),
        spec(a, &c1, &p1, Some(5), valid, false),
        spec(a, &c1, &p1, Some(3), expired, true),
        spec(a, &c1, &p1, None, None, true),
        spec(b, &c2, &p1, Some(4), valid, true),
        spec(b, &c2, &p1, Some(3), valid, false),
        spec(d, &c3, &p2, Some(5), valid, false),
        spec(e, &c3, &p2, Some(3), valid, true),
        spec(e, &c3, &p2, None, None, false),
        // Valid until the end of today: still certified.
        spec(e, &c3, &p2, Some(5), Some(today()), true),
    ];
    let mut ids = Vec::new();
    for (n, spec) in specs.into_iter().enumerate() {
        ids.push(product(&app, n as u32 + 1, spec).await);
    }

    // Orders: paid in several months, one in the first hour of a month (Vietnam time), one
    // cancelled after payment, one unpaid, one paid before the window.
    order(&app, 1, a, Some(at(0, 2)), "paid").await;
    order(&app, 2, a, Some(at(1, 0)), "completed").await;
    order(&app, 3, b, Some(at(1, 30)), "shipped").await;
    order(&app, 4, b, Some(at(3, 5)), "cancelled").await;
    order(&app, 5, e, Some(at(3, 6)), "delivered").await;
    order(&app, 6, e, None, "pending_payment").await;
    order(&app, 7, a, Some(at(12, 3)), "completed").await;
    order(&app, 8, d, Some(at(11, 1)), "completed").await;
    order(&app, 9, api_coop, Some(at(2, 4)), "accepted").await;

    // Stamps: issued over several months; in each batch the first ones are flagged.
    let s_a = stamps_for(
        &app,
        o,
        ids[0],
        &[at(0, 1), at(0, 2), at(2, 1), at(13, 0)],
        2,
    )
    .await;
    let s_b = stamps_for(&app, o, ids[5], &[at(1, 1), at(1, 2)], 1).await;
    let s_e = stamps_for(&app, o, ids[8], &[at(4, 1), at(4, 2), at(5, 3)], 0).await;
    let st = |list: &[(i64, String)], i: usize, coop: i64| (list[i].0, coop, list[i].1.clone());
    let scans_plan: Vec<(StampRef, DateTime<Utc>, Option<&str>)> = vec![
        (st(&s_a, 0, a), at(0, 3), Some(p1.as_str())),
        (st(&s_a, 0, a), at(0, 4), Some(p2.as_str())),
        (st(&s_a, 0, a), at(1, 4), None),
        (st(&s_a, 1, a), at(2, 4), Some(p3.as_str())),
        (st(&s_a, 2, a), at(2, 5), Some(p1.as_str())),
        (st(&s_a, 3, a), at(13, 5), Some(p1.as_str())),
        (st(&s_b, 0, b), at(1, 6), Some(p2.as_str())),
        (st(&s_b, 1, b), at(0, 6), None),
        (st(&s_e, 0, e), at(4, 6), Some(p2.as_str())),
        (st(&s_e, 1, e), at(5, 6), Some(p2.as_str())),
        (st(&s_e, 2, e), at(6, 6), Some(p1.as_str())),
    ];
    for (stamp, when, place) in &scans_plan {
        scan_row(&app, Some((stamp.0, stamp.1, &stamp.2)), *when, *place).await;
    }
    scan_row(&app, None, at(0, 7), Some(p2.as_str())).await;
    scan_row(&app, None, at(1, 7), None).await;

    fake_report(&app, Some((s_a[0].0, a, &s_a[0].1)), at(0, 8), Some(&p2)).await;
    fake_report(&app, Some((s_a[1].0, a, &s_a[1].1)), at(2, 8), Some(&p2)).await;
    fake_report(&app, Some((s_b[0].0, b, &s_b[0].1)), at(1, 8), None).await;
    fake_report(&app, Some((s_e[0].0, e, &s_e[0].1)), at(3, 8), Some(&p3)).await;
    fake_report(&app, None, at(0, 9), Some(&p1)).await;
    fake_report(&app, Some((s_a[0].0, a, &s_a[0].1)), at(13, 8), Some(&p1)).await;

    // A real scan through the app, as a phone camera makes it.
    let before = app.count(scans::Entity).await;
    let response = app
        .client()
        .get(app.url(&format!("/s/{}", s_e[2].1)))
        .header(
            "user-agent",
            "Mozilla/5.0 (Linux; Android 12) Mobile Safari/537.36",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    app.state.scans.flush().await;
    assert_eq!(app.count(scans::Entity).await, before + 1);

    World { app, admin, p1, p2 }
}

/// What the dashboard must say, counted here from every row of the tables.
#[derive(Debug, Default, PartialEq, Eq)]
struct Expected {
    products: BTreeMap<String, [i64; 6]>,
    cooperatives: BTreeMap<String, [i64; 3]>,
    orders: Vec<[i64; 3]>,
    stamps: Vec<[i64; 2]>,
    scan_places: BTreeMap<String, i64>,
    not_reported: i64,
    copies: BTreeMap<String, [i64; 3]>,
    flagged_total: i64,
}

async fn expected(app: &TestApp, province: Option<&str>) -> Expected {
    let db = app.db();
    let coops = cooperatives::Entity::find().all(db).await.unwrap();
    let province_of: BTreeMap<i64, String> = coops
        .iter()
        .map(|c| (c.id, c.province_code.clone()))
        .collect();
    let mine = |coop: Option<i64>| match province {
        None => true,
        Some(p) => coop.and_then(|c| province_of.get(&c)).map(String::as_str) == Some(p),
    };
    let months = window();
    let month_index = |label: &str| months.iter().position(|m| m == label);
    let start_day = window_start().naive_utc().date() + Duration::days(1);
    let mut out = Expected {
        orders: vec![[0; 3]; 12],
        stamps: vec![[0; 2]; 12],
        ..Default::default()
    };
    let today = today();

    for p in products::Entity::find().all(db).await.unwrap() {
        if province.is_some_and(|code| p.province_code != code) {
            continue;
        }
        let place = if province.is_some() {
            p.commune_code.clone()
        } else {
            p.province_code.clone()
        };
        let certified = matches!(p.ocop_stars, Some(3..=5))
            && p.ocop_expires_on.is_some_and(|until| until >= today);
        let mut row = [0; 6];
        if certified {
            let stars = p.ocop_stars.unwrap();
            row[(stars - 3) as usize] = 1;
            row[3] = 1;
            row[4] = i64::from(p.listed);
        }
        row[5] = i64::from(p.listed);
        if row.iter().any(|v| *v > 0) {
            let entry = out.products.entry(place).or_insert([0; 6]);
            for (total, v) in entry.iter_mut().zip(row) {
                *total += v;
            }
        }
    }
    for c in &coops {
        if province.is_some_and(|code| c.province_code != code) {
            continue;
        }
        let place = if province.is_some() {
            c.commune_code.clone()
        } else {
            c.province_code.clone()
        };
        let column = match c.status.as_str() {
            "verified" => 0,
            "pending" => 1,
            "suspended" => 2,
            _ => continue,
        };
        out.cooperatives.entry(place).or_insert([0; 3])[column] += 1;
    }
    for o in orders::Entity::find().all(db).await.unwrap() {
        let Some(paid) = o.paid_at else { continue };
        if o.status == "cancelled" || !mine(Some(o.cooperative_id)) {
            continue;
        }
        if let Some(i) = month_index(&month_of(paid)) {
            out.orders[i][0] += 1;
            out.orders[i][1] += o.subtotal_vnd;
            out.orders[i][2] += o.commission_vnd;
        }
    }
    let all_stamps = stamps::Entity::find().all(db).await.unwrap();
    for s in &all_stamps {
        if !mine(Some(s.cooperative_id)) {
            continue;
        }
        if let Some(i) = month_index(&month_of(s.issued_at)) {
            out.stamps[i][0] += 1;
        }
        if s.flagged {
            out.flagged_total += 1;
        }
    }
    let flagged: BTreeSet<i64> = all_stamps
        .iter()
        .filter(|s| s.flagged)
        .map(|s| s.id)
        .collect();
    let mut flagged_by_place: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for s in scans::Entity::find().all(db).await.unwrap() {
        if !mine(s.cooperative_id) || s.scanned_on < start_day {
            continue;
        }
        let Some(i) = month_index(&s.scanned_on.format("%Y-%m").to_string()) else {
            continue;
        };
        out.stamps[i][1] += 1;
        match &s.province_code {
            Some(code) => *out.scan_places.entry(code.clone()).or_default() += 1,
            None => out.not_reported += 1,
        }
        if s.stamp_id.is_some_and(|id| flagged.contains(&id)) {
            let place = s.province_code.clone().unwrap_or_default();
            out.copies.entry(place.clone()).or_insert([0; 3])[1] += 1;
            flagged_by_place
                .entry(place)
                .or_default()
                .insert(s.stamp_id.unwrap());
        }
    }
    for (place, stamps) in flagged_by_place {
        out.copies.entry(place).or_insert([0; 3])[0] = stamps.len() as i64;
    }
    for r in fake_reports::Entity::find().all(db).await.unwrap() {
        if r.created_at < window_start() || !mine(r.cooperative_id) {
            continue;
        }
        out.copies
            .entry(r.province_code.clone().unwrap_or_default())
            .or_insert([0; 3])[2] += 1;
    }
    out
}

/// The same figures read from the API's JSON.
fn actual(d: &Value) -> Expected {
    let n = |v: &Value, k: &str| v[k].as_i64().unwrap_or_else(|| panic!("{k} in {v}"));
    let code = |v: &Value| v["place"]["code"].as_str().unwrap().to_owned();
    let rows = |k: &str| d[k].as_array().unwrap().clone();
    Expected {
        products: rows("products")
            .iter()
            .map(|r| {
                (
                    code(r),
                    [
                        n(r, "three_stars"),
                        n(r, "four_stars"),
                        n(r, "five_stars"),
                        n(r, "ocop"),
                        n(r, "ocop_online"),
                        n(r, "online"),
                    ],
                )
            })
            .collect(),
        cooperatives: rows("cooperatives")
            .iter()
            .map(|r| {
                (
                    code(r),
                    [n(r, "verified"), n(r, "pending"), n(r, "suspended")],
                )
            })
            .collect(),
        orders: rows("orders")
            .iter()
            .map(|r| {
                [
                    n(r, "paid_orders"),
                    n(r, "goods_vnd"),
                    n(r, "commission_vnd"),
                ]
            })
            .collect(),
        stamps: rows("stamps")
            .iter()
            .map(|r| [n(r, "stamps_issued"), n(r, "scans")])
            .collect(),
        scan_places: rows("scan_places")
            .iter()
            .map(|r| (code(r), n(r, "scans")))
            .collect(),
        not_reported: n(d, "scans_place_not_reported"),
        copies: rows("copies")
            .iter()
            .map(|r| {
                (
                    code(r),
                    [
                        n(r, "flagged_stamps"),
                        n(r, "flagged_scans"),
                        n(r, "fake_reports"),
                    ],
                )
            })
            .collect(),
        flagged_total: n(&d["copies_total"], "flagged_stamps"),
    }
}

async fn dashboard_json(admin: &User, query: &str) -> Value {
    let (status, body) = admin
        .get(&format!("/api/v1/admin/dashboard?fresh=1{query}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn dashboard_figures_equal_direct_counts_for_the_country_and_a_province() {
    let World { app, admin, p1, p2 } = seed().await;

    let country = dashboard_json(&admin, "").await;
    let want = expected(&app, None).await;
    assert_eq!(actual(&country), want);
    assert_eq!(country["place_level"], "province");
    let months: Vec<&str> = country["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["month"].as_str().unwrap())
        .collect();
    assert_eq!(months, window(), "the last 12 months, oldest first");
    // Spot checks against the seeded story, so that a shared mistake in both counts shows.
    assert_eq!(
        want.products[&p1],
        [2, 3, 1, 6, 4, 6],
        "Lào Cai: 4 of 6 online"
    );
    assert_eq!(want.cooperatives[&p1], [3, 1, 0]);
    assert_eq!(want.cooperatives[&p2], [1, 0, 1]);
    assert_eq!(want.orders[11][0], 1, "this month's order");
    assert_eq!(
        want.orders[10][0], 2,
        "the first-hour-of-the-month order counts there"
    );
    assert_eq!(want.flagged_total, 3);
    // Totals are the sums of the rows.
    let totals = &country["products_total"];
    assert_eq!(
        totals["ocop"].as_i64().unwrap(),
        want.products.values().map(|r| r[3]).sum::<i64>()
    );
    assert_eq!(
        totals["ocop_online"].as_i64().unwrap(),
        want.products.values().map(|r| r[4]).sum::<i64>()
    );
    assert_eq!(
        country["orders_total"]["goods_vnd"].as_i64().unwrap(),
        want.orders.iter().map(|m| m[1]).sum::<i64>()
    );
    assert_eq!(
        country["stamps_total"]["scans"].as_i64().unwrap(),
        want.stamps.iter().map(|m| m[1]).sum::<i64>()
    );

    for province in [&p1, &p2] {
        let filtered = dashboard_json(&admin, &format!("&province={province}")).await;
        assert_eq!(
            actual(&filtered),
            expected(&app, Some(province)).await,
            "province {province}"
        );
        assert_eq!(filtered["place_level"], "commune");
        assert_eq!(filtered["province"]["code"], province.as_str());
    }

    // The page shows the same headline figure.
    let (status, html) = admin.page("/admin/dashboard").await;
    assert_eq!(status, StatusCode::OK);
    let ocop = want.products.values().map(|r| r[3]).sum::<i64>();
    let online = want.products.values().map(|r| r[4]).sum::<i64>();
    assert!(
        html.contains(&format!("{online} trên {ocop} sản phẩm OCOP")),
        "headline"
    );
}

#[tokio::test]
async fn figures_are_reused_for_a_minute_unless_fresh_ones_are_asked_for() {
    let World { app, admin, .. } = seed().await;
    let first = dashboard_json(&admin, "").await;
    let owner = app.db();
    let coop = cooperatives::Entity::find().all(owner).await.unwrap()[0].clone();
    cooperative(
        &app,
        coop.created_by,
        99,
        &coop.commune_code,
        &coop.province_code,
        "pending",
    )
    .await;
    let (_, cached) = admin.get("/api/v1/admin/dashboard").await;
    assert_eq!(cached["generated_at"], first["generated_at"]);
    assert_eq!(cached["cooperatives_total"], first["cooperatives_total"]);
    let fresh = dashboard_json(&admin, "").await;
    assert_eq!(
        fresh["cooperatives_total"]["pending"].as_i64().unwrap(),
        first["cooperatives_total"]["pending"].as_i64().unwrap() + 1
    );
}

fn parse_csv(bytes: &[u8]) -> Vec<Vec<String>> {
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 BOM for Excel");
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(&bytes[3..]);
    reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

async fn download(admin: &User, path: &str) -> Vec<Vec<String>> {
    let response = admin.client.get(admin.url(path)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"ocop-") && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    parse_csv(&response.bytes().await.unwrap())
}

#[tokio::test]
async fn every_table_downloads_as_csv_with_the_same_numbers_as_the_json() {
    let World {
        app: _app,
        admin,
        p1,
        ..
    } = seed().await;
    for query in [String::new(), format!("?province={p1}")] {
        let json = dashboard_json(&admin, &query.replace('?', "&")).await;
        let totals_row = |rows: &[Vec<String>]| rows.last().unwrap().clone();

        let rows = download(&admin, &format!("/admin/dashboard/products.csv{query}")).await;
        assert_eq!(rows[0][0], "Mã");
        assert_eq!(rows[0].len(), 9);
        let body = &rows[1..rows.len() - 1];
        assert_eq!(body.len(), json["products"].as_array().unwrap().len());
        for (row, want) in body.iter().zip(json["products"].as_array().unwrap()) {
            assert_eq!(row[0], want["place"]["code"].as_str().unwrap());
            assert_eq!(row[1], want["place"]["name"].as_str().unwrap());
            assert_eq!(row[5], want["ocop"].to_string());
            assert_eq!(row[6], want["ocop_online"].to_string());
            assert_eq!(row[8], want["online"].to_string());
        }
        assert_eq!(totals_row(&rows)[1], "Tổng cộng");
        assert_eq!(
            totals_row(&rows)[5],
            json["products_total"]["ocop"].to_string()
        );

        let rows = download(&admin, &format!("/admin/dashboard/cooperatives.csv{query}")).await;
        assert_eq!(
            rows[0][2..],
            ["Đã xác minh", "Chờ xác minh", "Tạm dừng"].map(String::from)
        );
        assert_eq!(
            totals_row(&rows)[2],
            json["cooperatives_total"]["verified"].to_string()
        );

        let rows = download(&admin, &format!("/admin/dashboard/orders.csv{query}")).await;
        assert_eq!(rows.len(), 1 + 12 + 1, "header, 12 months, total");
        for (row, want) in rows[1..13].iter().zip(json["orders"].as_array().unwrap()) {
            assert_eq!(row[0], want["month"].as_str().unwrap());
            assert_eq!(row[1], want["paid_orders"].to_string());
            assert_eq!(row[2], want["goods_vnd"].to_string());
            assert_eq!(row[3], want["commission_vnd"].to_string());
        }
        assert_eq!(
            totals_row(&rows)[2],
            json["orders_total"]["goods_vnd"].to_string()
        );

        let rows = download(&admin, &format!("/admin/dashboard/stamps.csv{query}")).await;
        for (row, want) in rows[1..13].iter().zip(json["stamps"].as_array().unwrap()) {
            assert_eq!(row[1], want["stamps_issued"].to_string());
            assert_eq!(row[2], want["scans"].to_string());
        }

        let rows = download(&admin, &format!("/admin/dashboard/scan-places.csv{query}")).await;
        let listed: i64 = rows[1..rows.len() - 1]
            .iter()
            .map(|r| r[2].parse::<i64>().unwrap())
            .sum();
        assert_eq!(
            listed.to_string(),
            json["stamps_total"]["scans"].to_string()
        );
        assert_eq!(
            totals_row(&rows)[2],
            json["stamps_total"]["scans"].to_string()
        );

        let rows = download(&admin, &format!("/admin/dashboard/copies.csv{query}")).await;
        assert_eq!(rows.len(), json["copies"].as_array().unwrap().len() + 2);
        assert_eq!(
            totals_row(&rows)[4],
            json["copies_total"]["fake_reports"].to_string()
        );
        if query.is_empty() {
            assert!(
                rows.iter()
                    .any(|r| r[0].is_empty() && r[1] == "Không rõ nơi"),
                "reports without a place have their own row"
            );
        }
    }
    let response = admin
        .client
        .get(admin.url("/admin/dashboard/users.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

/// The `<svg …>…</svg>` elements of a page.
fn svgs(html: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<svg") {
        let end = rest[start..].find("</svg>").unwrap() + start + "</svg>".len();
        out.push(&rest[start..end]);
        rest = &rest[end..];
    }
    out
}

#[tokio::test]
async fn the_page_draws_well_formed_svg_charts_each_with_a_table() {
    let World {
        app: _app,
        admin,
        p1,
        ..
    } = seed().await;
    for (path, lang) in [
        ("/admin/dashboard?fresh=1".to_owned(), "vi"),
        (format!("/admin/dashboard?province={p1}"), "vi"),
        ("/admin/dashboard".to_owned(), "en"),
    ] {
        let response = admin
            .client
            .get(admin.url(&path))
            .header("accept-language", lang)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let html = response.text().await.unwrap();
        let charts = svgs(&html);
        assert_eq!(charts.len(), 8, "{path}: one chart per figure");
        for svg in &charts {
            assert!(svg.contains("role=\"img\""), "{svg}");
            assert!(svg.contains("aria-labelledby=\""));
            assert!(svg.contains("<title id="));
            let tree = resvg::usvg::Tree::from_str(svg, &resvg::usvg::Options::default())
                .unwrap_or_else(|e| panic!("{path}: not well-formed SVG: {e}\n{svg}"));
            assert!(tree.size().width() > 0.0);
            assert!(!svg.contains("style="), "the CSP refuses inline styles");
        }
        for table in [
            "products",
            "cooperatives",
            "orders",
            "stamps",
            "scan-places",
            "copies",
        ] {
            assert!(html.contains(&format!("id=\"table-{table}\"")), "{table}");
            assert!(html.contains(&format!("/admin/dashboard/{table}.csv")));
        }
        if lang == "en" {
            assert!(html.contains("Province dashboard"));
        } else {
            assert!(html.contains("Số liệu của tỉnh"));
        }
    }
    // Province names on the country page lead to their communes, without JavaScript.
    let (_, html) = admin.page("/admin/dashboard").await;
    assert!(html.contains(&format!("href=\"/admin/dashboard?province={p1}\"")));
    let (_, html) = admin.page("/admin").await;
    assert!(
        html.contains("href=\"/admin/dashboard\""),
        "linked from the admin page"
    );
}

#[tokio::test]
async fn only_administrators_see_the_dashboard_its_csv_and_its_json() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let shopper = app.user("shopper@mail.vn").await;
    let owner = app.user("owner@htx.vn").await;
    verified_cooperative(&admin, &owner, "5300888888", "HTX Chè Gia Phú").await;

    let anonymous = app.client();
    let response = anonymous
        .get(app.url("/admin/dashboard"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(
        response.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login")
    );
    let response = anonymous
        .get(app.url("/admin/dashboard/products.csv"))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_redirection());
    let (status, problem) = app.admin_free_get("/api/v1/admin/dashboard").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(problem["code"], "unauthenticated");

    for user in [&shopper, &owner] {
        let (status, html) = user.page("/admin/dashboard").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(!html.contains("<svg"));
        let response = user
            .client
            .get(user.url("/admin/dashboard/products.csv"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert!(!response.text().await.unwrap().contains("Mã,"));
        let (status, problem) = user.get("/api/v1/admin/dashboard").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(problem["code"], "forbidden");
        // With a bearer token too.
        let response = reqwest::Client::new()
            .get(app.url("/api/v1/admin/dashboard"))
            .bearer_auth(&user.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }
    let (status, html) = owner.page("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !html.contains("href=\"/admin/dashboard\""),
        "no link for others"
    );
    let (_, html) = admin.page("/").await;
    assert!(
        html.contains("href=\"/admin/dashboard\""),
        "in the admin's header"
    );
}

#[tokio::test]
async fn an_unknown_province_is_a_clear_client_error_everywhere() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    for bad in ["99", "abc", "%3Cscript%3E", "0101"] {
        let (status, problem) = admin
            .get(&format!("/api/v1/admin/dashboard?province={bad}"))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {problem}");
        assert_eq!(problem["code"], "invalid_parameters");
        assert_eq!(problem["errors"][0]["field"], "province");
        assert_eq!(problem["errors"][0]["code"], "unknown_province");

        let (status, html) = admin
            .page(&format!("/admin/dashboard?province={bad}"))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(
            html.contains("id=\"province-error\"") && html.contains("Không có tỉnh nào có mã này."),
            "the error is shown beside the field"
        );
        assert!(html.contains("aria-describedby=\"province-error\""));
        assert!(
            html.contains("<select id=\"d-province\" name=\"province\""),
            "the form stays"
        );
        assert!(!html.contains("<script>"));

        let response = admin
            .client
            .get(admin.url(&format!("/admin/dashboard/orders.csv?province={bad}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    // An empty province is the whole country.
    let (status, body) = admin.get("/api/v1/admin/dashboard?province=").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["province"], Value::Null);
}

#[tokio::test]
async fn the_dashboard_indexes_roll_back_and_apply_again() {
    use migrations::MigratorTrait;
    let app = TestApp::spawn().await;
    let names = |rows: Vec<String>| -> BTreeSet<String> { rows.into_iter().collect() };
    let indexes = || async {
        let backend = app.db().get_database_backend();
        let sql = match backend {
            sea_orm::DatabaseBackend::Postgres => {
                "SELECT indexname AS name FROM pg_indexes WHERE tablename = 'scans'"
            }
            _ => "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'scans'",
        };
        let rows = app
            .db()
            .query_all_raw(sea_orm::Statement::from_string(backend, sql))
            .await
            .unwrap();
        names(
            rows.iter()
                .map(|r| r.try_get::<String>("", "name").unwrap())
                .collect(),
        )
    };
    let applied = indexes().await;
    assert!(applied.contains("idx_scans_day_province"));
    assert!(
        !applied.contains("idx_scans_day"),
        "replaced by its extension"
    );
    // Roll back this migration and any applied after it.
    let applied_migrations = migrations::Migrator::get_applied_migrations(app.db())
        .await
        .unwrap();
    let from_end = applied_migrations
        .iter()
        .rev()
        .position(|m| m.name() == "m20261122_000009_add_dashboard_indexes")
        .unwrap() as u32
        + 1;
    migrations::Migrator::down(app.db(), Some(from_end))
        .await
        .unwrap();
    let before = indexes().await;
    assert!(before.contains("idx_scans_day") && before.contains("idx_scans_cooperative_day"));
    assert!(!before.contains("idx_scans_day_province"));
    migrations::Migrator::up(app.db(), None).await.unwrap();
    assert_eq!(indexes().await, applied);
}
