//! The search outbox and the products' sales counter.
//!
//! Every write that changes what search shows inserts a `search_outbox` row naming the product,
//! in the same transaction as the change; the app's indexer drains the rows into the search
//! index. Rows are kept for a while after they are processed (`processed_at`) so that a rebuilt
//! index can replay the changes made while it was being built; the indexer purges old ones.
//!
//! `products.sold_count` is the number of units sold, kept by checkout and used by search to
//! rank best-sellers.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SearchOutbox::Table)
                    .if_not_exists()
                    .col(big_pk_auto(SearchOutbox::Id))
                    // No foreign key: a row must survive the deletion of its product, whose
                    // document the indexer then removes.
                    .col(big_integer(SearchOutbox::ProductId))
                    .col(timestamp_with_time_zone(SearchOutbox::EnqueuedAt))
                    .col(integer(SearchOutbox::Attempts).default(0))
                    .col(timestamp_with_time_zone(SearchOutbox::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(SearchOutbox::ProcessedAt))
                    .col(text_null(SearchOutbox::LastError))
                    .to_owned(),
            )
            .await?;
        // The drain: `processed_at IS NULL AND next_attempt_at <= now ORDER BY id`.
        manager
            .create_index(
                Index::create()
                    .name("idx_search_outbox_pending")
                    .table(SearchOutbox::Table)
                    .col(SearchOutbox::ProcessedAt)
                    .col(SearchOutbox::NextAttemptAt)
                    .col(SearchOutbox::Id)
                    .to_owned(),
            )
            .await?;
        // The replay after a rebuild (`enqueued_at >= …`).
        manager
            .create_index(
                Index::create()
                    .name("idx_search_outbox_enqueued_at")
                    .table(SearchOutbox::Table)
                    .col(SearchOutbox::EnqueuedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Products::Table)
                    .add_column(big_integer(Products::SoldCount).default(0))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Products::Table)
                    .drop_column(Products::SoldCount)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(SearchOutbox::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum SearchOutbox {
    Table,
    Id,
    ProductId,
    EnqueuedAt,
    Attempts,
    NextAttemptAt,
    ProcessedAt,
    LastError,
}

#[derive(DeriveIden)]
enum Products {
    Table,
    SoldCount,
}
