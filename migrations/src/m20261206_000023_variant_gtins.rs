//! A GTIN names one trade item, so one size: GTINs move from products to their variants.
//!
//! `product_variants` gains `gtin` (unique: only a GTIN the size **owns**), `gtin_claim` (what
//! the cooperative typed) and `gtin_status` (`owned`, `pending`, `disputed`, `refused`), with
//! the ownership rules of migration 000013 unchanged (see `catalog::gtins`). Each product's GTIN,
//! claim and status move to its first variant (lowest position), which is the size it named
//! until now, so every existing Digital Link keeps resolving to the same stamps.
//!
//! The product columns are emptied and no code reads them any more. They stay in the table:
//! `products.gtin` carries a UNIQUE column constraint, which SQLite can only drop by rebuilding
//! the table, and rebuilding the most-referenced table to reclaim three empty columns is not
//! worth its risk. `down` moves the values back.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The variant (first by position, then id) that names its product's size in the statements
/// below.
const FIRST_VARIANT: &str = "product_variants.id = (SELECT v.id FROM product_variants v \
     WHERE v.product_id = product_variants.product_id ORDER BY v.position, v.id LIMIT 1)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            string_len_null(ProductVariants::Gtin, 14),
            string_len_null(ProductVariants::GtinClaim, 14),
            string_len_null(ProductVariants::GtinStatus, 16),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(ProductVariants::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        // SQLite cannot add a UNIQUE column: a unique index does the same (NULLs never clash).
        manager
            .create_index(
                Index::create()
                    .name("idx_product_variants_gtin")
                    .table(ProductVariants::Table)
                    .col(ProductVariants::Gtin)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_product_variants_gtin_claim")
                    .table(ProductVariants::Table)
                    .col(ProductVariants::GtinClaim)
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(&format!(
            "UPDATE product_variants SET \
             gtin = (SELECT p.gtin FROM products p WHERE p.id = product_variants.product_id), \
             gtin_claim = (SELECT p.gtin_claim FROM products p \
                           WHERE p.id = product_variants.product_id), \
             gtin_status = (SELECT p.gtin_status FROM products p \
                            WHERE p.id = product_variants.product_id) \
             WHERE {FIRST_VARIANT}"
        ))
        .await?;
        db.execute_unprepared(
            "UPDATE products SET gtin = NULL, gtin_claim = NULL, gtin_status = NULL \
             WHERE EXISTS (SELECT 1 FROM product_variants v WHERE v.product_id = products.id)",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            "UPDATE products SET \
             gtin = (SELECT v.gtin FROM product_variants v WHERE v.product_id = products.id \
                     ORDER BY v.position, v.id LIMIT 1), \
             gtin_claim = (SELECT v.gtin_claim FROM product_variants v \
                           WHERE v.product_id = products.id ORDER BY v.position, v.id LIMIT 1), \
             gtin_status = (SELECT v.gtin_status FROM product_variants v \
                            WHERE v.product_id = products.id ORDER BY v.position, v.id LIMIT 1)",
        )
        .await?;
        for index in [
            "idx_product_variants_gtin",
            "idx_product_variants_gtin_claim",
        ] {
            manager
                .drop_index(
                    Index::drop()
                        .name(index)
                        .table(ProductVariants::Table)
                        .to_owned(),
                )
                .await?;
        }
        for column in [
            ProductVariants::Gtin,
            ProductVariants::GtinClaim,
            ProductVariants::GtinStatus,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ProductVariants::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum ProductVariants {
    Table,
    Gtin,
    GtinClaim,
    GtinStatus,
}
