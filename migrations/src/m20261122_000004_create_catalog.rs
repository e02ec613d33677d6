//! Products and their OCOP certificates.
//!
//! A product carries copies of facts that public listings filter on — whether it is listed
//! (published by a verified cooperative), its province and commune, its current OCOP stars and
//! their expiry — so that the public catalogue is read through one index without joins, however
//! deep the page; the catalogue service keeps the copies in step in the same transaction as the
//! change.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261122_000001_create_reference_tables::{Communes, OcopCategories, Provinces};
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
                    .table(Products::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Products::Id))
                    .col(big_integer(Products::CooperativeId))
                    .col(string_len_uniq(Products::Slug, 160))
                    .col(string_len(Products::Name, 200))
                    .col(string_len(Products::ShortName, 40))
                    .col(text(Products::Description))
                    .col(string_len(Products::CategoryCode, 32))
                    .col(big_integer(Products::PriceVnd))
                    .col(string_len(Products::Unit, 60))
                    .col(big_integer(Products::StockQuantity))
                    .col(string_len_null(Products::Gtin, 14).unique_key())
                    .col(string_len(Products::Status, 16))
                    .col(boolean(Products::Listed).default(false))
                    .col(string_len(Products::ProvinceCode, 8))
                    .col(string_len(Products::CommuneCode, 8))
                    .col(small_integer_null(Products::OcopStars))
                    .col(date_null(Products::OcopExpiresOn))
                    .col(timestamp_with_time_zone(Products::CreatedAt))
                    .col(timestamp_with_time_zone(Products::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Products::PublishedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Products::Table, Products::CooperativeId)
                            .to(Cooperatives::Table, Cooperatives::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Products::Table, Products::CategoryCode)
                            .to(OcopCategories::Table, OcopCategories::Code),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Products::Table, Products::ProvinceCode)
                            .to(Provinces::Table, Provinces::Code),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Products::Table, Products::CommuneCode)
                            .to(Communes::Table, Communes::Code),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "idx_products_listed_id",
                vec![Products::Listed, Products::Id],
            ),
            (
                "idx_products_listed_province_id",
                vec![Products::Listed, Products::ProvinceCode, Products::Id],
            ),
            (
                "idx_products_listed_commune_id",
                vec![Products::Listed, Products::CommuneCode, Products::Id],
            ),
            (
                "idx_products_listed_category_id",
                vec![Products::Listed, Products::CategoryCode, Products::Id],
            ),
            (
                "idx_products_listed_price",
                vec![Products::Listed, Products::PriceVnd, Products::Id],
            ),
            (
                "idx_products_cooperative",
                vec![Products::CooperativeId, Products::Id],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(Products::Table);
            for col in cols {
                index.col(col);
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(OcopCertificates::Table)
                    .if_not_exists()
                    .col(big_pk_auto(OcopCertificates::Id))
                    .col(big_integer(OcopCertificates::ProductId))
                    .col(big_integer(OcopCertificates::CooperativeId))
                    .col(small_integer(OcopCertificates::Stars))
                    .col(string_len(OcopCertificates::CertificateNumber, 60))
                    .col(string_len(OcopCertificates::IssuingLevel, 16))
                    .col(date(OcopCertificates::IssuedOn))
                    .col(date(OcopCertificates::ExpiresOn))
                    .col(string_len_null(OcopCertificates::DocumentUrl, 500))
                    .col(string_len(OcopCertificates::Status, 16))
                    .col(string_len_null(OcopCertificates::StatusReason, 500))
                    .col(timestamp_with_time_zone(OcopCertificates::CreatedAt))
                    .col(timestamp_with_time_zone_null(OcopCertificates::ReviewedAt))
                    .col(big_integer_null(OcopCertificates::ReviewedBy))
                    .foreign_key(
                        ForeignKey::create()
                            .from(OcopCertificates::Table, OcopCertificates::ProductId)
                            .to(Products::Table, Products::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(OcopCertificates::Table, OcopCertificates::CooperativeId)
                            .to(Cooperatives::Table, Cooperatives::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(OcopCertificates::Table, OcopCertificates::ReviewedBy)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_ocop_certificates_product")
                    .table(OcopCertificates::Table)
                    .col(OcopCertificates::ProductId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_ocop_certificates_status")
                    .table(OcopCertificates::Table)
                    .col(OcopCertificates::Status)
                    .col(OcopCertificates::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OcopCertificates::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Products::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Products {
    Table,
    Id,
    CooperativeId,
    Slug,
    Name,
    ShortName,
    Description,
    CategoryCode,
    PriceVnd,
    Unit,
    StockQuantity,
    Gtin,
    Status,
    Listed,
    ProvinceCode,
    CommuneCode,
    OcopStars,
    OcopExpiresOn,
    CreatedAt,
    UpdatedAt,
    PublishedAt,
}

#[derive(DeriveIden)]
enum OcopCertificates {
    Table,
    Id,
    ProductId,
    CooperativeId,
    Stars,
    CertificateNumber,
    IssuingLevel,
    IssuedOn,
    ExpiresOn,
    DocumentUrl,
    Status,
    StatusReason,
    CreatedAt,
    ReviewedAt,
    ReviewedBy,
}
