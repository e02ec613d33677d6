//! Printable A4 sheets of stamp labels, as PDF.
//!
//! Each label carries a vector QR code of its stamp URL (error-correction level M) and, beside
//! it, the product's short name, lot, serial number, OCOP stars and a tagline, set in DejaVu
//! Sans, which is embedded (subset) in the PDF so that Vietnamese text prints anywhere.
//!
//! `layout` holds the sheet geometry a print shop's label paper dictates, `font` the two
//! embedded faces and fitting text to a width, `pdf` the drawing of labels onto pages.

mod font;
mod layout;
mod pdf;
#[cfg(any(test, feature = "conformance"))]
pub mod raster;
#[cfg(test)]
mod tests;

use thiserror::Error;

use crate::qr::QrError;

pub use layout::SheetLayout;
pub use pdf::render_sheet;

/// Most labels [`render_sheet`] prints in one document.
pub const MAX_LABELS: usize = 100_000;

/// One stamp label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// The stamp URL encoded in the QR code.
    pub url: String,
    /// The product's short name, printed in bold (shortened with "…" when too long).
    pub short_name: String,
    /// The production lot, printed as `Lô <lot>`.
    pub lot: String,
    /// The stamp's serial number, printed as `Số <serial>`.
    pub serial: u64,
    /// OCOP stars (3, 4 or 5) when the product is certified, printed as `★★★ OCOP`.
    pub stars: Option<u8>,
}

/// Why a label sheet could not be rendered.
#[derive(Debug, Error)]
pub enum LabelError {
    /// The label list was empty.
    #[error("no labels to print")]
    NoLabels,
    /// More than [`MAX_LABELS`] labels were asked for.
    #[error("{count} labels asked for; at most {MAX_LABELS} are printed in one document")]
    TooManyLabels {
        /// How many labels were asked for.
        count: usize,
    },
    /// A [`SheetLayout`] field is out of range or the labels do not fit on A4.
    #[error("invalid sheet layout: {field} {problem}")]
    Layout {
        /// The name of the offending [`SheetLayout`] field.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// A label's OCOP stars were not 3, 4 or 5.
    #[error("label {index}: OCOP stars must be 3, 4 or 5, not {stars}")]
    InvalidStars {
        /// Position of the label in the list, from 0.
        index: usize,
        /// The refused value.
        stars: u8,
    },
    /// A label's URL could not be encoded as a QR code.
    #[error("label {index}: {source}")]
    Qr {
        /// Position of the label in the list, from 0.
        index: usize,
        /// Why encoding failed.
        source: QrError,
    },
    /// An embedded font could not be read.
    #[error("the embedded font {0} could not be read")]
    Font(&'static str),
    /// krilla could not write the PDF.
    #[error("PDF generation failed: {0}")]
    Pdf(#[from] krilla::error::KrillaError),
}
