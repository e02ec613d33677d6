//! The catalogue: cooperatives, their members, products and OCOP certificates.
//!
//! Public visibility is one rule, applied in one place ([`products::public_filter`]): a product
//! is public when it is published and its cooperative is verified (not pending, rejected or
//! suspended). Members manage their own cooperative's data and nothing else: every private read
//! and write goes through [`access`], which answers "not found" to anyone else, so the existence
//! of another cooperative's drafts is not revealed either.

pub mod access;
pub mod cache;
pub mod certificates;
pub mod cooperatives;
pub mod gtins;
pub mod invitations;
pub mod outbox;
pub mod params;
pub mod products;
mod routes_api;
mod routes_members;
mod routes_pages;
pub mod stock;
pub mod variants;
pub mod views;

/// The catalogue's JSON API: products, cooperatives, certificates and staff invitations.
pub fn api_routes() -> utoipa_axum::router::OpenApiRouter<crate::AppState> {
    routes_api::api_routes().merge(routes_members::api_routes())
}

/// The catalogue's pages: the public shop, the workspace and invitation links.
pub fn page_routes() -> axum::Router<crate::AppState> {
    routes_pages::page_routes().merge(routes_members::page_routes())
}

use crate::domain::text_enum;

text_enum! {
    /// Where a cooperative stands with the province.
    CooperativeStatus {
        Pending => "pending",
        Verified => "verified",
        Rejected => "rejected",
        Suspended => "suspended",
    }
}

text_enum! {
    /// A product's life: drafts and archived products are seen only by the cooperative.
    ProductStatus {
        Draft => "draft",
        Published => "published",
        Archived => "archived",
    }
}

text_enum! {
    /// Whether the province has checked a recorded OCOP certificate.
    CertificateStatus {
        Pending => "pending",
        Verified => "verified",
        Rejected => "rejected",
    }
}

text_enum! {
    /// Which authority issued an OCOP certificate.
    IssuingLevel {
        District => "district",
        Province => "province",
        National => "national",
    }
}

text_enum! {
    /// A member's role in a cooperative.
    MemberRole {
        Owner => "owner",
        Staff => "staff",
    }
}

/// What the province reviews of a cooperative — registration number, name, commune and bank
/// account — as a short digest: a decision names the digest it was made on, so a decision on
/// details that changed meanwhile is refused, and the verified digest is kept on the row.
pub fn review_fingerprint(coop: &crate::entities::cooperatives::Model) -> String {
    use sha2::Digest;
    let reviewed = [
        coop.registration_number.as_str(),
        coop.name.as_str(),
        coop.commune_code.as_str(),
        coop.bank_bin.as_str(),
        coop.bank_account_number.as_str(),
        coop.bank_account_holder.as_str(),
    ]
    .join("\u{1f}");
    data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(reviewed.as_bytes())[..16])
}
