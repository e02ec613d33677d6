//! Stamp trust and scans shared by several app servers.
//!
//! - `scans.network_hash`: a keyed hash of the scanner's network (IPv4 /24, IPv6 /64). A checker
//!   is counted once per cookie *and* network, so one network cannot mint many checkers; a
//!   stamp's state is rebuilt from its scans with it.
//! - `scans.stream_id`: the Redis stream entry a scan came from, when scans go through Redis
//!   (`OCOP_REDIS_URL`): unique, so an entry written twice (a server died between the commit and
//!   the acknowledgement) is one row.
//! - `stamps.flagged_at`, `flag_cleared_at`, `flag_confirmed`: a likely-copy flag is reviewed by
//!   the cooperative or the province, cleared or confirmed with a reason; a cleared flag comes
//!   back only on evidence from checkers who came after the clearing.
//! - `stamp_flag_reviews`: the audit trail of those reviews.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261122_000002_create_accounts::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            string_len_null(Scans::NetworkHash, 16),
            string_len_null(Scans::StreamId, 40),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(Scans::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("idx_scans_stream_id")
                    .table(Scans::Table)
                    .col(Scans::StreamId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        for column in [
            timestamp_with_time_zone_null(Stamps::FlaggedAt),
            timestamp_with_time_zone_null(Stamps::FlagClearedAt),
            boolean(Stamps::FlagConfirmed).default(false).to_owned(),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(Stamps::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(StampFlagReviews::Table)
                    .if_not_exists()
                    .col(big_pk_auto(StampFlagReviews::Id))
                    .col(big_integer(StampFlagReviews::StampId))
                    .col(big_integer(StampFlagReviews::CooperativeId))
                    .col(string_len(StampFlagReviews::Action, 16))
                    .col(string_len(StampFlagReviews::Reason, 500))
                    .col(string_len_null(StampFlagReviews::FlagReason, 32))
                    .col(integer(StampFlagReviews::DistinctClients))
                    .col(big_integer(StampFlagReviews::ReviewedBy))
                    .col(boolean(StampFlagReviews::ByAdministrator))
                    .col(timestamp_with_time_zone(StampFlagReviews::ReviewedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(StampFlagReviews::Table, StampFlagReviews::StampId)
                            .to(Stamps::Table, Stamps::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(StampFlagReviews::Table, StampFlagReviews::ReviewedBy)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_stamp_flag_reviews_stamp")
                    .table(StampFlagReviews::Table)
                    .col(StampFlagReviews::StampId)
                    .col(StampFlagReviews::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(StampFlagReviews::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_scans_stream_id")
                    .table(Scans::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            Stamps::FlaggedAt,
            Stamps::FlagClearedAt,
            Stamps::FlagConfirmed,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Stamps::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for column in [Scans::NetworkHash, Scans::StreamId] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Scans::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Scans {
    Table,
    NetworkHash,
    StreamId,
}

#[derive(DeriveIden)]
enum Stamps {
    Table,
    Id,
    FlaggedAt,
    FlagClearedAt,
    FlagConfirmed,
}

#[derive(DeriveIden)]
enum StampFlagReviews {
    Table,
    Id,
    StampId,
    CooperativeId,
    Action,
    Reason,
    FlagReason,
    DistinctClients,
    ReviewedBy,
    ByAdministrator,
    ReviewedAt,
}
