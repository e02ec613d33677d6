//! What happened to a card refund at Stripe.
//!
//! `attempts` counts the idempotency keys a refund has used: Stripe keeps its answer to a key,
//! refusals included, so a refund that Stripe refused can only be sent again under a new key
//! (`refund-{id}-{attempts + 1}`), and only when an administrator asks for it. `last_error`
//! keeps Stripe's reason for the administrator.

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
                    .add_column(integer(Refunds::Attempts).default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Refunds::Table)
                    .add_column(text_null(Refunds::LastError))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Refunds::Table)
                    .drop_column(Refunds::LastError)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Refunds::Table)
                    .drop_column(Refunds::Attempts)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Refunds {
    Table,
    Attempts,
    LastError,
}
