//! In-process measurements for the benchmark scripts (`scripts/bench-stamps`): issuing stamps,
//! rendering label sheets, and counting recorded scans after a load run.

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
    let sheet: Vec<Label> = rows
        .iter()
        .take(labels)
        .map(|s| Label {
            url: stamps::qr_url(&state.config.public_url, s, &batch.lot_code),
            short_name: product.short_name.clone(),
            lot: batch.lot_code.clone(),
            serial: u64::try_from(s.serial).unwrap_or(0),
            stars: Some(4),
        })
        .collect();
    let started = Instant::now();
    let pdf = labels::render_sheet(
        &sheet,
        &SheetLayout::default(),
        "Quét để xác thực nguồn gốc",
    )
    .map_err(|e| anyhow!("{e}"))?;
    println!(
        "label sheet of {} labels: {:.2} s, {:.1} MB",
        sheet.len(),
        started.elapsed().as_secs_f64(),
        pdf.len() as f64 / 1_000_000.0
    );

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
