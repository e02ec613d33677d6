//! Catalogue search: one [`model::SearchIndex`] trait with two backends — the embedded tantivy
//! index ([`embedded`], the default, kept on disk in generations: [`generations`]) and a
//! Meilisearch client ([`meili`], when `MEILI_URL` is set) — that pass one conformance suite
//! (`conformance`: test code, compiled for the library's tests and with the `conformance`
//! feature, which the integration tests turn on).
//!
//! Search stays true to the database through a transactional outbox: every write that changes
//! what search shows enqueues its products ([`crate::catalog::outbox::enqueue_products`]) in
//! its own transaction, and the [`indexer`] drains the outbox ([`outbox`] is its reading side)
//! into the live index ([`live`]), through [`apply`].
//! `ocop-market reindex` rebuilds the index from the database and swaps it in while the app
//! keeps serving. Shoppers reach it through [`service`] (shared by the `/search` page and
//! `GET /api/v1/search`).

pub mod apply;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
pub mod documents;
pub mod embedded;
pub mod follow;
pub mod generations;
pub mod indexer;
pub mod live;
pub mod meili;
pub mod model;
pub mod outbox;
mod routes_api;
mod routes_pages;
pub mod service;

pub use routes_api::api_routes;
pub use routes_pages::page_routes;
