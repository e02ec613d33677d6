//! The verdict of a scan, for the scan page and the API alike: which stamp a scanned URL names,
//! who is scanning, and the judgement of the scan against the stamp's history (recorded by
//! [`ScanService`], whose documentation describes copy detection).
//!
//! A stamp URL names a stamp only when every part of it checks out: a signed URL whose
//! signature does not verify, or a GS1 Digital Link whose GTIN has a wrong check digit, names
//! nothing, whatever code it carries. Shared places are kept coarse: a province code only if it
//! is one, a position rounded to about a kilometre.

use std::net::IpAddr;
use std::sync::Arc;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::origin::{OriginView, StampRecord, TraceCache};
use super::scans::client_class;
use super::scans::{ClientHasher, ClientKey, ScanInput, ScanService, StampFacts, Verdict};
use super::signing::{KeyRing, SignedParts, StampSigner};
use crate::domain::{Gtin, LotCode, StampCode};
use crate::entities::{batches, stamps};
use crate::error::AppResult;
use crate::http::client::Network;
use crate::reference::ReferenceData;

/// A scan page's client: the scan as far as the client goes (no place yet), and the value of
/// the client cookie to set when the client is seen for the first time.
pub struct PageClient {
    pub input: ScanInput,
    pub new_cookie: Option<String>,
}

/// Who is scanning the page: the key from the client cookie, or, for a client seen for the
/// first time (or whose cookie is not ours), a new random key to set as its cookie. The network
/// goes with it (see [`ScanService`] for why both count); the user agent only classes the client.
pub fn identify_page_client(
    hasher: &ClientHasher,
    cookie: Option<&str>,
    client: IpAddr,
    user_agent: &str,
) -> PageClient {
    let (key, new_cookie) = match cookie.and_then(|c| hasher.from_cookie(c)) {
        Some(key) => (key, None),
        None => {
            let key = hasher.new_client();
            (key, Some(hasher.cookie_for(key)))
        }
    };
    PageClient {
        input: unplaced(hasher, key, client, user_agent),
        new_cookie,
    }
}

/// Who is scanning through the API: the app installation by its own stable id (8 to 64
/// characters) if it sends one, else a new client. The id is not trusted for counting: a checker
/// is also its network, so an app inventing ids on one network is one checker.
pub fn identify_app_client(
    hasher: &ClientHasher,
    client_id: Option<&str>,
    client: IpAddr,
    user_agent: &str,
) -> ScanInput {
    let key = match client_id.filter(|c| (8..=64).contains(&c.len())) {
        Some(id) => hasher.of_cookie(id),
        None => hasher.new_client(),
    };
    unplaced(hasher, key, client, user_agent)
}

fn unplaced(hasher: &ClientHasher, client: ClientKey, ip: IpAddr, user_agent: &str) -> ScanInput {
    ScanInput {
        client,
        network: hasher.network(Network::of(ip)),
        client_class: client_class(user_agent),
        province_code: None,
        position: None,
    }
}

/// Adds what the person chose to share: the province where they bought the package (kept only
/// if it is a province code) and their position (kept only when both coordinates are in range).
pub fn add_place(
    reference: &ReferenceData,
    input: &mut ScanInput,
    province: Option<&str>,
    lat: Option<f64>,
    lon: Option<f64>,
) {
    input.province_code = province
        .filter(|c| reference.province(c).is_some())
        .map(str::to_owned);
    let coordinate = |v: Option<f64>, limit: f64| {
        v.filter(|x| x.is_finite() && x.abs() <= limit)
            // About a kilometre: enough to tell provinces apart, not enough to find a house.
            .map(|x| (x * 100.0).round() / 100.0)
    };
    input.position = coordinate(lat, 90.0).zip(coordinate(lon, 180.0));
}

/// Judges one scan: the verdict, the origin and the stamp, or `None` for an unknown code.
pub async fn judge(
    cache: &TraceCache,
    reference: &ReferenceData,
    scans: &ScanService,
    code: &StampCode,
    input: ScanInput,
) -> AppResult<(Verdict, Option<(StampRecord, Arc<OriginView>)>)> {
    let Some(stamp) = cache.stamp(code.as_str()).await? else {
        scans.record_unknown(code.as_str(), input).await?;
        return Ok((Verdict::Unknown, None));
    };
    let Some(origin) = cache.origin(reference, stamp.batch_id).await? else {
        return Ok((Verdict::Unknown, None));
    };
    let facts = StampFacts {
        id: stamp.id,
        cooperative_id: stamp.cooperative_id,
        code: stamp.code.clone(),
        void_reason: stamp.void_reason,
        not_vouched: origin.not_vouched,
        recall: origin.recall.clone(),
        counters: stamp.counters,
    };
    let verdict = scans.record(&facts, input).await?;
    Ok((verdict, Some((stamp, origin))))
}

/// A stamp's serial and origin, without counting a scan (to show the page again beside a
/// report); `None` for an unknown code.
pub async fn origin_without_scan(
    cache: &TraceCache,
    reference: &ReferenceData,
    code: &StampCode,
) -> AppResult<Option<(i64, Arc<OriginView>)>> {
    Ok(match cache.stamp(code.as_str()).await? {
        Some(stamp) => cache
            .origin(reference, stamp.batch_id)
            .await?
            .map(|o| (stamp.serial, o)),
        None => None,
    })
}

/// The stamp a signed URL names, if its signature checks out.
pub async fn resolve_signed(
    db: &impl ConnectionTrait,
    signer: &StampSigner,
    public_url: &str,
    parts: &SignedParts<'_>,
) -> AppResult<Option<StampCode>> {
    let ring = KeyRing::single(signer);
    // Keys of earlier secrets are in the database; the current one verifies nearly every stamp.
    let verified = match ring.verify(parts) {
        Ok(v) => Some(v),
        Err(_) => {
            let keys = super::signing::published_keys(db, signer, public_url).await?;
            KeyRing::from_published(&keys)
                .ok()
                .and_then(|r| r.verify(parts).ok())
        }
    };
    // A URL whose signature does not check out is not ours, whatever code it carries.
    Ok(verified.map(|v| v.code))
}

/// The stamp a GS1 Digital Link names.
#[derive(Debug, Clone)]
pub struct LinkedStamp {
    pub code: StampCode,
    /// Whether the link itself carries the code (the serial *is* the stamp's random code), so
    /// that showing it tells the visitor nothing they did not hold. Links made with the short
    /// printed number instead (`…/21/42`, the form of early labels) never show the code: GTIN
    /// and lot are public, so walking numbers must not reveal unsold codes.
    pub code_in_link: bool,
}

/// The stamp a GS1 Digital Link `/01/{gtin}/10/{lot}/21/{serial}` names, if any. The serial is
/// the stamp's code (AI 21 takes up to 20 alphanumerics), or, on early labels, its printed
/// number. Only a GTIN owned by a product reaches anything (GTINs go only to verified
/// cooperatives, see `catalog::gtins`); a wrong check digit, another lot or another product's
/// code names nothing.
pub async fn resolve_digital_link(
    db: &impl ConnectionTrait,
    gtin: &str,
    lot: &str,
    serial: &str,
) -> AppResult<Option<LinkedStamp>> {
    let (Ok(gtin), Ok(lot)) = (Gtin::parse(gtin), LotCode::parse(lot)) else {
        return Ok(None);
    };
    let by_code = StampCode::parse(serial).ok();
    let by_number = match by_code {
        Some(_) => None,
        None => match serial.parse::<i64>() {
            Ok(number) if serial.len() <= 12 => Some(number),
            _ => return Ok(None),
        },
    };
    let Some((product, variant)) = crate::catalog::gtins::trade_item(db, &gtin).await? else {
        return Ok(None);
    };
    // The GTIN names one size: a batch of another size is not reached through it.
    let Some(batch) = batches::Entity::find()
        .filter(batches::Column::ProductId.eq(product.id))
        .filter(batches::Column::LotCode.eq(lot.as_str()))
        .one(db)
        .await?
        .filter(|b| b.variant_id.is_none_or(|id| id == variant.id))
    else {
        return Ok(None);
    };
    let stamp = stamps::Entity::find().filter(stamps::Column::BatchId.eq(batch.id));
    let stamp = match (&by_code, by_number) {
        (Some(code), _) => stamp.filter(stamps::Column::Code.eq(code.as_str())),
        (None, Some(number)) => stamp.filter(stamps::Column::Serial.eq(number)),
        (None, None) => return Ok(None),
    };
    Ok(stamp
        .one(db)
        .await?
        .and_then(|s| StampCode::parse(&s.code).ok())
        .map(|code| LinkedStamp {
            code,
            code_in_link: by_code.is_some(),
        }))
}
