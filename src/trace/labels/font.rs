//! The two embedded DejaVu Sans faces, and fitting label text to a width with them.

use krilla::text::{Font, GlyphId, KrillaGlyph};
use skrifa::instance::{LocationRef, Size};
use skrifa::{FontRef, MetadataProvider};
use unicode_normalization::UnicodeNormalization;

use super::LabelError;

const REGULAR_TTF: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
const BOLD_TTF: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans-Bold.ttf");
/// Longer names or taglines cannot fit a label line anyway; cutting them first bounds the work.
const MAX_TEXT_CHARS: usize = 256;
const ELLIPSIS: &str = "…";

/// Whitespace runs (including line breaks) become one space; other control characters go;
/// letters and their marks are composed (NFC), as the font has a glyph for every composed
/// Vietnamese letter and the labels place glyphs without a shaper.
pub(super) fn clean_text(text: &str) -> String {
    let kept: String = text
        .nfc()
        .filter(|c| c.is_whitespace() || !c.is_control())
        .take(MAX_TEXT_CHARS)
        .collect();
    kept.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Combining marks attach to the character before them, so text is never cut just before one.
pub(super) fn is_combining_mark(c: char) -> bool {
    matches!(
        u32::from(c),
        0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F
    )
}

/// The regular and bold faces, each loaded once per document.
pub(super) struct Fonts {
    pub(super) regular: Face,
    pub(super) bold: Face,
}

impl Fonts {
    pub(super) fn load() -> Result<Self, LabelError> {
        Ok(Self {
            regular: Face::load(REGULAR_TTF, "DejaVuSans.ttf")?,
            bold: Face::load(BOLD_TTF, "DejaVuSans-Bold.ttf")?,
        })
    }
}

/// A font for krilla plus its character map and advance widths, to fit text and place its
/// glyphs.
///
/// Label text is short, composed (NFC) Latin with Vietnamese letters, digits and stars, so
/// glyphs are placed one per character from the font's own `cmap` and `hmtx` tables rather
/// than by a shaper: krilla's `draw_text` parses the whole font for every line it shapes, which
/// made shaping most of the time of a 10,000-label sheet. Without kerning and ligatures text
/// is a hair wider than shaped text in DejaVu Sans, never narrower than measured.
pub(super) struct Face {
    pub(super) font: Font,
    units_per_em: f32,
    /// Glyph for every Basic Multilingual Plane code point; 0 (.notdef) when missing.
    glyphs: Vec<u16>,
    /// Advance width of every glyph, in font units.
    advances: Vec<f32>,
}

impl Face {
    fn load(data: &'static [u8], name: &'static str) -> Result<Self, LabelError> {
        let font = Font::new(data.into(), 0).ok_or(LabelError::Font(name))?;
        let (units_per_em, glyphs, advances) = read_metrics(data).ok_or(LabelError::Font(name))?;
        Ok(Self {
            font,
            units_per_em,
            glyphs,
            advances,
        })
    }

    #[cfg(test)]
    pub(super) fn has_glyph(&self, c: char) -> bool {
        self.glyph(c) != 0
    }

    fn glyph(&self, c: char) -> u16 {
        usize::try_from(u32::from(c))
            .ok()
            .and_then(|i| self.glyphs.get(i))
            .copied()
            .unwrap_or(0)
    }

    /// Advance of one character, in ems.
    fn advance(&self, c: char) -> f32 {
        let glyph = usize::from(self.glyph(c));
        self.advances.get(glyph).copied().unwrap_or(0.0) / self.units_per_em
    }

    /// The glyphs of `text`, one per character, each with its own advance.
    pub(super) fn glyphs_of(&self, text: &str) -> Vec<KrillaGlyph> {
        text.char_indices()
            .map(|(i, c)| {
                KrillaGlyph::new(
                    GlyphId::new(u32::from(self.glyph(c))),
                    self.advance(c),
                    0.0,
                    0.0,
                    0.0,
                    i..i + c.len_utf8(),
                    None,
                )
            })
            .collect()
    }

    /// Width of `text` at `size` points.
    pub(super) fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.advance(c)).sum::<f32>() * size
    }

    /// Byte length of the longest prefix of `text` no wider than `max_width`, ending between
    /// two characters that are not a base and its combining mark.
    fn fitting_prefix(&self, text: &str, size: f32, max_width: f32) -> usize {
        let mut width = 0.0;
        let mut end = 0;
        for (i, c) in text.char_indices() {
            if !is_combining_mark(c) {
                end = i;
            }
            width += self.advance(c) * size;
            if width > max_width {
                return end;
            }
        }
        text.len()
    }

    /// `text` if it fits `max_width`, else its longest fitting start followed by "…"; empty
    /// when not even "…" fits.
    pub(super) fn ellipsize(&self, text: &str, size: f32, max_width: f32) -> String {
        if self.width(text, size) <= max_width {
            return text.to_owned();
        }
        let room = max_width - self.width(ELLIPSIS, size);
        if room < 0.0 {
            return String::new();
        }
        let end = self.fitting_prefix(text, size, room);
        format!("{}{ELLIPSIS}", text[..end].trim_end())
    }

    /// Breaks `text` into at most `max_lines` lines no wider than `max_width`, at spaces when
    /// possible; the last line is shortened with "…" if text remains.
    pub(super) fn wrap(
        &self,
        text: &str,
        size: f32,
        max_width: f32,
        max_lines: usize,
    ) -> Vec<String> {
        let mut lines = Vec::new();
        let mut rest = text.trim();
        while !rest.is_empty() && lines.len() < max_lines {
            if lines.len() + 1 == max_lines || self.width(rest, size) <= max_width {
                lines.push(self.ellipsize(rest, size, max_width));
                break;
            }
            let mut break_at = None;
            for (i, c) in rest.char_indices() {
                if c == ' ' {
                    if self.width(&rest[..i], size) > max_width {
                        break;
                    }
                    break_at = Some(i);
                }
            }
            let (line, next) = match break_at {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                // One word wider than the line: split it where it stops fitting.
                None => {
                    let end = self.fitting_prefix(rest, size, max_width);
                    if end == 0 {
                        lines.push(self.ellipsize(rest, size, max_width));
                        break;
                    }
                    rest.split_at(end)
                }
            };
            lines.push(line.trim_end().to_owned());
            rest = next.trim_start();
        }
        lines.retain(|l| !l.is_empty());
        lines
    }
}

/// Reads units per em, the glyph of every Basic Multilingual Plane code point and the advance
/// width of every glyph, with skrifa; `None` if the font cannot be read.
///
/// Only the BMP is mapped: every letter a label prints is in it, and a character beyond it
/// prints as .notdef, as it always has.
fn read_metrics(data: &[u8]) -> Option<(f32, Vec<u16>, Vec<f32>)> {
    let font = FontRef::new(data).ok()?;
    let units_per_em = f32::from(
        font.metrics(Size::unscaled(), LocationRef::default())
            .units_per_em,
    );
    if units_per_em <= 0.0 {
        return None;
    }
    let metrics = font.glyph_metrics(Size::unscaled(), LocationRef::default());
    let advances = (0..metrics.glyph_count())
        .map(|glyph| metrics.advance_width(skrifa::GlyphId::new(glyph)))
        .collect::<Option<Vec<f32>>>()?;
    if advances.is_empty() {
        return None;
    }
    let charmap = font.charmap();
    let glyphs = (0..=0xFFFF_u32)
        .map(|c| {
            charmap
                .map(c)
                .and_then(|glyph| u16::try_from(glyph.to_u32()).ok())
                .unwrap_or(0)
        })
        .collect();
    Some((units_per_em, glyphs, advances))
}
