//! QR codes: encoding text to a module matrix, and rendering it as SVG or PNG; reading the
//! codes in a picture ([`read_all`]).
//!
//! A leaf module, used by trace (stamp QR codes and label sheets) and orders (the VietQR
//! transfer code, the stamps read from photos of packed parcels). Segmenting is tuned for stamp URLs, whose path is upper case (see
//! [`QrMatrix::encode`]), but any text encodes.

use std::fmt::Write as _;

use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};
use thiserror::Error;

/// Light modules around the symbol on every side, as the QR specification requires.
pub const QUIET_ZONE: usize = 4;

/// Longest data (in bytes) that [`QrMatrix::encode`] accepts.
pub const MAX_DATA_BYTES: usize = 1_000;

/// Smallest image size (in pixels) that the renderers accept.
pub const MIN_SIZE_PX: u32 = 64;

/// Largest image size (in pixels) that the renderers accept.
pub const MAX_SIZE_PX: u32 = 4_096;

/// Why a QR code could not be made.
#[derive(Debug, Error)]
pub enum QrError {
    /// There was nothing to encode.
    #[error("QR data is empty")]
    EmptyData,
    /// The data is longer than [`MAX_DATA_BYTES`].
    #[error("QR data is {len} bytes long; at most {MAX_DATA_BYTES} bytes are allowed")]
    DataTooLong {
        /// Length of the refused data, in bytes.
        len: usize,
    },
    /// The requested image size is outside [`MIN_SIZE_PX`]`..=`[`MAX_SIZE_PX`].
    #[error("QR image size {size_px} px is outside {MIN_SIZE_PX}..={MAX_SIZE_PX} px")]
    SizeOutOfRange {
        /// The refused size, in pixels.
        size_px: u32,
    },
    /// The QR encoder refused the data (too long for any version at this level).
    #[error("QR encoding failed: {0}")]
    Encode(#[from] qrcodegen::DataTooLong),
    /// The PNG encoder failed.
    #[error("PNG encoding failed: {0}")]
    Png(#[from] image::ImageError),
}

/// Error-correction level: the share of the symbol that can be damaged and still read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EcLevel {
    /// About 7 % recoverable.
    L,
    /// About 15 % recoverable.
    M,
    /// About 25 % recoverable.
    Q,
    /// About 30 % recoverable.
    H,
}

impl EcLevel {
    /// Parses `"L"`, `"M"`, `"Q"` or `"H"`, in either case; anything else is `None`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "L" => Some(Self::L),
            "M" => Some(Self::M),
            "Q" => Some(Self::Q),
            "H" => Some(Self::H),
            _ => None,
        }
    }

    fn to_qrcodegen(self) -> qrcodegen::QrCodeEcc {
        match self {
            Self::L => qrcodegen::QrCodeEcc::Low,
            Self::M => qrcodegen::QrCodeEcc::Medium,
            Self::Q => qrcodegen::QrCodeEcc::Quartile,
            Self::H => qrcodegen::QrCodeEcc::High,
        }
    }
}

/// An encoded QR symbol: a square of dark and light modules, without the quiet zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrMatrix {
    width: usize,
    version: i16,
    /// Row-major, `width * width` entries, `true` for dark.
    dark: Vec<bool>,
}

impl QrMatrix {
    /// Encodes `data` at error-correction level `ec` in the smallest version that holds it,
    /// with the mask the QR specification's penalty rules choose.
    ///
    /// An all-uppercase URL is encoded in alphanumeric mode (5.5 bits a character instead of
    /// 8), and a URL whose base has lower-case letters switches to alphanumeric mode for its
    /// upper-case stamp part, so both need a smaller symbol than plain byte mode.
    ///
    /// The encoder is qrcodegen (Project Nayuki's reference implementation): it scores the
    /// eight masks in place, without allocating, which matters when a label sheet encodes
    /// 100,000 codes.
    pub fn encode(data: &str, ec: EcLevel) -> Result<Self, QrError> {
        if data.is_empty() {
            return Err(QrError::EmptyData);
        }
        if data.len() > MAX_DATA_BYTES {
            return Err(QrError::DataTooLong { len: data.len() });
        }
        let code = qrcodegen::QrCode::encode_segments_advanced(
            &segments(data),
            ec.to_qrcodegen(),
            qrcodegen::Version::MIN,
            qrcodegen::Version::MAX,
            None,
            // Keep the level asked for; a higher one would change nothing a reader sees.
            false,
        )?;
        // 21..=177 modules, version 1..=40: both always fit.
        let width = usize::try_from(code.size()).unwrap_or(0);
        let size = code.size();
        let dark = (0..size)
            .flat_map(|y| (0..size).map(move |x| (x, y)))
            .map(|(x, y)| code.get_module(x, y))
            .collect();
        Ok(Self {
            width,
            version: i16::from(code.version().value()),
            dark,
        })
    }

    /// Modules per side, without the quiet zone (21 for version 1, 177 for version 40).
    pub fn width(&self) -> usize {
        self.width
    }

    /// The QR version, 1..=40.
    pub fn version(&self) -> i16 {
        self.version
    }

    /// Whether the module at column `x`, row `y` is dark; outside the symbol it is light.
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.width && y < self.width && self.dark[y * self.width + x]
    }

    /// Dark modules merged into horizontal runs: (x, y, length) — used by the SVG and PDF
    /// renderers to keep output small.
    ///
    /// Runs are listed row by row, left to right, and each is as long as possible.
    pub fn dark_runs(&self) -> Vec<(usize, usize, usize)> {
        let mut runs = Vec::new();
        for (y, row) in self.dark.chunks_exact(self.width).enumerate() {
            let mut x = 0;
            while x < self.width {
                if row[x] {
                    let start = x;
                    while x < self.width && row[x] {
                        x += 1;
                    }
                    runs.push((start, y, x - start));
                } else {
                    x += 1;
                }
            }
        }
        runs
    }

    /// Modules per side including the quiet zone on both sides.
    fn full_width(&self) -> usize {
        self.width + 2 * QUIET_ZONE
    }
}

/// Characters from which a switch to alphanumeric mode pays for itself: the mode header and
/// count cost about 20 bits, and each alphanumeric character saves 2.5 bits over a byte.
const MIN_ALPHANUMERIC_TAIL: usize = 12;

/// The segments for `data`: one segment in the densest mode that holds it all, or, when only
/// a tail is alphanumeric (a lower-case base URL before an upper-case stamp path), bytes
/// followed by an alphanumeric tail.
fn segments(data: &str) -> Vec<qrcodegen::QrSegment> {
    use qrcodegen::QrSegment;
    if QrSegment::is_numeric(data) || QrSegment::is_alphanumeric(data) {
        return QrSegment::make_segments(data);
    }
    let tail_start = data
        .char_indices()
        .rev()
        .take_while(|(_, c)| QrSegment::is_alphanumeric(c.encode_utf8(&mut [0; 4])))
        .last()
        .map_or(data.len(), |(i, _)| i);
    if data.len() - tail_start >= MIN_ALPHANUMERIC_TAIL {
        vec![
            QrSegment::make_bytes(&data.as_bytes()[..tail_start]),
            QrSegment::make_alphanumeric(&data[tail_start..]),
        ]
    } else {
        QrSegment::make_segments(data)
    }
}

/// SVG document, `size_px` square, viewBox in module units incl. quiet zone, one `<path>` of runs,
/// white background rect, `shape-rendering="crispEdges"`.
///
/// `size_px` is clamped to [`MIN_SIZE_PX`]`..=`[`MAX_SIZE_PX`]; the SVG scales to any size
/// anyway, so this only bounds the declared width and height.
pub fn render_svg(m: &QrMatrix, size_px: u32) -> String {
    let size = size_px.clamp(MIN_SIZE_PX, MAX_SIZE_PX);
    let n = m.full_width();
    let runs = m.dark_runs();
    let mut svg = String::with_capacity(300 + runs.len() * 16);
    // Writing to a String cannot fail, so the fmt::Results below are ignored on purpose.
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{size}\" \
         height=\"{size}\" viewBox=\"0 0 {n} {n}\" shape-rendering=\"crispEdges\">\
         <rect width=\"{n}\" height=\"{n}\" fill=\"#ffffff\"/><path fill=\"#000000\" d=\""
    );
    for (x, y, len) in runs {
        let _ = write!(
            svg,
            "M{} {}h{len}v1h-{len}z",
            x + QUIET_ZONE,
            y + QUIET_ZONE
        );
    }
    svg.push_str("\"/></svg>\n");
    svg
}

/// Grayscale PNG of about `size_px` pixels square (integer pixels per module, at least 1; the
/// image size is the module count incl. quiet zone × pixels per module, the largest not
/// exceeding size_px, or 1px/module if size_px is too small).
pub fn render_png(m: &QrMatrix, size_px: u32) -> Result<Vec<u8>, QrError> {
    if !(MIN_SIZE_PX..=MAX_SIZE_PX).contains(&size_px) {
        return Err(QrError::SizeOutOfRange { size_px });
    }
    let n = m.full_width();
    // size_px is at most 4096, so it converts losslessly on every platform Rust supports.
    let ppm = (size_px as usize / n).max(1);
    let side = n * ppm;
    let mut pixels = vec![255u8; side * side];
    for (x, y, len) in m.dark_runs() {
        let x0 = (x + QUIET_ZONE) * ppm;
        let y0 = (y + QUIET_ZONE) * ppm;
        for row in y0..y0 + ppm {
            let start = row * side + x0;
            pixels[start..start + len * ppm].fill(0);
        }
    }
    let side_u32 = u32::try_from(side).map_err(|_| QrError::SizeOutOfRange { size_px })?;
    let mut png = Vec::new();
    PngEncoder::new(&mut png).write_image(&pixels, side_u32, side_u32, ExtendedColorType::L8)?;
    Ok(png)
}

/// Longest side a photo is first read at: a phone photo (4,000 pixels and more) is read faster
/// scaled down, and a stamp on it still has modules of several pixels.
const READ_SIDE: u32 = 2_400;

/// The texts of the QR codes found in a picture (a photo may show several stamps), each once.
/// A large picture is read scaled down first, then at full size if nothing was found.
pub fn read_all(picture: image::GrayImage) -> Vec<String> {
    let (width, height) = picture.dimensions();
    let longest = width.max(height);
    if longest > READ_SIDE {
        let scale = |side: u32| {
            u32::try_from(u64::from(side) * u64::from(READ_SIDE) / u64::from(longest))
                .unwrap_or(1)
                .max(1)
        };
        let smaller = image::imageops::resize(
            &picture,
            scale(width),
            scale(height),
            image::imageops::FilterType::Triangle,
        );
        let found = read_grids(smaller);
        if !found.is_empty() {
            return found;
        }
    }
    read_grids(picture)
}

fn read_grids(picture: image::GrayImage) -> Vec<String> {
    let mut prepared = rqrr::PreparedImage::prepare(picture);
    let mut texts: Vec<String> = Vec::new();
    for grid in prepared.detect_grids() {
        if let Ok((_, text)) = grid.decode()
            && !texts.contains(&text)
        {
            texts.push(text);
        }
    }
    texts
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_LEVELS: [EcLevel; 4] = [EcLevel::L, EcLevel::M, EcLevel::Q, EcLevel::H];
    const SHORT_URL: &str = "HTTPS://OCOP.EXAMPLE.VN/S/0123456789ABCDEF";

    /// A signed stamp URL of 178 characters, all in the QR alphanumeric set.
    fn long_url() -> String {
        let url = format!(
            "HTTPS://OCOP.EXAMPLE.VN/S/{}/{}/{}/{}",
            "0123456789ABCDEF",
            "LOT2025MHBH00012345X",
            "004217",
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".repeat(4)[..107].to_owned()
        );
        assert_eq!(url.len(), 26 + 16 + 1 + 20 + 1 + 6 + 1 + 107);
        url
    }

    fn decode_gray(width: usize, height: usize, luma: impl Fn(usize, usize) -> u8) -> String {
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(width, height, luma);
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1, "expected exactly one QR code in the image");
        let (_meta, content) = grids[0].decode().expect("decodable QR code");
        content
    }

    fn decode_png(png: &[u8]) -> String {
        let img = image::load_from_memory(png).unwrap().to_luma8();
        let (w, h) = img.dimensions();
        decode_gray(w as usize, h as usize, |x, y| {
            img.get_pixel(x as u32, y as u32).0[0]
        })
    }

    fn decode_svg(svg: &str) -> String {
        let tree = resvg::usvg::Tree::from_str(svg, &resvg::usvg::Options::default()).unwrap();
        let size = tree.size().to_int_size();
        let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height()).unwrap();
        resvg::render(
            &tree,
            resvg::tiny_skia::Transform::default(),
            &mut pixmap.as_mut(),
        );
        let (w, h) = (pixmap.width() as usize, pixmap.height() as usize);
        // The background rect is opaque, so premultiplied red is the plain gray level.
        decode_gray(w, h, |x, y| {
            pixmap.pixel(x as u32, y as u32).unwrap().demultiply().red()
        })
    }

    #[test]
    fn parses_ec_levels_case_insensitively() {
        assert_eq!(EcLevel::parse("L"), Some(EcLevel::L));
        assert_eq!(EcLevel::parse("m"), Some(EcLevel::M));
        assert_eq!(EcLevel::parse("Q"), Some(EcLevel::Q));
        assert_eq!(EcLevel::parse("h"), Some(EcLevel::H));
        assert_eq!(EcLevel::parse(""), None);
        assert_eq!(EcLevel::parse("X"), None);
        assert_eq!(EcLevel::parse("MM"), None);
        assert_eq!(EcLevel::parse(" M"), None);
    }

    #[test]
    fn png_decodes_back_to_the_url_at_every_level() {
        for ec in ALL_LEVELS {
            for url in [
                SHORT_URL.to_owned(),
                long_url(),
                "https://ocop.example.vn/s/abc?x=1&y=Đà Lạt".to_owned(),
            ] {
                let m = QrMatrix::encode(&url, ec).unwrap();
                let png = render_png(&m, 512).unwrap();
                assert_eq!(decode_png(&png), url, "{ec:?}");
            }
        }
    }

    #[test]
    fn svg_decodes_back_to_the_url_at_every_level() {
        for ec in ALL_LEVELS {
            for url in [SHORT_URL.to_owned(), long_url()] {
                let m = QrMatrix::encode(&url, ec).unwrap();
                let svg = render_svg(&m, 400);
                assert_eq!(decode_svg(&svg), url, "{ec:?}");
            }
        }
    }

    #[test]
    fn svg_has_the_documented_shape() {
        let m = QrMatrix::encode(SHORT_URL, EcLevel::M).unwrap();
        let n = m.width() + 2 * QUIET_ZONE;
        let svg = render_svg(&m, 300);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.contains("width=\"300\" height=\"300\""));
        assert!(svg.contains(&format!("viewBox=\"0 0 {n} {n}\"")));
        assert!(svg.contains("shape-rendering=\"crispEdges\""));
        assert!(svg.contains(&format!(
            "<rect width=\"{n}\" height=\"{n}\" fill=\"#ffffff\"/>"
        )));
        assert_eq!(svg.matches("<path").count(), 1);
        assert_eq!(svg.matches('M').count(), m.dark_runs().len());
        // Sizes from user input are clamped rather than written as given.
        assert!(render_svg(&m, 1).contains("width=\"64\""));
        assert!(render_svg(&m, 100_000).contains("width=\"4096\""));
    }

    #[test]
    fn png_size_is_a_whole_number_of_pixels_per_module() {
        let m = QrMatrix::encode("HELLO", EcLevel::L).unwrap();
        assert_eq!(m.version(), 1);
        assert_eq!(m.width(), 21);
        let n = 21 + 2 * QUIET_ZONE as u32; // 29
        for (size_px, expected) in [
            (64, 58),
            (290, 290),
            (300, 290),
            (318, 290),
            (319, 319),
            (4096, 4089),
        ] {
            let img = image::load_from_memory(&render_png(&m, size_px).unwrap()).unwrap();
            assert_eq!(img.width(), expected, "size_px {size_px}");
            assert_eq!(img.height(), expected);
            assert_eq!(img.width() % n, 0);
            assert!(matches!(img, image::DynamicImage::ImageLuma8(_)));
        }
        // Version 40 has 185 modules with the quiet zone: more than 64 px, so 1 px per module.
        let big = QrMatrix::encode(&"A".repeat(1_000), EcLevel::H).unwrap();
        let n = big.width() as u32 + 2 * QUIET_ZONE as u32;
        assert!(n > 64);
        let img = image::load_from_memory(&render_png(&big, 64).unwrap()).unwrap();
        assert_eq!(img.width(), n);
    }

    #[test]
    fn refuses_sizes_out_of_range_and_oversized_data() {
        let m = QrMatrix::encode(SHORT_URL, EcLevel::M).unwrap();
        assert!(matches!(
            render_png(&m, 63),
            Err(QrError::SizeOutOfRange { size_px: 63 })
        ));
        assert!(matches!(
            render_png(&m, 4097),
            Err(QrError::SizeOutOfRange { size_px: 4097 })
        ));
        assert!(render_png(&m, 64).is_ok());
        assert!(render_png(&m, 4096).is_ok());

        assert!(QrMatrix::encode(&"x".repeat(1_000), EcLevel::H).is_ok());
        let err = QrMatrix::encode(&"x".repeat(1_001), EcLevel::L).unwrap_err();
        assert!(matches!(err, QrError::DataTooLong { len: 1_001 }));
        assert!(err.to_string().contains("1000"), "{err}");
        // Multi-byte characters count in bytes: 334 × 3 = 1002.
        assert!(matches!(
            QrMatrix::encode(&"ộ".repeat(334), EcLevel::L),
            Err(QrError::DataTooLong { len: 1_002 })
        ));
        assert!(matches!(
            QrMatrix::encode("", EcLevel::M),
            Err(QrError::EmptyData)
        ));
    }

    #[test]
    fn uppercase_url_uses_alphanumeric_mode_and_a_smaller_version() {
        // 42 characters: in alphanumeric mode that is version 2 at level L (47 characters),
        // in byte mode version 3 (version 2-L holds 32 bytes). At M both need version 3
        // (61 characters or exactly 42 bytes), so level L is where the mode shows.
        let upper = QrMatrix::encode(SHORT_URL, EcLevel::L).unwrap();
        let lower = QrMatrix::encode(&SHORT_URL.to_ascii_lowercase(), EcLevel::L).unwrap();
        assert_eq!((upper.version(), lower.version()), (2, 3));

        let long = long_url();
        for ec in ALL_LEVELS {
            let upper = QrMatrix::encode(SHORT_URL, ec).unwrap();
            let lower = QrMatrix::encode(&SHORT_URL.to_ascii_lowercase(), ec).unwrap();
            assert!(upper.version() <= lower.version(), "{ec:?}");

            let upper = QrMatrix::encode(&long, ec).unwrap();
            let lower = QrMatrix::encode(&long.to_ascii_lowercase(), ec).unwrap();
            assert!(
                upper.version() < lower.version(),
                "{ec:?}: uppercase v{} should be smaller than lowercase v{}",
                upper.version(),
                lower.version()
            );
        }
    }

    #[test]
    fn a_lower_case_base_switches_to_alphanumeric_for_the_stamp_path() {
        let tail = long_url()["HTTPS://OCOP.EXAMPLE.VN".len()..].to_owned();
        let mixed = format!("https://example.vn/ocop{tail}");
        let m = QrMatrix::encode(&mixed, EcLevel::M).unwrap();
        let bytes_only = qrcodegen::QrCode::encode_segments_advanced(
            &[qrcodegen::QrSegment::make_bytes(mixed.as_bytes())],
            qrcodegen::QrCodeEcc::Medium,
            qrcodegen::Version::MIN,
            qrcodegen::Version::MAX,
            None,
            false,
        )
        .unwrap();
        assert!(
            m.version() < i16::from(bytes_only.version().value()),
            "v{} is not smaller than byte mode's v{}",
            m.version(),
            bytes_only.version().value()
        );
        assert_eq!(decode_png(&render_png(&m, 600).unwrap()), mixed);
    }

    #[test]
    fn signed_stamp_url_fits_version_10_at_level_m() {
        let url = long_url();
        let m = QrMatrix::encode(&url, EcLevel::M).unwrap();
        assert!(
            m.version() <= 10,
            "version {} for {} chars",
            m.version(),
            url.len()
        );
        assert_eq!(m.width(), 17 + 4 * m.version() as usize);
    }

    #[test]
    fn dark_runs_cover_exactly_the_dark_modules() {
        let m = QrMatrix::encode(&long_url(), EcLevel::Q).unwrap();
        let w = m.width();
        let mut covered = vec![false; w * w];
        let mut previous_end: Option<(usize, usize)> = None;
        for (x, y, len) in m.dark_runs() {
            assert!(len >= 1 && x + len <= w && y < w);
            // Maximal: light (or the edge) on both sides.
            assert!(x == 0 || !m.is_dark(x - 1, y));
            assert!(!m.is_dark(x + len, y));
            if let Some((py, pend)) = previous_end {
                assert!(y > py || (y == py && x > pend), "runs in reading order");
            }
            previous_end = Some((y, x + len));
            for i in x..x + len {
                assert!(!covered[y * w + i]);
                covered[y * w + i] = true;
            }
        }
        for y in 0..w {
            for x in 0..w {
                assert_eq!(covered[y * w + x], m.is_dark(x, y), "module ({x}, {y})");
            }
        }
        // Finder pattern corners are dark; outside the symbol is light.
        assert!(m.is_dark(0, 0) && m.is_dark(w - 1, 0) && m.is_dark(0, w - 1));
        assert!(!m.is_dark(w, 0) && !m.is_dark(0, w) && !m.is_dark(usize::MAX, 3));
    }
}
