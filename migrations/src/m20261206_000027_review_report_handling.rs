//! Reported reviews are handled by an administrator: `review_reports.handled_at` is when one
//! kept or hid the review the report was about. The administrators' queue is the reports not
//! handled yet; existing reports of reviews already hidden count as handled.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ReviewReports::Table)
                    .add_column(timestamp_with_time_zone_null(ReviewReports::HandledAt))
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE review_reports SET handled_at = (SELECT r.hidden_at FROM reviews r \
                 WHERE r.id = review_reports.review_id) \
                 WHERE EXISTS (SELECT 1 FROM reviews r WHERE r.id = review_reports.review_id \
                 AND r.status = 'hidden')",
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_review_reports_open")
                    .table(ReviewReports::Table)
                    .col(ReviewReports::HandledAt)
                    .col(ReviewReports::ReviewId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_review_reports_open")
                    .table(ReviewReports::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ReviewReports::Table)
                    .drop_column(ReviewReports::HandledAt)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum ReviewReports {
    Table,
    ReviewId,
    HandledAt,
}
