//! Test code: a label sheet turned into pixels by an independent PDF renderer (poppler's
//! `pdftoppm`), so the tests can decode its QR codes as a phone would. Shared by the unit tests
//! of this module and the integration tests (the `conformance` feature).

use std::sync::atomic::{AtomicU64, Ordering};

/// Rasterises the first page of `pdf` at `dpi`, in gray; `None` when `pdftoppm` (Debian
/// poppler-utils) is not installed and CI is not set. In CI its absence is a failure.
pub fn rasterise_first_page(pdf: &[u8], dpi: u32) -> Option<image::GrayImage> {
    static RUN: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "ocop-labels-{}-{}",
        std::process::id(),
        RUN.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let input = dir.join("labels.pdf");
    std::fs::write(&input, pdf).expect("write the PDF");
    let output = dir.join("page");
    let run = std::process::Command::new("pdftoppm")
        .args([
            "-r",
            &dpi.to_string(),
            "-gray",
            "-png",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
        ])
        .arg(&input)
        .arg(&output)
        .status();
    let page = match run {
        Ok(status) => {
            assert!(status.success(), "pdftoppm failed: {status}");
            let png = std::fs::read(dir.join("page.png")).expect("pdftoppm's page");
            Some(image::load_from_memory(&png).expect("a PNG").to_luma8())
        }
        Err(err) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("SKIPPED: pdftoppm (Debian poppler-utils) is not installed: {err}");
            None
        }
        Err(err) => panic!("pdftoppm (Debian poppler-utils) is needed in CI: {err}"),
    };
    let _ = std::fs::remove_dir_all(&dir);
    page
}
