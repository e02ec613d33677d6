//! Seed data: the demo catalogue from `assets/demo/catalogue.json` (through the same parsers
//! as user input, so the demo can never hold what the app would refuse), and a deterministic
//! synthetic catalogue of any size for benchmarks.

use std::fmt;

use anyhow::{Context, anyhow};
use chrono::{Duration, NaiveDate, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, EntityTrait, Iterable, PaginatorTrait, Set,
    TransactionSession, TransactionTrait,
};
use serde::Deserialize;

use crate::accounts::{self, CurrentUser, NewAccount, Registration};
use crate::catalog::access::Membership;
use crate::catalog::certificates::{self, CertificateRequest};
use crate::catalog::cooperatives::{self as cooperative_service, CooperativeInput};
use crate::catalog::products::{self as product_service, ProductRequest};
use crate::catalog::{CertificateStatus, CooperativeStatus, MemberRole, ProductStatus};
use crate::domain::{Slug, fold_vietnamese};
use crate::entities::batches as batches_entity;
use crate::entities::{cooperative_members, cooperatives, ocop_certificates, products, users};
use crate::error::AppError;
use crate::reference::ReferenceData;
use crate::trace::batches::{self, BatchInput};
use crate::trace::events::{self, EventInput};
use crate::trace::signing::StampSigner;
use crate::trace::stamps;

#[derive(Deserialize)]
struct DemoCatalogue {
    cooperatives: Vec<DemoCooperative>,
    products: Vec<DemoProduct>,
}

#[derive(Deserialize)]
struct DemoCooperative {
    key: String,
    #[serde(flatten)]
    input: CooperativeInput,
    status: String,
}

#[derive(Deserialize)]
struct DemoProduct {
    cooperative: String,
    name: String,
    short_name: String,
    category: String,
    description: String,
    unit: String,
    price_vnd: i64,
    stock: i64,
    gtin: Option<String>,
    published: bool,
    certificate: Option<DemoCertificate>,
}

#[derive(Deserialize)]
struct DemoCertificate {
    stars: i64,
    number: String,
    level: String,
    issued_on: String,
    expires_on: String,
    status: String,
}

/// The demo accounts created, with their one-time passwords.
pub struct DemoReport {
    pub accounts: Vec<(&'static str, String, String)>,
    pub cooperatives: usize,
    pub products: usize,
}

impl fmt::Display for DemoReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Demo data: {} cooperatives, {} products.",
            self.cooperatives, self.products
        )?;
        writeln!(f, "Demo accounts (these passwords are shown only now):")?;
        for (role, identifier, password) in &self.accounts {
            writeln!(f, "  {role:<12} {identifier:<28} {password}")?;
        }
        Ok(())
    }
}

fn one_time_password() -> String {
    let bytes: [u8; 9] = rand::random();
    data_encoding::BASE32_NOPAD.encode(&bytes).to_lowercase()
}

fn seed_error(context: &str, err: AppError) -> anyhow::Error {
    match err {
        AppError::Validation(fields) => anyhow!(
            "{context}: {}",
            fields
                .iter()
                .map(|f| format!("{} {}", f.field, f.message))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => anyhow!("{context}: {other}"),
    }
}

async fn demo_account(
    db: &impl ConnectionTrait,
    identifier: &str,
    name: &str,
    password: &str,
    is_admin: bool,
) -> anyhow::Result<users::Model> {
    let mut account =
        NewAccount::parse(identifier, password, name).map_err(|e| seed_error(identifier, e))?;
    account.is_admin = is_admin;
    match accounts::register(db, account)
        .await
        .map_err(|e| seed_error(identifier, e))?
    {
        Registration::Created(user) => Ok(user),
        Registration::AlreadyTaken => Err(anyhow!("demo account {identifier} already exists")),
    }
}

/// Seeds the demo catalogue into an empty database; `None` when cooperatives already exist.
pub async fn demo(
    db: &(impl ConnectionTrait + TransactionTrait),
    reference: &ReferenceData,
    signer: &StampSigner,
) -> anyhow::Result<Option<DemoReport>> {
    if cooperatives::Entity::find().count(db).await? > 0 {
        return Ok(None);
    }
    let catalogue: DemoCatalogue =
        serde_json::from_str(include_str!("../assets/demo/catalogue.json"))
            .context("assets/demo/catalogue.json is not valid")?;

    let sizes = demo_sizes()?;
    let txn = crate::db::begin_write(db).await?;
    let mut report = DemoReport {
        accounts: Vec::new(),
        cooperatives: 0,
        products: 0,
    };
    let shopper_password = one_time_password();
    demo_account(
        &txn,
        "shopper@demo.ocop.vn",
        "Nguyễn Thị Mai",
        &shopper_password,
        false,
    )
    .await?;
    report
        .accounts
        .push(("shopper", "shopper@demo.ocop.vn".into(), shopper_password));
    let owner_password = one_time_password();
    let owner = demo_account(
        &txn,
        "owner@demo.ocop.vn",
        "Lý Seo Chứ",
        &owner_password,
        false,
    )
    .await?;
    report
        .accounts
        .push(("cooperative", "owner@demo.ocop.vn".into(), owner_password));
    let admin_password = one_time_password();
    let admin = demo_account(
        &txn,
        "admin@demo.ocop.vn",
        "Sở Nông nghiệp và Môi trường",
        &admin_password,
        true,
    )
    .await?;
    report
        .accounts
        .push(("admin", "admin@demo.ocop.vn".into(), admin_password));

    let today = crate::clock::today_in_vietnam();
    let mut memberships = std::collections::HashMap::new();
    let mut published = Vec::new();
    for (index, coop) in catalogue.cooperatives.iter().enumerate() {
        // The demo owner runs the first cooperative; the others get accounts of their own whose
        // passwords nobody knows (the demo is about the shop, not about logging in as each).
        let user = if index == 0 {
            owner.clone()
        } else {
            let identifier = format!("{}@demo.ocop.vn", coop.key);
            demo_account(
                &txn,
                &identifier,
                &coop.input.name,
                &one_time_password(),
                false,
            )
            .await?
        };
        let current = CurrentUser {
            id: user.id,
            display_name: user.display_name.clone(),
            is_admin: false,
        };
        let details = coop
            .input
            .parse(reference)
            .map_err(|e| seed_error(&coop.key, e))?;
        let created = cooperative_service::create(&txn, &current, details)
            .await
            .map_err(|e| seed_error(&coop.key, e))?;
        let status = CooperativeStatus::parse(&coop.status)
            .ok_or_else(|| anyhow!("{}: unknown status {}", coop.key, coop.status))?;
        let mut row: cooperatives::ActiveModel = created.clone().into();
        row.status = Set(status.as_str().to_owned());
        if status != CooperativeStatus::Pending {
            row.reviewed_at = Set(Some(Utc::now()));
        }
        let created = row.update(&txn).await?;
        memberships.insert(
            coop.key.clone(),
            Membership {
                cooperative: created,
                role: MemberRole::Owner,
            },
        );
        report.cooperatives += 1;
    }

    for item in &catalogue.products {
        let membership = memberships
            .get(&item.cooperative)
            .ok_or_else(|| anyhow!("{}: unknown cooperative {}", item.name, item.cooperative))?;
        let request = ProductRequest {
            name: item.name.clone(),
            short_name: Some(item.short_name.clone()),
            description: Some(item.description.clone()),
            category_code: item.category.clone(),
            price_vnd: item.price_vnd,
            unit: item.unit.clone(),
            stock_quantity: Some(item.stock),
            gtin: item.gtin.clone(),
            weight_grams: sizes.get(&item.name).map(|s| s.first_weight_grams),
        };
        let details = request
            .parse(reference)
            .map_err(|e| seed_error(&item.name, e))?;
        let mut product = product_service::create(&txn, membership, details)
            .await
            .map_err(|e| seed_error(&item.name, e))?;
        add_demo_sizes(&txn, &product, sizes.get(&item.name))
            .await
            .map_err(|e| seed_error(&item.name, e))?;
        if item.published {
            product = product_service::set_status(&txn, product, ProductStatus::Published)
                .await
                .map_err(|e| seed_error(&item.name, e))?;
        }
        if let Some(cert) = &item.certificate {
            let request = CertificateRequest {
                stars: cert.stars,
                certificate_number: cert.number.clone(),
                issuing_level: cert.level.clone(),
                issued_on: cert.issued_on.clone(),
                expires_on: cert.expires_on.clone(),
                document_url: None,
            };
            let details = request.parse().map_err(|e| seed_error(&item.name, e))?;
            let recorded = certificates::record(&txn, membership, &product, details)
                .await
                .map_err(|e| seed_error(&item.name, e))?;
            if cert.status == CertificateStatus::Verified.as_str() {
                let mut row: ocop_certificates::ActiveModel = recorded.into();
                row.status = Set(CertificateStatus::Verified.as_str().to_owned());
                row.reviewed_at = Set(Some(Utc::now()));
                row.reviewed_by = Set(Some(admin.id));
                row.update(&txn).await?;
                certificates::refresh_product_rating(&txn, product.id)
                    .await
                    .map_err(|e| seed_error(&item.name, e))?;
            }
        }
        report.products += 1;
        if product.status == ProductStatus::Published.as_str()
            && membership.cooperative.status == CooperativeStatus::Verified.as_str()
        {
            published.push((product, membership.clone()));
        }
    }
    let recorder = CurrentUser {
        id: owner.id,
        display_name: owner.display_name.clone(),
        is_admin: false,
    };
    demo_trace(&txn, reference, signer, &recorder, &published, today).await?;
    txn.commit().await?;
    Ok(Some(report))
}

/// A batch with trace events and 20 stamps for every published demo product; the first
/// product also gets a roll of signed stamps, and one batch is made from another
/// (a transformation), so that every part of the origin page has something to show.
async fn demo_trace(
    txn: &(impl ConnectionTrait + TransactionTrait),
    reference: &ReferenceData,
    signer: &StampSigner,
    recorder: &CurrentUser,
    published: &[(products::Model, Membership)],
    today: NaiveDate,
) -> anyhow::Result<()> {
    let mut previous: Option<(i64, String, batches_entity::Model)> = None;
    for (index, (product, membership)) in published.iter().enumerate() {
        let harvested = today - Duration::days(30 + (index as i64 % 60));
        let lot = format!("L{}-{:03}", harvested.format("%y%m"), index + 1);
        let details = BatchInput {
            lot_code: lot.clone(),
            harvested_on: harvested.to_string(),
            best_before: (harvested + Duration::days(540)).to_string(),
            quantity: (100 + (index % 9) * 50).to_string(),
            quantity_unit: "hộp".into(),
            certifications: if index % 3 == 0 {
                "VietGAP".into()
            } else {
                String::new()
            },
            ..Default::default()
        }
        .parse(reference)
        .map_err(|e| seed_error(&lot, e))?;
        let batch = batches::create(txn, recorder, membership, product, details)
            .await
            .map_err(|e| seed_error(&lot, e))?;
        let steps: [(&str, i64, &str, &str); 3] = [
            (
                "commissioning",
                0,
                "Tổ sản xuất của hợp tác xã",
                "Thu hoạch và sơ chế tại vùng nguyên liệu.",
            ),
            (
                "packing",
                3,
                "Xưởng đóng gói của hợp tác xã",
                "Đóng gói, dán tem truy xuất nguồn gốc.",
            ),
            (
                "shipping",
                6,
                "Bưu điện tỉnh",
                "Gửi hàng tới điểm bán và người mua.",
            ),
        ];
        for (event_type, days_after, actor, note) in steps {
            let at = (harvested + Duration::days(days_after))
                .and_hms_opt(8, 0, 0)
                .unwrap_or_default();
            let input = EventInput {
                event_type: event_type.into(),
                occurred_at: at.format("%Y-%m-%dT%H:%M").to_string(),
                utc_offset: "+07:00".into(),
                actor: actor.into(),
                note: note.into(),
                ..Default::default()
            };
            let details = input.parse(reference).map_err(|e| seed_error(&lot, e))?;
            events::record(txn, recorder, &batch, details)
                .await
                .map_err(|e| seed_error(&lot, e))?;
        }
        // A batch made from the previous batch of the same cooperative.
        if let Some((coop_id, input_lot, _)) = &previous
            && *coop_id == product.cooperative_id
            && index % 10 == 1
        {
            let input = EventInput {
                event_type: "transformation".into(),
                occurred_at: (harvested + Duration::days(2))
                    .and_hms_opt(9, 0, 0)
                    .unwrap_or_default()
                    .format("%Y-%m-%dT%H:%M")
                    .to_string(),
                utc_offset: "+07:00".into(),
                actor: "Xưởng chế biến của hợp tác xã".into(),
                input_lots: input_lot.clone(),
                ..Default::default()
            };
            let details = input.parse(reference).map_err(|e| seed_error(&lot, e))?;
            events::record(txn, recorder, &batch, details)
                .await
                .map_err(|e| seed_error(&lot, e))?;
        }
        stamps::issue(txn, signer, &batch, 20, false, |_| Ok(()))
            .await
            .map_err(|e| seed_error(&lot, e))?;
        if index == 0 {
            stamps::issue(txn, signer, &batch, 5, true, |_| Ok(()))
                .await
                .map_err(|e| seed_error(&lot, e))?;
        }
        previous = Some((product.cooperative_id, lot, batch));
    }
    Ok(())
}

/// A stamp to try the origin page with: the first signed stamp, or any.
pub async fn sample_stamp_url(
    db: &impl ConnectionTrait,
    public_url: &str,
) -> anyhow::Result<Option<String>> {
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
    let stamp = crate::entities::stamps::Entity::find()
        .filter(crate::entities::stamps::Column::Signature.is_not_null())
        .order_by_asc(crate::entities::stamps::Column::Id)
        .one(db)
        .await?;
    let stamp = match stamp {
        Some(s) => Some(s),
        None => crate::entities::stamps::Entity::find().one(db).await?,
    };
    let Some(stamp) = stamp else { return Ok(None) };
    let batch = batches_entity::Entity::find_by_id(stamp.batch_id)
        .one(db)
        .await?
        .ok_or_else(|| anyhow!("stamp without batch"))?;
    Ok(Some(
        stamps::qr_url(public_url, &stamp, &batch.lot_code)
            .replacen(
                &stamps::qr_base(public_url),
                public_url.trim_end_matches('/'),
                1,
            )
            .replacen("/S/", "/s/", 1),
    ))
}

/// How many rows a synthetic seed wrote.
pub struct SyntheticSummary {
    pub cooperatives: usize,
    pub products: usize,
}

const PRODUCT_WORDS: &[(&str, &str, i64)] = &[
    ("Mật ong bạc hà", "food-processed", 250_000),
    ("Chè Shan tuyết", "food-tea", 180_000),
    ("Gạo Séng Cù", "food-raw", 45_000),
    ("Thịt trâu gác bếp", "food-processed", 950_000),
    ("Cà phê Arabica", "food-coffee-cocoa", 220_000),
    ("Mận hậu", "food-fresh", 60_000),
    ("Miến dong", "food-raw", 70_000),
    ("Quế hồi", "food-spice", 120_000),
    ("Thảo quả khô", "food-spice", 300_000),
    ("Rượu ngô men lá", "beverage-alcoholic", 150_000),
    ("Nước cốt chanh leo", "beverage-non-alcoholic", 90_000),
    ("Xà phòng thảo dược", "herbal-cosmetic", 55_000),
    ("Trà giảo cổ lam", "herbal-health", 130_000),
    ("Khăn thổ cẩm", "textile-fabric", 280_000),
    ("Giỏ mây tre đan", "souvenir-wood-bamboo", 160_000),
    ("Đường phèn", "food-processed", 65_000),
    ("Nấm hương rừng", "food-raw", 420_000),
    ("Măng khô", "food-raw", 240_000),
    ("Tương ớt", "food-spice", 40_000),
    ("Bánh cốm", "food-processed", 50_000),
];

const UNITS: &[&str] = &[
    "hộp 500 g",
    "gói 1 kg",
    "chai 500 ml",
    "túi 200 g",
    "hộp 250 g",
];

/// Seeds `product_count` products spread over every province, deterministic for a given
/// `seed`. Rows are written in large batches in one transaction.
pub async fn synthetic(
    db: &(impl ConnectionTrait + TransactionTrait),
    reference: &ReferenceData,
    product_count: u32,
    seed: u64,
) -> anyhow::Result<SyntheticSummary> {
    let mut rng = StdRng::seed_from_u64(seed);
    let txn = crate::db::begin_write(db).await?;
    let owner = match accounts::register(
        &txn,
        NewAccount::parse("synthetic@bench.ocop.vn", &one_time_password(), "Synthetic")
            .map_err(|e| seed_error("synthetic owner", e))?,
    )
    .await
    .map_err(|e| seed_error("synthetic owner", e))?
    {
        Registration::Created(user) => user,
        Registration::AlreadyTaken => {
            return Err(anyhow!("the synthetic catalogue is already seeded"));
        }
    };
    let now = Utc::now();
    let coop_count = (product_count / 50).max(1) as usize;
    let first_coop_id = next_id::<cooperatives::Entity>(&txn).await?;
    let mut coop_rows = Vec::with_capacity(coop_count);
    let mut coop_places = Vec::with_capacity(coop_count);
    for i in 0..coop_count {
        let commune = &reference.communes[rng.random_range(0..reference.communes.len())];
        let name = format!(
            "Hợp tác xã {} số {}",
            commune
                .name
                .trim_start_matches("Xã ")
                .trim_start_matches("Phường "),
            i + 1
        );
        coop_places.push((commune.code.clone(), commune.province_code.clone()));
        coop_rows.push(cooperatives::ActiveModel {
            id: Set(first_coop_id + i as i64),
            slug: Set(format!("{}-{}", Slug::from_name(&name).as_str(), i + 1)),
            registration_number: Set(format!("SYN{:010}", i + 1)),
            name: Set(name),
            commune_code: Set(commune.code.clone()),
            province_code: Set(commune.province_code.clone()),
            address: Set(String::new()),
            contact_phone: Set(format!("09{:08}", i)),
            contact_email: Set(None),
            description: Set(String::new()),
            bank_bin: Set("970405".into()),
            bank_account_number: Set(format!("{:013}", i + 1)),
            bank_account_holder: Set(fold_vietnamese("HTX SYNTHETIC").to_uppercase()),
            status: Set(CooperativeStatus::Verified.as_str().into()),
            status_reason: Set(None),
            created_by: Set(owner.id),
            created_at: Set(now),
            updated_at: Set(now),
            reviewed_at: Set(Some(now)),
            delivery_fee_vnd: Set(30_000),
            reviewed_fingerprint: Set(None),
        });
    }
    for chunk in coop_rows.chunks(500) {
        cooperatives::Entity::insert_many(chunk.to_vec())
            .exec(&txn)
            .await?;
    }
    let members: Vec<_> = (0..coop_count)
        .map(|i| cooperative_members::ActiveModel {
            cooperative_id: Set(first_coop_id + i as i64),
            user_id: Set(owner.id),
            role: Set(MemberRole::Owner.as_str().into()),
            created_at: Set(now),
        })
        .collect();
    for chunk in members.chunks(1000) {
        cooperative_members::Entity::insert_many(chunk.to_vec())
            .exec(&txn)
            .await?;
    }

    let today = crate::clock::today_in_vietnam();
    let mut batch = Vec::with_capacity(1000);
    for i in 0..product_count as usize {
        let coop_index = i % coop_count;
        let (commune_code, province_code) = &coop_places[coop_index];
        let (base, category, base_price) = PRODUCT_WORDS[rng.random_range(0..PRODUCT_WORDS.len())];
        let place = reference
            .commune(commune_code)
            .map(|c| {
                c.name
                    .trim_start_matches("Xã ")
                    .trim_start_matches("Phường ")
                    .to_owned()
            })
            .unwrap_or_default();
        let name = format!("{base} {place} loại {}", i % 7 + 1);
        let price = (base_price / 1000 * rng.random_range(60..180) / 100).max(1) * 1000;
        let stars: Option<i16> = match rng.random_range(0..10) {
            0..=5 => Some(3),
            6 | 7 => Some(4),
            8 => Some(5),
            _ => None,
        };
        let expires = stars.map(|_| today + Duration::days(rng.random_range(-200..900)));
        batch.push(products::ActiveModel {
            cooperative_id: Set(first_coop_id + coop_index as i64),
            slug: Set(format!("{}-{}", Slug::from_name(&name).as_str(), i + 1)),
            short_name: Set(name.chars().take(40).collect()),
            name: Set(name),
            description: Set(format!("{base} của hợp tác xã tại {place}.")),
            category_code: Set(category.into()),
            price_vnd: Set(price),
            unit: Set(UNITS[i % UNITS.len()].into()),
            stock_quantity: Set(rng.random_range(0..500)),
            status: Set(ProductStatus::Published.as_str().into()),
            listed: Set(true),
            province_code: Set(province_code.clone()),
            commune_code: Set(commune_code.clone()),
            ocop_stars: Set(stars),
            ocop_expires_on: Set(expires.map(|d: NaiveDate| d)),
            created_at: Set(now),
            updated_at: Set(now),
            published_at: Set(Some(now)),
            ..Default::default()
        });
        if batch.len() == 1000 {
            products::Entity::insert_many(std::mem::take(&mut batch))
                .exec(&txn)
                .await?;
        }
    }
    if !batch.is_empty() {
        products::Entity::insert_many(batch).exec(&txn).await?;
    }
    crate::catalog::variants::backfill(&txn).await?;
    let coop_ids: Vec<i64> = (0..coop_count).map(|i| first_coop_id + i as i64).collect();
    crate::catalog::outbox::enqueue_cooperative_products(&txn, &coop_ids).await?;
    // Cooperatives were given explicit ids; PostgreSQL's sequence must move past them or the
    // next cooperative created through the app would collide.
    if txn.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        txn.execute_unprepared(
            "SELECT setval(pg_get_serial_sequence('cooperatives', 'id'), \
             (SELECT MAX(id) FROM cooperatives))",
        )
        .await?;
    }
    txn.commit().await?;
    Ok(SyntheticSummary {
        cooperatives: coop_count,
        products: product_count as usize,
    })
}

/// The next free id of a table (ids are assigned explicitly for bulk inserts of related rows).
async fn next_id<E: EntityTrait>(db: &impl ConnectionTrait) -> anyhow::Result<i64>
where
    E::Model: Sync,
{
    use sea_orm::{QueryOrder, QuerySelect};
    let pk = E::PrimaryKey::iter()
        .next()
        .ok_or_else(|| anyhow!("table without a primary key"))?;
    let last: Option<i64> = E::find()
        .select_only()
        .column(sea_orm::PrimaryKeyToColumn::into_column(pk))
        .order_by_desc(sea_orm::PrimaryKeyToColumn::into_column(pk))
        .into_tuple()
        .one(db)
        .await?;
    Ok(last.unwrap_or(0) + 1)
}

// ---------------------------------------------------------------- demo sizes (issue 18)

/// The extra sizes of a demo product (`assets/demo/variants.json`).
#[derive(Debug, Deserialize)]
struct DemoSizes {
    product: String,
    first_weight_grams: i64,
    extra: Vec<DemoSize>,
}

#[derive(Debug, Deserialize)]
struct DemoSize {
    label: String,
    price_vnd: i64,
    stock: i64,
    weight_grams: i64,
    /// The size's own GTIN (a GTIN names one trade item, so one size).
    #[serde(default)]
    gtin: Option<String>,
}

#[derive(Debug, Deserialize)]
struct DemoSizesFile {
    products: Vec<DemoSizes>,
}

/// The demo's sizes by product name.
fn demo_sizes() -> anyhow::Result<std::collections::HashMap<String, DemoSizes>> {
    let file: DemoSizesFile = serde_json::from_str(include_str!("../assets/demo/variants.json"))
        .context("assets/demo/variants.json is not valid")?;
    Ok(file
        .products
        .into_iter()
        .map(|p| (p.product.clone(), p))
        .collect())
}

/// Adds a demo product's further sizes, through the service a cooperative uses.
async fn add_demo_sizes(
    db: &(impl ConnectionTrait + TransactionTrait),
    product: &products::Model,
    sizes: Option<&DemoSizes>,
) -> Result<(), AppError> {
    for size in sizes.map(|s| s.extra.as_slice()).unwrap_or_default() {
        let request = crate::catalog::variants::VariantRequest {
            label: size.label.clone(),
            price_vnd: size.price_vnd,
            weight_grams: Some(size.weight_grams),
            sku: None,
            stock_quantity: Some(size.stock),
            gtin: size.gtin.clone(),
        };
        crate::catalog::variants::add(db, product, request.parse()?).await?;
    }
    Ok(())
}
