//! Carts, checkout, orders, payments, webhooks and the ledger.
//!
//! Money is whole đồng in `BIGINT` columns everywhere. A checkout is one payment and one order
//! per cooperative; stock is taken from `products.stock_quantity` in the same transaction that
//! creates them and handed back when an unpaid payment expires or an order is cancelled.
//! Every movement of money is a ledger transaction whose entries sum to zero.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261122_000001_create_reference_tables::{Communes, Provinces};
use crate::m20261122_000002_create_accounts::Users;
use crate::m20261122_000003_create_cooperatives::Cooperatives;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Cooperatives::Table)
                    .add_column(big_integer(CooperativeDelivery::DeliveryFeeVnd).default(30_000))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Carts::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Carts::Id))
                    .col(string_len_null(Carts::TokenHash, 64).unique_key())
                    .col(big_integer_null(Carts::UserId).unique_key())
                    .col(timestamp_with_time_zone(Carts::CreatedAt))
                    .col(timestamp_with_time_zone(Carts::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Carts::Table, Carts::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CartItems::Table)
                    .if_not_exists()
                    .col(big_pk_auto(CartItems::Id))
                    .col(big_integer(CartItems::CartId))
                    .col(big_integer(CartItems::ProductId))
                    .col(big_integer(CartItems::Quantity))
                    .col(timestamp_with_time_zone(CartItems::AddedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(CartItems::Table, CartItems::CartId)
                            .to(Carts::Table, Carts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(CartItems::Table, CartItems::ProductId)
                            .to(Products::Table, Products::Id),
                    )
                    .to_owned(),
            )
            .await?;
        unique_index(
            manager,
            "uq_cart_items_cart_product",
            CartItems::Table,
            &[CartItems::CartId, CartItems::ProductId],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Payments::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Payments::Id))
                    .col(string_len_uniq(Payments::Reference, 16))
                    .col(string_len_uniq(Payments::AccessTokenHash, 64))
                    .col(string_len_null(Payments::CheckoutKey, 64).unique_key())
                    .col(big_integer_null(Payments::BuyerUserId))
                    .col(string_len(Payments::Method, 16))
                    .col(string_len(Payments::Status, 16))
                    .col(big_integer(Payments::AmountVnd))
                    .col(big_integer(Payments::ReceivedVnd).default(0))
                    .col(timestamp_with_time_zone(Payments::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Payments::PaidAt))
                    .col(string_len_null(Payments::ProviderPaymentId, 255))
                    .col(string_len_null(Payments::StripeSessionId, 255).unique_key())
                    .col(timestamp_with_time_zone(Payments::CreatedAt))
                    .col(timestamp_with_time_zone(Payments::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Payments::Table, Payments::BuyerUserId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        plain_index(
            manager,
            "idx_payments_status_expires",
            Payments::Table,
            &[Payments::Status, Payments::ExpiresAt],
        )
        .await?;
        plain_index(
            manager,
            "idx_payments_buyer",
            Payments::Table,
            &[Payments::BuyerUserId],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Orders::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Orders::Id))
                    .col(big_integer(Orders::PaymentId))
                    .col(big_integer(Orders::CooperativeId))
                    .col(big_integer_null(Orders::BuyerUserId))
                    .col(string_len(Orders::Status, 20))
                    .col(big_integer(Orders::SubtotalVnd))
                    .col(big_integer(Orders::DeliveryFeeVnd))
                    .col(big_integer(Orders::TotalVnd))
                    .col(big_integer(Orders::CommissionVnd))
                    .col(string_len(Orders::RecipientName, 120))
                    .col(string_len(Orders::RecipientPhone, 16))
                    .col(string_len(Orders::ProvinceCode, 8))
                    .col(string_len(Orders::CommuneCode, 8))
                    .col(string_len(Orders::Street, 300))
                    .col(string_len_null(Orders::Carrier, 80))
                    .col(string_len_null(Orders::TrackingNumber, 80))
                    .col(text_null(Orders::CancelReason))
                    .col(string_len_null(Orders::CancelledBy, 16))
                    .col(timestamp_with_time_zone(Orders::CreatedAt))
                    .col(timestamp_with_time_zone(Orders::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Orders::PaidAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Orders::Table, Orders::PaymentId)
                            .to(Payments::Table, Payments::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Orders::Table, Orders::CooperativeId)
                            .to(Cooperatives::Table, Cooperatives::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Orders::Table, Orders::BuyerUserId)
                            .to(Users::Table, Users::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Orders::Table, Orders::ProvinceCode)
                            .to(Provinces::Table, Provinces::Code),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Orders::Table, Orders::CommuneCode)
                            .to(Communes::Table, Communes::Code),
                    )
                    .to_owned(),
            )
            .await?;
        plain_index(
            manager,
            "idx_orders_payment",
            Orders::Table,
            &[Orders::PaymentId],
        )
        .await?;
        plain_index(
            manager,
            "idx_orders_cooperative_created",
            Orders::Table,
            &[Orders::CooperativeId, Orders::CreatedAt],
        )
        .await?;
        plain_index(
            manager,
            "idx_orders_buyer",
            Orders::Table,
            &[Orders::BuyerUserId],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(OrderItems::Table)
                    .if_not_exists()
                    .col(big_pk_auto(OrderItems::Id))
                    .col(big_integer(OrderItems::OrderId))
                    .col(big_integer(OrderItems::ProductId))
                    .col(string_len(OrderItems::ProductName, 200))
                    .col(string_len(OrderItems::Unit, 60))
                    .col(big_integer(OrderItems::UnitPriceVnd))
                    .col(big_integer(OrderItems::Quantity))
                    .col(big_integer(OrderItems::LineTotalVnd))
                    .foreign_key(
                        ForeignKey::create()
                            .from(OrderItems::Table, OrderItems::OrderId)
                            .to(Orders::Table, Orders::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(OrderItems::Table, OrderItems::ProductId)
                            .to(Products::Table, Products::Id),
                    )
                    .to_owned(),
            )
            .await?;
        plain_index(
            manager,
            "idx_order_items_order",
            OrderItems::Table,
            &[OrderItems::OrderId],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(OrderEvents::Table)
                    .if_not_exists()
                    .col(big_pk_auto(OrderEvents::Id))
                    .col(big_integer(OrderEvents::OrderId))
                    .col(string_len(OrderEvents::Status, 20))
                    .col(big_integer_null(OrderEvents::ActorUserId))
                    .col(text_null(OrderEvents::Note))
                    .col(timestamp_with_time_zone(OrderEvents::At))
                    .foreign_key(
                        ForeignKey::create()
                            .from(OrderEvents::Table, OrderEvents::OrderId)
                            .to(Orders::Table, Orders::Id),
                    )
                    .to_owned(),
            )
            .await?;
        plain_index(
            manager,
            "idx_order_events_order",
            OrderEvents::Table,
            &[OrderEvents::OrderId],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(WebhookEvents::Table)
                    .if_not_exists()
                    .col(big_pk_auto(WebhookEvents::Id))
                    .col(string_len(WebhookEvents::Provider, 16))
                    .col(string_len(WebhookEvents::EventId, 255))
                    .col(string_len(WebhookEvents::EventType, 64))
                    .col(text(WebhookEvents::Payload))
                    .col(string_len(WebhookEvents::Outcome, 32))
                    .col(text_null(WebhookEvents::Detail))
                    .col(timestamp_with_time_zone(WebhookEvents::ReceivedAt))
                    .to_owned(),
            )
            .await?;
        unique_index(
            manager,
            "uq_webhook_events_provider_event",
            WebhookEvents::Table,
            &[WebhookEvents::Provider, WebhookEvents::EventId],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(PaymentExceptions::Table)
                    .if_not_exists()
                    .col(big_pk_auto(PaymentExceptions::Id))
                    .col(string_len(PaymentExceptions::Kind, 24))
                    .col(string_len(PaymentExceptions::Status, 16))
                    .col(big_integer_null(PaymentExceptions::PaymentId))
                    .col(big_integer_null(PaymentExceptions::WebhookEventId))
                    .col(string_len_null(PaymentExceptions::BankTransactionId, 255))
                    .col(big_integer(PaymentExceptions::AmountVnd))
                    .col(text(PaymentExceptions::Description))
                    .col(text_null(PaymentExceptions::Resolution))
                    .col(big_integer_null(PaymentExceptions::ResolvedBy))
                    .col(timestamp_with_time_zone_null(PaymentExceptions::ResolvedAt))
                    .col(timestamp_with_time_zone(PaymentExceptions::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(PaymentExceptions::Table, PaymentExceptions::PaymentId)
                            .to(Payments::Table, Payments::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(PaymentExceptions::Table, PaymentExceptions::WebhookEventId)
                            .to(WebhookEvents::Table, WebhookEvents::Id),
                    )
                    .to_owned(),
            )
            .await?;
        plain_index(
            manager,
            "idx_payment_exceptions_status",
            PaymentExceptions::Table,
            &[PaymentExceptions::Status],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Refunds::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Refunds::Id))
                    .col(big_integer(Refunds::PaymentId))
                    .col(big_integer_null(Refunds::OrderId))
                    .col(big_integer(Refunds::AmountVnd))
                    .col(string_len(Refunds::Status, 16))
                    .col(string_len_null(Refunds::ProviderRefundId, 255).unique_key())
                    .col(text(Refunds::Reason))
                    .col(timestamp_with_time_zone(Refunds::CreatedAt))
                    .col(timestamp_with_time_zone_null(Refunds::CompletedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Refunds::Table, Refunds::PaymentId)
                            .to(Payments::Table, Payments::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Refunds::Table, Refunds::OrderId)
                            .to(Orders::Table, Orders::Id),
                    )
                    .to_owned(),
            )
            .await?;
        plain_index(
            manager,
            "idx_refunds_payment",
            Refunds::Table,
            &[Refunds::PaymentId],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Payouts::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Payouts::Id))
                    .col(big_integer(Payouts::CooperativeId))
                    .col(big_integer(Payouts::AmountVnd))
                    .col(string_len(Payouts::BankReference, 64))
                    .col(big_integer(Payouts::RecordedBy))
                    .col(timestamp_with_time_zone(Payouts::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Payouts::Table, Payouts::CooperativeId)
                            .to(Cooperatives::Table, Cooperatives::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Payouts::Table, Payouts::RecordedBy)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        unique_index(
            manager,
            "uq_payouts_cooperative_reference",
            Payouts::Table,
            &[Payouts::CooperativeId, Payouts::BankReference],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(LedgerTransactions::Table)
                    .if_not_exists()
                    .col(big_pk_auto(LedgerTransactions::Id))
                    .col(string_len(LedgerTransactions::Kind, 32))
                    .col(big_integer_null(LedgerTransactions::PaymentId))
                    .col(big_integer_null(LedgerTransactions::OrderId))
                    .col(big_integer_null(LedgerTransactions::RefundId))
                    .col(big_integer_null(LedgerTransactions::PayoutId))
                    .col(text(LedgerTransactions::Memo))
                    .col(timestamp_with_time_zone(LedgerTransactions::CreatedAt))
                    .to_owned(),
            )
            .await?;
        plain_index(
            manager,
            "idx_ledger_transactions_payment",
            LedgerTransactions::Table,
            &[LedgerTransactions::PaymentId],
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(LedgerEntries::Table)
                    .if_not_exists()
                    .col(big_pk_auto(LedgerEntries::Id))
                    .col(big_integer(LedgerEntries::TransactionId))
                    .col(string_len(LedgerEntries::Account, 64))
                    .col(big_integer_null(LedgerEntries::CooperativeId))
                    .col(big_integer(LedgerEntries::AmountVnd))
                    .foreign_key(
                        ForeignKey::create()
                            .from(LedgerEntries::Table, LedgerEntries::TransactionId)
                            .to(LedgerTransactions::Table, LedgerTransactions::Id),
                    )
                    .to_owned(),
            )
            .await?;
        plain_index(
            manager,
            "idx_ledger_entries_account",
            LedgerEntries::Table,
            &[LedgerEntries::Account],
        )
        .await?;
        plain_index(
            manager,
            "idx_ledger_entries_transaction",
            LedgerEntries::Table,
            &[LedgerEntries::TransactionId],
        )
        .await?;
        plain_index(
            manager,
            "idx_ledger_entries_cooperative",
            LedgerEntries::Table,
            &[LedgerEntries::CooperativeId],
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            LedgerEntries::Table.into_iden(),
            LedgerTransactions::Table.into_iden(),
            Payouts::Table.into_iden(),
            Refunds::Table.into_iden(),
            PaymentExceptions::Table.into_iden(),
            WebhookEvents::Table.into_iden(),
            OrderEvents::Table.into_iden(),
            OrderItems::Table.into_iden(),
            Orders::Table.into_iden(),
            Payments::Table.into_iden(),
            CartItems::Table.into_iden(),
            Carts::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Cooperatives::Table)
                    .drop_column(CooperativeDelivery::DeliveryFeeVnd)
                    .to_owned(),
            )
            .await
    }
}

async fn plain_index<T: IntoIden + Copy + 'static, C: IntoIden + Copy + 'static>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: T,
    columns: &[C],
) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(table);
    for column in columns {
        index.col(*column);
    }
    manager.create_index(index.to_owned()).await
}

async fn unique_index<T: IntoIden + Copy + 'static, C: IntoIden + Copy + 'static>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: T,
    columns: &[C],
) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(table).unique();
    for column in columns {
        index.col(*column);
    }
    manager.create_index(index.to_owned()).await
}

#[derive(DeriveIden)]
enum CooperativeDelivery {
    DeliveryFeeVnd,
}

#[derive(DeriveIden)]
enum Products {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Carts {
    Table,
    Id,
    TokenHash,
    UserId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum CartItems {
    Table,
    Id,
    CartId,
    ProductId,
    Quantity,
    AddedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Payments {
    Table,
    Id,
    Reference,
    AccessTokenHash,
    CheckoutKey,
    BuyerUserId,
    Method,
    Status,
    AmountVnd,
    ReceivedVnd,
    ExpiresAt,
    PaidAt,
    ProviderPaymentId,
    StripeSessionId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Orders {
    Table,
    Id,
    PaymentId,
    CooperativeId,
    BuyerUserId,
    Status,
    SubtotalVnd,
    DeliveryFeeVnd,
    TotalVnd,
    CommissionVnd,
    RecipientName,
    RecipientPhone,
    ProvinceCode,
    CommuneCode,
    Street,
    Carrier,
    TrackingNumber,
    CancelReason,
    CancelledBy,
    CreatedAt,
    UpdatedAt,
    PaidAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum OrderItems {
    Table,
    Id,
    OrderId,
    ProductId,
    ProductName,
    Unit,
    UnitPriceVnd,
    Quantity,
    LineTotalVnd,
}

#[derive(DeriveIden, Clone, Copy)]
enum OrderEvents {
    Table,
    Id,
    OrderId,
    Status,
    ActorUserId,
    Note,
    At,
}

#[derive(DeriveIden, Clone, Copy)]
enum WebhookEvents {
    Table,
    Id,
    Provider,
    EventId,
    EventType,
    Payload,
    Outcome,
    Detail,
    ReceivedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum PaymentExceptions {
    Table,
    Id,
    Kind,
    Status,
    PaymentId,
    WebhookEventId,
    BankTransactionId,
    AmountVnd,
    Description,
    Resolution,
    ResolvedBy,
    ResolvedAt,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Refunds {
    Table,
    Id,
    PaymentId,
    OrderId,
    AmountVnd,
    Status,
    ProviderRefundId,
    Reason,
    CreatedAt,
    CompletedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Payouts {
    Table,
    Id,
    CooperativeId,
    AmountVnd,
    BankReference,
    RecordedBy,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum LedgerTransactions {
    Table,
    Id,
    Kind,
    PaymentId,
    OrderId,
    RefundId,
    PayoutId,
    Memo,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum LedgerEntries {
    Table,
    Id,
    TransactionId,
    Account,
    CooperativeId,
    AmountVnd,
}
