//! Pages served from a prepared skeleton: what is the same for every visitor is rendered and
//! gzip-compressed once, and only the few values that change per request are filled in.
//!
//! The scan page is the most visited page of the system, and compressing its ~13 KB for every
//! scan cost more CPU than everything else the scan does. A skeleton keeps the page's static
//! parts both as text and as raw deflate data, each part compressed on its own and ended with a
//! sync flush, so it starts with a fresh dictionary and ends on a byte boundary. Deflate blocks
//! can then be laid end to end: a response is the gzip header, the compressed static parts with
//! the request's values between them as stored (uncompressed) blocks, a final empty block, and
//! the CRC-32 of the whole text combined from the parts' CRCs. Varnish assembles gzip-compressed
//! ESI fragments the same way. The values are a few hundred bytes, so storing them costs a few
//! hundred bytes on the wire; the page stays well inside one TCP window.

use std::io;

use bytes::Bytes;
use crc32fast::Hasher as Crc32;
use flate2::{Compress, Compression, FlushCompress};

/// The text that stands for slot `index` while a skeleton is rendered. Control characters never
/// come out of a template by themselves, and [`Skeleton::from_rendered`] refuses a page where
/// markers are missing, repeated or out of order (say, a product name holding one).
pub fn marker(index: usize) -> String {
    format!("{MARKER_START}{index}\u{1}")
}

const MARKER_START: &str = "\u{1}slot";

/// A page with `slots` places for per-request values.
#[derive(Debug)]
pub struct Skeleton {
    /// One more part than there are slots: part `i` comes before slot `i`.
    parts: Vec<Part>,
}

#[derive(Debug)]
struct Part {
    text: Bytes,
    deflated: Bytes,
    crc: Crc32,
}

/// gzip member header (RFC 1952): deflate, no flags, no modification time, unknown OS.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
/// An empty final block with fixed Huffman codes: BFINAL=1, BTYPE=01, end-of-block.
const FINAL_EMPTY_BLOCK: [u8; 2] = [0x03, 0x00];
/// Largest stored block.
const STORED_MAX: usize = 0xffff;

impl Skeleton {
    /// Splits a page rendered with [`marker`]s in its `slots` places and compresses the parts.
    /// `None` when the markers are not each there once, in order.
    pub fn from_rendered(rendered: &str, slots: usize) -> Option<Self> {
        let mut texts = Vec::with_capacity(slots + 1);
        let mut rest = rendered;
        for index in 0..slots {
            let (before, after) = rest.split_once(&marker(index))?;
            texts.push(before);
            rest = after;
        }
        texts.push(rest);
        if texts.iter().any(|text| text.contains(MARKER_START)) {
            return None;
        }
        let parts = texts.into_iter().map(Part::new).collect::<io::Result<_>>();
        Some(Self { parts: parts.ok()? })
    }

    pub fn slots(&self) -> usize {
        self.parts.len() - 1
    }

    /// The page as text with `values` in its slots (values are inserted as given: escape them
    /// for where they go).
    pub fn text(&self, values: &[&str]) -> Vec<u8> {
        debug_assert_eq!(values.len(), self.slots());
        let size = self.parts.iter().map(|p| p.text.len()).sum::<usize>()
            + values.iter().map(|v| v.len()).sum::<usize>();
        let mut out = Vec::with_capacity(size);
        for (index, part) in self.parts.iter().enumerate() {
            out.extend_from_slice(&part.text);
            if let Some(value) = values.get(index) {
                out.extend_from_slice(value.as_bytes());
            }
        }
        out
    }

    /// The same page as a gzip stream, without compressing anything now.
    pub fn gzip(&self, values: &[&str]) -> Vec<u8> {
        debug_assert_eq!(values.len(), self.slots());
        let size = GZIP_HEADER.len()
            + self.parts.iter().map(|p| p.deflated.len()).sum::<usize>()
            + values.iter().map(|v| v.len() + 5).sum::<usize>()
            + FINAL_EMPTY_BLOCK.len()
            + 8;
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(&GZIP_HEADER);
        let mut crc = Crc32::new();
        for (index, part) in self.parts.iter().enumerate() {
            out.extend_from_slice(&part.deflated);
            crc.combine(&part.crc);
            if let Some(value) = values.get(index) {
                push_stored(&mut out, value.as_bytes());
                crc.update(value.as_bytes());
            }
        }
        out.extend_from_slice(&FINAL_EMPTY_BLOCK);
        // ISIZE is the length modulo 2^32 (RFC 1952).
        let length = crc.total_len() as u32;
        out.extend_from_slice(&crc.finalize().to_le_bytes());
        out.extend_from_slice(&length.to_le_bytes());
        out
    }
}

impl Part {
    fn new(text: &str) -> io::Result<Self> {
        let mut crc = Crc32::new();
        crc.update(text.as_bytes());
        Ok(Self {
            text: Bytes::copy_from_slice(text.as_bytes()),
            deflated: deflate_flushed(text.as_bytes())?.into(),
            crc,
        })
    }
}

/// Raw deflate data of `input` from a fresh dictionary, ended by a sync flush: byte-aligned and
/// without a final block, so that more blocks can follow it.
fn deflate_flushed(input: &[u8]) -> io::Result<Vec<u8>> {
    let mut compress = Compress::new(Compression::best(), false);
    let mut out = Vec::with_capacity(input.len() / 2 + 64);
    loop {
        out.reserve(1024);
        let taken = usize::try_from(compress.total_in()).unwrap_or(usize::MAX);
        let rest = input.get(taken..).unwrap_or_default();
        compress
            .compress_vec(rest, &mut out, FlushCompress::Sync)
            .map_err(io::Error::other)?;
        let taken = usize::try_from(compress.total_in()).unwrap_or(usize::MAX);
        // The flush is complete once the input is taken and output space was left over.
        if taken >= input.len() && out.len() < out.capacity() {
            return Ok(out);
        }
    }
}

/// `data` as stored deflate blocks (BFINAL=0, BTYPE=00), at a byte boundary.
fn push_stored(out: &mut Vec<u8>, data: &[u8]) {
    for chunk in data.chunks(STORED_MAX) {
        let length = chunk.len() as u16;
        out.push(0);
        out.extend_from_slice(&length.to_le_bytes());
        out.extend_from_slice(&(!length).to_le_bytes());
        out.extend_from_slice(chunk);
    }
}

/// Whether a request's `Accept-Encoding` (all its header lines) takes gzip (RFC 9110
/// §12.5.3): `gzip`, `x-gzip` or `*` with a weight above zero, unless gzip itself is refused with
/// `q=0`. A weight that does not parse refuses its coding.
pub fn accepts_gzip<'a>(accept_encoding: impl IntoIterator<Item = &'a str>) -> bool {
    let mut wildcard = false;
    for item in accept_encoding.into_iter().flat_map(|line| line.split(',')) {
        let mut fields = item.split(';');
        let coding = fields.next().unwrap_or_default().trim();
        let weight = match fields.find_map(|p| {
            let p = p.trim();
            p.strip_prefix("q=").or(p.strip_prefix("Q="))
        }) {
            Some(q) => q.trim().parse::<f32>().unwrap_or(0.0),
            None => 1.0,
        };
        if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            return weight > 0.0;
        }
        if coding == "*" {
            wildcard = weight > 0.0;
        }
    }
    wildcard
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn page(values: [&str; 3]) -> String {
        format!(
            "<!doctype html><title>{}</title><style>{}</style><main>{}</main><p>{}</p>",
            values[0],
            "body{margin:0;padding:0}".repeat(200),
            values[1],
            values[2],
        )
    }

    fn skeleton() -> Skeleton {
        let rendered = page([&marker(0), &marker(1), &marker(2)]);
        Skeleton::from_rendered(&rendered, 3).expect("markers in order")
    }

    fn gunzip(data: &[u8]) -> String {
        let mut text = String::new();
        flate2::read::GzDecoder::new(data)
            .read_to_string(&mut text)
            .expect("a valid gzip stream");
        text
    }

    #[test]
    fn filled_text_and_gzip_are_the_page_rendered_with_the_values() {
        let skeleton = skeleton();
        for values in [
            ["Hàng chính hãng", "<h1>Đúng</h1>", "ABCD"],
            ["", "", ""],
            ["x", &"y".repeat(70_000), "z"],
        ] {
            let expected = page(values);
            assert_eq!(String::from_utf8(skeleton.text(&values)).unwrap(), expected);
            let gzip = skeleton.gzip(&values);
            // GzDecoder also checks the trailer's CRC-32 and length.
            assert_eq!(gunzip(&gzip), expected);
        }
    }

    #[test]
    fn static_parts_are_compressed_once_and_values_cost_only_their_length() {
        let skeleton = skeleton();
        let short = skeleton.gzip(&["a", "b", "c"]);
        let longer = skeleton.gzip(&["a", "bbbbbbbbbb", "c"]);
        assert_eq!(longer.len() - short.len(), 9);
        let text = page(["a", "b", "c"]);
        assert!(
            short.len() < text.len() / 5,
            "{} bytes of gzip for {} of text",
            short.len(),
            text.len()
        );
    }

    #[test]
    fn a_page_whose_markers_are_missing_repeated_or_out_of_order_is_refused() {
        let m = marker;
        assert!(Skeleton::from_rendered(&format!("a{}b{}c", m(0), m(1)), 2).is_some());
        assert!(Skeleton::from_rendered(&format!("a{}b", m(0)), 2).is_none());
        assert!(Skeleton::from_rendered(&format!("a{}b{}c", m(1), m(0)), 2).is_none());
        assert!(Skeleton::from_rendered(&format!("a{}b{}c{}", m(0), m(1), m(1)), 2).is_none());
        assert!(Skeleton::from_rendered(&format!("a{}b", m(7)), 0).is_none());
        assert!(
            Skeleton::from_rendered("a\u{1}b", 0).is_some(),
            "a control character alone is no marker"
        );
    }

    #[test]
    fn gzip_is_taken_as_rfc_9110_says() {
        let takes = |lines: &[&str]| accepts_gzip(lines.iter().copied());
        assert!(takes(&["gzip, deflate, br"]));
        assert!(takes(&["br;q=1.0, GZIP;q=0.5"]));
        assert!(takes(&["x-gzip"]));
        assert!(takes(&["*"]));
        assert!(takes(&["br", "gzip"]), "a second header line");
        assert!(!takes(&[]));
        assert!(!takes(&[""]));
        assert!(!takes(&["identity"]));
        assert!(!takes(&["br"]));
        assert!(!takes(&["gzip;q=0"]));
        assert!(!takes(&["gzip;q=0.000, *"]));
        assert!(!takes(&["*;q=0"]));
        assert!(!takes(&["gzip;q=lots"]), "a weight that does not parse");
    }
}
