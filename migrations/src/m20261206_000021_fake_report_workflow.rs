//! Fake reports are worked, not only filed.
//!
//! - `fake_reports.status`: `new`, `looking`, `confirmed_fake` or `not_fake`, moved by the
//!   cooperative whose stamp was reported or by the province (an administrator).
//! - `fake_reports.reporter_contact` and `reporter_locale`: an e-mail address or a mobile number
//!   the reporter left to be told the outcome, and the language they wrote in. Nobody but the
//!   message sender reads the contact.
//! - `fake_reports.updated_at`: when the status last moved.
//! - `fake_report_notes`: who said what, and which status they moved it to: the report's audit
//!   trail.
//!
//! Existing reports become `new` with no contact: nothing is lost.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261122_000002_create_accounts::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            string_len(FakeReports::Status, 16)
                .default("new")
                .to_owned(),
            string_len_null(FakeReports::ReporterContact, 120),
            string_len(FakeReports::ReporterLocale, 8)
                .default("vi")
                .to_owned(),
            timestamp_with_time_zone_null(FakeReports::UpdatedAt),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(FakeReports::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("idx_fake_reports_cooperative_status")
                    .table(FakeReports::Table)
                    .col(FakeReports::CooperativeId)
                    .col(FakeReports::Status)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(FakeReportNotes::Table)
                    .if_not_exists()
                    .col(big_pk_auto(FakeReportNotes::Id))
                    .col(big_integer(FakeReportNotes::ReportId))
                    .col(big_integer(FakeReportNotes::AuthorId))
                    .col(boolean(FakeReportNotes::ByAdministrator))
                    .col(string_len(FakeReportNotes::Status, 16))
                    .col(string_len(FakeReportNotes::Body, 2000))
                    .col(timestamp_with_time_zone(FakeReportNotes::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(FakeReportNotes::Table, FakeReportNotes::ReportId)
                            .to(FakeReports::Table, FakeReports::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(FakeReportNotes::Table, FakeReportNotes::AuthorId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_fake_report_notes_report")
                    .table(FakeReportNotes::Table)
                    .col(FakeReportNotes::ReportId)
                    .col(FakeReportNotes::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(FakeReportNotes::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_fake_reports_cooperative_status")
                    .table(FakeReports::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            FakeReports::Status,
            FakeReports::ReporterContact,
            FakeReports::ReporterLocale,
            FakeReports::UpdatedAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(FakeReports::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum FakeReports {
    Table,
    Id,
    CooperativeId,
    Status,
    ReporterContact,
    ReporterLocale,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum FakeReportNotes {
    Table,
    Id,
    ReportId,
    AuthorId,
    ByAdministrator,
    Status,
    Body,
    CreatedAt,
}
