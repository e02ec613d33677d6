//! The wallet gateways (VNPay, MoMo): where the shopper goes to pay.
//!
//! `payments.gateway_url` keeps the gateway page of a VNPay or MoMo payment (VNPay's signed
//! payment URL, MoMo's `payUrl`) so that the payment page can send the shopper back to it, and
//! a checkout replayed with its key gets the same page instead of a second gateway order
//! (MoMo refuses an `orderId` it has seen). Null for VietQR and Stripe payments; no existing
//! row changes.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Payments::Table)
                    .add_column(text_null(Payments::GatewayUrl))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Payments::Table)
                    .drop_column(Payments::GatewayUrl)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Payments {
    Table,
    GatewayUrl,
}
