//! Database schema of OCOP Market. Every schema change is a migration here; the app runs them at
//! start-up and through `ocop-market migrate`. Migrations use only sea-query schema helpers and
//! never the app's entities, so that old migrations keep compiling as the app changes.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_create_reference_tables;
mod m20261122_000002_create_accounts;
mod m20261122_000003_create_cooperatives;
mod m20261122_000004_create_catalog;
mod m20261122_000005_create_trace;
mod m20261122_000006_create_search_outbox;
mod m20261122_000007_create_commerce;
mod m20261122_000008_create_photos;
mod m20261122_000009_add_dashboard_indexes;
mod m20261122_000010_refund_attempts;
mod m20261204_000011_index_voided_stamps;
mod m20261205_000012_create_cooperative_invitations;
mod m20261205_000013_gtin_claims;
mod m20261205_000014_stamp_trust;
mod m20261205_000015_money;
mod m20261205_000016_messages;
mod m20261206_000017_wallet_gateways;
mod m20261206_000018_product_variants;
mod m20261206_000019_shipping_rates;
mod m20261206_000020_reviews;
mod m20261206_000021_fake_report_workflow;
mod m20261206_000022_lots_and_recalls;
mod m20261206_000023_variant_gtins;
mod m20261206_000027_review_report_handling;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_reference_tables::Migration),
            Box::new(m20261122_000002_create_accounts::Migration),
            Box::new(m20261122_000003_create_cooperatives::Migration),
            Box::new(m20261122_000004_create_catalog::Migration),
            Box::new(m20261122_000005_create_trace::Migration),
            Box::new(m20261122_000006_create_search_outbox::Migration),
            Box::new(m20261122_000007_create_commerce::Migration),
            Box::new(m20261122_000008_create_photos::Migration),
            Box::new(m20261122_000009_add_dashboard_indexes::Migration),
            Box::new(m20261122_000010_refund_attempts::Migration),
            Box::new(m20261204_000011_index_voided_stamps::Migration),
            Box::new(m20261205_000012_create_cooperative_invitations::Migration),
            Box::new(m20261205_000013_gtin_claims::Migration),
            Box::new(m20261205_000014_stamp_trust::Migration),
            Box::new(m20261205_000015_money::Migration),
            Box::new(m20261205_000016_messages::Migration),
            Box::new(m20261206_000017_wallet_gateways::Migration),
            Box::new(m20261206_000018_product_variants::Migration),
            Box::new(m20261206_000019_shipping_rates::Migration),
            Box::new(m20261206_000020_reviews::Migration),
            Box::new(m20261206_000021_fake_report_workflow::Migration),
            Box::new(m20261206_000022_lots_and_recalls::Migration),
            Box::new(m20261206_000023_variant_gtins::Migration),
            Box::new(m20261206_000027_review_report_handling::Migration),
        ]
    }
}
