//! Database entities in the shape `sea-orm-cli generate entity` writes them. Not edited by
//! hand beyond that shape: queries and invariants live in the domain modules.

pub mod batches;
pub mod cart_items;
pub mod carts;
pub mod communes;
pub mod cooperative_invitations;
pub mod cooperative_members;
pub mod cooperatives;
pub mod fake_reports;
pub mod ledger_entries;
pub mod ledger_transactions;
pub mod ocop_categories;
pub mod ocop_certificates;
pub mod ocop_groups;
pub mod order_events;
pub mod order_items;
pub mod orders;
pub mod payment_exceptions;
pub mod payments;
pub mod payouts;
pub mod photos;
pub mod products;
pub mod provinces;
pub mod refunds;
pub mod scans;
pub mod search_outbox;
pub mod sessions;
pub mod stamp_flag_reviews;
pub mod stamp_signing_keys;
pub mod stamps;
pub mod stock_adjustments;
pub mod trace_event_inputs;
pub mod trace_events;
pub mod users;
pub mod webhook_events;
