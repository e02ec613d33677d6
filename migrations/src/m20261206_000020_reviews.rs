//! Verified reviews of products.
//!
//! - `reviews`: one per order line (`order_item_id` unique), written by the buyer of a delivered
//!   order: 1–5 stars, a text, an optional answer of the selling cooperative (once), and a
//!   status (`visible`, `hidden` by an administrator with a reason).
//! - `review_reports`: anyone's report that a review breaks the rules, for the administrators.
//! - `products.rating_sum`, `products.rating_count`: the stars and number of the product's
//!   visible reviews, kept in the transaction that changes a review, so that lists and the
//!   search documents carry the average without reading the reviews.
//! - `photos.review_id`: a review's photos (up to 3) go through the same pipeline and table as
//!   product photos; such a row has no product or batch.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261122_000002_create_accounts::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Reviews::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Reviews::Id))
                    .col(big_integer(Reviews::ProductId))
                    .col(big_integer(Reviews::CooperativeId))
                    .col(big_integer(Reviews::OrderItemId).unique_key())
                    .col(big_integer(Reviews::UserId))
                    .col(small_integer(Reviews::Stars))
                    .col(text(Reviews::Body))
                    .col(string_len(Reviews::Status, 16))
                    .col(string_len_null(Reviews::HiddenReason, 500))
                    .col(big_integer_null(Reviews::HiddenBy))
                    .col(timestamp_with_time_zone_null(Reviews::HiddenAt))
                    .col(text_null(Reviews::Answer))
                    .col(big_integer_null(Reviews::AnsweredBy))
                    .col(timestamp_with_time_zone_null(Reviews::AnsweredAt))
                    .col(timestamp_with_time_zone(Reviews::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Reviews::Table, Reviews::ProductId)
                            .to(Products::Table, Products::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Reviews::Table, Reviews::UserId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_reviews_product")
                    .table(Reviews::Table)
                    .col(Reviews::ProductId)
                    .col(Reviews::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ReviewReports::Table)
                    .if_not_exists()
                    .col(big_pk_auto(ReviewReports::Id))
                    .col(big_integer(ReviewReports::ReviewId))
                    .col(big_integer_null(ReviewReports::ReporterUserId))
                    .col(string_len(ReviewReports::ClientHash, 64))
                    .col(string_len(ReviewReports::Reason, 500))
                    .col(timestamp_with_time_zone(ReviewReports::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ReviewReports::Table, ReviewReports::ReviewId)
                            .to(Reviews::Table, Reviews::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_review_reports_review")
                    .table(ReviewReports::Table)
                    .col(ReviewReports::ReviewId)
                    .to_owned(),
            )
            .await?;
        for column in [
            big_integer(Products::RatingSum).default(0).to_owned(),
            big_integer(Products::RatingCount).default(0).to_owned(),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(Products::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Photos::Table)
                    .add_column(big_integer_null(Photos::ReviewId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_photos_review")
                    .table(Photos::Table)
                    .col(Photos::ReviewId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_photos_review")
                    .table(Photos::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Photos::Table)
                    .drop_column(Photos::ReviewId)
                    .to_owned(),
            )
            .await?;
        for column in [Products::RatingSum, Products::RatingCount] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Products::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_table(Table::drop().table(ReviewReports::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Reviews::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Reviews {
    Table,
    Id,
    ProductId,
    CooperativeId,
    OrderItemId,
    UserId,
    Stars,
    Body,
    Status,
    HiddenReason,
    HiddenBy,
    HiddenAt,
    Answer,
    AnsweredBy,
    AnsweredAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ReviewReports {
    Table,
    Id,
    ReviewId,
    ReporterUserId,
    ClientHash,
    Reason,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Products {
    Table,
    Id,
    RatingSum,
    RatingCount,
}

#[derive(DeriveIden)]
enum Photos {
    Table,
    ReviewId,
}
