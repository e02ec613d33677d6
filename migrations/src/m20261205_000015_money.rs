//! Money that always adds up (issue 16).
//!
//! - `refunds.claimed_at`: a sender claims a refund (status `sending`) before calling Stripe,
//!   so two senders (two app servers, a cancellation and the periodic task) never send one
//!   refund at once; a claim older than a few minutes belongs to a sender that died and may be
//!   taken over, under the same idempotency key.
//! - `refunds.refunded_vnd`: what Stripe says it refunded (its answer, then `charge.refunded`),
//!   beside what the platform asked for.
//! - `carts.merge_note`: what a visitor's cart could not bring into the account's cart at
//!   login (a product no longer for sale, a full cart), shown to the shopper once.
//! - `cooperatives.reviewed_fingerprint`: what the province reviewed when it verified the
//!   cooperative (registration number, name, commune, bank account), so that a decision on
//!   details that changed since is refused and a change afterwards goes back to review.
//! - `stock_adjustments`: stock changes only by explicit adjustments (a delta with a reason and
//!   who made it), never by a product edit writing back a number it loaded earlier.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Refunds::Table)
                    .add_column(timestamp_with_time_zone_null(Refunds::ClaimedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Refunds::Table)
                    .add_column(big_integer_null(Refunds::RefundedVnd))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Cooperatives::Table)
                    .add_column(string_len_null(Cooperatives::ReviewedFingerprint, 64))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Carts::Table)
                    .add_column(text_null(Carts::MergeNote))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(StockAdjustments::Table)
                    .if_not_exists()
                    .col(big_pk_auto(StockAdjustments::Id))
                    .col(big_integer(StockAdjustments::ProductId))
                    .col(big_integer(StockAdjustments::Delta))
                    .col(big_integer(StockAdjustments::StockAfter))
                    .col(text(StockAdjustments::Reason))
                    .col(big_integer(StockAdjustments::ActorUserId))
                    .col(timestamp_with_time_zone(StockAdjustments::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(StockAdjustments::Table, StockAdjustments::ProductId)
                            .to(Products::Table, Products::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(StockAdjustments::Table, StockAdjustments::ActorUserId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_stock_adjustments_product")
                    .table(StockAdjustments::Table)
                    .col(StockAdjustments::ProductId)
                    .col(StockAdjustments::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(StockAdjustments::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Carts::Table)
                    .drop_column(Carts::MergeNote)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Cooperatives::Table)
                    .drop_column(Cooperatives::ReviewedFingerprint)
                    .to_owned(),
            )
            .await?;
        for column in [Refunds::RefundedVnd, Refunds::ClaimedAt] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Refunds::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Refunds {
    Table,
    ClaimedAt,
    RefundedVnd,
}

#[derive(DeriveIden)]
enum StockAdjustments {
    Table,
    Id,
    ProductId,
    Delta,
    StockAfter,
    Reason,
    ActorUserId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Products {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Carts {
    Table,
    MergeNote,
}

#[derive(DeriveIden)]
enum Cooperatives {
    Table,
    ReviewedFingerprint,
}
