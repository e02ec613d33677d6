//! Cooperatives (hợp tác xã) and their members. A cooperative waits for the province's
//! verification (`status`) before its products are public.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261122_000001_create_reference_tables::{Communes, Provinces};
use crate::m20261122_000002_create_accounts::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Cooperatives::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Cooperatives::Id))
                    .col(string_len_uniq(Cooperatives::Slug, 120))
                    .col(string_len_uniq(Cooperatives::RegistrationNumber, 32))
                    .col(string_len(Cooperatives::Name, 200))
                    .col(string_len(Cooperatives::CommuneCode, 8))
                    .col(string_len(Cooperatives::ProvinceCode, 8))
                    .col(string_len(Cooperatives::Address, 300))
                    .col(string_len(Cooperatives::ContactPhone, 16))
                    .col(string_len_null(Cooperatives::ContactEmail, 254))
                    .col(text(Cooperatives::Description))
                    .col(string_len(Cooperatives::BankBin, 6))
                    .col(string_len(Cooperatives::BankAccountNumber, 19))
                    .col(string_len(Cooperatives::BankAccountHolder, 70))
                    .col(string_len(Cooperatives::Status, 16))
                    .col(string_len_null(Cooperatives::StatusReason, 500))
                    .col(big_integer(Cooperatives::CreatedBy))
                    .col(timestamp_with_time_zone(Cooperatives::CreatedAt))
                    .col(timestamp_with_time_zone(Cooperatives::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Cooperatives::ReviewedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Cooperatives::Table, Cooperatives::CommuneCode)
                            .to(Communes::Table, Communes::Code),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Cooperatives::Table, Cooperatives::ProvinceCode)
                            .to(Provinces::Table, Provinces::Code),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Cooperatives::Table, Cooperatives::CreatedBy)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_cooperatives_status")
                    .table(Cooperatives::Table)
                    .col(Cooperatives::Status)
                    .col(Cooperatives::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CooperativeMembers::Table)
                    .if_not_exists()
                    .col(big_integer(CooperativeMembers::CooperativeId))
                    .col(big_integer(CooperativeMembers::UserId))
                    .col(string_len(CooperativeMembers::Role, 16))
                    .col(timestamp_with_time_zone(CooperativeMembers::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(CooperativeMembers::CooperativeId)
                            .col(CooperativeMembers::UserId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(CooperativeMembers::Table, CooperativeMembers::CooperativeId)
                            .to(Cooperatives::Table, Cooperatives::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(CooperativeMembers::Table, CooperativeMembers::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_cooperative_members_user")
                    .table(CooperativeMembers::Table)
                    .col(CooperativeMembers::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CooperativeMembers::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Cooperatives::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub(crate) enum Cooperatives {
    Table,
    Id,
    Slug,
    RegistrationNumber,
    Name,
    CommuneCode,
    ProvinceCode,
    Address,
    ContactPhone,
    ContactEmail,
    Description,
    BankBin,
    BankAccountNumber,
    BankAccountHolder,
    Status,
    StatusReason,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
    ReviewedAt,
}

#[derive(DeriveIden)]
enum CooperativeMembers {
    Table,
    CooperativeId,
    UserId,
    Role,
    CreatedAt,
}
