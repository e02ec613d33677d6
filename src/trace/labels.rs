//! Printable A4 sheets of stamp labels, as PDF.
//!
//! Each label carries a vector QR code of its stamp URL (error-correction level M) and, beside
//! it, the product's short name, lot, serial number, OCOP stars and a tagline, set in DejaVu
//! Sans, which is embedded (subset) in the PDF so that Vietnamese text prints anywhere.

use krilla::Document;
use krilla::SerializeSettings;
use krilla::geom::{PathBuilder, Point, Transform};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, LineCap, Stroke};
use krilla::surface::Surface;
use krilla::text::{Font, GlyphId, KrillaGlyph};
use thiserror::Error;
use unicode_normalization::UnicodeNormalization;

use crate::qr::{EcLevel, QUIET_ZONE, QrError, QrMatrix};

const REGULAR_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const BOLD_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

/// Most labels [`render_sheet`] prints in one document.
pub const MAX_LABELS: usize = 100_000;

const A4_WIDTH_MM: f32 = 210.0;
const A4_HEIGHT_MM: f32 = 297.0;
const A4_WIDTH_PT: f32 = 595.28;
const A4_HEIGHT_PT: f32 = 841.89;
const PT_PER_MM: f32 = 72.0 / 25.4;
/// Slack for sums of decimal millimetres that land a hair over the page size.
const FIT_TOLERANCE_MM: f32 = 0.01;
/// Blank border inside each label, so that a sheet fed a little askew cuts nothing off.
const LABEL_PADDING_MM: f32 = 1.5;
/// Below this the text column is dropped: not even one character would fit.
const MIN_TEXT_WIDTH_MM: f32 = 4.0;
/// Baseline distance, in ems. DejaVu Sans spans 0.93 em above to 0.24 em below the baseline.
const LINE_HEIGHT_EM: f32 = 1.28;
const ASCENT_EM: f32 = 0.96;
/// Longer names or taglines cannot fit a label line anyway; cutting them first bounds the work.
const MAX_TEXT_CHARS: usize = 256;
const ELLIPSIS: &str = "…";

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

/// Geometry of a sheet of labels on A4 paper, in millimetres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SheetLayout {
    /// Labels across the sheet, 1..=10.
    pub columns: u32,
    /// Labels down the sheet, 1..=20.
    pub rows: u32,
    /// Width of one label, at least 20 mm.
    pub label_width_mm: f32,
    /// Height of one label, at least 15 mm.
    pub label_height_mm: f32,
    /// From the top edge of the paper to the first row.
    pub margin_top_mm: f32,
    /// From the left edge of the paper to the first column.
    pub margin_left_mm: f32,
    /// Horizontal space between two columns.
    pub gap_x_mm: f32,
    /// Vertical space between two rows.
    pub gap_y_mm: f32,
}

impl Default for SheetLayout {
    /// The common A4 sheet of 24 labels of 70 × 37 mm, 3 across and 8 down, without gaps and
    /// with 0.5 mm above and below (for example Avery Zweckform 3474).
    fn default() -> Self {
        Self {
            columns: 3,
            rows: 8,
            label_width_mm: 70.0,
            label_height_mm: 37.0,
            margin_top_mm: 0.5,
            margin_left_mm: 0.0,
            gap_x_mm: 0.0,
            gap_y_mm: 0.0,
        }
    }
}

impl SheetLayout {
    /// Checks that the layout is usable: 1..=10 columns, 1..=20 rows, labels of at least
    /// 20 × 15 mm, no negative margins or gaps, and every label inside the 210 × 297 mm page.
    pub fn validate(&self) -> Result<(), LabelError> {
        let lengths = [
            ("label_width_mm", self.label_width_mm),
            ("label_height_mm", self.label_height_mm),
            ("margin_top_mm", self.margin_top_mm),
            ("margin_left_mm", self.margin_left_mm),
            ("gap_x_mm", self.gap_x_mm),
            ("gap_y_mm", self.gap_y_mm),
        ];
        for (field, value) in lengths {
            if !value.is_finite() {
                return Err(layout_error(
                    field,
                    "must be a finite number of millimetres",
                ));
            }
            if value < 0.0 {
                return Err(layout_error(
                    field,
                    format!("must not be negative (is {value})"),
                ));
            }
        }
        if !(1..=10).contains(&self.columns) {
            return Err(layout_error(
                "columns",
                format!("must be 1 to 10 (is {})", self.columns),
            ));
        }
        if !(1..=20).contains(&self.rows) {
            return Err(layout_error(
                "rows",
                format!("must be 1 to 20 (is {})", self.rows),
            ));
        }
        if self.label_width_mm < 20.0 {
            return Err(layout_error(
                "label_width_mm",
                format!("must be at least 20 mm (is {})", self.label_width_mm),
            ));
        }
        if self.label_height_mm < 15.0 {
            return Err(layout_error(
                "label_height_mm",
                format!("must be at least 15 mm (is {})", self.label_height_mm),
            ));
        }
        let width = self.margin_left_mm + self.span_x(self.columns);
        if width > A4_WIDTH_MM + FIT_TOLERANCE_MM {
            return Err(layout_error(
                "label_width_mm",
                format!(
                    "{} columns of {} mm with {} mm gaps after a {} mm left margin need {width} mm, \
                     more than the {A4_WIDTH_MM} mm width of A4",
                    self.columns, self.label_width_mm, self.gap_x_mm, self.margin_left_mm
                ),
            ));
        }
        let height = self.margin_top_mm + self.span_y(self.rows);
        if height > A4_HEIGHT_MM + FIT_TOLERANCE_MM {
            return Err(layout_error(
                "label_height_mm",
                format!(
                    "{} rows of {} mm with {} mm gaps after a {} mm top margin need {height} mm, \
                     more than the {A4_HEIGHT_MM} mm height of A4",
                    self.rows, self.label_height_mm, self.gap_y_mm, self.margin_top_mm
                ),
            ));
        }
        Ok(())
    }

    /// Labels on one page.
    fn per_page(&self) -> usize {
        // At most 10 × 20 once validated; u32 always fits usize on supported targets.
        (self.columns * self.rows) as usize
    }

    fn span_x(&self, columns: u32) -> f32 {
        columns as f32 * self.label_width_mm + columns.saturating_sub(1) as f32 * self.gap_x_mm
    }

    fn span_y(&self, rows: u32) -> f32 {
        rows as f32 * self.label_height_mm + rows.saturating_sub(1) as f32 * self.gap_y_mm
    }
}

fn layout_error(field: &'static str, problem: impl Into<String>) -> LabelError {
    LabelError::Layout {
        field,
        problem: problem.into(),
    }
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

/// Renders `labels` onto as many A4 pages of `layout` as needed and returns the PDF.
///
/// Labels fill each page row by row. Each label shows a vector QR code of its URL at
/// error-correction level M, as tall as the label allows with its quiet zone, and beside it
/// the short name in bold, `Lô <lot>`, `Số <serial>`, `★★★ OCOP` (one star per OCOP star)
/// when certified, and `tagline` (for example "Quét để xác thực nguồn gốc"). Text that is too
/// wide is wrapped or shortened with "…"; on labels too small for every line, the tagline
/// goes first, then the lines above it from the bottom up.
pub fn render_sheet(
    labels: &[Label],
    layout: &SheetLayout,
    tagline: &str,
) -> Result<Vec<u8>, LabelError> {
    render_sheet_with(labels, layout, tagline, SerializeSettings::default())
}

fn render_sheet_with(
    labels: &[Label],
    layout: &SheetLayout,
    tagline: &str,
    settings: SerializeSettings,
) -> Result<Vec<u8>, LabelError> {
    if labels.is_empty() {
        return Err(LabelError::NoLabels);
    }
    if labels.len() > MAX_LABELS {
        return Err(LabelError::TooManyLabels {
            count: labels.len(),
        });
    }
    layout.validate()?;
    for (index, label) in labels.iter().enumerate() {
        if let Some(stars) = label.stars
            && !(3..=5).contains(&stars)
        {
            return Err(LabelError::InvalidStars { index, stars });
        }
    }

    let fonts = Fonts::load()?;
    let tagline = clean_text(tagline);
    let geometry = LabelGeometry::new(layout, &fonts, &tagline);
    let page_settings =
        PageSettings::from_wh(A4_WIDTH_PT, A4_HEIGHT_PT).expect("A4 has a positive, finite size");

    let mut document = Document::new_with(settings);
    document.set_metadata(
        Metadata::new()
            .title("Tem truy xuất nguồn gốc OCOP".to_owned())
            .language("vi".to_owned())
            .creator("OCOP Market".to_owned()),
    );
    let matrices = encode_all(labels)?;
    let mut first_index = 0;
    for page_labels in labels.chunks(layout.per_page()) {
        let mut page = document.start_page_with(page_settings.clone());
        let mut surface = page.surface();
        surface.set_fill(Some(Fill::default()));
        for (slot, label) in page_labels.iter().enumerate() {
            let index = first_index + slot;
            // slot < columns × rows ≤ 200, so these conversions are exact.
            let column = (slot % layout.columns as usize) as f32;
            let row = (slot / layout.columns as usize) as f32;
            let x = (layout.margin_left_mm + column * (layout.label_width_mm + layout.gap_x_mm))
                * PT_PER_MM;
            let y = (layout.margin_top_mm + row * (layout.label_height_mm + layout.gap_y_mm))
                * PT_PER_MM;
            draw_label(
                &mut surface,
                &fonts,
                &geometry,
                (x, y),
                label,
                &matrices[index],
                &tagline,
            );
        }
        surface.finish();
        page.finish();
        first_index += page_labels.len();
    }
    Ok(document.finish()?)
}

/// Encodes every label's QR code, spread over the machine's cores: encoding is the larger part
/// of rendering a big sheet, and each code is independent.
fn encode_all(labels: &[Label]) -> Result<Vec<QrMatrix>, LabelError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = labels.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = labels
            .chunks(chunk)
            .enumerate()
            .map(|(part, slice)| {
                scope.spawn(move || {
                    slice
                        .iter()
                        .enumerate()
                        .map(|(i, label)| {
                            QrMatrix::encode(&label.url, EcLevel::M).map_err(|source| {
                                LabelError::Qr {
                                    index: part * chunk + i,
                                    source,
                                }
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        let mut all = Vec::with_capacity(labels.len());
        for worker in workers {
            let part = worker
                .join()
                .map_err(|_| LabelError::Font("a QR encoding thread panicked"))??;
            all.extend(part);
        }
        Ok(all)
    })
}

/// Sizes shared by every label of a sheet, in points.
struct LabelGeometry {
    height: f32,
    padding: f32,
    /// Side of the square holding the QR code and its quiet zone.
    qr_box: f32,
    text_width: f32,
    name_size: f32,
    body_size: f32,
    tagline_size: f32,
}

impl LabelGeometry {
    fn new(layout: &SheetLayout, fonts: &Fonts, tagline: &str) -> Self {
        let width = layout.label_width_mm * PT_PER_MM;
        let height = layout.label_height_mm * PT_PER_MM;
        let padding = LABEL_PADDING_MM * PT_PER_MM;
        let qr_box = (height - 2.0 * padding).min(width - 2.0 * padding);
        let text_width = width - 2.0 * padding - qr_box;
        // 8.4 pt body text on a 37 mm label; smaller labels get smaller type, down to 4 pt.
        let body_size = (height / 12.5).clamp(4.0, 8.5);
        // The tagline shrinks a little (down to 75 % of the body size) to stay on one line.
        let tagline_one_line = text_width / fonts.regular.width(tagline, 1.0).max(1.0);
        let tagline_size = tagline_one_line.clamp(body_size * 0.75, body_size * 0.85);
        Self {
            height,
            padding,
            qr_box,
            text_width,
            name_size: body_size * 1.15,
            body_size,
            tagline_size,
        }
    }
}

/// A line of text ready to draw.
struct TextLine {
    bold: bool,
    size: f32,
    text: String,
    /// Extra space above the line, in points.
    space_before: f32,
}

fn draw_label(
    surface: &mut Surface,
    fonts: &Fonts,
    g: &LabelGeometry,
    (x, y): (f32, f32),
    label: &Label,
    qr: &QrMatrix,
    tagline: &str,
) {
    let modules = (qr.width() + 2 * QUIET_ZONE) as f32;
    let module = g.qr_box / modules;
    let qr_x = x + g.padding;
    let qr_y = y + (g.height - g.qr_box) / 2.0;
    // Each run of dark modules is one straight stroke, one module thick with butt ends: exactly
    // the run's rectangle, in two points instead of four. Coordinates are module units scaled
    // once by a transform that also moves them to the middle of their row, so the PDF holds
    // small integers. This halves the QR's share of the file and of the time to write it.
    let mut builder = PathBuilder::new();
    for (mx, my, len) in qr.dark_runs() {
        builder.move_to(mx as f32, my as f32);
        builder.line_to((mx + len) as f32, my as f32);
    }
    if let Some(path) = builder.finish() {
        let offset = QUIET_ZONE as f32 * module;
        surface.push_transform(&Transform::from_row(
            module,
            0.0,
            0.0,
            module,
            qr_x + offset,
            qr_y + offset + module / 2.0,
        ));
        surface.set_fill(None);
        surface.set_stroke(Some(module_stroke()));
        surface.draw_path(&path);
        surface.set_stroke(None);
        surface.set_fill(Some(Fill::default()));
        surface.pop();
    }

    if g.text_width < MIN_TEXT_WIDTH_MM * PT_PER_MM {
        return;
    }
    let lines = text_lines(fonts, g, label, tagline);
    let block_height: f32 = lines
        .iter()
        .map(|l| l.space_before + l.size * LINE_HEIGHT_EM)
        .sum();
    let text_x = x + g.padding + g.qr_box;
    let mut line_top = y + (g.height - block_height) / 2.0;
    for line in lines {
        line_top += line.space_before;
        let font = if line.bold {
            &fonts.bold
        } else {
            &fonts.regular
        };
        surface.draw_glyphs(
            Point::from_xy(text_x, line_top + line.size * ASCENT_EM),
            &font.glyphs_of(&line.text),
            font.font.clone(),
            &line.text,
            line.size,
            false,
        );
        line_top += line.size * LINE_HEIGHT_EM;
    }
}

/// The pen that draws a run of QR modules: black, one module wide (in the QR's module units),
/// cut square at both ends.
fn module_stroke() -> Stroke {
    Stroke {
        width: 1.0,
        line_cap: LineCap::Butt,
        ..Stroke::default()
    }
}

/// The label's text lines, fitted to the text column: names and taglines get two lines when
/// there is room, then one, then lines are dropped from the end until the block fits.
fn text_lines(fonts: &Fonts, g: &LabelGeometry, label: &Label, tagline: &str) -> Vec<TextLine> {
    let available = g.height - 2.0 * g.padding;
    let name = clean_text(&label.short_name);
    let gap = g.body_size * 0.3;
    for (name_lines, tagline_lines) in [(2, 2), (2, 1), (1, 1), (1, 0)] {
        let mut lines = Vec::new();
        for text in fonts
            .bold
            .wrap(&name, g.name_size, g.text_width, name_lines)
        {
            lines.push(TextLine {
                bold: true,
                size: g.name_size,
                text,
                space_before: 0.0,
            });
        }
        let mut body = vec![
            format!("Lô {}", clean_text(&label.lot)),
            format!("Số {}", label.serial),
        ];
        if let Some(stars) = label.stars {
            body.push(format!("{} OCOP", "★".repeat(usize::from(stars))));
        }
        for (i, text) in body.into_iter().enumerate() {
            lines.push(TextLine {
                bold: false,
                size: g.body_size,
                text: fonts.regular.ellipsize(&text, g.body_size, g.text_width),
                space_before: if i == 0 { gap } else { 0.0 },
            });
        }
        for (i, text) in fonts
            .regular
            .wrap(tagline, g.tagline_size, g.text_width, tagline_lines)
            .into_iter()
            .enumerate()
        {
            lines.push(TextLine {
                bold: false,
                size: g.tagline_size,
                text,
                space_before: if i == 0 { gap } else { 0.0 },
            });
        }
        let fits = |lines: &[TextLine]| {
            lines
                .iter()
                .map(|l| l.space_before + l.size * LINE_HEIGHT_EM)
                .sum::<f32>()
                <= available
        };
        if fits(&lines) {
            return lines;
        }
        if tagline_lines == 0 {
            while !lines.is_empty() && !fits(&lines) {
                lines.pop();
            }
            return lines;
        }
    }
    Vec::new()
}

/// Whitespace runs (including line breaks) become one space; other control characters go;
/// letters and their marks are composed (NFC), as the font has a glyph for every composed
/// Vietnamese letter and the labels place glyphs without a shaper.
fn clean_text(text: &str) -> String {
    let kept: String = text
        .nfc()
        .filter(|c| c.is_whitespace() || !c.is_control())
        .take(MAX_TEXT_CHARS)
        .collect();
    kept.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Combining marks attach to the character before them, so text is never cut just before one.
fn is_combining_mark(c: char) -> bool {
    matches!(
        u32::from(c),
        0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F
    )
}

/// The regular and bold faces, each loaded once per document.
struct Fonts {
    regular: Face,
    bold: Face,
}

impl Fonts {
    fn load() -> Result<Self, LabelError> {
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
struct Face {
    font: Font,
    units_per_em: f32,
    /// Glyph for every Basic Multilingual Plane code point; 0 (.notdef) when missing.
    glyphs: Vec<u16>,
    advances: Vec<u16>,
}

impl Face {
    fn load(data: &'static [u8], name: &'static str) -> Result<Self, LabelError> {
        let font = Font::new(data.into(), 0).ok_or(LabelError::Font(name))?;
        let (units_per_em, glyphs, advances) = parse_metrics(data).ok_or(LabelError::Font(name))?;
        Ok(Self {
            font,
            units_per_em,
            glyphs,
            advances,
        })
    }

    #[cfg(test)]
    fn has_glyph(&self, c: char) -> bool {
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
        let units = self
            .advances
            .get(glyph)
            .or(self.advances.last())
            .copied()
            .unwrap_or(0);
        f32::from(units) / self.units_per_em
    }

    /// The glyphs of `text`, one per character, each with its own advance.
    fn glyphs_of(&self, text: &str) -> Vec<KrillaGlyph> {
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
    fn width(&self, text: &str, size: f32) -> f32 {
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
    fn ellipsize(&self, text: &str, size: f32, max_width: f32) -> String {
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
    fn wrap(&self, text: &str, size: f32, max_width: f32, max_lines: usize) -> Vec<String> {
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

/// Reads units per em, the BMP character-to-glyph map (cmap format 4) and the advance widths
/// (hmtx) of a TrueType font; `None` if a table is missing or malformed.
fn parse_metrics(data: &[u8]) -> Option<(f32, Vec<u16>, Vec<u16>)> {
    let head = table(data, b"head")?;
    let units_per_em = f32::from(be_u16(head, 18)?);
    if units_per_em <= 0.0 {
        return None;
    }

    let hhea = table(data, b"hhea")?;
    let metric_count = usize::from(be_u16(hhea, 34)?);
    let hmtx = table(data, b"hmtx")?;
    let advances = (0..metric_count)
        .map(|i| be_u16(hmtx, 4 * i))
        .collect::<Option<Vec<u16>>>()?;
    if advances.is_empty() {
        return None;
    }

    let cmap = table(data, b"cmap")?;
    let mut subtable = None;
    for i in 0..usize::from(be_u16(cmap, 2)?) {
        let record = 4 + 8 * i;
        let platform = be_u16(cmap, record)?;
        let encoding = be_u16(cmap, record + 2)?;
        let offset = usize::try_from(be_u32(cmap, record + 4)?).ok()?;
        let unicode = (platform == 3 && encoding == 1) || platform == 0;
        if unicode && be_u16(cmap, offset)? == 4 {
            subtable = cmap.get(offset..);
            if platform == 3 {
                break;
            }
        }
    }
    let sub = subtable?;
    let segments = usize::from(be_u16(sub, 6)? / 2);
    let ends = 14;
    let starts = ends + 2 * segments + 2;
    let deltas = starts + 2 * segments;
    let range_offsets = deltas + 2 * segments;
    let mut glyphs = vec![0u16; 0x1_0000];
    for s in 0..segments {
        let end = be_u16(sub, ends + 2 * s)?;
        let start = be_u16(sub, starts + 2 * s)?;
        let delta = be_u16(sub, deltas + 2 * s)?;
        let range_offset_at = range_offsets + 2 * s;
        let range_offset = usize::from(be_u16(sub, range_offset_at)?);
        for c in start..=end.min(0xFFFE) {
            let glyph = if range_offset == 0 {
                c.wrapping_add(delta)
            } else {
                let at = range_offset_at + range_offset + 2 * usize::from(c - start);
                match be_u16(sub, at)? {
                    0 => 0,
                    g => g.wrapping_add(delta),
                }
            };
            glyphs[usize::from(c)] = glyph;
        }
    }
    Some((units_per_em, glyphs, advances))
}

/// The bytes of the table tagged `tag` in a TrueType font.
fn table<'a>(data: &'a [u8], tag: &[u8; 4]) -> Option<&'a [u8]> {
    for i in 0..usize::from(be_u16(data, 4)?) {
        let record = 12 + 16 * i;
        if data.get(record..record + 4)? == tag {
            let offset = usize::try_from(be_u32(data, record + 8)?).ok()?;
            let length = usize::try_from(be_u32(data, record + 12)?).ok()?;
            return data.get(offset..offset.checked_add(length)?);
        }
    }
    None
}

fn be_u16(data: &[u8], at: usize) -> Option<u16> {
    let bytes = data.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes(bytes.try_into().ok()?))
}

fn be_u32(data: &[u8], at: usize) -> Option<u32> {
    let bytes = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes(bytes.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    const TAGLINE: &str = "Quét để xác thực nguồn gốc";
    const NAMES: [&str; 6] = [
        "Mật ong bạc hà Bắc Hà",
        "Chè Shan tuyết Tà Xùa",
        "Mận hậu Mộc Châu",
        "Gạo Séng Cù Mường Khương",
        "Thịt trâu gác bếp Điện Biên thượng hạng loại đặc biệt",
        "Rượu ngô",
    ];

    fn stamp_url(serial: u64) -> String {
        // Base32 digits of the serial stand in for a signature, so each QR code differs.
        let code: String = (0..16)
            .map(|i| {
                let digit = ((serial >> (i % 12 * 5)) + i) % 32;
                char::from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[digit as usize])
            })
            .collect();
        format!("HTTPS://OCOP.EXAMPLE.VN/S/{code}")
    }

    fn sample_labels(count: usize) -> Vec<Label> {
        (0..count)
            .map(|i| {
                let serial = 100_000 + i as u64;
                Label {
                    url: stamp_url(serial),
                    short_name: NAMES[i % NAMES.len()].to_owned(),
                    lot: format!("MHBH-2025-{:03}", i / 24),
                    serial,
                    stars: [Some(3), Some(4), Some(5), None][i % 4],
                }
            })
            .collect()
    }

    /// Page objects: `/Type /Page` (written `/Type/Page` by krilla), not `/Type /Pages`.
    fn page_count(pdf: &[u8]) -> usize {
        let pdf = String::from_utf8_lossy(pdf);
        pdf.match_indices("/Type")
            .filter(|(i, m)| {
                let rest = pdf[i + m.len()..].trim_start();
                rest.starts_with("/Page") && !rest.starts_with("/Pages")
            })
            .count()
    }

    #[test]
    fn renders_a_42_label_sheet_on_two_pages() {
        let pdf = render_sheet(&sample_labels(42), &SheetLayout::default(), TAGLINE).unwrap();
        assert!(pdf.starts_with(b"%PDF"));
        assert_eq!(page_count(&pdf), 2);
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.contains("DejaVuSans-Bold"), "bold font embedded");
        assert!(
            text.match_indices("DejaVuSans")
                .any(|(i, _)| !text[i..].starts_with("DejaVuSans-Bold")),
            "regular font embedded"
        );
        // No raster image: the QR codes are vector paths.
        assert!(!text.contains("/Subtype /Image"));
    }

    /// Rasterises the first page of `pdf` with poppler's `pdftoppm` (an independent PDF
    /// renderer) at `dpi`, in gray; `None` when `pdftoppm` is not installed and CI is not set.
    fn rasterise_first_page(pdf: &[u8], dpi: u32) -> Option<image::GrayImage> {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("labels.pdf");
        std::fs::write(&input, pdf).unwrap();
        let output = dir.path().join("page");
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
        match run {
            Ok(status) => assert!(status.success(), "pdftoppm failed: {status}"),
            Err(err) if std::env::var("CI").as_deref() != Ok("true") => {
                eprintln!("SKIPPED: pdftoppm (Debian poppler-utils) is not installed: {err}");
                return None;
            }
            Err(err) => panic!("pdftoppm (Debian poppler-utils) is needed in CI: {err}"),
        }
        let png = std::fs::read(dir.path().join("page.png")).unwrap();
        Some(image::load_from_memory(&png).unwrap().to_luma8())
    }

    #[test]
    fn printed_qr_codes_decode_to_their_urls_short_and_signed() {
        let signed = format!(
            "HTTPS://OCOP.EXAMPLE.VN/S/7KQ2M9XW4RTV8HJC/MHBH-2025-11/104217/{}",
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".repeat(4)[..103].to_owned()
        );
        let mut labels = sample_labels(3);
        labels[1].url = signed.clone();
        let pdf = render_sheet(&labels, &SheetLayout::default(), TAGLINE).unwrap();
        let Some(page) = rasterise_first_page(&pdf, 300) else {
            return;
        };
        let (width, height) = page.dimensions();
        let mut prepared =
            rqrr::PreparedImage::prepare_from_greyscale(width as usize, height as usize, |x, y| {
                page.get_pixel(x as u32, y as u32).0[0]
            });
        let mut decoded: Vec<String> = prepared
            .detect_grids()
            .iter()
            .map(|grid| grid.decode().expect("every printed QR code decodes").1)
            .collect();
        decoded.sort();
        let mut expected: Vec<String> = labels.iter().map(|l| l.url.clone()).collect();
        expected.sort();
        assert_eq!(decoded, expected);
    }

    #[test]
    fn tagline_is_real_text_mapped_to_unicode() {
        let settings = SerializeSettings {
            compress_content_streams: false,
            ..SerializeSettings::default()
        };
        let pdf = render_sheet_with(
            &sample_labels(3),
            &SheetLayout::default(),
            TAGLINE,
            settings,
        )
        .unwrap();
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.contains("/ToUnicode"));
        // The ToUnicode maps name each Vietnamese letter of the tagline by its code point, so
        // viewers can search and copy the text.
        for c in ['é', 'ể', 'á', 'ự', 'ồ', 'ố'] {
            let hex = format!("<{:04X}>", u32::from(c));
            assert!(
                text.contains(&hex),
                "{c} (U+{hex}) missing from the ToUnicode map"
            );
        }
        assert_eq!(page_count(&pdf), 1);
    }

    #[test]
    fn refuses_empty_and_oversized_label_lists_and_bad_stars() {
        let layout = SheetLayout::default();
        assert!(matches!(
            render_sheet(&[], &layout, TAGLINE),
            Err(LabelError::NoLabels)
        ));

        let one = sample_labels(1).remove(0);
        let too_many = vec![one.clone(); MAX_LABELS + 1];
        assert!(matches!(
            render_sheet(&too_many, &layout, TAGLINE),
            Err(LabelError::TooManyLabels { count }) if count == MAX_LABELS + 1
        ));

        let mut labels = sample_labels(5);
        labels[3].stars = Some(6);
        assert!(matches!(
            render_sheet(&labels, &layout, TAGLINE),
            Err(LabelError::InvalidStars { index: 3, stars: 6 })
        ));
        labels[3].stars = Some(2);
        assert!(render_sheet(&labels, &layout, TAGLINE).is_err());

        let mut labels = sample_labels(5);
        labels[4].url = "X".repeat(1_001);
        assert!(matches!(
            render_sheet(&labels, &layout, TAGLINE),
            Err(LabelError::Qr {
                index: 4,
                source: QrError::DataTooLong { .. }
            })
        ));
    }

    fn layout_field(layout: SheetLayout) -> &'static str {
        match layout.validate() {
            Err(LabelError::Layout { field, problem }) => {
                assert!(!problem.is_empty());
                field
            }
            other => panic!("expected a layout error, got {other:?}"),
        }
    }

    #[test]
    fn validates_layouts_and_names_the_wrong_field() {
        let ok = SheetLayout::default();
        ok.validate().unwrap();
        assert!(ok.margin_top_mm + ok.span_y(ok.rows) <= A4_HEIGHT_MM);
        assert!(ok.margin_left_mm + ok.span_x(ok.columns) <= A4_WIDTH_MM);
        // Exactly the page size is fine: 2 × 105 mm × 297 mm.
        SheetLayout {
            columns: 2,
            rows: 1,
            label_width_mm: 105.0,
            label_height_mm: 297.0,
            margin_top_mm: 0.0,
            ..ok
        }
        .validate()
        .unwrap();

        let cases = [
            (SheetLayout { columns: 0, ..ok }, "columns"),
            (
                SheetLayout {
                    columns: 11,
                    label_width_mm: 20.0,
                    ..ok
                },
                "columns",
            ),
            (SheetLayout { rows: 0, ..ok }, "rows"),
            (
                SheetLayout {
                    rows: 21,
                    label_height_mm: 15.0,
                    margin_top_mm: 0.0,
                    ..ok
                },
                "rows",
            ),
            (
                SheetLayout {
                    label_width_mm: 19.9,
                    ..ok
                },
                "label_width_mm",
            ),
            (
                SheetLayout {
                    label_height_mm: 14.0,
                    ..ok
                },
                "label_height_mm",
            ),
            (
                SheetLayout {
                    label_width_mm: f32::NAN,
                    ..ok
                },
                "label_width_mm",
            ),
            (
                SheetLayout {
                    margin_top_mm: -1.0,
                    ..ok
                },
                "margin_top_mm",
            ),
            (
                SheetLayout {
                    margin_left_mm: f32::INFINITY,
                    ..ok
                },
                "margin_left_mm",
            ),
            (
                SheetLayout {
                    gap_x_mm: -0.5,
                    ..ok
                },
                "gap_x_mm",
            ),
            (
                SheetLayout {
                    gap_y_mm: f32::NEG_INFINITY,
                    ..ok
                },
                "gap_y_mm",
            ),
            // Too wide: 3 × 70 mm + 2 × 1 mm gaps.
            (
                SheetLayout {
                    gap_x_mm: 1.0,
                    ..ok
                },
                "label_width_mm",
            ),
            (
                SheetLayout {
                    margin_left_mm: 5.0,
                    ..ok
                },
                "label_width_mm",
            ),
            // Too tall: 0.5 mm + 8 × 37 mm + 7 × 0.2 mm.
            (
                SheetLayout {
                    gap_y_mm: 0.2,
                    ..ok
                },
                "label_height_mm",
            ),
            (
                SheetLayout {
                    label_height_mm: 38.0,
                    ..ok
                },
                "label_height_mm",
            ),
        ];
        for (layout, field) in cases {
            assert_eq!(layout_field(layout), field, "{layout:?}");
        }
        let err = SheetLayout {
            gap_x_mm: 1.0,
            ..ok
        }
        .validate()
        .unwrap_err();
        assert!(err.to_string().contains("212 mm"), "{err}");

        // render_sheet validates too.
        assert!(matches!(
            render_sheet(&sample_labels(1), &SheetLayout { rows: 0, ..ok }, TAGLINE),
            Err(LabelError::Layout { field: "rows", .. })
        ));
    }

    #[test]
    fn fonts_cover_what_labels_print() {
        let fonts = Fonts::load().unwrap();
        let vietnamese = "ÀÁÂÃÈÉÊÌÍÒÓÔÕÙÚÝàáâãèéêìíòóôõùúýĂăĐđĨĩŨũƠơƯưẠạẢảẤấẦầẨẩẪẫẬậẮắẰằẲẳẴẵẶặẸẹẺẻẼẽẾếỀềỂểỄễỆệỈỉỊịỌọỎỏỐốỒồỔổỖỗỘộỚớỜờỞởỠỡỢợỤụỦủỨứỪừỬửỮữỰựỲỳỴỵỶỷỸỹ";
        for face in [&fonts.regular, &fonts.bold] {
            for c in vietnamese.chars().chain("★…0123456789 Lô Số OCOP".chars()) {
                assert!(face.has_glyph(c), "no glyph for {c}");
            }
            assert!(!face.has_glyph('\u{10FFFF}'));
            assert!(face.width("W", 10.0) > face.width("i", 10.0));
            // A decomposed letter is no wider than the precomposed one.
            assert!(face.width("e\u{0302}\u{0301}", 10.0) <= face.width("ế", 10.0) + 0.01);
        }
        assert!(fonts.bold.width("Mật ong", 10.0) > fonts.regular.width("Mật ong", 10.0));
        // DejaVu Sans: 2048 units per em, "M" is 1767 units wide in the regular face.
        assert!((fonts.regular.width("M", 2048.0) - 1767.0).abs() < 0.5);
    }

    #[test]
    fn long_text_is_wrapped_and_ellipsized_within_the_width() {
        let fonts = Fonts::load().unwrap();
        let face = &fonts.bold;
        let name = "Thịt trâu gác bếp Điện Biên thượng hạng loại đặc biệt";
        let max = 90.0;
        let lines = face.wrap(name, 9.0, max, 2);
        assert_eq!(lines.len(), 2);
        assert!(lines[1].ends_with('…'), "{lines:?}");
        for line in &lines {
            assert!(face.width(line, 9.0) <= max, "{line} too wide");
        }
        assert!(name.starts_with(&lines[0]));

        assert_eq!(face.wrap("Rượu ngô", 9.0, max, 2), vec!["Rượu ngô"]);
        assert_eq!(face.ellipsize("Rượu ngô", 9.0, max), "Rượu ngô");
        let short = face.ellipsize(name, 9.0, max);
        assert!(short.ends_with('…') && face.width(&short, 9.0) <= max);
        assert_eq!(face.ellipsize(name, 9.0, 1.0), "");
        // One unbreakable word is split rather than overflowing.
        let word = "A".repeat(60);
        let lines = face.wrap(&word, 9.0, max, 2);
        assert_eq!(lines.len(), 2);
        assert!(lines.iter().all(|l| face.width(l, 9.0) <= max));
        // Never cut between a letter and its combining marks.
        let decomposed = "e\u{0302}\u{0301}".repeat(40);
        for line in face.wrap(&decomposed, 9.0, 50.0, 2) {
            assert!(!line.starts_with(is_combining_mark), "{line:?}");
            let before_ellipsis = line.trim_end_matches('…');
            assert!(before_ellipsis.ends_with('\u{0301}'), "{line:?}");
        }
        assert_eq!(clean_text("  Chè\n\tShan \u{0}tuyết  "), "Chè Shan tuyết");
    }

    #[test]
    fn text_lines_fit_every_label_size() {
        let fonts = Fonts::load().unwrap();
        let label = Label {
            stars: Some(5),
            ..sample_labels(5).remove(4)
        };
        for (w, h) in [
            (70.0, 37.0),
            (20.0, 15.0),
            (38.0, 21.2),
            (105.0, 42.3),
            (63.5, 38.1),
            (210.0, 297.0),
        ] {
            let layout = SheetLayout {
                columns: 1,
                rows: 1,
                label_width_mm: w,
                label_height_mm: h,
                margin_top_mm: 0.0,
                ..SheetLayout::default()
            };
            layout.validate().unwrap();
            let g = LabelGeometry::new(&layout, &fonts, TAGLINE);
            assert!(g.qr_box > 0.0 && g.qr_box + 2.0 * g.padding <= w.min(h) * PT_PER_MM + 1e-3);
            let lines = text_lines(&fonts, &g, &label, TAGLINE);
            let height: f32 = lines
                .iter()
                .map(|l| l.space_before + l.size * LINE_HEIGHT_EM)
                .sum();
            assert!(height <= g.height - 2.0 * g.padding, "{w}×{h}");
            for line in &lines {
                let face = if line.bold {
                    &fonts.bold
                } else {
                    &fonts.regular
                };
                assert!(
                    face.width(&line.text, line.size) <= g.text_width + 1e-3,
                    "{w}×{h}: {}",
                    line.text
                );
            }
            if (w, h) == (70.0, 37.0) {
                assert!(
                    lines.iter().any(|l| l.text == TAGLINE),
                    "tagline on one line"
                );
                let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
                assert!(texts.contains(&"★★★★★ OCOP"), "{texts:?}");
                assert!(
                    texts.iter().any(|t| t.starts_with("Lô MHBH-2025-")),
                    "{texts:?}"
                );
                assert!(texts.contains(&"Số 100004"), "{texts:?}");
                assert!(texts.iter().any(|t| t.starts_with("Quét để")), "{texts:?}");
            }
        }
    }

    #[test]
    fn renders_10000_labels_compactly() {
        let labels = sample_labels(10_000);
        let started = Instant::now();
        let pdf = render_sheet(&labels, &SheetLayout::default(), TAGLINE).unwrap();
        let elapsed = started.elapsed();
        eprintln!(
            "10,000 labels: {} pages, {:.2} MB in {:.2} s",
            page_count(&pdf),
            pdf.len() as f64 / 1e6,
            elapsed.as_secs_f64()
        );
        assert_eq!(page_count(&pdf), 417);
        assert!(pdf.len() < 15_000_000, "{} bytes", pdf.len());
    }

    #[test]
    #[ignore = "writes /tmp/ocop-labels-sample.pdf for a visual check"]
    fn write_sample_sheet() {
        let mut labels = sample_labels(30);
        labels[1].url = format!(
            "HTTPS://OCOP.EXAMPLE.VN/S/0123456789ABCDEF/LOT2025MHBH00012345X/004217/{}",
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".repeat(4)[..107].to_owned()
        );
        labels[2].lot = "LÔ-RẤT-DÀI-2025-THÁNG-MƯỜI-HAI-ĐỢT-3".to_owned();
        let pdf = render_sheet(&labels, &SheetLayout::default(), TAGLINE).unwrap();
        std::fs::write("/tmp/ocop-labels-sample.pdf", pdf).unwrap();

        // A small-label sheet too: 5 × 13 labels of 38.1 × 21.2 mm (like Avery L7651).
        let small = SheetLayout {
            columns: 5,
            rows: 13,
            label_width_mm: 38.1,
            label_height_mm: 21.2,
            margin_top_mm: 10.7,
            margin_left_mm: 4.7,
            gap_x_mm: 2.5,
            gap_y_mm: 0.0,
        };
        let pdf = render_sheet(&labels, &small, TAGLINE).unwrap();
        std::fs::write("/tmp/ocop-labels-sample-small.pdf", pdf).unwrap();
    }
}
