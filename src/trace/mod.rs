//! Traceability: batches (lots) of products, their trace events in the GS1 EPCIS vocabulary,
//! serialised QR stamps, public scans with copy detection, fake reports and scan analytics.
//!
//! Stamp URLs are printed on packages and must never change meaning:
//! - `{PUBLIC_URL}/s/{CODE}` (also `/S/{CODE}`, so the QR can use its compact upper-case mode);
//! - `{PUBLIC_URL}/s/{CODE}/{LOT}/{SERIAL}/{SIGNATURE}` for stamps signed for offline checks;
//! - `{PUBLIC_URL}/01/{GTIN14}/10/{LOT}/21/{SERIAL}`, the GS1 Digital Link form, when the
//!   size has a GTIN; [`resolver`] answers its shorter forms (`/01/{GTIN14}`, the product, and
//!   `/01/{GTIN14}/10/{LOT}`, the lot) and the linksets of all three.
//!
//! A scan goes through [`verdict`]: the stamp its URL names, who is scanning, and the judgement
//! by [`scans`] (per-stamp state, then the batch writer) with the stamp and origin from the
//! [`origin`] caches. The pages and the API (`routes`) call these services and never each other.

pub mod analytics;
pub mod batches;
pub mod epcis;
pub mod events;
pub mod exports;
pub mod fake_reports;
pub mod flags;
pub mod labels;
pub mod origin;
pub mod recalls;
pub mod resolver;
mod routes;
pub mod scans;
pub mod signing;
pub mod stamps;
pub mod verdict;

pub use routes::{api_routes, page_routes};

use crate::domain::text_enum;

text_enum! {
    /// What happened to a batch, in the GS1 CBV business-step vocabulary.
    EventType {
        Commissioning => "commissioning",
        Packing => "packing",
        Shipping => "shipping",
        Receiving => "receiving",
        Inspecting => "inspecting",
        Transformation => "transformation",
    }
}

text_enum! {
    /// Whether a stamp is in use.
    StampStatus {
        Active => "active",
        Voided => "voided",
    }
}

text_enum! {
    /// Why a stamp was voided; shown (as a category only) to whoever scans it.
    VoidReason {
        Lost => "lost",
        Damaged => "damaged",
        Misprinted => "misprinted",
        Recalled => "recalled",
        Other => "other",
    }
}
