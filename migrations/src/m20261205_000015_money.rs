//! Money that always adds up (issue 16).
//!
//! - `refunds.claimed_at`: a sender claims a refund (status `sending`) before calling Stripe,
//!   so two senders (two app servers, a cancellation and the periodic task) never send one
//!   refund at once; a claim older than a few minutes belongs to a sender that died and may be
//!   taken over, under the same idempotency key.
//! - `refunds.refunded_vnd`: what Stripe says it refunded (its answer, then `charge.refunded`),
//!   beside what the platform asked for.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Refunds::Table)
                    .add_column(timestamp_with_time_zone_null(Refunds::ClaimedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Refunds::Table)
                    .add_column(big_integer_null(Refunds::RefundedVnd))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Refunds::RefundedVnd, Refunds::ClaimedAt] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Refunds::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Refunds {
    Table,
    ClaimedAt,
    RefundedVnd,
}
