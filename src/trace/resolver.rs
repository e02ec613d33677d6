//! The GS1 Digital Link resolver: what a trade item (`/01/{gtin}`), one of its lots
//! (`/01/{gtin}/10/{lot}`) and one stamp (`/01/{gtin}/10/{lot}/21/{serial}`) point to, as the
//! pages and the RFC 9264 linksets of a GS1-conformant resolver (GS1-Conformant Resolver
//! Standard 1.1) name them.
//!
//! - A GTIN reaches its product and size only through [`crate::catalog::gtins::trade_item`]:
//!   an unowned, pending or disputed GTIN names nothing.
//! - A lot is a batch of that product and size with that lot code.
//! - Nothing here reads or counts a stamp: the stamp form's links point to the lot and product
//!   pages, and to the address the visitor already holds; never to another address with a code.
//! - Only pages that exist are named: the product page only while the product is on sale,
//!   certification information only when the product has a verified OCOP certificate (or the
//!   lot lists certifications), the product's origin section only when it has a lot.

use std::sync::Arc;

use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Map, Value, json};

use super::origin::{OriginView, TraceCache};
use crate::domain::{DigitalLink, Gtin, LotCode};
use crate::entities::{batches, cooperatives, product_variants, products};
use crate::error::AppResult;
use crate::i18n::Messages;
use crate::reference::ReferenceData;

crate::domain::text_enum! {
    /// The GS1 link types this resolver answers (GS1 Web vocabulary).
    LinkType {
        Pip => "pip",
        Traceability => "traceability",
        CertificationInfo => "certificationInfo",
        RecallStatus => "recallStatus",
        DefaultLink => "defaultLink",
    }
}

impl LinkType {
    /// The link type's URI, the key of its links in a linkset.
    pub fn uri(self) -> String {
        format!("https://gs1.org/voc/{}", self.as_str())
    }

    /// A `linkType` query value: `gs1:pip` or `https://gs1.org/voc/pip`.
    pub fn from_query(value: &str) -> Option<Self> {
        let name = value
            .strip_prefix("gs1:")
            .or_else(|| value.strip_prefix("https://gs1.org/voc/"))
            .or_else(|| value.strip_prefix("http://gs1.org/voc/"))?;
        Self::parse(name)
    }
}

/// What a resolver request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The page (a person's browser).
    Page,
    /// The linkset: `Accept: application/linkset+json`, or `linkType=linkset` (or `all`).
    Linkset,
    /// A redirect to the link of this type (`linkType=gs1:pip`…); `None` for a type this
    /// resolver does not know, which goes to the default link.
    Link(Option<LinkType>),
}

/// What a request asks for, from whether it accepts a linkset and its `linkType`.
pub fn negotiate(accepts_linkset: bool, link_type: Option<&str>) -> Answer {
    match link_type {
        Some("linkset" | "all") => Answer::Linkset,
        Some(other) => Answer::Link(LinkType::from_query(other)),
        None if accepts_linkset => Answer::Linkset,
        None => Answer::Page,
    }
}

/// One link of a linkset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub link_type: LinkType,
    /// Absolute.
    pub href: String,
    pub title: String,
}

/// What a GTIN names: the product, the size, and what the resolver may say of them.
#[derive(Debug, Clone)]
pub struct TradeItem {
    pub gtin: Gtin,
    pub product: products::Model,
    pub variant: product_variants::Model,
    /// The product is on sale (its page exists).
    pub public: bool,
    /// The product has a verified OCOP certificate.
    pub certified: bool,
}

/// The trade item a GTIN names, or `None` when no product owns it.
pub async fn trade_item(db: &impl ConnectionTrait, gtin: &Gtin) -> AppResult<Option<TradeItem>> {
    let Some((product, variant)) = crate::catalog::gtins::trade_item(db, gtin).await? else {
        return Ok(None);
    };
    let public = match cooperatives::Entity::find_by_id(product.cooperative_id)
        .one(db)
        .await?
    {
        Some(coop) => crate::catalog::products::is_public(&product, &coop),
        None => false,
    };
    let certified = crate::catalog::certificates::current_verified(db, product.id)
        .await?
        .is_some();
    Ok(Some(TradeItem {
        gtin: gtin.clone(),
        product,
        variant,
        public,
        certified,
    }))
}

/// The batch of the trade item's product and size with this lot code. A batch recorded
/// before sizes existed is of the first size.
pub async fn lot_of(
    db: &impl ConnectionTrait,
    product_id: i64,
    variant_id: i64,
    lot: &LotCode,
) -> AppResult<Option<batches::Model>> {
    Ok(batches::Entity::find()
        .filter(batches::Column::ProductId.eq(product_id))
        .filter(batches::Column::LotCode.eq(lot.as_str()))
        .one(db)
        .await?
        .filter(|b| b.variant_id.is_none_or(|id| id == variant_id)))
}

/// Whether the trade item's size has any lot (the lots [`lot_of`] reaches).
pub async fn has_lots(db: &impl ConnectionTrait, item: &TradeItem) -> AppResult<bool> {
    let lots = batches::Entity::find()
        .filter(batches::Column::ProductId.eq(item.product.id))
        .filter(
            Condition::any()
                .add(batches::Column::VariantId.eq(item.variant.id))
                .add(batches::Column::VariantId.is_null()),
        )
        .count(db)
        .await?;
    Ok(lots > 0)
}

/// The trade item a GTIN names and the origin of its lot `lot`, or `None` when either is
/// unknown. Reads no stamp.
pub async fn resolve_lot(
    db: &impl ConnectionTrait,
    cache: &TraceCache,
    reference: &ReferenceData,
    gtin: &Gtin,
    lot: &LotCode,
) -> AppResult<Option<(TradeItem, Arc<OriginView>)>> {
    let Some(item) = trade_item(db, gtin).await? else {
        return Ok(None);
    };
    let Some(batch) = lot_of(db, item.product.id, item.variant.id, lot).await? else {
        return Ok(None);
    };
    Ok(cache
        .origin(reference, batch.id)
        .await?
        .map(|origin| (item, origin)))
}

fn base(public_url: &str) -> &str {
    public_url.trim_end_matches('/')
}

/// The product page with the trade item's size chosen.
pub fn product_path(item: &TradeItem) -> String {
    format!(
        "/products/{}?variant={}",
        item.product.slug, item.variant.id
    )
}

/// The canonical path of the trade item's Digital Link.
pub fn item_path(gtin: &Gtin) -> String {
    DigitalLink::new(gtin.clone()).path()
}

/// The canonical path of the Digital Link of one lot (its origin page).
pub fn lot_path(gtin: &Gtin, lot: &str) -> String {
    DigitalLink {
        lot: Some(lot.to_owned()),
        ..DigitalLink::new(gtin.clone())
    }
    .path()
}

/// The canonical path of a stamp's Digital Link, the serial as given.
pub fn stamp_path(gtin: &Gtin, lot: &str, serial: &str) -> String {
    DigitalLink {
        lot: Some(lot.to_owned()),
        serial: Some(serial.to_owned()),
        ..DigitalLink::new(gtin.clone())
    }
    .path()
}

/// An absolute address on this site.
pub fn absolute(public_url: &str, path: &str) -> String {
    format!("{}{path}", base(public_url))
}

fn pip(public_url: &str, item: &TradeItem) -> Option<Link> {
    item.public.then(|| Link {
        link_type: LinkType::Pip,
        href: format!("{}{}", base(public_url), product_path(item)),
        title: format!("{} · {}", item.product.name, item.variant.label),
    })
}

/// The links of `/01/{gtin}`: the product page (also the default), its certificate and its
/// origin section. Empty when the product is not on sale.
pub fn links_of_item(
    public_url: &str,
    t: &Messages,
    item: &TradeItem,
    has_lots: bool,
) -> Vec<Link> {
    let Some(pip) = pip(public_url, item) else {
        return Vec::new();
    };
    let mut links = vec![Link {
        link_type: LinkType::DefaultLink,
        ..pip.clone()
    }];
    if item.certified {
        links.push(Link {
            link_type: LinkType::CertificationInfo,
            href: format!("{}#certificate", pip.href),
            title: t.get("product.certificate").to_owned(),
        });
    }
    if has_lots {
        links.push(Link {
            link_type: LinkType::Traceability,
            href: format!("{}#origin", pip.href),
            title: t.get("origin.title").to_owned(),
        });
    }
    links.push(pip);
    links
}

/// The links of a lot's origin page at `lot_uri`: the page itself (default, traceability,
/// certifications, recall status) and the product page while it is on sale.
pub fn links_of_lot(
    public_url: &str,
    t: &Messages,
    item: &TradeItem,
    origin: &OriginView,
    lot_uri: &str,
) -> Vec<Link> {
    let title = format!("{} {}", t.get("batch.lot"), origin.lot_code);
    let mut links = vec![
        Link {
            link_type: LinkType::DefaultLink,
            href: lot_uri.to_owned(),
            title: title.clone(),
        },
        Link {
            link_type: LinkType::Traceability,
            href: format!("{lot_uri}#trace"),
            title: t.get("scan.timeline").to_owned(),
        },
    ];
    if item.certified || origin.certificate.is_some() || !origin.certifications.is_empty() {
        links.push(Link {
            link_type: LinkType::CertificationInfo,
            href: format!("{lot_uri}#certifications"),
            title: t.get("scan.certifications").to_owned(),
        });
    }
    links.push(Link {
        link_type: LinkType::RecallStatus,
        href: format!("{lot_uri}#recall"),
        title: t.get("lot.recall_title").to_owned(),
    });
    links.extend(pip(public_url, item));
    links
}

/// The links of a stamp's Digital Link `stamp_uri` (the address the visitor holds): its
/// verdict page (default), and the lot's and product's pages, none of which carries a code.
pub fn links_of_stamp(
    public_url: &str,
    t: &Messages,
    item: &TradeItem,
    origin: &OriginView,
    lot_uri: &str,
    stamp_uri: &str,
) -> Vec<Link> {
    let mut links = links_of_lot(public_url, t, item, origin, lot_uri);
    for link in &mut links {
        if link.link_type == LinkType::DefaultLink {
            link.href = stamp_uri.to_owned();
            link.title = t.get("lot.verify_title").to_owned();
        }
    }
    links
}

/// The linkset document (RFC 9264, JSON) of `anchor`: one context object whose keys are the
/// link types' URIs, in the order of [`LinkType::ALL`].
pub fn linkset(anchor: &str, links: &[Link]) -> Value {
    let mut context = Map::new();
    context.insert("anchor".into(), Value::String(anchor.to_owned()));
    for link_type in LinkType::ALL {
        let targets: Vec<Value> = links
            .iter()
            .filter(|l| l.link_type == *link_type)
            .map(|l| {
                json!({
                    "href": l.href,
                    "title": l.title,
                    "type": "text/html",
                    "hreflang": ["vi", "en"],
                })
            })
            .collect();
        if !targets.is_empty() {
            context.insert(link_type.uri(), Value::Array(targets));
        }
    }
    json!({ "linkset": [Value::Object(context)] })
}

/// The target of a `linkType` among `links`; a type the item does not have falls back to the
/// default link, as a GS1-conformant resolver does.
pub fn target(links: &[Link], link_type: Option<LinkType>) -> Option<&Link> {
    link_type
        .and_then(|wanted| links.iter().find(|l| l.link_type == wanted))
        .or_else(|| links.iter().find(|l| l.link_type == LinkType::DefaultLink))
}
