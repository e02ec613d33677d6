//! Drawing labels onto A4 pages: the QR code of each as vector strokes, its text lines beside.

use krilla::Document;
use krilla::SerializeSettings;
use krilla::geom::{PathBuilder, Point, Transform};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, LineCap, Stroke};
use krilla::surface::Surface;

use super::font::{Fonts, clean_text};
use super::layout::SheetLayout;
use super::{Label, LabelError, MAX_LABELS};
use crate::qr::{EcLevel, QUIET_ZONE, QrMatrix};

const A4_WIDTH_PT: f32 = 595.28;
const A4_HEIGHT_PT: f32 = 841.89;
pub(super) const PT_PER_MM: f32 = 72.0 / 25.4;
/// Blank border inside each label, so that a sheet fed a little askew cuts nothing off.
const LABEL_PADDING_MM: f32 = 1.5;
/// Below this the text column is dropped: not even one character would fit.
const MIN_TEXT_WIDTH_MM: f32 = 4.0;
/// Baseline distance, in ems. DejaVu Sans spans 0.93 em above to 0.24 em below the baseline.
pub(super) const LINE_HEIGHT_EM: f32 = 1.28;
const ASCENT_EM: f32 = 0.96;

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

pub(super) fn render_sheet_with(
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
pub(super) struct LabelGeometry {
    pub(super) height: f32,
    pub(super) padding: f32,
    /// Side of the square holding the QR code and its quiet zone.
    pub(super) qr_box: f32,
    pub(super) text_width: f32,
    pub(super) name_size: f32,
    pub(super) body_size: f32,
    pub(super) tagline_size: f32,
}

impl LabelGeometry {
    pub(super) fn new(layout: &SheetLayout, fonts: &Fonts, tagline: &str) -> Self {
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
pub(super) struct TextLine {
    pub(super) bold: bool,
    pub(super) size: f32,
    pub(super) text: String,
    /// Extra space above the line, in points.
    pub(super) space_before: f32,
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
pub(super) fn text_lines(
    fonts: &Fonts,
    g: &LabelGeometry,
    label: &Label,
    tagline: &str,
) -> Vec<TextLine> {
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
