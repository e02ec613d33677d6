//! The carriers a cooperative hands an order to, and their public tracking pages.

use super::text_enum;

text_enum! {
    /// The carriers a cooperative hands an order to.
    Carrier {
        VnPost => "vnpost",
        ViettelPost => "viettel_post",
        Ghn => "ghn",
        Ghtk => "ghtk",
        Jt => "jt",
        Other => "other",
    }
}

impl Carrier {
    /// The carrier's name as people write it.
    pub fn display_name(self) -> &'static str {
        match self {
            Self::VnPost => "VNPost",
            Self::ViettelPost => "Viettel Post",
            Self::Ghn => "GHN",
            Self::Ghtk => "GHTK",
            Self::Jt => "J&T Express",
            Self::Other => "",
        }
    }

    /// Recognises a carrier from what was stored or typed (`ghn`, "Giao Hàng Nhanh", "J&T").
    pub fn recognise(text: &str) -> Option<Self> {
        let folded = crate::domain::fold_vietnamese(text)
            .to_lowercase()
            .replace([' ', '-', '_', '&', '.'], "");
        match folded.as_str() {
            "vnpost" | "buudienvietnam" | "vietnampost" | "ems" => Some(Self::VnPost),
            "viettelpost" | "viettel" => Some(Self::ViettelPost),
            "ghn" | "giaohangnhanh" => Some(Self::Ghn),
            "ghtk" | "giaohangtietkiem" => Some(Self::Ghtk),
            "jt" | "jtexpress" => Some(Self::Jt),
            "other" => Some(Self::Other),
            _ => None,
        }
    }

    /// The carrier's own tracking page for a tracking number, when it has a public one.
    pub fn tracking_url(self, tracking_number: &str) -> Option<String> {
        let number: String = tracking_number
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        if number.is_empty() {
            return None;
        }
        match self {
            Self::VnPost => Some(format!(
                "https://vnpost.vn/tra-cuu-hanh-trinh/buu-pham?key={number}"
            )),
            Self::ViettelPost => Some(format!(
                "https://viettelpost.com.vn/tra-cuu-hanh-trinh-don/?code={number}"
            )),
            Self::Ghn => Some(format!("https://donhang.ghn.vn/?order_code={number}")),
            Self::Ghtk => Some(format!("https://i.ghtk.vn/{number}")),
            Self::Jt => Some(format!(
                "https://jtexpress.vn/vi/tracking?type=track&billcode={number}"
            )),
            Self::Other => None,
        }
    }
}

/// The tracking page of a stored carrier name and number, when the carrier is known.
pub fn tracking_link(carrier: &str, tracking_number: &str) -> Option<String> {
    Carrier::recognise(carrier)?.tracking_url(tracking_number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carriers_link_to_their_tracking_pages() {
        assert_eq!(
            tracking_link("GHN", "GHN 123-456"),
            Some("https://donhang.ghn.vn/?order_code=GHN123456".into())
        );
        assert_eq!(
            tracking_link("Giao Hàng Tiết Kiệm", "S1.2"),
            Some("https://i.ghtk.vn/S12".into())
        );
        assert!(tracking_link("viettel_post", "VTP1").is_some());
        assert!(tracking_link("J&T", "JT1").is_some());
        assert!(tracking_link("VNPost", "EE1VN").is_some());
        assert_eq!(tracking_link("other", "X1"), None);
        assert_eq!(tracking_link("Xe khách Sao Việt", "X1"), None);
        assert_eq!(tracking_link("ghn", "--"), None);
        for carrier in Carrier::ALL.iter().copied() {
            assert_eq!(Carrier::recognise(carrier.as_str()), Some(carrier));
        }
    }
}
