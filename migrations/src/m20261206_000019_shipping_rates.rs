//! Shipping by weight and place (issue 18).
//!
//! - `shipping_rates`: a cooperative's own rate table (weight bands × zones, a fee per extra
//!   kilogram, an optional free-shipping threshold) as JSON; a cooperative without a row uses
//!   the platform's default table.
//! - `orders.parcel_weight_grams`, `orders.shipping_zone`: what the delivery fee was worked out
//!   from at checkout (`delivery_fee_vnd` already records the fee). Orders placed before stay
//!   `NULL`: their flat fee is what they were charged.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ShippingRates::Table)
                    .if_not_exists()
                    .col(big_pk_auto(ShippingRates::Id))
                    .col(big_integer(ShippingRates::CooperativeId).unique_key())
                    .col(text(ShippingRates::Rates))
                    .col(big_integer_null(ShippingRates::FreeShippingOverVnd))
                    .col(timestamp_with_time_zone(ShippingRates::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ShippingRates::Table, ShippingRates::CooperativeId)
                            .to(Cooperatives::Table, Cooperatives::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Orders::Table)
                    .add_column(big_integer_null(Orders::ParcelWeightGrams))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Orders::Table)
                    .add_column(string_len_null(Orders::ShippingZone, 16))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Orders::ShippingZone, Orders::ParcelWeightGrams] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Orders::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_table(Table::drop().table(ShippingRates::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ShippingRates {
    Table,
    Id,
    CooperativeId,
    Rates,
    FreeShippingOverVnd,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Cooperatives {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    ParcelWeightGrams,
    ShippingZone,
}
