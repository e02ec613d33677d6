//! Lots on order lines, and recalls.
//!
//! - `order_items.batch_id`: the lot (batch of the line's variant) the line was packed from,
//!   recorded when the cooperative ships the order. Nullable: lines shipped before this, and
//!   lines not shipped yet, have none. Without a foreign key, since SQLite cannot add one to an
//!   existing table; the code that writes it checks the batch is of the line's variant.
//! - `batches.quantity_shipped`: how many units of the lot have left in parcels. A shipment
//!   takes units with one conditional update (`quantity_shipped + n <= quantity`), so two
//!   shipments at once can never take more than the lot holds.
//! - `order_item_stamps`: the stamps scanned onto a parcel at packing. A stamp goes into one
//!   parcel only (unique `stamp_id`). Never shown to the buyer.
//! - `batch_recalls`: a lot recalled with a reason and advice, by the cooperative or the
//!   province; at most one open recall per lot. `cleared_at` is when the cooperative confirmed
//!   the remaining stock is safe (the products go back on sale; the stamps keep saying what
//!   happened).
//! - `recall_notices`: which order was told of which recall, so each buyer is told once even
//!   when the recall is sent by two app servers at once (unique `(recall_id, order_id)`).

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261122_000002_create_accounts::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(OrderItems::Table)
                    .add_column(big_integer_null(OrderItems::BatchId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_order_items_batch")
                    .table(OrderItems::Table)
                    .col(OrderItems::BatchId)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Batches::Table)
                    .add_column(big_integer(Batches::QuantityShipped).default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OrderItemStamps::Table)
                    .if_not_exists()
                    .col(big_pk_auto(OrderItemStamps::Id))
                    .col(big_integer(OrderItemStamps::OrderItemId))
                    .col(big_integer_uniq(OrderItemStamps::StampId))
                    .col(timestamp_with_time_zone(OrderItemStamps::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(OrderItemStamps::Table, OrderItemStamps::OrderItemId)
                            .to(OrderItems::Table, OrderItems::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(OrderItemStamps::Table, OrderItemStamps::StampId)
                            .to(Stamps::Table, Stamps::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_order_item_stamps_item")
                    .table(OrderItemStamps::Table)
                    .col(OrderItemStamps::OrderItemId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(BatchRecalls::Table)
                    .if_not_exists()
                    .col(big_pk_auto(BatchRecalls::Id))
                    .col(big_integer(BatchRecalls::BatchId))
                    .col(big_integer(BatchRecalls::CooperativeId))
                    .col(string_len(BatchRecalls::Reason, 1000))
                    .col(string_len(BatchRecalls::Advice, 1000))
                    .col(big_integer(BatchRecalls::RecalledBy))
                    .col(boolean(BatchRecalls::ByAdministrator))
                    .col(timestamp_with_time_zone(BatchRecalls::RecalledAt))
                    .col(timestamp_with_time_zone_null(BatchRecalls::ClearedAt))
                    .col(big_integer_null(BatchRecalls::ClearedBy))
                    .foreign_key(
                        ForeignKey::create()
                            .from(BatchRecalls::Table, BatchRecalls::BatchId)
                            .to(Batches::Table, Batches::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(BatchRecalls::Table, BatchRecalls::RecalledBy)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // A lot is recalled once: the second recall of a lot is the same recall.
        manager
            .create_index(
                Index::create()
                    .name("idx_batch_recalls_batch")
                    .table(BatchRecalls::Table)
                    .col(BatchRecalls::BatchId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_batch_recalls_cooperative")
                    .table(BatchRecalls::Table)
                    .col(BatchRecalls::CooperativeId)
                    .col(BatchRecalls::RecalledAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RecallNotices::Table)
                    .if_not_exists()
                    .col(big_pk_auto(RecallNotices::Id))
                    .col(big_integer(RecallNotices::RecallId))
                    .col(big_integer(RecallNotices::OrderId))
                    .col(timestamp_with_time_zone(RecallNotices::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(RecallNotices::Table, RecallNotices::RecallId)
                            .to(BatchRecalls::Table, BatchRecalls::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(RecallNotices::Table, RecallNotices::OrderId)
                            .to(Orders::Table, Orders::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_recall_notices_recall_order")
                    .table(RecallNotices::Table)
                    .col(RecallNotices::RecallId)
                    .col(RecallNotices::OrderId)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            RecallNotices::Table.into_iden(),
            BatchRecalls::Table.into_iden(),
            OrderItemStamps::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name("idx_order_items_batch")
                    .table(OrderItems::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(OrderItems::Table)
                    .drop_column(OrderItems::BatchId)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Batches::Table)
                    .drop_column(Batches::QuantityShipped)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum OrderItems {
    Table,
    Id,
    BatchId,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Batches {
    Table,
    Id,
    QuantityShipped,
}

#[derive(DeriveIden)]
enum Stamps {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum OrderItemStamps {
    Table,
    Id,
    OrderItemId,
    StampId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum BatchRecalls {
    Table,
    Id,
    BatchId,
    CooperativeId,
    Reason,
    Advice,
    RecalledBy,
    ByAdministrator,
    RecalledAt,
    ClearedAt,
    ClearedBy,
}

#[derive(DeriveIden)]
enum RecallNotices {
    Table,
    Id,
    RecallId,
    OrderId,
    CreatedAt,
}
