//! Messages to people: e-mail, SMS and Zalo, from a durable outbox.
//!
//! # Two halves
//!
//! The **write side** ([`outbox`], [`events`]) sits low in the dependency graph: it imports only
//! entities, domain types, the error type and the message catalogue, so that orders, payments,
//! the catalogue, trace and accounts can ask for a message *inside their own transaction*
//! (`messages::outbox::enqueue(txn, …)`). A message row commits with the event that causes it
//! or not at all, and its unique `dedupe_key` makes an event seen twice (a bank notification
//! sent again) one message.
//!
//! The **send side** ([`sender`], [`mail`], [`render`]) runs in every app server: it claims due
//! rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL, a conditional `UPDATE` on SQLite), renders
//! them from the catalogue in the recipient's language, hands them to the channel, and records
//! the outcome: sent, retried with exponential backoff, or — a day after it was asked for, or
//! at once for a permanent refusal — failed and shown to administrators.

pub mod channel;
pub mod daily;
pub mod esms;
pub mod events;
pub mod http;
pub mod mail;
pub mod outbox;
pub mod preferences;
pub mod render;
pub mod routes;
pub mod sender;
pub mod unsubscribe;
pub mod zalo;

use crate::domain::text_enum;

text_enum!(
    /// How a message reaches its recipient.
    Channel {
        Email => "email",
        Sms => "sms",
        Zalo => "zalo",
    }
);

text_enum!(
    /// What a message says: its template in the catalogue (`message.{name}.*`).
    Template {
        CheckoutInstructions => "checkout_instructions",
        OrderPaidShopper => "order_paid_shopper",
        OrderPaidCooperative => "order_paid_cooperative",
        OrderAccepted => "order_accepted",
        OrderShipped => "order_shipped",
        OrderDelivered => "order_delivered",
        OrderCancelledShopper => "order_cancelled_shopper",
        OrderCancelledByShopper => "order_cancelled_by_shopper",
        PayoutRecorded => "payout_recorded",
        FakeReport => "fake_report",
        FakeReportOutcome => "fake_report_outcome",
        RecallNotice => "recall_notice",
        StampFlagged => "stamp_flagged",
        CooperativeVerified => "cooperative_verified",
        CooperativeRejected => "cooperative_rejected",
        CertificateExpiring => "certificate_expiring",
        AdminDigest => "admin_digest",
        PasswordReset => "password_reset",
        PasswordResetCode => "password_reset_code",
        ContactCode => "contact_code",
    }
);

impl Template {
    /// Security messages (password reset, confirmation codes) and messages about a purchase
    /// the recipient made are always sent; every other kind can be unsubscribed from, and its
    /// e-mails carry a one-click unsubscribe (RFC 8058).
    pub fn can_unsubscribe(self) -> bool {
        !matches!(
            self,
            Self::CheckoutInstructions
                | Self::OrderPaidShopper
                | Self::OrderAccepted
                | Self::OrderShipped
                | Self::OrderDelivered
                | Self::OrderCancelledShopper
                | Self::FakeReportOutcome
                | Self::RecallNotice
                | Self::PasswordReset
                | Self::PasswordResetCode
                | Self::ContactCode
        )
    }

    /// Messages carrying a secret (a reset link, a code, a payment page's token): their
    /// parameters are erased once sent.
    pub fn is_secret(self) -> bool {
        matches!(
            self,
            Self::PasswordReset
                | Self::PasswordResetCode
                | Self::ContactCode
                | Self::CheckoutInstructions
        )
    }
}
