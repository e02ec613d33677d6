//! In-process measurements and bulk data for the benchmark scripts (`scripts/bench-stamps`,
//! `scripts/bench-dashboard`): issuing stamps, rendering label sheets, counting recorded scans
//! after a load run, recording a year of activity in bulk and timing the dashboard.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, anyhow};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::AppState;
use crate::accounts::CurrentUser;
use crate::catalog::access;
use crate::entities::{products, scans, stamps as stamp_rows};
use crate::trace::batches::{self, BatchInput};
use crate::trace::labels::{self, Label, SheetLayout};
use crate::trace::stamps;

/// Issues `count` stamps on a fresh batch of the first product, renders a label sheet of
/// `labels` of them, and writes the scan paths of `paths` of them to `paths_file`.
pub async fn stamps(
    state: &AppState,
    count: u32,
    labels: usize,
    paths: usize,
    paths_file: &Path,
) -> anyhow::Result<()> {
    let product = products::Entity::find()
        .order_by_asc(products::Column::Id)
        .one(&state.db)
        .await?
        .ok_or_else(|| anyhow!("no product: run `seed synthetic` first"))?;
    let owner_id: i64 = crate::entities::cooperative_members::Entity::find()
        .filter(
            crate::entities::cooperative_members::Column::CooperativeId.eq(product.cooperative_id),
        )
        .one(&state.db)
        .await?
        .map(|m| m.user_id)
        .ok_or_else(|| anyhow!("the product's cooperative has no member"))?;
    let owner = CurrentUser {
        id: owner_id,
        display_name: String::new(),
        is_admin: false,
    };
    let (_, membership) = access::managed_product(&state.db, &owner, product.id)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let lot = format!("BENCH-{}", chrono::Utc::now().format("%H%M%S"));
    let details = BatchInput {
        lot_code: lot.clone(),
        quantity: count.to_string(),
        quantity_unit: "hộp".into(),
        ..Default::default()
    }
    .parse(&state.reference)
    .map_err(|e| anyhow!("{e}"))?;
    let batch = batches::create(&state.db, &owner, &membership, &product, details)
        .await
        .map_err(|e| anyhow!("{e}"))?;

    let started = Instant::now();
    stamps::issue(&state.db, &state.signer, &batch, count, false, |_| Ok(()))
        .await
        .map_err(|e| anyhow!("{e}"))?;
    println!(
        "issue {count} stamps (one transaction): {:.2} s",
        started.elapsed().as_secs_f64()
    );

    let rows = stamps::all_active_of_batch(&state.db, batch.id, None)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let label_of = |s: &stamp_rows::Model| Label {
        url: stamps::qr_url(&state.config.public_url, s, &batch.lot_code),
        short_name: product.short_name.clone(),
        lot: batch.lot_code.clone(),
        serial: u64::try_from(s.serial).unwrap_or(0),
        stars: Some(4),
    };
    let sheet: Vec<Label> = rows.iter().take(labels).map(label_of).collect();
    time_label_sheet("label sheet", &sheet)?;

    // A signed roll of as many stamps: much longer URLs, so larger QR codes.
    let roll = stamps::issue(
        &state.db,
        &state.signer,
        &batch,
        u32::try_from(labels.max(1)).unwrap_or(1),
        true,
        |_| Ok(()),
    )
    .await
    .map_err(|e| anyhow!("{e}"))?;
    let signed: Vec<Label> = stamps::all_active_of_batch(&state.db, batch.id, Some(roll.roll))
        .await
        .map_err(|e| anyhow!("{e}"))?
        .iter()
        .map(label_of)
        .collect();
    time_label_sheet("signed label sheet", &signed)?;

    let mut file = std::fs::File::create(paths_file)
        .with_context(|| format!("cannot write {}", paths_file.display()))?;
    for stamp in rows.iter().take(paths) {
        writeln!(file, "/s/{}", stamp.code)?;
    }
    println!(
        "{} scan paths written to {}",
        paths.min(rows.len()),
        paths_file.display()
    );
    Ok(())
}

/// Renders `sheet` three times and prints the median time and the file size.
fn time_label_sheet(what: &str, sheet: &[Label]) -> anyhow::Result<()> {
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..3 {
        let started = Instant::now();
        let pdf =
            labels::render_sheet(sheet, &SheetLayout::default(), "Quét để xác thực nguồn gốc")
                .map_err(|e| anyhow!("{e}"))?;
        times.push(started.elapsed().as_secs_f64());
        size = pdf.len();
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{what} of {} labels: median {:.2} s (of {:.2} / {:.2} / {:.2}), {:.1} MB",
        sheet.len(),
        times[1],
        times[0],
        times[1],
        times[2],
        size as f64 / 1_000_000.0
    );
    Ok(())
}

/// Prints how many scans and stamps the database holds.
pub async fn count_scans(state: &AppState) -> anyhow::Result<()> {
    let scans = scans::Entity::find().count(&state.db).await?;
    let scanned: Option<i64> = stamp_rows::Entity::find()
        .select_only()
        .column_as(stamp_rows::Column::ScanCount.sum(), "total")
        .into_tuple()
        .one(&state.db)
        .await?
        .flatten();
    let scanned = scanned.unwrap_or(0);
    println!("recorded scans: {scans} (sum of stamp counters: {scanned})");
    Ok(())
}

/// How much activity [`seed_activity`] records.
#[derive(Debug, Clone, Copy)]
pub struct ActivitySize {
    /// Batches, one per product, taken from the first products.
    pub batches: u32,
    pub stamps_per_batch: u32,
    pub scans: u32,
    pub orders: u32,
    pub fake_reports: u32,
    pub seed: u64,
}

/// Records a year of marketplace activity on top of a seeded catalogue, for the dashboard
/// benchmark: batches with stamps issued over the last 12 months (a few flagged as likely
/// copies), `scans` recorded scans of them spread over the year (60 % with a reported
/// province), paid orders across the months (5 % cancelled) and fake reports. Rows are written
/// in multi-row inserts inside a few transactions, not through the services, so a million
/// scans take seconds rather than the hours one request each would.
pub async fn seed_activity(state: &AppState, size: ActivitySize) -> anyhow::Result<()> {
    use chrono::{Duration, Utc};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use sea_orm::{ActiveValue::Set, TransactionTrait};

    use crate::domain::StampCode;
    use crate::entities::{batches as batch_rows, fake_reports, orders, payments};

    let db = &state.db;
    let mut rng = StdRng::seed_from_u64(size.seed);
    let now = Utc::now();
    let year = Duration::days(365);
    let random_time =
        |rng: &mut StdRng| now - Duration::seconds(rng.random_range(0..year.num_seconds()));
    let provinces: Vec<String> = state
        .reference
        .provinces
        .iter()
        .map(|p| p.code.clone())
        .collect();
    let communes: Vec<(String, String)> = state
        .reference
        .communes
        .iter()
        .map(|c| (c.code.clone(), c.province_code.clone()))
        .collect();

    let chosen: Vec<products::Model> = products::Entity::find()
        .order_by_asc(products::Column::Id)
        .limit(u64::from(size.batches))
        .all(db)
        .await?;
    if chosen.is_empty() {
        return Err(anyhow!("no product: run `seed synthetic` first"));
    }
    let owner_id: i64 = crate::entities::cooperatives::Entity::find_by_id(chosen[0].cooperative_id)
        .one(db)
        .await?
        .map(|c| c.created_by)
        .ok_or_else(|| anyhow!("the first product has no cooperative"))?;
    if size.orders >= 1_000_000 {
        return Err(anyhow!("at most 999,999 orders per run"));
    }
    let started = Instant::now();
    let prefix = format!("B{}", now.format("%H%M%S"));
    let run = now.timestamp().rem_euclid(1_000_000);

    let txn = db.begin().await?;
    let batch_models: Vec<batch_rows::ActiveModel> = chosen
        .iter()
        .enumerate()
        .map(|(i, p)| batch_rows::ActiveModel {
            cooperative_id: Set(p.cooperative_id),
            product_id: Set(p.id),
            lot_code: Set(format!("{prefix}-{i}")),
            harvested_on: Set(None),
            produced_on: Set(None),
            best_before: Set(None),
            quantity: Set(i64::from(size.stamps_per_batch)),
            quantity_unit: Set("hộp".into()),
            origin_commune_code: Set(p.commune_code.clone()),
            plot_name: Set(None),
            plot_latitude: Set(None),
            plot_longitude: Set(None),
            certifications: Set(String::new()),
            certification_document_url: Set(None),
            created_by: Set(owner_id),
            created_at: Set(now),
            ..Default::default()
        })
        .collect();
    for chunk in batch_models.chunks(500) {
        batch_rows::Entity::insert_many(chunk.to_vec())
            .exec(&txn)
            .await?;
    }
    let batch_list: Vec<(i64, i64)> = batch_rows::Entity::find()
        .select_only()
        .column(batch_rows::Column::Id)
        .column(batch_rows::Column::CooperativeId)
        .filter(batch_rows::Column::LotCode.starts_with(format!("{prefix}-")))
        .into_tuple()
        .all(&txn)
        .await?;
    let mut stamp_rows = Vec::with_capacity(1000);
    for (batch_id, cooperative_id) in &batch_list {
        let issued_at = random_time(&mut rng);
        for serial in 1..=i64::from(size.stamps_per_batch) {
            let flagged = rng.random_range(0..200) == 0;
            stamp_rows.push(stamp_rows::ActiveModel {
                batch_id: Set(*batch_id),
                cooperative_id: Set(*cooperative_id),
                serial: Set(serial),
                code: Set(StampCode::generate().as_str().to_owned()),
                roll: Set(1),
                status: Set("active".into()),
                void_reason: Set(None),
                voided_at: Set(None),
                key_id: Set(None),
                signature: Set(None),
                issued_at: Set(issued_at),
                scan_count: Set(0),
                distinct_clients: Set(0),
                first_scanned_at: Set(None),
                last_scanned_at: Set(None),
                flagged: Set(flagged),
                flag_reason: Set(flagged.then(|| "many_clients".to_owned())),
                ..Default::default()
            });
            if stamp_rows.len() == 1000 {
                stamp_rows::Entity::insert_many(std::mem::take(&mut stamp_rows))
                    .exec(&txn)
                    .await?;
            }
        }
    }
    if !stamp_rows.is_empty() {
        stamp_rows::Entity::insert_many(stamp_rows)
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    let batch_ids: Vec<i64> = batch_list.iter().map(|(id, _)| *id).collect();
    let mut issued: Vec<(i64, i64, String, chrono::DateTime<Utc>)> = Vec::new();
    for chunk in batch_ids.chunks(500) {
        issued.extend(
            stamp_rows::Entity::find()
                .select_only()
                .column(stamp_rows::Column::Id)
                .column(stamp_rows::Column::CooperativeId)
                .column(stamp_rows::Column::Code)
                .column(stamp_rows::Column::IssuedAt)
                .filter(stamp_rows::Column::BatchId.is_in(chunk.to_vec()))
                .into_tuple::<(i64, i64, String, chrono::DateTime<Utc>)>()
                .all(db)
                .await?,
        );
    }
    println!(
        "{} batches and {} stamps in {:.1} s",
        batch_list.len(),
        issued.len(),
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let classes = ["mobile", "mobile", "mobile", "desktop", "other"];
    let verdicts = ["first", "seen_before", "seen_before", "repeat_same"];
    let mut written = 0u32;
    while written < size.scans {
        let txn = db.begin().await?;
        // 100,000 scans per transaction: a steady write rate without one huge transaction.
        let goal = (written + 100_000).min(size.scans);
        let mut rows = Vec::with_capacity(1000);
        while written < goal {
            let (stamp_id, cooperative_id, code, issued_at) =
                &issued[rng.random_range(0..issued.len())];
            let span = (now - *issued_at).num_seconds().max(1);
            let at = now - Duration::seconds(rng.random_range(0..span));
            let hash: u128 = rng.random();
            rows.push(scans::ActiveModel {
                stamp_id: Set(Some(*stamp_id)),
                cooperative_id: Set(Some(*cooperative_id)),
                code: Set(code.clone()),
                scanned_at: Set(at),
                scanned_on: Set(crate::clock::to_vietnam_time(at).date_naive()),
                client_hash: Set(format!("{hash:032x}")),
                client_class: Set(classes[rng.random_range(0..classes.len())].into()),
                verdict: Set(verdicts[rng.random_range(0..verdicts.len())].into()),
                repeat_by_same_client: Set(false),
                province_code: Set(if rng.random_range(0..10) < 6 {
                    Some(provinces[rng.random_range(0..provinces.len())].clone())
                } else {
                    None
                }),
                latitude: Set(None),
                longitude: Set(None),
                ..Default::default()
            });
            written += 1;
            if rows.len() == 1000 {
                scans::Entity::insert_many(std::mem::take(&mut rows))
                    .exec(&txn)
                    .await?;
            }
        }
        if !rows.is_empty() {
            scans::Entity::insert_many(rows).exec(&txn).await?;
        }
        txn.commit().await?;
    }
    println!(
        "{written} scans in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let txn = db.begin().await?;
    let flagged: Vec<&(i64, i64, String, chrono::DateTime<Utc>)> =
        issued.iter().step_by(200).collect();
    let mut reports = Vec::with_capacity(1000);
    for i in 0..size.fake_reports {
        let (stamp_id, cooperative_id, code, _) = flagged[i as usize % flagged.len().max(1)];
        let hash: u128 = rng.random();
        reports.push(fake_reports::ActiveModel {
            stamp_id: Set(Some(*stamp_id)),
            cooperative_id: Set(Some(*cooperative_id)),
            code: Set(code.clone()),
            place_of_purchase: Set("Chợ biên giới".into()),
            seller: Set(String::new()),
            note: Set(String::new()),
            province_code: Set(Some(
                provinces[rng.random_range(0..provinces.len())].clone(),
            )),
            client_hash: Set(format!("{hash:032x}")),
            created_at: Set(random_time(&mut rng)),
            ..Default::default()
        });
        if reports.len() == 1000 {
            fake_reports::Entity::insert_many(std::mem::take(&mut reports))
                .exec(&txn)
                .await?;
        }
    }
    if !reports.is_empty() {
        fake_reports::Entity::insert_many(reports)
            .exec(&txn)
            .await?;
    }
    // One payment per order, as a checkout from a single cooperative makes.
    let mut order_rows = Vec::with_capacity(500);
    for i in 0..size.orders {
        let product = &chosen[rng.random_range(0..chosen.len())];
        let (commune_code, province_code) = &communes[rng.random_range(0..communes.len())];
        let paid_at = random_time(&mut rng);
        let subtotal: i64 = rng.random_range(1..40) * 50_000;
        let total = subtotal + 30_000;
        let cancelled = rng.random_range(0..20) == 0;
        let payment = payments::ActiveModel {
            // Payment references are 16 characters at most: OCOP, the run, the order.
            reference: Set(format!("OCOP{run:06}{i:06}")),
            access_token_hash: Set(format!("{prefix}-{i}")),
            checkout_key: Set(None),
            buyer_user_id: Set(None),
            method: Set("vietqr".into()),
            status: Set("paid".into()),
            amount_vnd: Set(total),
            received_vnd: Set(total),
            expires_at: Set(paid_at),
            paid_at: Set(Some(paid_at)),
            provider_payment_id: Set(None),
            stripe_session_id: Set(None),
            created_at: Set(paid_at),
            updated_at: Set(paid_at),
            ..Default::default()
        };
        let payment_id = payments::Entity::insert(payment)
            .exec(&txn)
            .await?
            .last_insert_id;
        order_rows.push(orders::ActiveModel {
            payment_id: Set(payment_id),
            cooperative_id: Set(product.cooperative_id),
            buyer_user_id: Set(None),
            status: Set(if cancelled { "cancelled" } else { "completed" }.into()),
            subtotal_vnd: Set(subtotal),
            delivery_fee_vnd: Set(30_000),
            total_vnd: Set(total),
            commission_vnd: Set(subtotal / 20),
            recipient_name: Set("Người mua".into()),
            recipient_phone: Set("0912345678".into()),
            province_code: Set(province_code.clone()),
            commune_code: Set(commune_code.clone()),
            street: Set(String::new()),
            carrier: Set(None),
            tracking_number: Set(None),
            cancel_reason: Set(None),
            cancelled_by: Set(None),
            created_at: Set(paid_at),
            updated_at: Set(paid_at),
            paid_at: Set(Some(paid_at)),
            ..Default::default()
        });
        if order_rows.len() == 500 {
            orders::Entity::insert_many(std::mem::take(&mut order_rows))
                .exec(&txn)
                .await?;
        }
    }
    if !order_rows.is_empty() {
        orders::Entity::insert_many(order_rows).exec(&txn).await?;
    }
    txn.commit().await?;
    println!(
        "{} fake reports and {} paid orders in {:.1} s",
        size.fake_reports,
        size.orders,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Times the dashboard's computation in process, without the cache and without HTTP: the
/// whole country and one province, `rounds` times each, printing the median and the slowest.
pub async fn dashboard(state: &AppState, rounds: u32, province: &str) -> anyhow::Result<()> {
    use crate::dashboard::{DashboardFilter, compute};
    for filter in [
        DashboardFilter::default(),
        DashboardFilter {
            province: Some(province.to_owned()),
        },
    ] {
        let mut times = Vec::with_capacity(rounds as usize);
        for _ in 0..rounds.max(1) {
            let started = Instant::now();
            compute(&state.db, &state.reference, &filter, chrono::Utc::now())
                .await
                .map_err(|e| anyhow!("{e}"))?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "  compute, {}: median {:.1} ms, slowest {:.1} ms ({} rounds)",
            filter.province.as_deref().unwrap_or("whole country"),
            times[times.len() / 2],
            times[times.len() - 1],
            times.len()
        );
    }
    Ok(())
}
