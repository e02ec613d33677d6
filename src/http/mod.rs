//! Shared HTTP plumbing: errors, extractors, middleware, rate limits and page rendering.

pub mod assets;
pub mod client;
pub mod error;
pub mod extract;
pub mod middleware;
pub mod negotiate;
pub mod openapi;
pub mod page;
pub mod rate_limit;
pub mod server;
pub mod skeleton;
