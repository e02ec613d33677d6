//! What a scan page shows about a package: product, cooperative, place, batch dates, OCOP
//! certificate and trace timeline, and the caches that let the scan page answer without the
//! database.
//!
//! - Stamps are cached by code for [`STAMP_TTL`] (ten minutes, up to [`MAX_STAMPS`]): a
//!   stamp's record only changes when it is voided, and voids are watched for
//!   ([`TraceCache::catch_up_voids`]), at once by the server that voided them and every second
//!   by the others. A code no stamp has is remembered for [`TTL`]. The codes that concurrent
//!   scans miss are read together ([`StampLoader`]).
//! - Origins are built from several tables and cached per batch for [`TTL`]; when one is due,
//!   one request reloads it while the others keep answering with the current one, so a busy
//!   batch never sends a crowd of requests to the database at once.
//! - The scan page's skeleton ([`Skeleton`]) is kept per batch and language for as long as
//!   the origin it was rendered from.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use sea_orm::sea_query::{Asterisk, Expr, Func};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use tokio::sync::{mpsc, oneshot};

use super::events::{self, EventView};
use super::scans::{NotVouchedReason, RecallNotice, ScanCounters};
use super::{StampStatus, VoidReason};
use crate::catalog::certificates;
use crate::catalog::views::{CertificateView, OcopBadge, PlaceView};
use crate::catalog::{CooperativeStatus, ProductStatus};
use crate::entities::{batches, cooperatives, products, stamps};
use crate::error::AppResult;
use crate::http::skeleton::Skeleton;
use crate::i18n::Lang;
use crate::reference::ReferenceData;

/// How long an origin (or the absence of a stamp) is trusted: an edit made on another app
/// server shows here after at most this long.
pub const TTL: Duration = Duration::from_secs(15);
const MAX_STAMPS: usize = 500_000;
/// How long a stamp is kept before it is read again, should the void watch ever have missed
/// a void (a watch down for longer than [`VOID_WINDOW`], clocks further apart than that).
const STAMP_TTL: Duration = Duration::from_secs(600);
const MAX_UNKNOWN: usize = 100_000;
const MAX_ORIGINS: usize = 50_000;
/// Skeletons are some 18 KB each: the busiest batches' pages, not every batch's.
const MAX_PAGES: usize = 4_096;
/// How far back the void watch looks. A void is seen as long as its statement committed (and
/// the clocks of the app servers agree) within this long of the time it carries.
const VOID_WINDOW: Duration = Duration::from_secs(300);
/// A void of more stamps than this empties the stamp cache instead of naming each code.
const VOID_CODES_MAX: i64 = 2_000;

/// A stamp as the scan page needs it.
#[derive(Debug, Clone)]
pub struct StampRecord {
    pub id: i64,
    pub batch_id: i64,
    pub cooperative_id: i64,
    pub serial: i64,
    pub code: String,
    pub void_reason: Option<VoidReason>,
    pub signature: Option<String>,
    /// The scan counters, only on the copy handed out when the row was just read (the cached
    /// copy leaves them out: they change with every scan).
    pub counters: Option<ScanCounters>,
}

impl StampRecord {
    fn from_model(stamp: &stamps::Model) -> Self {
        let voided = stamp.status == StampStatus::Voided.as_str();
        Self {
            id: stamp.id,
            batch_id: stamp.batch_id,
            cooperative_id: stamp.cooperative_id,
            serial: stamp.serial,
            code: stamp.code.clone(),
            void_reason: voided.then(|| {
                stamp
                    .void_reason
                    .as_deref()
                    .and_then(VoidReason::parse)
                    .unwrap_or(VoidReason::Other)
            }),
            signature: stamp.signature.clone(),
            counters: Some(ScanCounters::of(stamp)),
        }
    }
}

/// The origin of one batch.
#[derive(Debug, Clone)]
pub struct OriginView {
    pub product_id: i64,
    pub cooperative_id: i64,
    /// Why the province does not vouch for this batch's stamps now, if it does not: the
    /// cooperative is not verified or is suspended, or the product is off sale.
    pub not_vouched: Option<NotVouchedReason>,
    /// The lot's recall, if it was ever recalled: every stamp of the batch reads "recalled".
    pub recall: Option<RecallNotice>,
    pub product_name: String,
    pub product_slug: String,
    pub product_is_public: bool,
    /// The product's cover photo, so the buyer can compare it with the package in hand.
    pub photo: Option<crate::media::PhotoImage>,
    pub unit: String,
    pub gtin: Option<String>,
    pub category_vi: String,
    pub category_en: String,
    pub cooperative_name: String,
    pub cooperative_slug: String,
    pub cooperative_phone: String,
    pub place: PlaceView,
    pub lot_code: String,
    pub harvested_on: Option<NaiveDate>,
    pub produced_on: Option<NaiveDate>,
    pub best_before: Option<NaiveDate>,
    pub quantity: i64,
    pub quantity_unit: String,
    pub certifications: String,
    pub certificate: Option<CertificateView>,
    pub badge: Option<OcopBadge>,
    pub events: Vec<EventView>,
}

/// The scan page's caches: stamps by code, origins by batch, page skeletons by batch and
/// language.
pub struct TraceCache {
    db: DatabaseConnection,
    loader: StampLoader,
    stamps: DashMap<String, (Instant, StampRecord)>,
    unknown: DashMap<String, Instant>,
    origins: DashMap<i64, (Instant, Arc<OriginView>)>,
    pages: DashMap<(i64, Lang), PageEntry>,
    voids: tokio::sync::Mutex<VoidWatch>,
    /// The recalls made or cleared lately whose origins were forgotten: batch → time.
    recalls: tokio::sync::Mutex<HashMap<i64, DateTime<Utc>>>,
    /// Void groups applied so far.
    voids_applied: AtomicU64,
    /// Times origins were forgotten: an origin read before a forget is not kept after it.
    origin_forgets: AtomicU64,
}

/// A page skeleton (`None` when one could not be made) and the origin it was rendered from.
type PageEntry = (Arc<OriginView>, Option<Arc<Skeleton>>);

/// The voids already applied: each void statement gives all its stamps one `voided_at`, so a
/// void is a (time, count) group.
#[derive(Default)]
struct VoidWatch {
    applied: HashMap<DateTime<Utc>, i64>,
}

impl TraceCache {
    /// Empty caches, and the task that reads stamps for them (so: within a Tokio runtime).
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            loader: StampLoader::start(db.clone()),
            db,
            stamps: DashMap::new(),
            unknown: DashMap::new(),
            origins: DashMap::new(),
            pages: DashMap::new(),
            voids: tokio::sync::Mutex::default(),
            recalls: tokio::sync::Mutex::default(),
            voids_applied: AtomicU64::new(0),
            origin_forgets: AtomicU64::new(0),
        }
    }

    /// The stamp with this (normalised) code, or `None` when no stamp has it.
    pub async fn stamp(&self, code: &str) -> AppResult<Option<StampRecord>> {
        if let Some(entry) = self.stamps.get(code)
            && entry.0.elapsed() < STAMP_TTL
        {
            return Ok(Some(entry.1.clone()));
        }
        if let Some(seen) = self.unknown.get(code)
            && seen.elapsed() < TTL
        {
            return Ok(None);
        }
        let voids_before = self.voids_applied.load(Ordering::SeqCst);
        let found = self
            .loader
            .find(code)
            .await?
            .map(|s| StampRecord::from_model(&s));
        match &found {
            Some(stamp) => {
                make_room(&self.stamps, MAX_STAMPS);
                // A void applied while the row was being read may not be in what was read, and
                // its codes were removed before this one was kept: keep it only if no void was
                // applied meanwhile. The check holds the entry's lock, which the removal needs.
                let cached = StampRecord {
                    counters: None,
                    ..stamp.clone()
                };
                match self.stamps.entry(code.to_owned()) {
                    _ if self.voids_applied.load(Ordering::SeqCst) != voids_before => {}
                    Entry::Vacant(slot) => {
                        slot.insert((Instant::now(), cached));
                    }
                    // Due for a read again: this was it.
                    Entry::Occupied(mut kept) if kept.get().0.elapsed() >= STAMP_TTL => {
                        kept.insert((Instant::now(), cached));
                    }
                    Entry::Occupied(_) => {}
                }
            }
            None => {
                make_room(&self.unknown, MAX_UNKNOWN);
                self.unknown.insert(code.to_owned(), Instant::now());
            }
        }
        Ok(found)
    }

    /// Forgets the codes found to be unknown (stamps were issued: one may be among them).
    pub fn forget_unknown(&self) {
        self.unknown.clear();
    }

    /// Forgets every cached stamp, unknown code and origin.
    pub fn forget_everything(&self) {
        self.voids_applied.fetch_add(1, Ordering::SeqCst);
        self.stamps.clear();
        self.unknown.clear();
        self.forget_origins_where(|_, _| true);
    }

    /// Forgets the origin of one batch (its details or trace events changed).
    pub fn forget_origin(&self, batch_id: i64) {
        self.forget_origins_where(|batch, _| batch == batch_id);
    }

    /// Forgets the origins of a product's batches (the product changed: its name, status,
    /// photo, certificate).
    pub fn forget_origins_of_product(&self, product_id: i64) {
        self.forget_origins_where(|_, origin| origin.product_id == product_id);
    }

    /// Forgets the origins of a cooperative's batches (renamed, verified, suspended).
    pub fn forget_origins_of_cooperative(&self, cooperative_id: i64) {
        self.forget_origins_where(|_, origin| origin.cooperative_id == cooperative_id);
    }

    /// Drops cached origins; the page skeletons rendered from them go out of use with them
    /// (see [`Self::page`]).
    fn forget_origins_where(&self, matches: impl Fn(i64, &OriginView) -> bool) {
        self.origin_forgets.fetch_add(1, Ordering::SeqCst);
        self.origins
            .retain(|batch, (_, origin)| !matches(*batch, origin));
        self.pages
            .retain(|(batch, _), (origin, _)| !matches(*batch, origin));
    }

    /// Forgets the stamps voided lately (see [`Self::catch_up_voids`]): called by the server
    /// that voided them, at once, and by the void watch every second. Should it fail, the next
    /// round of the watch catches up.
    pub async fn forget_voided(&self) {
        if let Err(err) = self.catch_up_voids().await {
            tracing::warn!(error = %err, "checking for voided stamps failed");
        }
    }

    /// Applies the voids made since the last call, here or on another app server: the voided
    /// stamps leave the cache, so their next scan reads them voided. One indexed query (over
    /// voided stamps only) when nothing was voided.
    async fn catch_up_voids(&self) -> Result<(), DbErr> {
        let db = &self.db;
        let mut watch = self.voids.lock().await;
        let window = chrono::Duration::from_std(VOID_WINDOW).unwrap_or_default();
        let since = Utc::now() - window;
        let groups: Vec<(Option<DateTime<Utc>>, i64)> = stamps::Entity::find()
            .select_only()
            .column(stamps::Column::VoidedAt)
            .column_as(Expr::from(Func::count(Expr::col(Asterisk))), "stamps")
            .filter(stamps::Column::VoidedAt.gt(since))
            .group_by(stamps::Column::VoidedAt)
            .into_tuple()
            .all(db)
            .await?;
        watch.applied.retain(|at, _| *at > since);
        for (at, count) in groups {
            let Some(at) = at else { continue };
            if watch.applied.get(&at) == Some(&count) {
                continue;
            }
            // Counted before the codes are removed: see `stamp`.
            self.voids_applied.fetch_add(1, Ordering::SeqCst);
            if count > VOID_CODES_MAX {
                self.stamps.clear();
            } else {
                let codes: Vec<String> = stamps::Entity::find()
                    .select_only()
                    .column(stamps::Column::Code)
                    .filter(stamps::Column::VoidedAt.eq(at))
                    .into_tuple()
                    .all(db)
                    .await?;
                for code in codes {
                    self.stamps.remove(&code);
                }
            }
            watch.applied.insert(at, count);
        }
        Ok(())
    }

    /// Forgets the origins of lots recalled or cleared lately, here or on another app server:
    /// called every second by the watch, so a recall reaches every server's scans within a
    /// second even when the change feed (Redis) did not tell it. One small query.
    pub async fn forget_recalled(&self) {
        if let Err(err) = self.catch_up_recalls().await {
            tracing::warn!(error = %err, "checking for recalled lots failed");
        }
    }

    async fn catch_up_recalls(&self) -> Result<(), DbErr> {
        let mut seen = self.recalls.lock().await;
        let window = chrono::Duration::from_std(VOID_WINDOW).unwrap_or_default();
        let since = Utc::now() - window;
        let changed = super::recalls::changed_since(&self.db, since).await?;
        seen.retain(|_, at| *at > since);
        for (batch_id, at) in changed {
            if seen.get(&batch_id) != Some(&at) {
                self.forget_origin(batch_id);
                seen.insert(batch_id, at);
            }
        }
        Ok(())
    }

    /// The origin of a batch, or `None` when the batch (or its product) does not exist.
    pub async fn origin(
        &self,
        reference: &ReferenceData,
        batch_id: i64,
    ) -> AppResult<Option<Arc<OriginView>>> {
        if let Some(entry) = self.origins.get(&batch_id)
            && entry.0.elapsed() < TTL
        {
            return Ok(Some(entry.1.clone()));
        }
        // Due or absent. When due, the first request to get here claims the reload by
        // restarting the clock; the others answer with the view they have meanwhile.
        let current = match self.origins.get_mut(&batch_id) {
            Some(entry) if entry.0.elapsed() < TTL => return Ok(Some(entry.1.clone())),
            Some(mut entry) => {
                entry.0 = Instant::now();
                Some(entry.1.clone())
            }
            None => None,
        };
        let forgets_before = self.origin_forgets.load(Ordering::SeqCst);
        let loaded = match load_origin(&self.db, reference, batch_id).await {
            Ok(loaded) => loaded,
            // The view in use answers for another while rather than failing the scan.
            Err(err) => return current.map(Some).ok_or(err),
        };
        let Some(view) = loaded else {
            self.origins.remove(&batch_id);
            return Ok(None);
        };
        let view = Arc::new(view);
        make_room(&self.origins, MAX_ORIGINS);
        self.origins
            .insert(batch_id, (Instant::now(), view.clone()));
        // Forgotten while it was read: it may predate the change (see the product cache).
        if self.origin_forgets.load(Ordering::SeqCst) != forgets_before {
            self.origins.remove(&batch_id);
        }
        Ok(Some(view))
    }

    /// The page skeleton of a batch in a language, rendered by `render` from `origin` unless
    /// one rendered from that same origin is kept.
    pub fn page(
        &self,
        batch_id: i64,
        lang: Lang,
        origin: &Arc<OriginView>,
        render: impl FnOnce() -> AppResult<Option<Skeleton>>,
    ) -> AppResult<Option<Arc<Skeleton>>> {
        if let Some(entry) = self.pages.get(&(batch_id, lang))
            && Arc::ptr_eq(&entry.0, origin)
        {
            return Ok(entry.1.clone());
        }
        let skeleton = render()?.map(Arc::new);
        make_room(&self.pages, MAX_PAGES);
        self.pages
            .insert((batch_id, lang), (origin.clone(), skeleton.clone()));
        Ok(skeleton)
    }
}

/// Reads stamps by code for many scans at once. Concurrent first checks of different packages
/// each miss the cache; rather than a query each, the codes waiting are read together, in one
/// statement whose text does not change with their number. Alone, a lookup is one query as
/// before.
struct StampLoader {
    lookups: mpsc::Sender<Lookup>,
}

struct Lookup {
    code: String,
    answer: oneshot::Sender<Result<Option<stamps::Model>, DbErr>>,
}

/// Most codes read in one statement.
const LOOKUP_BATCH: usize = 256;
/// Statements reading stamps at the same time.
const LOOKUPS_IN_FLIGHT: usize = 4;

impl StampLoader {
    fn start(db: DatabaseConnection) -> Self {
        let (lookups, waiting) = mpsc::channel(LOOKUP_BATCH * LOOKUPS_IN_FLIGHT * 4);
        tokio::spawn(run_stamp_loader(db, waiting));
        Self { lookups }
    }

    async fn find(&self, code: &str) -> Result<Option<stamps::Model>, DbErr> {
        let (answer, answered) = oneshot::channel();
        let lookup = Lookup {
            code: code.to_owned(),
            answer,
        };
        let stopped = || DbErr::Custom("the stamp loader has stopped".into());
        self.lookups.send(lookup).await.map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }
}

/// Takes the lookups waiting (all of them, up to [`LOOKUP_BATCH`]) as soon as a statement may
/// start, and answers each from one query.
async fn run_stamp_loader(db: DatabaseConnection, mut waiting: mpsc::Receiver<Lookup>) {
    let in_flight = Arc::new(tokio::sync::Semaphore::new(LOOKUPS_IN_FLIGHT));
    loop {
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let mut batch = Vec::with_capacity(LOOKUP_BATCH);
        if waiting.recv_many(&mut batch, LOOKUP_BATCH).await == 0 {
            return;
        }
        let db = db.clone();
        tokio::spawn(async move {
            let codes: Vec<&str> = batch.iter().map(|l| l.code.as_str()).collect();
            match stamps_with_codes(&db, &codes).await {
                Ok(found) => {
                    let by_code: HashMap<&str, &stamps::Model> =
                        found.iter().map(|s| (s.code.as_str(), s)).collect();
                    for lookup in batch {
                        let stamp = by_code.get(lookup.code.as_str()).map(|&s| s.clone());
                        let _ = lookup.answer.send(Ok(stamp));
                    }
                }
                Err(err) => {
                    let message = err.to_string();
                    for lookup in batch {
                        let _ = lookup.answer.send(Err(DbErr::Custom(message.clone())));
                    }
                }
            }
            drop(permit);
        });
    }
}

/// The stamps with any of `codes`, which travel as one JSON array.
async fn stamps_with_codes(
    db: &DatabaseConnection,
    codes: &[&str],
) -> Result<Vec<stamps::Model>, DbErr> {
    let codes = serde_json::to_string(codes).map_err(|e| DbErr::Custom(e.to_string()))?;
    // sea-query writes the value where the backend's placeholder stands: `$1` or `?`.
    let among = match db.get_database_backend() {
        DbBackend::Postgres => "code IN (SELECT json_array_elements_text($1::json))",
        // SQLite is the only other backend this build connects to.
        _ => "code IN (SELECT value FROM json_each(?))",
    };
    stamps::Entity::find()
        .filter(Expr::cust_with_values(among, [codes]))
        .all(db)
        .await
}

/// Bounds a cache's memory: a full map starts afresh, and its entries are read again.
fn make_room<K: Eq + std::hash::Hash, V>(map: &DashMap<K, V>, most: usize) {
    if map.len() >= most {
        map.clear();
    }
}

/// Applies voids and recalls made on other app servers every second until the task is
/// aborted.
pub fn spawn_void_watch(cache: Arc<TraceCache>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_secs(1));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            cache.forget_voided().await;
            cache.forget_recalled().await;
        }
    })
}

async fn load_origin(
    db: &impl ConnectionTrait,
    reference: &ReferenceData,
    batch_id: i64,
) -> AppResult<Option<OriginView>> {
    let Some(batch) = batches::Entity::find_by_id(batch_id).one(db).await? else {
        return Ok(None);
    };
    let Some((product, Some(coop))) = products::Entity::find_by_id(batch.product_id)
        .find_also_related(cooperatives::Entity)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let today = crate::clock::today_in_vietnam();
    let certificate = certificates::current_verified(db, product.id)
        .await?
        .map(|c| CertificateView::new(&c, today));
    let category = reference.category(&product.category_code);
    let not_vouched = match CooperativeStatus::parse(&coop.status) {
        Some(CooperativeStatus::Verified) => (product.status != ProductStatus::Published.as_str())
            .then_some(NotVouchedReason::ProductWithdrawn),
        Some(CooperativeStatus::Suspended) => Some(NotVouchedReason::CooperativeSuspended),
        _ => Some(NotVouchedReason::CooperativeNotVerified),
    };
    Ok(Some(OriginView {
        product_id: product.id,
        cooperative_id: coop.id,
        not_vouched,
        recall: super::recalls::notice_of_batch(db, batch.id).await?,
        product_is_public: crate::catalog::products::is_public(&product, &coop),
        photo: crate::media::PhotoImage::cover_of(&product),
        badge: OcopBadge::of(&product, today),
        product_name: product.name.clone(),
        product_slug: product.slug.clone(),
        unit: crate::catalog::variants::label_of(db, &product, batch.variant_id).await?,
        gtin: crate::catalog::variants::gtin_of_variant(db, &product, batch.variant_id)
            .await?
            .map(|g| g.strip_prefix('0').map(str::to_owned).unwrap_or(g)),
        category_vi: category.map(|c| c.name_vi.clone()).unwrap_or_default(),
        category_en: category.map(|c| c.name_en.clone()).unwrap_or_default(),
        cooperative_name: coop.name.clone(),
        cooperative_slug: coop.slug.clone(),
        cooperative_phone: coop.contact_phone.clone(),
        place: PlaceView::new(reference, &batch.origin_commune_code),
        lot_code: batch.lot_code.clone(),
        harvested_on: batch.harvested_on,
        produced_on: batch.produced_on,
        best_before: batch.best_before,
        quantity: batch.quantity,
        quantity_unit: batch.quantity_unit.clone(),
        certifications: batch.certifications.clone(),
        certificate,
        events: events::of_batch(db, reference, batch.id).await?,
    }))
}

/// How many batches a product page shows under "origin".
pub const RECENT_BATCHES: u64 = 3;

/// The origins of a product's most recent batches, as its page shows them before a purchase:
/// the same views the scan page uses (lot, dates, place, certifications, trace timeline),
/// which carry nothing of any stamp.
pub async fn recent_of_product(
    cache: &TraceCache,
    db: &impl ConnectionTrait,
    reference: &ReferenceData,
    product_id: i64,
) -> AppResult<Vec<Arc<OriginView>>> {
    let batch_ids: Vec<i64> = batches::Entity::find()
        .select_only()
        .column(batches::Column::Id)
        .filter(batches::Column::ProductId.eq(product_id))
        .order_by_desc(batches::Column::Id)
        .limit(RECENT_BATCHES)
        .into_tuple()
        .all(db)
        .await?;
    let mut origins = Vec::with_capacity(batch_ids.len());
    for batch_id in batch_ids {
        if let Some(origin) = cache.origin(reference, batch_id).await? {
            origins.push(origin);
        }
    }
    Ok(origins)
}
