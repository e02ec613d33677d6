//! One stamp's scan state, and the verdict it gives a scan: copy detection.
//!
//! **Checkers, not requests.** A checker is one client cookie on one network. A scan counts a
//! new checker only when *both* its cookie and its network are new to the stamp: a phone
//! re-opening its own check is told so; a fresh cookie (cleared, another browser, an API client
//! inventing ids) on a network that already checked is not another person; crawlers and link
//! previews are recorded but never counted.
//!
//! **One checker, one answer.** Each checker's latest answer to "where did you buy it?" and its
//! latest shared position replace its earlier ones. Places count only **between** checkers: a
//! stamp is flagged as a likely copy when [`COPY_DISTINCT_CLIENTS`] checkers checked it, or when
//! two checkers bought it in different provinces or checked it more than [`FAR_APART_KM`] apart.
//! One client, whatever it answers, cannot flag a genuine stamp.
//!
//! **Reviewed flags.** The cooperative or the province reviews a flag and clears or confirms it
//! with a reason. A cleared flag comes back only on new evidence: checkers who came after the
//! clearing (enough new ones, or one whose place is far from another checker's).
//!
//! The state holds what a judgement needs, bounded ([`REMEMBERED_CHECKERS`]); the database holds
//! the whole history, from which a state is rebuilt by replaying the stamp's recent scans
//! ([`StampState::load`]). It serialises compactly, so that with several app servers it can live
//! in Redis (see `super::shared`).

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::client::{BOT, ClientKey, NetworkKey};
use crate::entities::{scans, stamps};
use crate::trace::VoidReason;

/// Distinct checkers from which a stamp counts as a likely copy: a sealed package is checked by
/// its buyer, perhaps by a relative, rarely by more.
pub const COPY_DISTINCT_CLIENTS: usize = 5;
/// Two shared positions of one package this far apart mean two packages: one is a copy. Far
/// enough that a buyer who scans at the market and again at home a district away is not flagged.
pub const FAR_APART_KM: f64 = 100.0;
/// Checkers remembered per stamp (enough to decide; the database has them all).
const REMEMBERED_CHECKERS: usize = 64;
/// Scans replayed to rebuild a state: far more than a genuine package ever gets.
const REPLAYED_SCANS: u64 = 2_000;

/// Why the province does not vouch for a stamp right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotVouchedReason {
    /// The cooperative has not been verified by the province (yet, or was refused).
    CooperativeNotVerified,
    /// The province suspended the cooperative.
    CooperativeSuspended,
    /// The cooperative took the product off sale (a draft or archived product).
    ProductWithdrawn,
}

/// A recall of the stamp's lot, as its scanner is told it (see `trace::recalls`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RecallNotice {
    pub reason: String,
    pub advice: String,
    pub recalled_at: DateTime<Utc>,
    /// When the lot's remaining stock was confirmed safe; `None` while the recall is open.
    pub cleared_at: Option<DateTime<Utc>>,
}

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
    /// Checked by many people or in far-apart places: probably a copied code. `confirmed` when
    /// the cooperative or the province reviewed the flag and confirmed it.
    LikelyCopy {
        other_checkers: u32,
        since: DateTime<Utc>,
        provinces: u32,
        confirmed: bool,
    },
    /// The code is ours, but the province does not vouch for it now: the cooperative is not
    /// verified or is suspended, or the product is withdrawn. Never shown as genuine.
    NotVouched { reason: NotVouchedReason },
    /// The cooperative voided this code.
    Voided { reason: VoidReason },
    /// The lot of this package was recalled (by its cooperative or the province): the reason
    /// and what to do, in place of any other verdict. `cleared_at` once the lot's remaining
    /// stock was confirmed safe: the package in hand is still from the recalled lot.
    Recalled {
        reason: String,
        advice: String,
        recalled_at: DateTime<Utc>,
        cleared_at: Option<DateTime<Utc>>,
    },
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
            Self::NotVouched { .. } => "not_vouched",
            Self::Voided { .. } => "voided",
            Self::Recalled { .. } => "recalled",
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
    /// Why the province does not vouch for the stamp now, if it does not.
    pub not_vouched: Option<NotVouchedReason>,
    /// The recall of the stamp's lot, if it was ever recalled: it overrides every verdict.
    pub recall: Option<RecallNotice>,
    /// The stamp's scan counters, when its row was read from the database for this very scan
    /// (the stamp's first scan on this server): its history then starts from them without
    /// reading the row again.
    pub counters: Option<ScanCounters>,
}

/// A stamp's scan counters and flag as stored on its row.
#[derive(Debug, Clone, Copy)]
pub struct ScanCounters {
    pub scans: i64,
    pub distinct_clients: i32,
    pub first_scanned_at: Option<DateTime<Utc>>,
    pub flagged: bool,
    pub flag_cleared_at: Option<DateTime<Utc>>,
    pub flag_confirmed: bool,
}

impl ScanCounters {
    pub fn of(stamp: &stamps::Model) -> Self {
        Self {
            scans: stamp.scan_count,
            distinct_clients: stamp.distinct_clients,
            first_scanned_at: stamp.first_scanned_at,
            flagged: stamp.flagged,
            flag_cleared_at: stamp.flag_cleared_at,
            flag_confirmed: stamp.flag_confirmed,
        }
    }

    fn flag(&self) -> Flag {
        if self.flag_confirmed {
            Flag::Confirmed
        } else if self.flagged {
            Flag::Raised
        } else if let Some(at) = self.flag_cleared_at {
            Flag::Cleared { at }
        } else {
            Flag::None
        }
    }
}

/// One scan as the page hands it over.
#[derive(Debug, Clone)]
pub struct ScanInput {
    pub client: ClientKey,
    pub network: NetworkKey,
    pub client_class: &'static str,
    /// Province where the person says they bought it.
    pub province_code: Option<String>,
    /// Opt-in position, already rounded.
    pub position: Option<(f64, f64)>,
}

/// What judging one scan decided.
#[derive(Debug)]
pub(super) struct Judgement {
    pub(super) verdict: Verdict,
    /// The same client had checked the stamp before.
    pub(super) repeat: bool,
    /// What the scan adds to its stamp's counters; `None` when it does not count (a bot).
    pub(super) counted: Option<Counted>,
}

/// A counted scan's share of its stamp's counters.
#[derive(Debug)]
pub(super) struct Counted {
    /// Distinct checkers after this scan.
    pub(super) distinct: u32,
    /// Why this scan flagged the stamp as a likely copy, if it did.
    pub(super) flag: Option<&'static str>,
}

/// Where a stamp's likely-copy flag stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub(super) enum Flag {
    #[default]
    None,
    /// Raised by the evidence; not reviewed yet.
    Raised,
    /// Reviewed and cleared at `at`: only checkers who came later count as new evidence.
    Cleared { at: DateTime<Utc> },
    /// Reviewed and confirmed: a copied code.
    Confirmed,
}

/// One checker: a client on a network, with its latest answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Checker {
    #[serde(rename = "c", with = "client_hex")]
    client: ClientKey,
    #[serde(rename = "n", with = "network_hex")]
    network: NetworkKey,
    /// When it first checked.
    #[serde(rename = "t")]
    first_at: DateTime<Utc>,
    /// Its latest answer to "where did you buy it?".
    #[serde(rename = "p", default, skip_serializing_if = "Option::is_none")]
    province: Option<String>,
    /// Its latest shared position.
    #[serde(rename = "g", default, skip_serializing_if = "Option::is_none")]
    position: Option<(f64, f64)>,
}

/// What is remembered of one stamp's checks, to judge its next scan.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct StampState {
    #[serde(rename = "f", default, skip_serializing_if = "Option::is_none")]
    first_at: Option<DateTime<Utc>>,
    #[serde(rename = "k", default, skip_serializing_if = "Vec::is_empty")]
    checkers: Vec<Checker>,
    #[serde(rename = "d", default)]
    distinct: u32,
    #[serde(rename = "x", default, skip_serializing_if = "is_no_flag")]
    flag: Flag,
}

fn is_no_flag(flag: &Flag) -> bool {
    *flag == Flag::None
}

impl StampState {
    /// Judges one scan of the stamp at `now` and remembers it. A voided stamp reads `Voided`;
    /// one the province does not vouch for reads `NotVouched`: both are counted all the same,
    /// so that the history stays whole if the stamp is vouched for again.
    pub(super) fn judge(
        &mut self,
        stamp: &StampFacts,
        input: &ScanInput,
        now: DateTime<Utc>,
    ) -> Judgement {
        // A recall is about the safety of what is in the package: it wins over everything.
        let overriding =
            |verdict: Verdict| match (&stamp.recall, stamp.void_reason, stamp.not_vouched) {
                (Some(recall), _, _) => Verdict::Recalled {
                    reason: recall.reason.clone(),
                    advice: recall.advice.clone(),
                    recalled_at: recall.recalled_at,
                    cleared_at: recall.cleared_at,
                },
                (None, Some(reason), _) => Verdict::Voided { reason },
                (None, None, Some(reason)) => Verdict::NotVouched { reason },
                (None, None, None) => verdict,
            };
        if input.client_class == BOT {
            // A link preview (someone shared the page in a chat) or a crawler, not a person
            // holding the package: recorded, told what a new person would be told, but never
            // counted as a checker, so the friend the link was sent to is not told that
            // somebody else checked first.
            return Judgement {
                verdict: overriding(self.verdict(self.distinct, None)),
                repeat: false,
                counted: None,
            };
        }
        let mine = self.checkers.iter().position(|c| c.client == input.client);
        let same_network = self
            .checkers
            .iter()
            .position(|c| c.network == input.network);
        // Everyone who checked before, but this client itself.
        let others = self.distinct - u32::from(mine.is_some());
        let answering = match (mine, same_network) {
            (Some(i), _) => Some(i),
            (None, Some(j)) => Some(j),
            (None, None) => {
                self.distinct += 1;
                if self.checkers.len() < REMEMBERED_CHECKERS {
                    self.checkers.push(Checker {
                        client: input.client,
                        network: input.network,
                        first_at: now,
                        province: None,
                        position: None,
                    });
                    Some(self.checkers.len() - 1)
                } else {
                    None
                }
            }
        };
        if let Some(i) = answering {
            // The checker's latest answer replaces its earlier one.
            let checker = &mut self.checkers[i];
            if let Some(province) = &input.province_code {
                checker.province = Some(province.clone());
            }
            if let Some(position) = input.position {
                checker.position = Some(position);
            }
        }
        self.first_at.get_or_insert(now);
        let mut flag = None;
        if matches!(self.flag, Flag::None | Flag::Cleared { .. })
            && let Some(reason) = self.evidence()
        {
            self.flag = Flag::Raised;
            flag = Some(reason);
        }
        let mine_at = mine.map(|i| self.checkers[i].first_at);
        Judgement {
            verdict: overriding(self.verdict(others, mine_at)),
            repeat: mine.is_some(),
            counted: Some(Counted {
                distinct: self.distinct,
                flag,
            }),
        }
    }

    /// The verdict of a vouched, active stamp for a client after `others` other checkers, who
    /// checked it first at `mine` (if ever).
    fn verdict(&self, others: u32, mine: Option<DateTime<Utc>>) -> Verdict {
        let Some(since) = self.first_at else {
            return Verdict::GenuineFirstCheck;
        };
        match self.flag {
            Flag::Raised | Flag::Confirmed => Verdict::LikelyCopy {
                other_checkers: others,
                since,
                provinces: self.provinces(),
                confirmed: self.flag == Flag::Confirmed,
            },
            Flag::None | Flag::Cleared { .. } if others > 0 => Verdict::GenuineCheckedBefore {
                other_checkers: others,
                since,
            },
            Flag::None | Flag::Cleared { .. } => match mine {
                Some(first_checked_at) => Verdict::GenuineCheckedByYou { first_checked_at },
                None => Verdict::GenuineFirstCheck,
            },
        }
    }

    /// Distinct provinces the checkers say they bought it in.
    fn provinces(&self) -> u32 {
        let mut seen: Vec<&str> = self
            .checkers
            .iter()
            .filter_map(|c| c.province.as_deref())
            .collect();
        seen.sort_unstable();
        seen.dedup();
        seen.len() as u32
    }

    /// Why the checkers' evidence says the code was copied, if it does: only checkers after a
    /// cleared flag are new evidence.
    fn evidence(&self) -> Option<&'static str> {
        let cleared_at = match self.flag {
            Flag::Cleared { at } => Some(at),
            _ => None,
        };
        let is_new = |c: &Checker| cleared_at.is_none_or(|at| c.first_at > at);
        let far_apart = self.checkers.iter().enumerate().any(|(i, a)| {
            self.checkers[i + 1..].iter().any(|b| {
                (is_new(a) || is_new(b))
                    && (matches!((&a.province, &b.province), (Some(x), Some(y)) if x != y)
                        || matches!((a.position, b.position), (Some(x), Some(y)) if distance_km(x, y) > FAR_APART_KM))
            })
        });
        if far_apart {
            return Some("far_apart_places");
        }
        let checkers = match cleared_at {
            None => self.distinct as usize,
            Some(_) => self.checkers.iter().filter(|c| is_new(c)).count(),
        };
        (checkers >= COPY_DISTINCT_CLIENTS).then_some("many_clients")
    }

    /// Whether the stamp is flagged now, and whether the flag was confirmed.
    pub(super) fn flag_status(&self) -> (bool, bool) {
        match self.flag {
            Flag::Raised => (true, false),
            Flag::Confirmed => (true, true),
            Flag::None | Flag::Cleared { .. } => (false, false),
        }
    }

    /// A reviewer cleared the flag at `at`: evidence so far no longer counts.
    pub(super) fn clear_flag(&mut self, at: DateTime<Utc>) {
        self.flag = Flag::Cleared { at };
    }

    /// A reviewer confirmed the flag: the code was copied.
    pub(super) fn confirm_flag(&mut self) {
        self.flag = Flag::Confirmed;
    }

    /// The state of a stamp as its recorded scans tell it: its recent counted scans replayed in
    /// order, with the counters and flag on its row (read now unless given).
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
        // A cleared flag is in force from the start of the replay: evidence older than the
        // clearing does not raise it again.
        let mut state = StampState {
            flag: match counters.flag() {
                Flag::Cleared { at } => Flag::Cleared { at },
                _ => Flag::None,
            },
            ..StampState::default()
        };
        if counters.scans == 0 {
            // Nearly every package is checked once: its first check needs no history.
            state.flag = counters.flag();
            return Ok(state);
        }
        type Row = (
            String,
            Option<String>,
            String,
            Option<String>,
            Option<f64>,
            Option<f64>,
            DateTime<Utc>,
        );
        let mut rows: Vec<Row> = scans::Entity::find()
            .select_only()
            .column(scans::Column::ClientHash)
            .column(scans::Column::NetworkHash)
            .column(scans::Column::ClientClass)
            .column(scans::Column::ProvinceCode)
            .column(scans::Column::Latitude)
            .column(scans::Column::Longitude)
            .column(scans::Column::ScannedAt)
            .filter(scans::Column::StampId.eq(stamp_id))
            .filter(scans::Column::ClientClass.ne(BOT))
            .order_by_desc(scans::Column::Id)
            .limit(REPLAYED_SCANS)
            .into_tuple()
            .all(db)
            .await?;
        rows.reverse();
        let replayed = StampFacts {
            id: stamp_id,
            cooperative_id: 0,
            code: String::new(),
            void_reason: None,
            not_vouched: None,
            recall: None,
            counters: None,
        };
        for (client, network, class, province, lat, lon, at) in rows {
            let Some(client) = ClientKey::from_hex(&client) else {
                continue;
            };
            let network = network
                .as_deref()
                .and_then(NetworkKey::from_hex)
                .unwrap_or_else(|| NetworkKey::of_legacy_client(client));
            let input = ScanInput {
                client,
                network,
                client_class: if class == BOT { BOT } else { "other" },
                province_code: province,
                position: lat.zip(lon),
            };
            state.judge(&replayed, &input, at);
        }
        // Older scans than the replay reached still counted.
        state.distinct = state
            .distinct
            .max(u32::try_from(counters.distinct_clients).unwrap_or(0));
        state.first_at = match (state.first_at, counters.first_scanned_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // The row's flag is the reviewed truth; the replay can only add a raised flag the
        // writer has not stored yet.
        state.flag = match (counters.flag(), state.flag) {
            (Flag::Confirmed, _) => Flag::Confirmed,
            (Flag::Raised, _) | (_, Flag::Raised) => Flag::Raised,
            (flag, _) => flag,
        };
        Ok(state)
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

mod client_hex {
    use super::ClientKey;

    pub(super) fn serialize<S: serde::Serializer>(
        key: &ClientKey,
        out: S,
    ) -> Result<S::Ok, S::Error> {
        out.serialize_str(&key.hex())
    }

    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(
        input: D,
    ) -> Result<ClientKey, D::Error> {
        let text: std::borrow::Cow<'de, str> = serde::Deserialize::deserialize(input)?;
        ClientKey::from_hex(&text)
            .ok_or_else(|| serde::de::Error::custom("a client key is 32 hex digits"))
    }
}

mod network_hex {
    use super::NetworkKey;

    pub(super) fn serialize<S: serde::Serializer>(
        key: &NetworkKey,
        out: S,
    ) -> Result<S::Ok, S::Error> {
        out.serialize_str(&key.hex())
    }

    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(
        input: D,
    ) -> Result<NetworkKey, D::Error> {
        let text: std::borrow::Cow<'de, str> = serde::Deserialize::deserialize(input)?;
        NetworkKey::from_hex(&text)
            .ok_or_else(|| serde::de::Error::custom("a network key is 16 hex digits"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp() -> StampFacts {
        StampFacts {
            id: 1,
            cooperative_id: 1,
            code: "0000000000000000".into(),
            void_reason: None,
            not_vouched: None,
            recall: None,
            counters: None,
        }
    }

    fn client(n: u8) -> ClientKey {
        ClientKey::from_hex(&format!("{n:02x}").repeat(16)).unwrap()
    }

    fn network(n: u8) -> NetworkKey {
        NetworkKey::from_hex(&format!("{n:02x}").repeat(8)).unwrap()
    }

    fn scan(c: u8, n: u8) -> ScanInput {
        ScanInput {
            client: client(c),
            network: network(n),
            client_class: "mobile",
            province_code: None,
            position: None,
        }
    }

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_765_000_000 + minute * 60, 0).unwrap()
    }

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
    fn a_checker_is_a_new_cookie_on_a_new_network() {
        let mut state = StampState::default();
        let first = state.judge(&stamp(), &scan(1, 1), at(0));
        assert_eq!(first.verdict, Verdict::GenuineFirstCheck);
        let again = state.judge(&stamp(), &scan(1, 2), at(1));
        assert!(matches!(again.verdict, Verdict::GenuineCheckedByYou { .. }));
        assert!(again.repeat);
        // Fresh cookies from the first network: never another checker.
        for c in 10..40 {
            let minted = state.judge(&stamp(), &scan(c, 1), at(2));
            assert_eq!(minted.counted.as_ref().unwrap().distinct, 1);
        }
        let other = state.judge(&stamp(), &scan(2, 3), at(3));
        assert_eq!(
            other.verdict,
            Verdict::GenuineCheckedBefore {
                other_checkers: 1,
                since: at(0)
            }
        );
        assert_eq!(state.distinct, 2);
    }

    #[test]
    fn one_client_answering_two_provinces_flags_nothing() {
        let mut state = StampState::default();
        for (minute, province) in [(0, "15"), (1, "01"), (2, "79"), (3, "15")] {
            let mut input = scan(1, 1);
            input.province_code = Some(province.into());
            let judgement = state.judge(&stamp(), &input, at(minute));
            assert!(judgement.counted.unwrap().flag.is_none());
        }
        let mut far = scan(1, 1);
        far.position = Some((21.03, 105.85));
        state.judge(&stamp(), &far, at(4));
        far.position = Some((10.78, 106.70));
        let judgement = state.judge(&stamp(), &far, at(5));
        assert!(judgement.counted.unwrap().flag.is_none());
        assert_eq!(state.flag, Flag::None);
    }

    #[test]
    fn two_checkers_far_apart_flag_the_stamp() {
        let mut state = StampState::default();
        let mut a = scan(1, 1);
        a.province_code = Some("15".into());
        state.judge(&stamp(), &a, at(0));
        let mut b = scan(2, 2);
        b.province_code = Some("79".into());
        let judgement = state.judge(&stamp(), &b, at(1));
        assert_eq!(judgement.counted.unwrap().flag, Some("far_apart_places"));
        assert!(matches!(
            judgement.verdict,
            Verdict::LikelyCopy {
                provinces: 2,
                confirmed: false,
                ..
            }
        ));
    }

    #[test]
    fn a_cleared_flag_comes_back_only_with_new_checkers() {
        let mut state = StampState::default();
        for n in 0..5u8 {
            state.judge(&stamp(), &scan(n, n), at(i64::from(n)));
        }
        assert_eq!(state.flag, Flag::Raised);
        state.clear_flag(at(10));
        // The same five again: no new evidence.
        for n in 0..5u8 {
            let j = state.judge(&stamp(), &scan(n, n), at(11));
            assert!(
                matches!(j.verdict, Verdict::GenuineCheckedBefore { .. }),
                "{j:?}"
            );
        }
        // New checkers, fewer than the threshold: still cleared.
        for n in 20..24u8 {
            state.judge(&stamp(), &scan(n, n), at(12));
        }
        assert!(matches!(state.flag, Flag::Cleared { .. }));
        let j = state.judge(&stamp(), &scan(30, 30), at(13));
        assert_eq!(j.counted.unwrap().flag, Some("many_clients"));
        state.confirm_flag();
        let j = state.judge(&stamp(), &scan(31, 31), at(14));
        assert!(matches!(
            j.verdict,
            Verdict::LikelyCopy {
                confirmed: true,
                ..
            }
        ));
    }

    #[test]
    fn a_withdrawn_or_voided_stamp_never_reads_genuine_but_still_counts() {
        let mut state = StampState::default();
        let not_vouched = StampFacts {
            not_vouched: Some(NotVouchedReason::CooperativeSuspended),
            ..stamp()
        };
        let j = state.judge(&not_vouched, &scan(1, 1), at(0));
        assert_eq!(
            j.verdict,
            Verdict::NotVouched {
                reason: NotVouchedReason::CooperativeSuspended
            }
        );
        assert_eq!(j.counted.unwrap().distinct, 1);
        let voided = StampFacts {
            void_reason: Some(VoidReason::Lost),
            ..not_vouched
        };
        let j = state.judge(&voided, &scan(2, 2), at(1));
        assert_eq!(
            j.verdict,
            Verdict::Voided {
                reason: VoidReason::Lost
            }
        );
        let recall = RecallNotice {
            reason: "nấm mốc".into(),
            advice: "không dùng".into(),
            recalled_at: at(2),
            cleared_at: None,
        };
        let recalled = StampFacts {
            recall: Some(recall.clone()),
            ..voided
        };
        let j = state.judge(&recalled, &scan(3, 3), at(3));
        assert_eq!(
            j.verdict,
            Verdict::Recalled {
                reason: recall.reason,
                advice: recall.advice,
                recalled_at: at(2),
                cleared_at: None,
            }
        );
        assert_eq!(j.verdict.label(), "recalled");
        assert_eq!(j.counted.unwrap().distinct, 3);
    }

    #[test]
    fn a_state_survives_serialisation() {
        let mut state = StampState::default();
        let mut a = scan(1, 1);
        a.position = Some((22.48, 103.97));
        state.judge(&stamp(), &a, at(0));
        state.clear_flag(at(1));
        let text = serde_json::to_string(&state).unwrap();
        assert!(text.len() < 200, "{text}");
        let back: StampState = serde_json::from_str(&text).unwrap();
        assert_eq!(back, state);
    }
}
