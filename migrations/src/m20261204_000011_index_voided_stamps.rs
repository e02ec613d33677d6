//! Voided stamps by the time they were voided, for the app servers' void watch: each server
//! asks every second which stamps were voided lately, so that a stamp it keeps in memory is
//! read again once voided. Partial (voided stamps only): issuing 100,000 stamps adds nothing
//! to it, and the question reads only the few voided rows.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEX: &str = "idx_stamps_voided_at";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Stamps::Table)
                    .col(Stamps::VoidedAt)
                    .and_where(Expr::col(Stamps::VoidedAt).is_not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(Stamps::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Stamps {
    Table,
    VoidedAt,
}
