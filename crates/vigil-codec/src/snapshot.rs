//! Player-state snapshots as protobuf `vigil.v1.PlayerSnapshot`: the
//! changelog's records. Exact: every field, floats bit for bit. A snapshot
//! whose arrays have the wrong length is refused, never guessed at.
//!
//! One is written per state change, so size matters (see
//! `proto/vigil/v1/state.proto` for the choices); a regular player's
//! snapshot is about 300 bytes, a new player's about 140.

use prost::Message;
use vigil_domain::config::WINDOW_DAYS;
use vigil_domain::decay::{COUNTERS, Decayed};
use vigil_domain::offer::MadeOffer;
use vigil_domain::outcome::Tracked;
use vigil_domain::safeguard::HarmDay;
use vigil_domain::state::{
    Cooldowns, Friction, NpsMemory, OpenTickets, PendingWithdrawals, PlayerState, RecentIds,
    Retention, RgState, Verdict,
};
use vigil_domain::window::{DayWindow, Memory};
use vigil_domain::{Band, PlayerSnapshot};
use vigil_proto::v1 as pb;

/// The snapshot format this build writes and reads.
pub const VERSION: u32 = 1;

/// Why bytes are not a snapshot this build can restore.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("not a protobuf PlayerSnapshot: {0}")]
    Decode(#[from] prost::DecodeError),
    #[error("snapshot version {0} is not supported (this build reads version {VERSION})")]
    Version(u32),
    #[error("snapshot has no state")]
    MissingState,
    #[error("snapshot field `{field}` has {got} values, expected {want}")]
    Length {
        field: &'static str,
        got: usize,
        want: usize,
    },
    #[error("snapshot field `{field}` is out of range: {value}")]
    Range { field: &'static str, value: u64 },
    #[error("snapshot field `{field}` is not a finite number: {value}")]
    NotFinite { field: &'static str, value: f32 },
}

/// A value whose every bit is zero: the state's "nothing here".
trait Zero: Copy {
    fn is_zero(&self) -> bool;
}

macro_rules! zero_int {
    ($($t:ty),*) => {$(impl Zero for $t { fn is_zero(&self) -> bool { *self == 0 } })*};
}
zero_int!(u8, u16, u32);

impl Zero for f32 {
    /// By bits: -0.0 is not zero here, so it is written and survives.
    fn is_zero(&self) -> bool {
        self.to_bits() == 0
    }
}

/// A fixed-size array for the wire: empty when every value is zero (most
/// players have no open ticket or pending withdrawal), else all `N` values.
fn packed<T: Zero, S>(v: &[T], conv: impl Fn(T) -> S) -> Vec<S> {
    if v.iter().all(Zero::is_zero) {
        Vec::new()
    } else {
        v.iter().map(|x| conv(*x)).collect()
    }
}

/// Reads back what [`packed`] wrote: no values means all zero; any count
/// other than 0 or `N` is refused.
fn array<T: Copy + Default, const N: usize, S: Copy>(
    field: &'static str,
    v: &[S],
    conv: impl Fn(S) -> Result<T, SnapshotError>,
) -> Result<[T; N], SnapshotError> {
    if v.is_empty() {
        return Ok([T::default(); N]);
    }
    if v.len() != N {
        return Err(SnapshotError::Length {
            field,
            got: v.len(),
            want: N,
        });
    }
    let mut out = [T::default(); N];
    for (o, x) in out.iter_mut().zip(v) {
        *o = conv(*x)?;
    }
    Ok(out)
}

fn narrow<T: TryFrom<u32>>(field: &'static str) -> impl Fn(u32) -> Result<T, SnapshotError> {
    move |v| {
        T::try_from(v).map_err(|_| SnapshotError::Range {
            field,
            value: v as u64,
        })
    }
}

fn same<T>(v: T) -> Result<T, SnapshotError> {
    Ok(v)
}

/// The engine only ever stores finite numbers; a NaN or an infinity is a
/// corrupt record (it would compare unequal to itself and poison every sum
/// it enters), so it is refused like a value out of range.
fn finite(field: &'static str) -> impl Fn(f32) -> Result<f32, SnapshotError> {
    move |v| {
        if v.is_finite() {
            Ok(v)
        } else {
            Err(SnapshotError::NotFinite { field, value: v })
        }
    }
}

/// An NPS memory slot shifted by one (mod 256), so the "no answer" marker
/// [`NpsMemory::NONE`] (255) is stored as 0, which protobuf omits.
fn nps_out(v: u8) -> u32 {
    v.wrapping_add(1) as u32
}

fn nps_in(field: &'static str, v: u32) -> Result<u8, SnapshotError> {
    Ok(narrow::<u8>(field)(v)?.wrapping_sub(1))
}

/// Encodes a snapshot.
pub fn encode_snapshot(s: &PlayerSnapshot) -> Vec<u8> {
    pb::PlayerSnapshot {
        version: VERSION,
        player_id: s.player_id.clone(),
        brand: s.brand.clone(),
        state: Some(state_to_pb(&s.state)),
    }
    .encode_to_vec()
}

/// Decodes a snapshot written by [`encode_snapshot`].
pub fn decode_snapshot(bytes: &[u8]) -> Result<PlayerSnapshot, SnapshotError> {
    let s = pb::PlayerSnapshot::decode(bytes)?;
    if s.version != VERSION {
        return Err(SnapshotError::Version(s.version));
    }
    let state = state_from_pb(s.state.ok_or(SnapshotError::MissingState)?)?;
    Ok(PlayerSnapshot {
        player_id: s.player_id,
        brand: s.brand,
        state,
    })
}

/// The state as its protobuf message (shared with the changelog records).
pub(crate) fn state_to_pb(st: &PlayerState) -> pb::PlayerState {
    let fr = st.friction();
    pb::PlayerState {
        head_day: st.window.head_day,
        visits: packed(&st.window.visits, |v| v),
        bets: packed(&st.window.bets, u32::from),
        stake_cents: packed(&st.window.stake_cents, |v| v),
        memory: packed(&memory_out(&st.window.memory), |v| v),
        decay_at: st.decayed.at,
        decay_short: packed(&st.decayed.short, |v| v),
        decay_long: packed(&st.decayed.long, |v| v),
        first_seen: st.first_seen,
        last_event: st.last_event,
        last_active: st.last_active,
        typical_gap_secs: Some(st.typical_gap_secs),
        gaps: st.gaps as u32,
        tickets: packed(&fr.tickets.slots.map(|(id, at)| [id, at]).concat(), |v| v),
        tickets_replied: fr.tickets.replied as u32,
        withdrawals_requested_at: packed(&fr.withdrawals.requested_at, |v| v),
        nps_latest: nps_out(fr.nps.latest),
        nps_previous: nps_out(fr.nps.previous),
        nps_at: fr.nps.at,
        rg_flags: fr.rg.flags as u32,
        rg_at: fr.rg.at,
        recent_ids: packed(&st.recent_ids.ids, |v| v),
        recent_next: st.recent_ids.next as u32,
        score: Some(st.verdict.score),
        band: st.verdict.band as u32,
        ready: st.verdict.ready,
        emitted_score: Some(st.verdict.emitted_score),
        emitted_at: st.verdict.emitted_at,
        evaluated_at: st.verdict.evaluated_at,
        dirty: st.verdict.dirty,
        band_change_at: st.cooldowns.band_change_at,
        alerted_band: st.cooldowns.alerted_band as u32,
        usage_drop_at: st.cooldowns.usage_drop_at,
        inactivity_spell: st.cooldowns.inactivity_spell,
        next_due: st.next_due,
        tickets_breached: fr.tickets.breached as u32,
        harm: (st.harm != HarmDay::default()).then_some(pb::HarmDay {
            day: st.harm.day as u32,
            failed_deposits: st.harm.failed_deposits as u32,
            rising_stakes: st.harm.rising_stakes as u32,
            net_loss_cents: st.harm.net_loss_cents,
            deposits_cents: st.harm.deposits_cents,
            last_stake_cents: st.harm.last_stake_cents,
        }),
        retention: st.retention.as_deref().map(retention_to_pb),
    }
}

fn retention_to_pb(r: &Retention) -> pb::Retention {
    pb::Retention {
        offers: r
            .offers
            .iter()
            .filter(|o| o.at != 0)
            .map(|o| pb::MadeOffer {
                at: o.at,
                rule: o.rule as u32,
                channel: o.channel as u32,
            })
            .collect(),
        tracked: r
            .tracked
            .iter()
            .filter(|t| t.started != 0)
            .map(|t| pb::Tracked {
                source_hi: (t.source_id >> 64) as u64,
                source_lo: t.source_id as u64,
                started: t.started,
                score_centi: t.score_centi as u32,
                band: t.band as u32,
                kind: t.kind as u32,
            })
            .collect(),
        harm_seen_at: r.harm_seen_at,
        harm_alerted_at: r.harm_alerted_at,
    }
}

fn retention_from_pb(p: pb::Retention) -> Result<Retention, SnapshotError> {
    let mut r = Retention {
        harm_seen_at: p.harm_seen_at,
        harm_alerted_at: p.harm_alerted_at,
        ..Retention::default()
    };
    if p.offers.len() > r.offers.len() {
        return Err(SnapshotError::Length {
            field: "retention.offers",
            got: p.offers.len(),
            want: r.offers.len(),
        });
    }
    for (slot, o) in r.offers.iter_mut().zip(p.offers) {
        *slot = MadeOffer {
            at: o.at,
            rule: narrow::<u16>("retention.offers.rule")(o.rule)?,
            channel: narrow::<u8>("retention.offers.channel")(o.channel)?,
        };
    }
    if p.tracked.len() > r.tracked.len() {
        return Err(SnapshotError::Length {
            field: "retention.tracked",
            got: p.tracked.len(),
            want: r.tracked.len(),
        });
    }
    for (slot, t) in r.tracked.iter_mut().zip(p.tracked) {
        *slot = Tracked {
            source_id: (t.source_hi as u128) << 64 | t.source_lo as u128,
            started: t.started,
            score_centi: narrow::<u16>("retention.tracked.score_centi")(t.score_centi)?,
            band: narrow::<u8>("retention.tracked.band")(t.band)?,
            kind: narrow::<u8>("retention.tracked.kind")(t.kind)?,
        };
    }
    Ok(r)
}

/// Decayed counters: records written before the withdrawals counter was
/// added hold one value fewer, read as no withdrawals.
fn counters(field: &'static str, v: &[f32]) -> Result<[f32; COUNTERS], SnapshotError> {
    if v.len() == COUNTERS - 1 {
        let mut out = [0.0; COUNTERS];
        for (o, x) in out.iter_mut().zip(v) {
            *o = finite(field)(*x)?;
        }
        return Ok(out);
    }
    array::<f32, COUNTERS, f32>(field, v, finite(field))
}

fn memory_out(m: &Memory) -> [f32; 4] {
    [m.active_days, m.bets, m.stake_cents, m.days]
}

fn memory_in(v: &[f32]) -> Result<Memory, SnapshotError> {
    let [active_days, bets, stake_cents, days] =
        array::<f32, 4, f32>("memory", v, finite("memory"))?;
    Ok(Memory {
        active_days,
        bets,
        stake_cents,
        days,
    })
}

/// The state from its protobuf message, refusing wrong array lengths,
/// out-of-range values and numbers that are not finite.
pub(crate) fn state_from_pb(p: pb::PlayerState) -> Result<PlayerState, SnapshotError> {
    let tickets: [u32; 6] = array("tickets", &p.tickets, same)?;
    let band = Band::ALL
        .get(p.band as usize)
        .copied()
        .ok_or(SnapshotError::Range {
            field: "band",
            value: p.band as u64,
        })?;
    Ok(PlayerState {
        window: DayWindow {
            head_day: p.head_day,
            visits: array::<u8, WINDOW_DAYS, u8>("visits", &p.visits, same)?,
            bets: array("bets", &p.bets, narrow::<u16>("bets"))?,
            stake_cents: array("stake_cents", &p.stake_cents, same)?,
            memory: memory_in(&p.memory)?,
        },
        decayed: Decayed {
            at: p.decay_at,
            short: counters("decay_short", &p.decay_short)?,
            long: counters("decay_long", &p.decay_long)?,
        },
        first_seen: p.first_seen,
        last_event: p.last_event,
        last_active: p.last_active,
        typical_gap_secs: finite("typical_gap_secs")(p.typical_gap_secs.unwrap_or_default())?,
        gaps: narrow::<u16>("gaps")(p.gaps)?,
        friction: Friction {
            tickets: OpenTickets {
                slots: [
                    (tickets[0], tickets[1]),
                    (tickets[2], tickets[3]),
                    (tickets[4], tickets[5]),
                ],
                replied: narrow::<u8>("tickets_replied")(p.tickets_replied)?,
                breached: narrow::<u8>("tickets_breached")(p.tickets_breached)?,
            },
            withdrawals: PendingWithdrawals {
                requested_at: array(
                    "withdrawals_requested_at",
                    &p.withdrawals_requested_at,
                    same,
                )?,
            },
            nps: NpsMemory {
                latest: nps_in("nps_latest", p.nps_latest)?,
                previous: nps_in("nps_previous", p.nps_previous)?,
                at: p.nps_at,
            },
            rg: RgState {
                flags: narrow::<u8>("rg_flags")(p.rg_flags)?,
                at: p.rg_at,
            },
        }
        .boxed(),
        recent_ids: RecentIds {
            ids: array("recent_ids", &p.recent_ids, same)?,
            next: narrow::<u8>("recent_next")(p.recent_next)?,
        },
        verdict: Verdict {
            score: finite("score")(p.score.unwrap_or_default())?,
            band,
            ready: p.ready,
            emitted_score: finite("emitted_score")(p.emitted_score.unwrap_or_default())?,
            emitted_at: p.emitted_at,
            evaluated_at: p.evaluated_at,
            dirty: p.dirty,
        },
        cooldowns: Cooldowns {
            band_change_at: p.band_change_at,
            alerted_band: Band::ALL.get(p.alerted_band as usize).copied().ok_or(
                SnapshotError::Range {
                    field: "alerted_band",
                    value: p.alerted_band as u64,
                },
            )?,
            usage_drop_at: p.usage_drop_at,
            inactivity_spell: p.inactivity_spell,
        },
        harm: match p.harm {
            None => HarmDay::default(),
            Some(h) => HarmDay {
                day: narrow::<u16>("harm.day")(h.day)?,
                failed_deposits: narrow::<u8>("harm.failed_deposits")(h.failed_deposits)?,
                rising_stakes: narrow::<u8>("harm.rising_stakes")(h.rising_stakes)?,
                net_loss_cents: h.net_loss_cents,
                deposits_cents: h.deposits_cents,
                last_stake_cents: h.last_stake_cents,
            },
        },
        retention: p
            .retention
            .map(retention_from_pb)
            .transpose()?
            .map(Box::new),
        // Brand indexes are per engine; the importing engine assigns its own.
        brand: 0,
        next_due: p.next_due,
    })
}
