//! Invitations to join a cooperative as staff. An owner never adds an account directly: they
//! make an invitation (a short code and a link they hand over), and the invitee accepts it while
//! logged in. So the owner learns nothing about which accounts exist, and nobody becomes a member
//! of a cooperative they did not choose to join. Only the code's SHA-256 is stored.

use sea_orm_migration::{prelude::*, schema::*};

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
                    .table(CooperativeInvitations::Table)
                    .if_not_exists()
                    .col(big_pk_auto(CooperativeInvitations::Id))
                    .col(big_integer(CooperativeInvitations::CooperativeId))
                    .col(string_len_uniq(CooperativeInvitations::CodeHash, 64))
                    .col(string_len(CooperativeInvitations::Role, 16))
                    .col(string_len_null(CooperativeInvitations::Identifier, 254))
                    .col(big_integer(CooperativeInvitations::CreatedBy))
                    .col(timestamp_with_time_zone(CooperativeInvitations::CreatedAt))
                    .col(timestamp_with_time_zone(CooperativeInvitations::ExpiresAt))
                    .col(big_integer_null(CooperativeInvitations::AcceptedBy))
                    .col(timestamp_with_time_zone_null(
                        CooperativeInvitations::AcceptedAt,
                    ))
                    .col(timestamp_with_time_zone_null(
                        CooperativeInvitations::RevokedAt,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                CooperativeInvitations::Table,
                                CooperativeInvitations::CooperativeId,
                            )
                            .to(Cooperatives::Table, Cooperatives::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                CooperativeInvitations::Table,
                                CooperativeInvitations::CreatedBy,
                            )
                            .to(Users::Table, Users::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                CooperativeInvitations::Table,
                                CooperativeInvitations::AcceptedBy,
                            )
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_cooperative_invitations_cooperative")
                    .table(CooperativeInvitations::Table)
                    .col(CooperativeInvitations::CooperativeId)
                    .col(CooperativeInvitations::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(CooperativeInvitations::Table)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
pub enum CooperativeInvitations {
    Table,
    Id,
    CooperativeId,
    CodeHash,
    Role,
    Identifier,
    CreatedBy,
    CreatedAt,
    ExpiresAt,
    AcceptedBy,
    AcceptedAt,
    RevokedAt,
}
