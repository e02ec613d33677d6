//! Cashless payment. So far: the VietQR (NAPAS 247, EMVCo) payment code a shopper's banking app
//! scans. Checkout, providers and the ledger come with the checkout issue.

pub mod vietqr;
