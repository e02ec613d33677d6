//! The dashboard's tables as CSV files: the same rows as the page, headed in the visitor's
//! language, numbers written out plainly (no thousands separators) so a spreadsheet reads them
//! as numbers. Files start with a UTF-8 byte order mark: without it Excel opens them in the
//! system's legacy code page and the Vietnamese place names come out garbled.

use super::{Dashboard, Place};
use crate::error::{AppError, AppResult};
use crate::i18n::Messages;

/// The UTF-8 byte order mark.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A table of the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Products,
    Cooperatives,
    Orders,
    Stamps,
    ScanPlaces,
    Copies,
}

impl Table {
    pub const ALL: [Self; 6] = [
        Self::Products,
        Self::Cooperatives,
        Self::Orders,
        Self::Stamps,
        Self::ScanPlaces,
        Self::Copies,
    ];

    /// The name in `/admin/dashboard/{name}.csv`.
    pub fn slug(self) -> &'static str {
        match self {
            Self::Products => "products",
            Self::Cooperatives => "cooperatives",
            Self::Orders => "orders",
            Self::Stamps => "stamps",
            Self::ScanPlaces => "scan-places",
            Self::Copies => "copies",
        }
    }

    /// The table a file name such as `products.csv` asks for.
    pub fn from_file_name(name: &str) -> Option<Self> {
        let slug = name.strip_suffix(".csv")?;
        Self::ALL.into_iter().find(|t| t.slug() == slug)
    }
}

/// One table of `dashboard` as a CSV document (BOM, header row, rows, a total row).
pub fn table_csv(dashboard: &Dashboard, table: Table, t: &Messages) -> AppResult<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(BOM.to_vec());
    let place_header = if dashboard.place_level == "commune" {
        t.get("dashboard.commune")
    } else {
        t.get("dashboard.province")
    };
    let total = t.get("dashboard.total");
    let not_reported = t.get("dashboard.not_reported");
    let place = |p: &Place| -> [String; 2] {
        let name = if p.code.is_empty() {
            not_reported.to_owned()
        } else {
            p.name.clone()
        };
        [p.code.clone(), name]
    };
    let mut records: Vec<Vec<String>> = Vec::new();
    match table {
        Table::Products => {
            records.push(header(
                t,
                &[place_header],
                &[
                    "dashboard.three_stars",
                    "dashboard.four_stars",
                    "dashboard.five_stars",
                    "dashboard.ocop",
                    "dashboard.ocop_online",
                    "dashboard.online_percent",
                    "dashboard.online",
                ],
            ));
            let line = |first: [String; 2], c: &super::ProductCounts| {
                let mut r = first.to_vec();
                r.extend(
                    [
                        c.three_stars,
                        c.four_stars,
                        c.five_stars,
                        c.ocop,
                        c.ocop_online,
                        c.online_percent(),
                        c.online,
                    ]
                    .map(|n| n.to_string()),
                );
                r
            };
            for row in &dashboard.products {
                records.push(line(place(&row.place), &row.counts));
            }
            records.push(line(
                [String::new(), total.to_owned()],
                &dashboard.products_total,
            ));
        }
        Table::Cooperatives => {
            records.push(header(
                t,
                &[place_header],
                &[
                    "dashboard.verified",
                    "dashboard.pending",
                    "dashboard.suspended",
                ],
            ));
            let line = |first: [String; 2], c: &super::CooperativeCounts| {
                let mut r = first.to_vec();
                r.extend([c.verified, c.pending, c.suspended].map(|n| n.to_string()));
                r
            };
            for row in &dashboard.cooperatives {
                records.push(line(place(&row.place), &row.counts));
            }
            records.push(line(
                [String::new(), total.to_owned()],
                &dashboard.cooperatives_total,
            ));
        }
        Table::Orders => {
            records.push(vec![
                t.get("dashboard.month").to_owned(),
                t.get("dashboard.paid_orders").to_owned(),
                t.get("dashboard.goods").to_owned(),
                t.get("dashboard.commission").to_owned(),
            ]);
            let line = |month: &str, c: &super::OrderCounts| {
                vec![
                    month.to_owned(),
                    c.paid_orders.to_string(),
                    c.goods_vnd.to_string(),
                    c.commission_vnd.to_string(),
                ]
            };
            for month in &dashboard.orders {
                records.push(line(&month.month, &month.counts));
            }
            records.push(line(total, &dashboard.orders_total));
        }
        Table::Stamps => {
            records.push(vec![
                t.get("dashboard.month").to_owned(),
                t.get("dashboard.stamps_issued").to_owned(),
                t.get("dashboard.scans").to_owned(),
            ]);
            let line = |month: &str, c: &super::StampCounts| {
                vec![
                    month.to_owned(),
                    c.stamps_issued.to_string(),
                    c.scans.to_string(),
                ]
            };
            for month in &dashboard.stamps {
                records.push(line(&month.month, &month.counts));
            }
            records.push(line(total, &dashboard.stamps_total));
        }
        Table::ScanPlaces => {
            records.push(header(
                t,
                &[t.get("dashboard.province")],
                &["dashboard.scans"],
            ));
            for row in &dashboard.scan_places {
                let mut r = place(&row.place).to_vec();
                r.push(row.scans.to_string());
                records.push(r);
            }
            if dashboard.scans_place_not_reported > 0 {
                records.push(vec![
                    String::new(),
                    not_reported.to_owned(),
                    dashboard.scans_place_not_reported.to_string(),
                ]);
            }
            records.push(vec![
                String::new(),
                total.to_owned(),
                dashboard.stamps_total.scans.to_string(),
            ]);
        }
        Table::Copies => {
            records.push(header(
                t,
                &[t.get("dashboard.province")],
                &[
                    "dashboard.flagged_stamps",
                    "dashboard.flagged_scans",
                    "dashboard.fake_reports",
                ],
            ));
            for row in &dashboard.copies {
                let mut r = place(&row.place).to_vec();
                r.extend(
                    [
                        row.counts.flagged_stamps,
                        row.counts.flagged_scans,
                        row.counts.fake_reports,
                    ]
                    .map(|n| n.to_string()),
                );
                records.push(r);
            }
            let totals = &dashboard.copies_total;
            records.push(vec![
                String::new(),
                total.to_owned(),
                totals.flagged_stamps.to_string(),
                totals.flagged_scans.to_string(),
                totals.fake_reports.to_string(),
            ]);
        }
    }
    for record in records {
        writer.write_record(&record).map_err(csv_error)?;
    }
    writer
        .into_inner()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("writing CSV: {e}")))
}

fn header(t: &Messages, place: &[&str], keys: &[&str]) -> Vec<String> {
    let mut row = vec![t.get("dashboard.code").to_owned()];
    row.extend(place.iter().map(|s| (*s).to_owned()));
    row.extend(keys.iter().map(|k| t.get(k).to_owned()));
    row
}

fn csv_error(err: csv::Error) -> AppError {
    AppError::Internal(anyhow::anyhow!("writing CSV: {err}"))
}

/// The file name offered for download: `ocop-products-15.csv` for Lào Cai.
pub fn file_name(dashboard: &Dashboard, table: Table) -> String {
    match &dashboard.province {
        Some(p) => format!("ocop-{}-{}.csv", table.slug(), p.code),
        None => format!("ocop-{}-vn.csv", table.slug()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_map_to_tables_and_others_do_not() {
        assert_eq!(Table::from_file_name("products.csv"), Some(Table::Products));
        assert_eq!(
            Table::from_file_name("scan-places.csv"),
            Some(Table::ScanPlaces)
        );
        assert_eq!(Table::from_file_name("products"), None);
        assert_eq!(Table::from_file_name("users.csv"), None);
        for table in Table::ALL {
            assert_eq!(
                Table::from_file_name(&format!("{}.csv", table.slug())),
                Some(table)
            );
        }
    }
}
