//! The geometry of a sheet of labels on A4 paper, and its checks.

use super::LabelError;

pub(super) const A4_WIDTH_MM: f32 = 210.0;
pub(super) const A4_HEIGHT_MM: f32 = 297.0;
/// Slack for sums of decimal millimetres that land a hair over the page size.
const FIT_TOLERANCE_MM: f32 = 0.01;

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
    pub(super) fn per_page(&self) -> usize {
        // At most 10 × 20 once validated; u32 always fits usize on supported targets.
        (self.columns * self.rows) as usize
    }

    pub(super) fn span_x(&self, columns: u32) -> f32 {
        columns as f32 * self.label_width_mm + columns.saturating_sub(1) as f32 * self.gap_x_mm
    }

    pub(super) fn span_y(&self, rows: u32) -> f32 {
        rows as f32 * self.label_height_mm + rows.saturating_sub(1) as f32 * self.gap_y_mm
    }
}

fn layout_error(field: &'static str, problem: impl Into<String>) -> LabelError {
    LabelError::Layout {
        field,
        problem: problem.into(),
    }
}
