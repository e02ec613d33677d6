//! Reference data: administrative units (provinces, communes) and OCOP product categories.
//! The rows themselves are loaded from `assets/` by the app at start-up.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Provinces::Table)
                    .if_not_exists()
                    .col(string_len(Provinces::Code, 8).primary_key())
                    .col(string(Provinces::Name))
                    .col(string(Provinces::ShortName))
                    .col(string_len(Provinces::Kind, 16))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Communes::Table)
                    .if_not_exists()
                    .col(string_len(Communes::Code, 8).primary_key())
                    .col(string_len(Communes::ProvinceCode, 8))
                    .col(string(Communes::Name))
                    .col(string_len(Communes::Kind, 16))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Communes::Table, Communes::ProvinceCode)
                            .to(Provinces::Table, Provinces::Code),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_communes_province")
                    .table(Communes::Table)
                    .col(Communes::ProvinceCode)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OcopGroups::Table)
                    .if_not_exists()
                    .col(string_len(OcopGroups::Code, 32).primary_key())
                    .col(string(OcopGroups::NameVi))
                    .col(string(OcopGroups::NameEn))
                    .col(integer(OcopGroups::Position))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OcopCategories::Table)
                    .if_not_exists()
                    .col(string_len(OcopCategories::Code, 32).primary_key())
                    .col(string_len(OcopCategories::GroupCode, 32))
                    .col(string(OcopCategories::NameVi))
                    .col(string(OcopCategories::NameEn))
                    .col(integer(OcopCategories::Position))
                    .foreign_key(
                        ForeignKey::create()
                            .from(OcopCategories::Table, OcopCategories::GroupCode)
                            .to(OcopGroups::Table, OcopGroups::Code),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            OcopCategories::Table.into_iden(),
            OcopGroups::Table.into_iden(),
            Communes::Table.into_iden(),
            Provinces::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
pub(crate) enum Provinces {
    Table,
    Code,
    Name,
    ShortName,
    Kind,
}

#[derive(DeriveIden)]
pub(crate) enum Communes {
    Table,
    Code,
    ProvinceCode,
    Name,
    Kind,
}

#[derive(DeriveIden)]
pub(crate) enum OcopGroups {
    Table,
    Code,
    NameVi,
    NameEn,
    Position,
}

#[derive(DeriveIden)]
pub(crate) enum OcopCategories {
    Table,
    Code,
    GroupCode,
    NameVi,
    NameEn,
    Position,
}
