//! Traceability: batches (lots) of a product, their trace events (GS1 EPCIS vocabulary),
//! serialised QR stamps, recorded scans, fake reports and the public keys stamps are signed
//! with.
//!
//! A stamp row carries running counters of its scans (count, distinct clients, first and last
//! scan, whether it is flagged as a likely copy) so that a scan's verdict never needs to read
//! the whole scan history.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261122_000001_create_reference_tables::{Communes, Provinces};
use crate::m20261122_000002_create_accounts::Users;
use crate::m20261122_000003_create_cooperatives::Cooperatives;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Batches::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Batches::Id))
                    .col(big_integer(Batches::CooperativeId))
                    .col(big_integer(Batches::ProductId))
                    .col(string_len(Batches::LotCode, 20))
                    .col(date_null(Batches::HarvestedOn))
                    .col(date_null(Batches::ProducedOn))
                    .col(date_null(Batches::BestBefore))
                    .col(big_integer(Batches::Quantity))
                    .col(string_len(Batches::QuantityUnit, 30))
                    .col(string_len(Batches::OriginCommuneCode, 8))
                    .col(string_len_null(Batches::PlotName, 120))
                    .col(double_null(Batches::PlotLatitude))
                    .col(double_null(Batches::PlotLongitude))
                    .col(text(Batches::Certifications))
                    .col(string_len_null(Batches::CertificationDocumentUrl, 500))
                    .col(big_integer(Batches::CreatedBy))
                    .col(timestamp_with_time_zone(Batches::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Batches::Table, Batches::CooperativeId)
                            .to(Cooperatives::Table, Cooperatives::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Batches::Table, Batches::ProductId)
                            .to(Products::Table, Products::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Batches::Table, Batches::OriginCommuneCode)
                            .to(Communes::Table, Communes::Code),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Batches::Table, Batches::CreatedBy)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_batches_product_lot")
                    .table(Batches::Table)
                    .col(Batches::ProductId)
                    .col(Batches::LotCode)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_batches_cooperative")
                    .table(Batches::Table)
                    .col(Batches::CooperativeId)
                    .col(Batches::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(TraceEvents::Table)
                    .if_not_exists()
                    .col(big_pk_auto(TraceEvents::Id))
                    .col(big_integer(TraceEvents::BatchId))
                    .col(big_integer(TraceEvents::CooperativeId))
                    .col(string_len(TraceEvents::EventType, 20))
                    .col(timestamp_with_time_zone(TraceEvents::OccurredAt))
                    .col(string_len(TraceEvents::UtcOffset, 6))
                    .col(string_len(TraceEvents::CommuneCode, 8))
                    .col(double_null(TraceEvents::Latitude))
                    .col(double_null(TraceEvents::Longitude))
                    .col(string_len(TraceEvents::Actor, 200))
                    .col(text(TraceEvents::Note))
                    .col(big_integer(TraceEvents::CreatedBy))
                    .col(timestamp_with_time_zone(TraceEvents::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(TraceEvents::Table, TraceEvents::BatchId)
                            .to(Batches::Table, Batches::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(TraceEvents::Table, TraceEvents::CommuneCode)
                            .to(Communes::Table, Communes::Code),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_trace_events_batch")
                    .table(TraceEvents::Table)
                    .col(TraceEvents::BatchId)
                    .col(TraceEvents::OccurredAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TraceEventInputs::Table)
                    .if_not_exists()
                    .col(big_integer(TraceEventInputs::EventId))
                    .col(big_integer(TraceEventInputs::InputBatchId))
                    .primary_key(
                        Index::create()
                            .col(TraceEventInputs::EventId)
                            .col(TraceEventInputs::InputBatchId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(TraceEventInputs::Table, TraceEventInputs::EventId)
                            .to(TraceEvents::Table, TraceEvents::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(TraceEventInputs::Table, TraceEventInputs::InputBatchId)
                            .to(Batches::Table, Batches::Id),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Stamps::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Stamps::Id))
                    .col(big_integer(Stamps::BatchId))
                    .col(big_integer(Stamps::CooperativeId))
                    .col(big_integer(Stamps::Serial))
                    .col(string_len_uniq(Stamps::Code, 16))
                    .col(integer(Stamps::Roll))
                    .col(string_len(Stamps::Status, 10))
                    .col(string_len_null(Stamps::VoidReason, 16))
                    .col(timestamp_with_time_zone_null(Stamps::VoidedAt))
                    .col(string_len_null(Stamps::KeyId, 8))
                    .col(string_len_null(Stamps::Signature, 120))
                    .col(timestamp_with_time_zone(Stamps::IssuedAt))
                    .col(big_integer(Stamps::ScanCount).default(0))
                    .col(integer(Stamps::DistinctClients).default(0))
                    .col(timestamp_with_time_zone_null(Stamps::FirstScannedAt))
                    .col(timestamp_with_time_zone_null(Stamps::LastScannedAt))
                    .col(boolean(Stamps::Flagged).default(false))
                    .col(string_len_null(Stamps::FlagReason, 32))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Stamps::Table, Stamps::BatchId)
                            .to(Batches::Table, Batches::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Stamps::Table, Stamps::CooperativeId)
                            .to(Cooperatives::Table, Cooperatives::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_stamps_batch_serial")
                    .table(Stamps::Table)
                    .col(Stamps::BatchId)
                    .col(Stamps::Serial)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_stamps_cooperative_flagged")
                    .table(Stamps::Table)
                    .col(Stamps::CooperativeId)
                    .col(Stamps::Flagged)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Scans::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Scans::Id))
                    .col(big_integer_null(Scans::StampId))
                    .col(big_integer_null(Scans::CooperativeId))
                    .col(string_len(Scans::Code, 32))
                    .col(timestamp_with_time_zone(Scans::ScannedAt))
                    .col(date(Scans::ScannedOn))
                    .col(string_len(Scans::ClientHash, 32))
                    .col(string_len(Scans::ClientClass, 10))
                    .col(string_len(Scans::Verdict, 16))
                    .col(boolean(Scans::RepeatBySameClient))
                    .col(string_len_null(Scans::ProvinceCode, 8))
                    .col(double_null(Scans::Latitude))
                    .col(double_null(Scans::Longitude))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Scans::Table, Scans::ProvinceCode)
                            .to(Provinces::Table, Provinces::Code),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("idx_scans_stamp", vec![Scans::StampId, Scans::ScannedAt]),
            (
                "idx_scans_cooperative_day",
                vec![Scans::CooperativeId, Scans::ScannedOn],
            ),
            ("idx_scans_day", vec![Scans::ScannedOn]),
        ] {
            let mut index = Index::create();
            index.name(name).table(Scans::Table);
            for col in cols {
                index.col(col);
            }
            manager.create_index(index.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(FakeReports::Table)
                    .if_not_exists()
                    .col(big_pk_auto(FakeReports::Id))
                    .col(big_integer_null(FakeReports::StampId))
                    .col(big_integer_null(FakeReports::CooperativeId))
                    .col(string_len(FakeReports::Code, 32))
                    .col(string_len(FakeReports::PlaceOfPurchase, 200))
                    .col(string_len(FakeReports::Seller, 200))
                    .col(text(FakeReports::Note))
                    .col(string_len_null(FakeReports::ProvinceCode, 8))
                    .col(string_len(FakeReports::ClientHash, 32))
                    .col(timestamp_with_time_zone(FakeReports::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(FakeReports::Table, FakeReports::ProvinceCode)
                            .to(Provinces::Table, Provinces::Code),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_fake_reports_cooperative")
                    .table(FakeReports::Table)
                    .col(FakeReports::CooperativeId)
                    .col(FakeReports::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(StampSigningKeys::Table)
                    .if_not_exists()
                    .col(string_len(StampSigningKeys::KeyId, 8).primary_key())
                    .col(string_len(StampSigningKeys::PublicKey, 64))
                    .col(timestamp_with_time_zone(StampSigningKeys::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            StampSigningKeys::Table.into_iden(),
            FakeReports::Table.into_iden(),
            Scans::Table.into_iden(),
            Stamps::Table.into_iden(),
            TraceEventInputs::Table.into_iden(),
            TraceEvents::Table.into_iden(),
            Batches::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Products {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Batches {
    Table,
    Id,
    CooperativeId,
    ProductId,
    LotCode,
    HarvestedOn,
    ProducedOn,
    BestBefore,
    Quantity,
    QuantityUnit,
    OriginCommuneCode,
    PlotName,
    PlotLatitude,
    PlotLongitude,
    Certifications,
    CertificationDocumentUrl,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum TraceEvents {
    Table,
    Id,
    BatchId,
    CooperativeId,
    EventType,
    OccurredAt,
    UtcOffset,
    CommuneCode,
    Latitude,
    Longitude,
    Actor,
    Note,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum TraceEventInputs {
    Table,
    EventId,
    InputBatchId,
}

#[derive(DeriveIden, Clone, Copy)]
enum Stamps {
    Table,
    Id,
    BatchId,
    CooperativeId,
    Serial,
    Code,
    Roll,
    Status,
    VoidReason,
    VoidedAt,
    KeyId,
    Signature,
    IssuedAt,
    ScanCount,
    DistinctClients,
    FirstScannedAt,
    LastScannedAt,
    Flagged,
    FlagReason,
}

#[derive(DeriveIden, Clone, Copy)]
enum Scans {
    Table,
    Id,
    StampId,
    CooperativeId,
    Code,
    ScannedAt,
    ScannedOn,
    ClientHash,
    ClientClass,
    Verdict,
    RepeatBySameClient,
    ProvinceCode,
    Latitude,
    Longitude,
}

#[derive(DeriveIden)]
enum FakeReports {
    Table,
    Id,
    StampId,
    CooperativeId,
    Code,
    PlaceOfPurchase,
    Seller,
    Note,
    ProvinceCode,
    ClientHash,
    CreatedAt,
}

#[derive(DeriveIden)]
enum StampSigningKeys {
    Table,
    KeyId,
    PublicKey,
    CreatedAt,
}
