//! How the scan page renders: the page template, the verdict in the visitor's words, and the
//! slots of the values that change with every scan, which let a plain scan be served from a
//! skeleton rendered once per batch and language.

use std::sync::Arc;

use askama::Template;

use crate::AppState;
use crate::error::{AppError, AppResult, FieldErrors};
use crate::http::page::PageContext;
use crate::http::skeleton::{self, Skeleton};
use crate::i18n::{Lang, Messages};
use crate::reference::Province;
use crate::trace::events::EventView;
use crate::trace::origin::OriginView;
use crate::trace::scans::Verdict;

#[derive(Template)]
#[template(path = "scan.html")]
pub(super) struct ScanPage<'a> {
    pub(super) ctx: PageContext,
    /// What changes with every scan (see [`ScanValues`]).
    pub(super) slots: ScanSlots,
    pub(super) origin: Option<Arc<OriginView>>,
    pub(super) provinces: &'a [Province],
    pub(super) reported_province: Option<String>,
    /// The person shared their (rounded) position with this check.
    pub(super) shared_position: bool,
    pub(super) scan_js_path: &'static str,
    pub(super) report_errors: FieldErrors,
}

impl<'a> ScanPage<'a> {
    /// A scan page as nearly every scan shows it: no place of purchase or position given, no
    /// report form errors.
    pub(super) fn new(
        ctx: PageContext,
        slots: ScanSlots,
        origin: Option<Arc<OriginView>>,
        provinces: &'a [Province],
    ) -> Self {
        Self {
            ctx,
            slots,
            origin,
            provinces,
            reported_province: None,
            shared_position: false,
            scan_js_path: crate::http::assets::scan_js_path(),
            report_errors: FieldErrors::default(),
        }
    }

    fn category(&self, origin: &OriginView) -> String {
        match self.ctx.lang {
            Lang::Vi => origin.category_vi.clone(),
            Lang::En => origin.category_en.clone(),
        }
    }

    fn event_key(&self, event: &EventView) -> String {
        event.type_key()
    }
}

/// A value of the scan page that changes with every scan, already escaped for where it goes;
/// or, while the page's skeleton is rendered, the marker of its slot.
enum Slot {
    Value(String),
    Marker(usize),
}

impl std::fmt::Display for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Value(value) => f.write_str(value),
            Self::Marker(index) => f.write_str(&skeleton::marker(*index)),
        }
    }
}

/// The scan page's slots, in the order they appear on the page.
pub(super) struct ScanSlots {
    title: Slot,
    lang_switch_href: Slot,
    verdict: Slot,
    /// Where the report form posts: the scanned address with `/report`.
    report_action: Slot,
}

impl ScanSlots {
    const COUNT: usize = 4;

    fn markers() -> Self {
        Self {
            title: Slot::Marker(0),
            lang_switch_href: Slot::Marker(1),
            verdict: Slot::Marker(2),
            report_action: Slot::Marker(3),
        }
    }
}

/// What changes with every scan, rendered and escaped, in slot order: the page title, the
/// language link (it returns to this address), the verdict with the code (when the visitor
/// holds it) and serial, and the report form's address.
pub(super) struct ScanValues([String; ScanSlots::COUNT]);

impl ScanValues {
    /// `code` is shown only when the address the visitor opened carries it (empty otherwise);
    /// `report_action` is that address with `/report`.
    pub(super) fn new(
        ctx: &PageContext,
        verdict: &Verdict,
        code: &str,
        serial: i64,
        report_sent: bool,
        report_action: &str,
    ) -> AppResult<Self> {
        let words = VerdictWords::new(ctx.t, verdict);
        let section = VerdictSection {
            t: ctx.t,
            words: &words,
            code,
            serial,
            report_sent,
        }
        .render()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("rendering a verdict failed: {e}")))?;
        Ok(Self([
            escape_html(&words.title),
            escape_html(&ctx.lang_switch_href()),
            section,
            escape_html(report_action),
        ]))
    }

    pub(super) fn as_strs(&self) -> [&str; ScanSlots::COUNT] {
        self.0.each_ref().map(String::as_str)
    }

    pub(super) fn into_slots(self) -> ScanSlots {
        let [title, lang_switch_href, verdict, report_action] = self.0.map(Slot::Value);
        ScanSlots {
            title,
            lang_switch_href,
            verdict,
            report_action,
        }
    }
}

fn escape_html(text: &str) -> String {
    match askama::filters::escape(text, askama::filters::Html) {
        Ok(escaped) => escaped.to_string(),
        Err(never) => match never {},
    }
}

/// The verdict box and the code line under it.
#[derive(Template)]
#[template(path = "scan_verdict.html")]
struct VerdictSection<'a> {
    t: &'static Messages,
    words: &'a VerdictWords,
    code: &'a str,
    serial: i64,
    report_sent: bool,
}

/// A verdict in the visitor's words.
struct VerdictWords {
    /// CSS class of the verdict box: `ok`, `warn` or `bad`.
    class: &'static str,
    title: String,
    text: String,
    /// Labelled texts under it (a recall's reason and advice).
    details: Vec<(String, String)>,
}

impl VerdictWords {
    fn new(t: &'static Messages, verdict: &Verdict) -> Self {
        let date = |at: &chrono::DateTime<chrono::Utc>| {
            crate::clock::to_vietnam_time(*at)
                .format("%d/%m/%Y")
                .to_string()
        };
        let checked = |key: &str, others: u32, since: &chrono::DateTime<chrono::Utc>| {
            t.plural(key, u64::from(others), &[("date", &date(since))])
        };
        let mut details = Vec::new();
        let (class, title, text) = match verdict {
            Verdict::GenuineFirstCheck => (
                "ok",
                "scan.first_title",
                t.get("scan.first_text").to_owned(),
            ),
            Verdict::GenuineCheckedByYou { first_checked_at } => (
                "ok",
                "scan.yours_title",
                t.format("scan.yours_text", &[("date", &date(first_checked_at))]),
            ),
            Verdict::GenuineCheckedBefore {
                other_checkers,
                since,
            } => (
                "warn",
                "scan.seen_title",
                checked("scan.seen_text", *other_checkers, since),
            ),
            Verdict::LikelyCopy {
                confirmed: true, ..
            } => (
                "bad",
                "scan.copy_confirmed_title",
                t.get("scan.copy_confirmed_text").to_owned(),
            ),
            Verdict::LikelyCopy {
                other_checkers,
                since,
                ..
            } => (
                "bad",
                "scan.copy_title",
                checked("scan.copy_text", *other_checkers, since),
            ),
            Verdict::NotVouched { reason } => (
                "bad",
                "scan.not_vouched_title",
                t.format(
                    "scan.not_vouched_text",
                    &[(
                        "reason",
                        t.get(&format!(
                            "scan.not_vouched_{}",
                            serde_json::to_value(reason)
                                .ok()
                                .and_then(|v| v.as_str().map(str::to_owned))
                                .unwrap_or_default()
                        )),
                    )],
                ),
            ),
            Verdict::Voided { reason } => (
                "bad",
                "scan.voided_title",
                t.format(
                    "scan.voided_text",
                    &[("reason", t.get(&format!("scan.void_{}", reason.as_str())))],
                ),
            ),
            Verdict::Unknown => (
                "bad",
                "scan.unknown_title",
                t.get("scan.unknown_text").to_owned(),
            ),
            Verdict::Recalled {
                reason,
                advice,
                recalled_at,
                cleared_at,
            } => {
                details.push((t.get("scan.recall_reason").to_owned(), reason.clone()));
                details.push((t.get("scan.recall_advice").to_owned(), advice.clone()));
                let mut text = t.format("scan.recalled_text", &[("date", &date(recalled_at))]);
                if let Some(cleared) = cleared_at {
                    text.push(' ');
                    text.push_str(&t.format("scan.recalled_cleared", &[("date", &date(cleared))]));
                }
                ("bad", "scan.recalled_title", text)
            }
        };
        Self {
            class,
            title: t.get(title).to_owned(),
            text,
            details,
        }
    }
}

/// The skeleton of a batch's scan page in the visitor's language, rendered on first use and
/// kept as long as the batch's origin is (`None` if its markers did not come out intact).
pub(super) fn scan_skeleton(
    state: &AppState,
    ctx: &PageContext,
    batch_id: i64,
    origin: &Arc<OriginView>,
) -> AppResult<Option<Arc<Skeleton>>> {
    state.trace_cache.page(batch_id, ctx.lang, origin, || {
        let page = ScanPage::new(
            PageContext::anonymous(ctx.lang, String::new()),
            ScanSlots::markers(),
            Some(origin.clone()),
            &state.reference.provinces,
        );
        let rendered = page.render().map_err(|e| {
            AppError::Internal(anyhow::anyhow!("rendering a scan page failed: {e}"))
        })?;
        let skeleton = Skeleton::from_rendered(&rendered, ScanSlots::COUNT);
        if skeleton.is_none() {
            tracing::warn!(batch_id, "the scan page's slots did not render intact");
        }
        Ok(skeleton)
    })
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use chrono::{NaiveDate, TimeZone, Utc};

    use super::*;
    use crate::catalog::views::PlaceView;
    use crate::reference::ReferenceData;
    use crate::trace::{EventType, VoidReason};

    /// An origin whose texts hold everything a template must escape, and a stray slot marker
    /// character in a note.
    fn origin() -> Arc<OriginView> {
        let occurred_at = chrono::FixedOffset::east_opt(7 * 3600)
            .and_then(|tz| tz.with_ymd_and_hms(2025, 10, 20, 6, 0, 0).single())
            .expect("a valid time");
        Arc::new(OriginView {
            product_id: 1,
            cooperative_id: 1,
            not_vouched: None,
            recall: None,
            product_name: "Mật ong <bạc hà> & \"rừng\"".into(),
            product_slug: "mat-ong".into(),
            product_is_public: true,
            photo: None,
            unit: "chai".into(),
            gtin: None,
            category_vi: "Thực phẩm".into(),
            category_en: "Food".into(),
            cooperative_name: "HTX 'Gia Phú'".into(),
            cooperative_slug: "htx-gia-phu".into(),
            cooperative_phone: "0912345678".into(),
            place: PlaceView {
                commune_code: "1".into(),
                commune_name: "Xã Gia Phú".into(),
                province_code: "15".into(),
                province_name: "Lào Cai".into(),
            },
            lot_code: "MO-2025-11".into(),
            harvested_on: NaiveDate::from_ymd_opt(2025, 10, 20),
            produced_on: None,
            best_before: NaiveDate::from_ymd_opt(2027, 10, 20),
            quantity: 500,
            quantity_unit: "chai".into(),
            certifications: "VietGAP".into(),
            certificate: None,
            badge: None,
            events: vec![EventView {
                id: 1,
                event_type: EventType::Commissioning,
                occurred_at,
                commune_code: "1".into(),
                place: "Thôn Cóc".into(),
                latitude: None,
                longitude: None,
                actor: "Tổ <sản xuất>".into(),
                note: "lọc hai lần \u{1}".into(),
                input_lots: Vec::new(),
                input_batch_ids: Vec::new(),
            }],
        })
    }

    fn page<'a>(
        ctx: PageContext,
        slots: ScanSlots,
        origin: &Arc<OriginView>,
        reference: &'a ReferenceData,
    ) -> ScanPage<'a> {
        ScanPage::new(ctx, slots, Some(origin.clone()), &reference.provinces)
    }

    #[test]
    fn a_filled_skeleton_is_the_page_rendered_directly_byte_for_byte() {
        let reference = ReferenceData::embedded();
        let origin = origin();
        let since = Utc
            .with_ymd_and_hms(2026, 11, 30, 3, 0, 0)
            .single()
            .unwrap();
        let verdicts = [
            Verdict::GenuineFirstCheck,
            Verdict::GenuineCheckedByYou {
                first_checked_at: since,
            },
            Verdict::GenuineCheckedBefore {
                other_checkers: 3,
                since,
            },
            Verdict::LikelyCopy {
                other_checkers: 9,
                since,
                provinces: 2,
                confirmed: false,
            },
            Verdict::LikelyCopy {
                other_checkers: 9,
                since,
                provinces: 2,
                confirmed: true,
            },
            Verdict::NotVouched {
                reason: crate::trace::scans::NotVouchedReason::CooperativeSuspended,
            },
            Verdict::Voided {
                reason: VoidReason::Lost,
            },
            Verdict::Recalled {
                reason: "nấm <mốc> & \"ẩm\"".into(),
                advice: "không dùng".into(),
                recalled_at: since,
                cleared_at: Some(since),
            },
        ];
        for lang in [Lang::Vi, Lang::En] {
            let skeleton_page = page(
                PageContext::anonymous(lang, String::new()),
                ScanSlots::markers(),
                &origin,
                &reference,
            );
            let skeleton = Skeleton::from_rendered(&skeleton_page.render().unwrap(), 4)
                .expect("the markers come out intact despite the stray character");
            for verdict in &verdicts {
                // A path a visitor can choose, with characters that need escaping.
                let ctx = PageContext::anonymous(lang, "/s/ABCD?x=\"><b>".into());
                let values =
                    ScanValues::new(&ctx, verdict, "ABCD", 7, false, "/s/ABCD/report").unwrap();
                let filled = skeleton.text(&values.as_strs());
                let direct = page(ctx, values.into_slots(), &origin, &reference)
                    .render()
                    .unwrap();
                assert_eq!(String::from_utf8(filled).unwrap(), direct, "{verdict:?}");
                let mut gunzipped = String::new();
                let values = ScanValues::new(
                    &PageContext::anonymous(lang, "/s/ABCD?x=\"><b>".into()),
                    verdict,
                    "ABCD",
                    7,
                    false,
                    "/s/ABCD/report",
                )
                .unwrap();
                flate2::read::GzDecoder::new(&skeleton.gzip(&values.as_strs())[..])
                    .read_to_string(&mut gunzipped)
                    .unwrap();
                assert_eq!(gunzipped, direct);
                assert!(!direct.contains("<bạc hà>") && !direct.contains("\"><b>"));
            }
        }
    }
}
