//! Rendering label sheets: pages, fonts, fitting text, and printed QR codes that decode.

use std::time::Instant;

use krilla::SerializeSettings;

use super::font::{Fonts, clean_text, is_combining_mark};
use super::layout::{A4_HEIGHT_MM, A4_WIDTH_MM};
use super::pdf::{LINE_HEIGHT_EM, LabelGeometry, PT_PER_MM, render_sheet_with, text_lines};
use super::raster::rasterise_first_page;
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
