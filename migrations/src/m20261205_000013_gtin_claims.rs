//! GTIN ownership. A GTIN names one trade item of one brand owner, so it must not go to
//! whoever types it first. `products.gtin` (unique) now holds only a GTIN the product **owns**;
//! what the cooperative typed is `gtin_claim`, with `gtin_status`:
//! - `owned`: the cooperative is verified and nobody else owns the GTIN (`gtin` = the claim);
//! - `pending`: the cooperative is not verified yet; its claim blocks nobody;
//! - `disputed`: a verified cooperative claims a GTIN another verified cooperative owns; an
//!   administrator decides;
//! - `refused`: an administrator gave the GTIN to another product.
//!
//! Existing rows: a verified cooperative's GTIN stays owned; any other becomes a pending claim.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Products::Table)
                    .add_column(string_len_null(Products::GtinClaim, 14))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Products::Table)
                    .add_column(string_len_null(Products::GtinStatus, 16))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "UPDATE products SET gtin_claim = gtin, gtin_status = CASE WHEN EXISTS \
             (SELECT 1 FROM cooperatives c WHERE c.id = products.cooperative_id \
             AND c.status = 'verified') THEN 'owned' ELSE 'pending' END \
             WHERE gtin IS NOT NULL",
        )
        .await?;
        db.execute_unprepared("UPDATE products SET gtin = NULL WHERE gtin_status = 'pending'")
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_products_gtin_claim")
                    .table(Products::Table)
                    .col(Products::GtinClaim)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_products_gtin_claim")
                    .table(Products::Table)
                    .to_owned(),
            )
            .await?;
        for column in [Products::GtinStatus, Products::GtinClaim] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Products::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Products {
    Table,
    GtinClaim,
    GtinStatus,
}
