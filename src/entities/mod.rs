//! Database entities in the shape `sea-orm-cli generate entity` writes them. Not edited by
//! hand beyond that shape: queries and invariants live in the domain modules.

pub mod communes;
pub mod cooperative_members;
pub mod cooperatives;
pub mod ocop_categories;
pub mod ocop_certificates;
pub mod ocop_groups;
pub mod products;
pub mod provinces;
pub mod sessions;
pub mod users;
