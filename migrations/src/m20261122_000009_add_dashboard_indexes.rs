//! Indexes for the province dashboard, whose figures are aggregates over whole tables
//! (100,000 products, millions of scans). Each index lets one `GROUP BY` read only the index,
//! in the order it groups by, so neither database sorts the rows or visits the table:
//!
//! - products by place, stars, expiry and listing (OCOP products online, by province or by
//!   commune of one province);
//! - cooperatives by place and status;
//! - orders by the time they were paid (revenue per month), with the cooperative for the
//!   province filter;
//! - stamps by issue time, with the cooperative; flagged stamps by cooperative;
//! - scans by day and reported province, one ordered pass for both figures, and the same per
//!   cooperative (for one province's figures). They replace `idx_scans_day` and
//!   `idx_scans_cooperative_day`, their prefixes, so recording a scan still updates as many
//!   indexes as before;
//! - fake reports by time.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (index name, table, columns).
fn indexes() -> Vec<(&'static str, DynIden, Vec<DynIden>)> {
    vec![
        (
            "idx_products_place_ocop",
            Products::Table.into_iden(),
            vec![
                Products::ProvinceCode.into_iden(),
                Products::CommuneCode.into_iden(),
                Products::OcopStars.into_iden(),
                Products::OcopExpiresOn.into_iden(),
                Products::Listed.into_iden(),
            ],
        ),
        (
            "idx_cooperatives_place_status",
            Cooperatives::Table.into_iden(),
            vec![
                Cooperatives::ProvinceCode.into_iden(),
                Cooperatives::CommuneCode.into_iden(),
                Cooperatives::Status.into_iden(),
            ],
        ),
        (
            "idx_orders_paid",
            Orders::Table.into_iden(),
            vec![
                Orders::PaidAt.into_iden(),
                Orders::CooperativeId.into_iden(),
            ],
        ),
        (
            "idx_stamps_issued",
            Stamps::Table.into_iden(),
            vec![
                Stamps::IssuedAt.into_iden(),
                Stamps::CooperativeId.into_iden(),
            ],
        ),
        (
            "idx_stamps_flagged",
            Stamps::Table.into_iden(),
            vec![
                Stamps::Flagged.into_iden(),
                Stamps::CooperativeId.into_iden(),
            ],
        ),
        (
            "idx_scans_day_province",
            Scans::Table.into_iden(),
            vec![
                Scans::ScannedOn.into_iden(),
                Scans::ProvinceCode.into_iden(),
            ],
        ),
        (
            "idx_scans_cooperative_day_province",
            Scans::Table.into_iden(),
            vec![
                Scans::CooperativeId.into_iden(),
                Scans::ScannedOn.into_iden(),
                Scans::ProvinceCode.into_iden(),
            ],
        ),
        (
            "idx_fake_reports_created",
            FakeReports::Table.into_iden(),
            vec![FakeReports::CreatedAt.into_iden()],
        ),
    ]
}

/// Indexes of `m20261122_000005` that the new scan indexes extend: (name, columns).
fn replaced() -> Vec<(&'static str, Vec<Scans>)> {
    vec![
        ("idx_scans_day", vec![Scans::ScannedOn]),
        (
            "idx_scans_cooperative_day",
            vec![Scans::CooperativeId, Scans::ScannedOn],
        ),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, columns) in indexes() {
            let mut index = Index::create();
            index.name(name).table(table).if_not_exists();
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        for (name, _) in replaced() {
            manager
                .drop_index(Index::drop().name(name).table(Scans::Table).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, columns) in replaced() {
            let mut index = Index::create();
            index.name(name).table(Scans::Table);
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        for (name, table, _) in indexes() {
            manager
                .drop_index(Index::drop().name(name).table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Products {
    Table,
    ProvinceCode,
    CommuneCode,
    OcopStars,
    OcopExpiresOn,
    Listed,
}

#[derive(DeriveIden)]
enum Cooperatives {
    Table,
    ProvinceCode,
    CommuneCode,
    Status,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    PaidAt,
    CooperativeId,
}

#[derive(DeriveIden)]
enum Stamps {
    Table,
    IssuedAt,
    CooperativeId,
    Flagged,
}

#[derive(DeriveIden, Clone, Copy)]
enum Scans {
    Table,
    CooperativeId,
    ProvinceCode,
    ScannedOn,
}

#[derive(DeriveIden)]
enum FakeReports {
    Table,
    CreatedAt,
}
