//! One stamp's scan state, and the verdict it gives a scan: the copy detection described in
//! [the module documentation](super).
//!
//! The state holds what a judgement needs, bounded ([`REMEMBERED_CLIENTS`] clients,
//! [`REMEMBERED_PLACES`] places); the database holds the whole history, from which a state is
//! rebuilt ([`StampState::load`]).

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use serde::Serialize;
use utoipa::ToSchema;

use super::client::{BOT, ClientKey};
use crate::entities::{scans, stamps};
use crate::trace::VoidReason;

/// Distinct clients from which a stamp counts as a likely copy: a sealed package is checked by
/// its buyer, perhaps by a relative, rarely by more.
pub const COPY_DISTINCT_CLIENTS: usize = 5;
/// Two shared positions of one package this far apart mean two packages: one is a copy. Far
/// enough that a buyer who scans at the market and again at home a district away is not flagged.
pub const FAR_APART_KM: f64 = 100.0;
/// Places (provinces, positions) remembered per stamp: two far-apart ones already decide.
const REMEMBERED_PLACES: usize = 8;
/// Client keys remembered per stamp (enough to decide; the database has them all).
const REMEMBERED_CLIENTS: usize = 64;

/// What a scan tells the person holding the package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Verdict {
    /// Genuine, and nobody checked it before.
    GenuineFirstCheck,
    /// Genuine; this same phone checked it first at `first_checked_at` and nobody else did.
    GenuineCheckedByYou { first_checked_at: DateTime<Utc> },
    /// Genuine code, but `other_checkers` other people checked it since `since`: a package
    /// sealed at purchase should not have been checked before.
    GenuineCheckedBefore {
        other_checkers: u32,
        since: DateTime<Utc>,
    },
    /// Checked by many people or in far-apart places: probably a copied code.
    LikelyCopy {
        other_checkers: u32,
        since: DateTime<Utc>,
        provinces: u32,
    },
    /// The cooperative voided this code.
    Voided { reason: VoidReason },
    /// No stamp has this code.
    Unknown,
}

impl Verdict {
    /// The short stable name stored with each scan.
    pub fn label(&self) -> &'static str {
        match self {
            Self::GenuineFirstCheck => "first",
            Self::GenuineCheckedByYou { .. } => "repeat_same",
            Self::GenuineCheckedBefore { .. } => "seen_before",
            Self::LikelyCopy { .. } => "likely_copy",
            Self::Voided { .. } => "voided",
            Self::Unknown => "unknown",
        }
    }
}

/// The stamp facts a scan needs.
#[derive(Debug, Clone)]
pub struct StampFacts {
    pub id: i64,
    pub cooperative_id: i64,
    pub code: String,
    pub void_reason: Option<VoidReason>,
    /// The stamp's scan counters, when its row was read from the database for this very scan
    /// (the stamp's first scan on this server): its history then starts from them without
    /// reading the row again.
    pub counters: Option<ScanCounters>,
}

/// A stamp's scan counters as stored on its row.
#[derive(Debug, Clone, Copy)]
pub struct ScanCounters {
    pub scans: i64,
    pub distinct_clients: i32,
    pub first_scanned_at: Option<DateTime<Utc>>,
    pub flagged: bool,
}

impl ScanCounters {
    pub fn of(stamp: &stamps::Model) -> Self {
        Self {
            scans: stamp.scan_count,
            distinct_clients: stamp.distinct_clients,
            first_scanned_at: stamp.first_scanned_at,
            flagged: stamp.flagged,
        }
    }
}

/// One scan as the page hands it over.
#[derive(Debug, Clone)]
pub struct ScanInput {
    pub client: ClientKey,
    pub client_class: &'static str,
    /// Province where the person says they bought it.
    pub province_code: Option<String>,
    /// Opt-in position, already rounded.
    pub position: Option<(f64, f64)>,
}

/// What judging one scan decided.
pub(super) struct Judgement {
    pub(super) verdict: Verdict,
    /// The same client had checked the stamp before.
    pub(super) repeat: bool,
    /// What the scan adds to its stamp's counters; `None` when it does not count (a bot).
    pub(super) counted: Option<Counted>,
}

/// A counted scan's share of its stamp's counters.
pub(super) struct Counted {
    /// Distinct clients after this scan (0 for a voided stamp: nothing is remembered of it).
    pub(super) distinct: u32,
    /// Why this scan flagged the stamp as a likely copy, if it did.
    pub(super) flag: Option<&'static str>,
}

/// What is remembered of one stamp's checks, to judge its next scan.
#[derive(Debug, Default)]
pub(super) struct StampState {
    first_at: Option<DateTime<Utc>>,
    clients: Vec<(ClientKey, DateTime<Utc>)>,
    distinct: u32,
    provinces: Vec<String>,
    positions: Vec<(f64, f64)>,
    flagged: bool,
}

impl StampState {
    /// The verdict of an active stamp for a client after `others` other people checked it,
    /// who checked it first at `mine` (if ever).
    fn verdict(&self, others: u32, mine: Option<DateTime<Utc>>) -> Verdict {
        let Some(since) = self.first_at else {
            return Verdict::GenuineFirstCheck;
        };
        if self.flagged {
            Verdict::LikelyCopy {
                other_checkers: others,
                since,
                provinces: self.provinces.len() as u32,
            }
        } else if others > 0 {
            Verdict::GenuineCheckedBefore {
                other_checkers: others,
                since,
            }
        } else if let Some(first_checked_at) = mine {
            Verdict::GenuineCheckedByYou { first_checked_at }
        } else {
            Verdict::GenuineFirstCheck
        }
    }

    /// Remembers a shared position; `true` when it lies far from one seen before.
    fn add_position(&mut self, position: (f64, f64)) -> bool {
        let far = self
            .positions
            .iter()
            .any(|seen| distance_km(*seen, position) > FAR_APART_KM);
        if self.positions.len() < REMEMBERED_PLACES && !self.positions.contains(&position) {
            self.positions.push(position);
        }
        far
    }

    /// Judges one scan of the stamp at `now` (a voided stamp is `Voided` for `void_reason`),
    /// and remembers it.
    pub(super) fn judge(
        &mut self,
        void_reason: Option<VoidReason>,
        input: &ScanInput,
        now: DateTime<Utc>,
    ) -> Judgement {
        if input.client_class == BOT {
            // A link preview (someone shared the page in a chat) or a crawler, not a person
            // holding the package: recorded, told what a new person would be told, but never
            // counted as a checker, so the friend the link was sent to is not told that
            // somebody else checked first.
            let verdict = match void_reason {
                Some(reason) => Verdict::Voided { reason },
                None => self.verdict(self.distinct, None),
            };
            return Judgement {
                verdict,
                repeat: false,
                counted: None,
            };
        }
        if let Some(reason) = void_reason {
            return Judgement {
                verdict: Verdict::Voided { reason },
                repeat: false,
                counted: Some(Counted {
                    distinct: 0,
                    flag: None,
                }),
            };
        }
        let mine = self
            .clients
            .iter()
            .find(|(c, _)| *c == input.client)
            .map(|(_, at)| *at);
        let others = self.distinct - u32::from(mine.is_some());
        if let Some(province) = &input.province_code
            && !self.provinces.contains(province)
            && self.provinces.len() < REMEMBERED_PLACES
        {
            self.provinces.push(province.clone());
        }
        let far_positions = input
            .position
            .is_some_and(|position| self.add_position(position));
        if mine.is_none() {
            self.distinct += 1;
            if self.clients.len() < REMEMBERED_CLIENTS {
                self.clients.push((input.client, now));
            }
        }
        self.first_at.get_or_insert(now);
        let far_apart = self.provinces.len() >= 2 || far_positions;
        let mut flag = None;
        if !self.flagged && (self.distinct as usize >= COPY_DISTINCT_CLIENTS || far_apart) {
            self.flagged = true;
            flag = Some(if far_apart {
                "far_apart_places"
            } else {
                "many_clients"
            });
        }
        Judgement {
            verdict: self.verdict(others, mine),
            repeat: mine.is_some(),
            counted: Some(Counted {
                distinct: self.distinct,
                flag,
            }),
        }
    }

    /// The state of a stamp as its recorded scans (bots left out) tell it, starting from the
    /// counters on its row (read now unless given).
    pub(super) async fn load(
        db: &impl ConnectionTrait,
        stamp_id: i64,
        counters: Option<ScanCounters>,
    ) -> Result<StampState, sea_orm::DbErr> {
        let counters = match counters {
            Some(counters) => counters,
            None => match stamps::Entity::find_by_id(stamp_id).one(db).await? {
                Some(stamp) => ScanCounters::of(&stamp),
                None => return Ok(StampState::default()),
            },
        };
        if counters.scans == 0 {
            // Nearly every package is checked once: its first check needs no history.
            return Ok(StampState::default());
        }
        let clients: Vec<(String, DateTime<Utc>)> = scans::Entity::find()
            .select_only()
            .column(scans::Column::ClientHash)
            .column_as(scans::Column::ScannedAt.min(), "first")
            .filter(scans::Column::StampId.eq(stamp_id))
            .filter(scans::Column::ClientClass.ne(BOT))
            .group_by(scans::Column::ClientHash)
            .limit(REMEMBERED_CLIENTS as u64)
            .into_tuple()
            .all(db)
            .await?;
        let provinces: Vec<Option<String>> = scans::Entity::find()
            .select_only()
            .column(scans::Column::ProvinceCode)
            .distinct()
            .filter(scans::Column::StampId.eq(stamp_id))
            .filter(scans::Column::ClientClass.ne(BOT))
            .filter(scans::Column::ProvinceCode.is_not_null())
            .limit(REMEMBERED_PLACES as u64)
            .into_tuple()
            .all(db)
            .await?;
        let positions: Vec<(Option<f64>, Option<f64>)> = scans::Entity::find()
            .select_only()
            .column(scans::Column::Latitude)
            .column(scans::Column::Longitude)
            .distinct()
            .filter(scans::Column::StampId.eq(stamp_id))
            .filter(scans::Column::ClientClass.ne(BOT))
            .filter(scans::Column::Latitude.is_not_null())
            .filter(scans::Column::Longitude.is_not_null())
            .limit(REMEMBERED_PLACES as u64)
            .into_tuple()
            .all(db)
            .await?;
        Ok(StampState {
            positions: positions
                .into_iter()
                .filter_map(|(lat, lon)| lat.zip(lon))
                .collect(),
            first_at: counters.first_scanned_at,
            clients: clients
                .into_iter()
                .filter_map(|(hash, at)| ClientKey::from_hex(&hash).map(|k| (k, at)))
                .collect(),
            distinct: u32::try_from(counters.distinct_clients).unwrap_or(0),
            provinces: provinces.into_iter().flatten().collect(),
            flagged: counters.flagged,
        })
    }
}

/// Great-circle distance between two (latitude, longitude) points in degrees, in kilometres.
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    const EARTH_RADIUS_KM: f64 = 6371.0;
    let (lat1, lat2) = (a.0.to_radians(), b.0.to_radians());
    let dlat = lat2 - lat1;
    let dlon = (b.1 - a.1).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_are_great_circle_kilometres() {
        let hanoi = (21.03, 105.85);
        let lao_cai = (22.48, 103.97);
        let sa_pa = (22.34, 103.84);
        let d = distance_km(hanoi, lao_cai);
        assert!(
            (240.0..260.0).contains(&d),
            "Hà Nội–Lào Cai is about 250 km, got {d}"
        );
        assert!(distance_km(lao_cai, sa_pa) < 25.0);
        assert_eq!(distance_km(sa_pa, sa_pa), 0.0);
    }

    #[test]
    fn positions_far_apart_are_told_and_near_ones_are_not() {
        let mut state = StampState::default();
        assert!(!state.add_position((22.48, 103.97)), "the first position");
        assert!(
            !state.add_position((22.34, 103.84)),
            "Sa Pa is near Lào Cai"
        );
        assert!(
            state.add_position((10.78, 106.70)),
            "Hồ Chí Minh City is far"
        );
        for i in 0..20 {
            state.add_position((22.0 + f64::from(i) / 100.0, 104.0));
        }
        assert_eq!(state.positions.len(), REMEMBERED_PLACES);
    }
}
