#![allow(clippy::unwrap_used)]
//! Integration tests: the real app over real HTTP, on SQLite by default and on PostgreSQL
//! when `TEST_DATABASE_URL` is set (see `scripts/test`).

mod access;
mod accounts;
mod admin;
mod api_conformance;
mod attacker;
mod catalog;
mod channels;
mod checkout;
mod cluster;
mod dashboard;
mod demo_photos;
mod digital_link;
mod fake_reports;
mod fake_sms;
mod fake_stripe;
mod fake_wallets;
mod lots;
mod messages;
mod money;
mod money_model;
mod openapi;
mod operations;
mod origin;
mod pages;
mod photos;
mod recalls;
mod recovery;
mod reviews;
mod search;
mod seeding;
mod shipping;
mod smtp_sink;
mod stripe;
mod support;
mod trace;
mod validation;
mod variants;
mod wallets;
