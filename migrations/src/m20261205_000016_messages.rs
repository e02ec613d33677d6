//! Messages to people (e-mail, SMS, Zalo) and the account recovery they carry.
//!
//! - `message_outbox`: one row per message to send, written in the transaction of the event
//!   that causes it. `dedupe_key` is unique, so an event seen twice (a bank notification sent
//!   again) asks for its message once. The senders of every app server claim due rows
//!   (`sent_at` and `failed_at` null, `next_attempt_at` passed), push `next_attempt_at` ahead
//!   while they send (a lease) and record the outcome; a row still failing after a day gets
//!   `failed_at` and stays for the administrators to see.
//! - `notification_preferences`: per user, the channel chosen (`email`, `sms`, `zalo`), the
//!   language of messages and the kinds unsubscribed from (comma-separated).
//! - `password_reset_tokens`: the SHA-256 of a reset link's token or of a six-digit code,
//!   single use (`used_at`), expiring after 30 minutes; a code dies after five wrong tries
//!   (`attempts`).
//! - `contact_change_codes`: a new e-mail address or phone number waiting for its code.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261122_000002_create_accounts::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MessageOutbox::Table)
                    .if_not_exists()
                    .col(big_pk_auto(MessageOutbox::Id))
                    .col(string_len(MessageOutbox::DedupeKey, 200).unique_key())
                    // No foreign key: the message outlives a deleted account's row.
                    .col(big_integer_null(MessageOutbox::UserId))
                    .col(string_len(MessageOutbox::Recipient, 320))
                    .col(string_len(MessageOutbox::Channel, 16))
                    .col(string_len(MessageOutbox::Template, 64))
                    .col(text(MessageOutbox::Params))
                    .col(string_len(MessageOutbox::Locale, 8))
                    .col(timestamp_with_time_zone(MessageOutbox::CreatedAt))
                    .col(integer(MessageOutbox::Attempts).default(0))
                    .col(timestamp_with_time_zone(MessageOutbox::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(MessageOutbox::SentAt))
                    .col(timestamp_with_time_zone_null(MessageOutbox::FailedAt))
                    .col(text_null(MessageOutbox::LastError))
                    .to_owned(),
            )
            .await?;
        // The senders' claim: `sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= now`.
        manager
            .create_index(
                Index::create()
                    .name("idx_message_outbox_due")
                    .table(MessageOutbox::Table)
                    .col(MessageOutbox::SentAt)
                    .col(MessageOutbox::FailedAt)
                    .col(MessageOutbox::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(NotificationPreferences::Table)
                    .if_not_exists()
                    .col(
                        big_integer(NotificationPreferences::UserId)
                            .primary_key()
                            .to_owned(),
                    )
                    .col(string_len(NotificationPreferences::Channel, 16))
                    .col(string_len(NotificationPreferences::Locale, 8))
                    .col(text(NotificationPreferences::Unsubscribed))
                    .col(timestamp_with_time_zone(NotificationPreferences::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                NotificationPreferences::Table,
                                NotificationPreferences::UserId,
                            )
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PasswordResetTokens::Table)
                    .if_not_exists()
                    .col(big_pk_auto(PasswordResetTokens::Id))
                    .col(big_integer(PasswordResetTokens::UserId))
                    .col(string_len(PasswordResetTokens::TokenHash, 64).unique_key())
                    .col(integer(PasswordResetTokens::Attempts).default(0))
                    .col(timestamp_with_time_zone(PasswordResetTokens::CreatedAt))
                    .col(timestamp_with_time_zone(PasswordResetTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(PasswordResetTokens::UsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(PasswordResetTokens::Table, PasswordResetTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ContactChangeCodes::Table)
                    .if_not_exists()
                    .col(big_pk_auto(ContactChangeCodes::Id))
                    .col(big_integer(ContactChangeCodes::UserId))
                    .col(string_len(ContactChangeCodes::Kind, 8))
                    .col(string_len(ContactChangeCodes::NewValue, 320))
                    .col(string_len(ContactChangeCodes::CodeHash, 64))
                    .col(integer(ContactChangeCodes::Attempts).default(0))
                    .col(timestamp_with_time_zone(ContactChangeCodes::CreatedAt))
                    .col(timestamp_with_time_zone(ContactChangeCodes::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ContactChangeCodes::UsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ContactChangeCodes::Table, ContactChangeCodes::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_contact_change_codes_user")
                    .table(ContactChangeCodes::Table)
                    .col(ContactChangeCodes::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ContactChangeCodes::Table.into_iden(),
            PasswordResetTokens::Table.into_iden(),
            NotificationPreferences::Table.into_iden(),
            MessageOutbox::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum MessageOutbox {
    Table,
    Id,
    DedupeKey,
    UserId,
    Recipient,
    Channel,
    Template,
    Params,
    Locale,
    CreatedAt,
    Attempts,
    NextAttemptAt,
    SentAt,
    FailedAt,
    LastError,
}

#[derive(DeriveIden)]
enum NotificationPreferences {
    Table,
    UserId,
    Channel,
    Locale,
    Unsubscribed,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PasswordResetTokens {
    Table,
    Id,
    UserId,
    TokenHash,
    Attempts,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum ContactChangeCodes {
    Table,
    Id,
    UserId,
    Kind,
    NewValue,
    CodeHash,
    Attempts,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}
