//! Charts drawn on the server as inline SVG: horizontal bars for figures per place, columns for
//! figures per month. No script and no chart library: a phone without JavaScript shows them,
//! and the page weighs a few kilobytes more.
//!
//! Each chart is an image to assistive technology (`role="img"`, named by its `<title>` and
//! `<desc>`); the page puts the same numbers in a table beside it. Every bar carries its value
//! as text. Colours have at least 6:1 contrast on white (WCAG AA asks 3:1 for graphics), text
//! is near-black, and the only styling is presentation attributes, which the page's content
//! security policy allows (it refuses inline `style`).

use std::fmt::Write;

use crate::i18n::Lang;

/// Series colours, in order: green, brown, blue (contrast on white 7.7, 6.8 and 8.4 to 1).
pub const PALETTE: [&str; 3] = ["#1f5f2b", "#8a4b00", "#1d4e89"];

const TEXT: &str = "#1b1b1b";
const AXIS: &str = "#767676";
const WIDTH: i64 = 720;
const FONT: &str = "system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif";

/// One series of values, drawn in one colour.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub color: &'static str,
}

/// What a chart shows: a value per series for each row (place or month).
#[derive(Debug, Clone)]
pub struct Chart {
    /// Unique on the page: the ids of the title and description derive from it.
    pub id: String,
    pub title: String,
    /// Read out after the title; says where the numbers are.
    pub description: String,
    pub series: Vec<Series>,
    pub rows: Vec<(String, Vec<i64>)>,
}

impl Chart {
    fn max(&self) -> i64 {
        self.rows
            .iter()
            .flat_map(|(_, values)| values.iter().copied())
            .max()
            .unwrap_or(0)
            .max(1)
    }

    fn open(&self, out: &mut String, height: i64) {
        let _ = write!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height}\" \
             width=\"{WIDTH}\" height=\"{height}\" role=\"img\" \
             aria-labelledby=\"{id}-title {id}-desc\" font-family=\"{FONT}\" fill=\"{TEXT}\">\
             <title id=\"{id}-title\">{title}</title><desc id=\"{id}-desc\">{desc}</desc>",
            id = escape(&self.id),
            title = escape(&self.title),
            desc = escape(&self.description),
        );
    }

    /// The legend on one line at the top, when there is more than one series.
    fn legend(&self, out: &mut String) -> i64 {
        if self.series.len() < 2 {
            return 0;
        }
        let mut x = 0;
        for series in &self.series {
            let _ = write!(
                out,
                "<rect x=\"{x}\" y=\"4\" width=\"14\" height=\"14\" fill=\"{color}\"/>\
                 <text x=\"{tx}\" y=\"16\" font-size=\"13\">{name}</text>",
                color = series.color,
                tx = x + 20,
                name = escape(&series.name),
            );
            x += 20 + text_width(&series.name, 13) + 20;
        }
        28
    }
}

/// Horizontal bars, one group per row (place), one bar per series, each with its value.
pub fn bars(chart: &Chart, format: impl Fn(i64) -> String) -> String {
    const LABEL: i64 = 200;
    const VALUE: i64 = 96;
    let series = chart.series.len().max(1) as i64;
    let bar = if series > 1 { 14 } else { 18 };
    let row_height = series * bar + (series - 1) * 2 + 12;
    let mut body = String::new();
    let top = chart.legend(&mut body) + 4;
    let max = chart.max();
    let span = WIDTH - LABEL - VALUE;
    for (i, (label, values)) in chart.rows.iter().enumerate() {
        let y = top + i as i64 * row_height;
        let _ = write!(
            body,
            "<text x=\"{x}\" y=\"{ty}\" font-size=\"13\" text-anchor=\"end\">{label}</text>",
            x = LABEL - 8,
            ty = y + row_height / 2,
            label = escape(&shorten(label, 26)),
        );
        for (s, value) in values.iter().enumerate() {
            let color = chart.series.get(s).map_or(PALETTE[0], |s| s.color);
            let length = scaled(*value, max, span);
            let by = y + 6 + s as i64 * (bar + 2);
            let _ = write!(
                body,
                "<rect x=\"{LABEL}\" y=\"{by}\" width=\"{length}\" height=\"{bar}\" \
                 fill=\"{color}\"/><text x=\"{tx}\" y=\"{ty}\" font-size=\"12\">{value}</text>",
                tx = LABEL + length + 6,
                ty = by + bar - 3,
                value = escape(&format(*value)),
            );
        }
    }
    let height = top + chart.rows.len() as i64 * row_height + 4;
    let mut out = String::with_capacity(body.len() + 512);
    chart.open(&mut out, height);
    out.push_str(&body);
    let _ = write!(
        out,
        "<line x1=\"{LABEL}\" y1=\"{top}\" x2=\"{LABEL}\" y2=\"{bottom}\" stroke=\"{AXIS}\"/></svg>",
        bottom = height - 4,
    );
    out
}

/// Vertical columns, one group per row (month), one column per series, each with its value
/// above it.
pub fn columns(chart: &Chart, format: impl Fn(i64) -> String) -> String {
    const PLOT: i64 = 180;
    let mut body = String::new();
    let top = chart.legend(&mut body) + 22;
    let bottom = top + PLOT;
    let height = bottom + 26;
    let groups = chart.rows.len().max(1) as i64;
    let group = (WIDTH - 8) / groups;
    let series = chart.series.len().max(1) as i64;
    let column = ((group - 10) / series).max(2);
    let max = chart.max();
    for (i, (label, values)) in chart.rows.iter().enumerate() {
        let gx = 4 + i as i64 * group;
        for (s, value) in values.iter().enumerate() {
            let color = chart.series.get(s).map_or(PALETTE[0], |s| s.color);
            let length = scaled(*value, max, PLOT);
            let x = gx + 5 + s as i64 * column;
            let _ = write!(
                body,
                "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{length}\" fill=\"{color}\"/>\
                 <text x=\"{tx}\" y=\"{ty}\" font-size=\"11\" text-anchor=\"middle\">{value}</text>",
                y = bottom - length,
                w = column - 2,
                tx = x + (column - 2) / 2,
                ty = bottom - length - 4,
                value = escape(&format(*value)),
            );
        }
        let _ = write!(
            body,
            "<text x=\"{x}\" y=\"{y}\" font-size=\"12\" text-anchor=\"middle\">{label}</text>",
            x = gx + group / 2,
            y = bottom + 18,
            label = escape(label),
        );
    }
    let mut out = String::with_capacity(body.len() + 512);
    chart.open(&mut out, height);
    out.push_str(&body);
    let _ = write!(
        out,
        "<line x1=\"0\" y1=\"{bottom}\" x2=\"{WIDTH}\" y2=\"{bottom}\" stroke=\"{AXIS}\"/></svg>"
    );
    out
}

/// The length of `value` on a scale where `max` spans `span`; a non-zero value stays visible.
fn scaled(value: i64, max: i64, span: i64) -> i64 {
    if value <= 0 {
        return 0;
    }
    let length = i128::from(value) * i128::from(span) / i128::from(max.max(1));
    i64::try_from(length).unwrap_or(span).clamp(1, span)
}

/// A rough width of `text` at `size` pixels in a sans-serif font, to space the legend.
fn text_width(text: &str, size: i64) -> i64 {
    text.chars().count() as i64 * size * 6 / 10
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(max - 1).collect();
        short.push('…');
        short
    }
}

/// Escapes text for XML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole number with the language's thousands separator: `1.234.567` in Vietnamese,
/// `1,234,567` in English.
pub fn grouped(value: i64, lang: Lang) -> String {
    let separator = match lang {
        Lang::Vi => '.',
        Lang::En => ',',
    };
    let digits = value.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if value < 0 {
        out.push('-');
    }
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(separator);
        }
        out.push(ch);
    }
    out
}

/// A short form for chart labels, where a column is narrow: `12,3 tr` / `12.3M`. Below ten
/// thousand the number is written out.
pub fn compact(value: i64, lang: Lang) -> String {
    let magnitude = value.unsigned_abs();
    if magnitude < 10_000 {
        return grouped(value, lang);
    }
    let (unit, suffix) = match (magnitude, lang) {
        (..1_000_000, Lang::Vi) => (1_000, " N"),
        (..1_000_000, Lang::En) => (1_000, "k"),
        (..1_000_000_000, Lang::Vi) => (1_000_000, " tr"),
        (..1_000_000_000, Lang::En) => (1_000_000, "M"),
        (_, Lang::Vi) => (1_000_000_000, " tỷ"),
        (_, Lang::En) => (1_000_000_000, "B"),
    };
    let tenths = magnitude * 10 / unit;
    let sign = if value < 0 { "-" } else { "" };
    let decimal = match lang {
        Lang::Vi => ',',
        Lang::En => '.',
    };
    if tenths >= 1000 || tenths.is_multiple_of(10) {
        format!("{sign}{}{suffix}", tenths / 10)
    } else {
        format!("{sign}{}{decimal}{}{suffix}", tenths / 10, tenths % 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(rows: Vec<(String, Vec<i64>)>, series: usize) -> Chart {
        Chart {
            id: "c".into(),
            title: "Sản phẩm <OCOP> & \"sao\"".into(),
            description: "Số liệu trong bảng bên dưới.".into(),
            series: (0..series)
                .map(|i| Series {
                    name: format!("S{i}"),
                    color: PALETTE[i % PALETTE.len()],
                })
                .collect(),
            rows,
        }
    }

    #[test]
    fn numbers_use_the_languages_separators() {
        assert_eq!(grouped(1_234_567, Lang::Vi), "1.234.567");
        assert_eq!(grouped(1_234_567, Lang::En), "1,234,567");
        assert_eq!(grouped(-950, Lang::Vi), "-950");
        assert_eq!(compact(9_999, Lang::Vi), "9.999");
        assert_eq!(compact(12_345, Lang::Vi), "12,3 N");
        assert_eq!(compact(12_345, Lang::En), "12.3k");
        assert_eq!(compact(4_500_000, Lang::En), "4.5M");
        assert_eq!(compact(250_000_000, Lang::Vi), "250 tr");
        assert_eq!(compact(1_200_000_000, Lang::Vi), "1,2 tỷ");
    }

    #[test]
    fn bars_carry_every_value_and_escape_text() {
        let svg = bars(
            &chart(
                vec![
                    ("Lào Cai".into(), vec![163, 159]),
                    ("Sơn La <&>".into(), vec![0, 0]),
                ],
                2,
            ),
            |v| grouped(v, Lang::Vi),
        );
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.contains("role=\"img\""));
        assert!(svg.contains("&lt;OCOP&gt; &amp; &quot;sao&quot;"));
        assert!(svg.contains(">163</text>") && svg.contains(">159</text>"));
        assert!(svg.contains("Sơn La &lt;&amp;&gt;"));
        assert!(svg.ends_with("</svg>"));
    }

    #[test]
    fn a_small_value_stays_visible_and_none_overflows() {
        assert_eq!(scaled(1, 1_000_000, 400), 1);
        assert_eq!(scaled(0, 10, 400), 0);
        assert_eq!(scaled(10, 10, 400), 400);
        assert_eq!(scaled(i64::MAX, i64::MAX, 400), 400);
    }

    #[test]
    fn columns_draw_one_group_per_month() {
        let rows = (1..=12)
            .map(|m| (format!("{m:02}/26"), vec![m * 1000]))
            .collect();
        let svg = columns(&chart(rows, 1), |v| compact(v, Lang::En));
        assert_eq!(svg.matches("<rect").count(), 12);
        assert!(svg.contains(">12/26</text>"));
    }
}
