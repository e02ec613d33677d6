//! Rendering a message from the catalogue (`frontend/i18n`, keys `message.{template}.*`) in
//! the recipient's language: a subject and a plain text for e-mail, a short text for SMS and
//! Zalo (at most two SMS segments).

use std::collections::BTreeMap;

use super::Template;
use crate::i18n::Lang;

/// A message ready for its channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    /// The e-mail's plain-text part.
    pub text: String,
    /// The SMS/Zalo text.
    pub short: String,
}

/// Renders `template` with `params` in `lang`; `unsubscribe` (a link) adds the footer that
/// says how to stop this kind of message.
pub fn render(
    template: Template,
    lang: Lang,
    params: &BTreeMap<String, String>,
    unsubscribe: Option<&str>,
) -> Rendered {
    let t = lang.messages();
    let args: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let name = template.as_str();
    let subject = t.format(&format!("message.{name}.subject"), &args);
    let mut text = t.format(&format!("message.{name}.text"), &args);
    text = text.trim_end().to_owned();
    text.push_str("\n\n-- \n");
    text.push_str(t.get("message.signature"));
    if let Some(link) = unsubscribe {
        text.push('\n');
        text.push_str(&t.format("message.unsubscribe_footer", &[("link", link)]));
    }
    text.push('\n');
    let short = fit_sms(&t.format(&format!("message.{name}.sms"), &args));
    Rendered {
        subject,
        text,
        short,
    }
}

/// Characters of the GSM 03.38 basic set (and its extension table, which costs two).
fn gsm_cost(c: char) -> Option<usize> {
    const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
    const EXTENDED: &str = "^{}\\[~]|€";
    if BASIC.contains(c) {
        Some(1)
    } else if EXTENDED.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// Whether every character of `text` is in the GSM 03.38 set (else the SMS is sent as UCS-2).
pub fn is_gsm(text: &str) -> bool {
    text.chars().all(|c| gsm_cost(c).is_some())
}

/// How many SMS segments a text takes: GSM-7 when every character is in the GSM set (160 in
/// one segment, 153 per segment when split), UCS-2 otherwise (70, 67 when split; Vietnamese
/// letters with diacritics need UCS-2).
pub fn sms_segments(text: &str) -> usize {
    let gsm: Option<usize> = text.chars().map(gsm_cost).sum();
    let (units, single, multi) = match gsm {
        Some(septets) => (septets, 160, 153),
        None => (text.encode_utf16().count(), 70, 67),
    };
    if units <= single {
        1
    } else {
        units.div_ceil(multi)
    }
}

/// The text cut (at a word, with an ellipsis) to at most two segments.
pub fn fit_sms(text: &str) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if sms_segments(&text) <= 2 {
        return text;
    }
    let mut words: Vec<&str> = text.split(' ').collect();
    while !words.is_empty() {
        words.pop();
        let candidate = format!("{}…", words.join(" "));
        if sms_segments(&candidate) <= 2 {
            return candidate;
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sms_segments_follow_gsm_and_ucs2_limits() {
        assert_eq!(sms_segments(&"a".repeat(160)), 1);
        assert_eq!(sms_segments(&"a".repeat(161)), 2);
        assert_eq!(sms_segments(&"a".repeat(306)), 2);
        assert_eq!(sms_segments(&"ệ".repeat(70)), 1);
        assert_eq!(sms_segments(&"ệ".repeat(71)), 2);
        assert_eq!(sms_segments(&"ệ".repeat(135)), 3);
    }

    #[test]
    fn every_template_renders_in_both_languages_and_its_sms_fits_two_segments() {
        let params: BTreeMap<String, String> = [
            ("order_number", "DH000123"),
            ("reference", "OCOP7K2M9Q"),
            ("total", "1.250.000 ₫"),
            ("amount", "1.187.500 ₫"),
            ("cooperative", "HTX Mật ong Gia Phú"),
            ("product", "Mật ong bạc hà"),
            ("address", "Thôn Cóc 1, Xã Gia Phú, Tỉnh Lào Cai"),
            ("carrier", "Viettel Post"),
            ("tracking_number", "VTP123456789"),
            ("account_number", "1234567890"),
            ("link", "https://ocop.example.vn/pay/OCOP7K2M9Q"),
            ("expires_on", "05/03/2027"),
            ("days", "30"),
            ("cooperatives", "3"),
            ("certificates", "12"),
            ("code", "123456"),
            ("outcome", "Xác nhận là hàng giả"),
            ("place", "Chợ Cốc Lếu"),
            ("products", "Mật ong bạc hà (chai 500 ml)"),
            ("lot", "MO-2025-11"),
            ("reason", "Phát hiện nấm mốc"),
            ("advice", "Không dùng; trả lại để hoàn tiền"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let args: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        for lang in [Lang::Vi, Lang::En] {
            for template in Template::ALL {
                let rendered = render(*template, lang, &params, Some("https://x/unsubscribe/t"));
                assert!(!rendered.subject.starts_with("message."), "{template:?}");
                assert!(!rendered.text.starts_with("message."), "{template:?}");
                let raw = lang
                    .messages()
                    .format(&format!("message.{}.sms", template.as_str()), &args);
                assert!(
                    sms_segments(&raw) <= 2,
                    "{template:?} in {lang:?} takes {} segments: {raw}",
                    sms_segments(&raw)
                );
                assert_eq!(rendered.short, raw, "no SMS needs cutting");
            }
        }
    }
}
