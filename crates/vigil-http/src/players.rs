//! The player lookup API: `GET /v1/players/{id}` and `GET /v1/players`.
//!
//! Read-only. The server does not know where players live: it asks a
//! [`PlayerDirectory`] (in `vigil run`, the engines of the partitions this
//! instance owns). Player ids appear in responses only, never in logs.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use vigil_domain::window::Span;
use vigil_domain::{Band, Engine, PlayerView, Tier, Timestamp};

/// Where players are looked up. Implementations may block briefly (the
/// server calls them on a blocking thread).
pub trait PlayerDirectory: Send + Sync {
    /// Every player with this id, one per brand (only `brand`'s if given).
    fn player(&self, id: &str, brand: Option<&str>) -> Vec<PlayerInfo>;
    /// The `limit` riskiest players (in `band` if given), ordered by
    /// [`riskier_first`].
    fn riskiest(&self, band: Option<Band>, limit: usize) -> Vec<PlayerInfo>;
}

/// What the API says about one player.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlayerInfo {
    pub player_id: String,
    pub brand: String,
    /// Health score 0-100 at `as_of`, under the settings in force.
    pub score: f64,
    /// The band last evaluated (with hysteresis), as published.
    pub band: &'static str,
    /// Whether the player has the history to be alerted on.
    pub baseline_ready: bool,
    /// Risk times customer value, as alerts rank: the order of the
    /// riskiest-players list, higher first.
    pub priority: f64,
    /// Estimated customer value (reporting currency per month, see
    /// `vigil_domain::value`).
    pub value: f64,
    /// From the CRM's profile: `regular` without one.
    pub tier: &'static str,
    pub manager_id: Option<String>,
    pub segments: Vec<String>,
    /// The engine time the figures are taken at.
    pub as_of: String,
    /// Signals that moved the score, biggest first.
    pub reasons: Vec<ReasonInfo>,
    /// Activity over the last 7 days and the 21 before them.
    pub recent: WindowFigures,
    pub previous: WindowFigures,
    /// Time of the last login, bet or other activity (`None`: none yet).
    pub last_activity: Option<String>,
    /// The player's usual gap between active days, in days (`None` until
    /// there is a gap to learn from).
    pub typical_gap_days: Option<f64>,
}

/// One reason of a score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReasonInfo {
    pub signal: &'static str,
    pub value: f64,
    pub baseline: f64,
    pub change_pct: Option<f64>,
    pub contribution: f64,
}

/// Activity over a span of days.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowFigures {
    pub days: f64,
    pub active_days: f64,
    pub visits: f64,
    pub bets: f64,
    /// Stake in the reporting currency's major unit.
    pub stake: f64,
    pub currency: String,
}

/// Two decimals: stable, readable figures (as the JSON outputs have).
fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0 + 0.0
}

impl PlayerInfo {
    /// The one conversion from the engine's view of a player: `clock` is
    /// the engine's clock, `currency` its reporting currency.
    pub fn from_view(view: &PlayerView<'_>, clock: Timestamp, currency: &str) -> PlayerInfo {
        let st = view.state;
        // As the engine scores a view: at its clock, or the player's last
        // event if that is later.
        let now = clock.max(Timestamp::from_secs(st.last_event as i64));
        let spans = [
            Span {
                ago_days: 0.0,
                len_days: 7.0,
            },
            Span {
                ago_days: 7.0,
                len_days: 21.0,
            },
        ];
        let [recent, previous] = st.window.sums(now, spans);
        let figures = |s: vigil_domain::window::Sums, days: f64| WindowFigures {
            days,
            active_days: round2(s.active_days),
            visits: round2(s.visits),
            bets: round2(s.bets),
            stake: round2(s.stake_cents / 100.0),
            currency: currency.to_owned(),
        };
        PlayerInfo {
            player_id: view.player_id.to_owned(),
            brand: view.brand.to_owned(),
            score: round2(view.card.score),
            band: st.verdict.band.as_str(),
            baseline_ready: st.verdict.ready,
            priority: round2(view.priority()),
            value: round2(view.value.value),
            tier: view
                .profile
                .as_ref()
                .map_or(Tier::Regular, |p| p.tier)
                .as_str(),
            manager_id: view.profile.as_ref().and_then(|p| p.manager_id.clone()),
            segments: view
                .profile
                .as_ref()
                .map(|p| p.segments.clone())
                .unwrap_or_default(),
            as_of: now.to_string(),
            reasons: view
                .card
                .reasons()
                .into_iter()
                .map(|r| ReasonInfo {
                    signal: r.signal.as_str(),
                    value: round2(r.value),
                    baseline: round2(r.baseline),
                    change_pct: r.change_pct.map(round2),
                    contribution: round2(r.contribution),
                })
                .collect(),
            recent: figures(recent, 7.0),
            previous: figures(previous, 21.0),
            last_activity: (st.last_active != 0)
                .then(|| Timestamp::from_secs(st.last_active as i64).to_string()),
            typical_gap_days: (st.gaps > 0).then(|| round2(st.typical_gap_secs as f64 / 86_400.0)),
        }
    }
}

/// The order of the riskiest-players list: priority, highest first, then
/// player id and brand, so equal priorities list the same way every time.
pub fn riskier_first(a: &PlayerInfo, b: &PlayerInfo) -> Ordering {
    b.priority
        .total_cmp(&a.priority)
        .then_with(|| a.player_id.cmp(&b.player_id))
        .then_with(|| a.brand.cmp(&b.brand))
}

/// Players a listing scores per hold of a partition's lock, for callers
/// that walk an engine in slices ([`RiskiestPicker::scan`] takes a range):
/// scoring takes about a microsecond a player at a million (`cargo bench
/// -p vigil --bench lookup`), so the partition's pipeline waits some 15 ms
/// at a time instead of for the whole listing (close to a second).
pub const LISTING_SLICE: u32 = 16_384;

/// Picks the riskiest players from the engines it is shown, in
/// [`riskier_first`] order, building the API's (allocating) view only of
/// players that can still make the list. Building it for every player cost
/// most of a listing; once the list holds `limit` players, a player whose
/// priority is below the last kept one's is passed over after one
/// comparison.
#[derive(Debug)]
pub struct RiskiestPicker {
    band: Option<Band>,
    limit: usize,
    best: Vec<PlayerInfo>,
    /// The last kept player's place: `(priority, player_id, brand)`.
    cutoff: Option<(f64, String, String)>,
}

impl RiskiestPicker {
    pub fn new(band: Option<Band>, limit: usize) -> Self {
        RiskiestPicker {
            band,
            limit,
            best: Vec::with_capacity(2 * limit.max(32)),
            cutoff: None,
        }
    }

    /// Considers the players of `engine` at positions `range` (in the
    /// picker's band; `0..u32::MAX` for all).
    pub fn scan(&mut self, engine: &Engine, range: std::ops::Range<u32>) {
        let currency = &engine.config().currency.reporting;
        for view in engine.players_in(self.band, range) {
            // Rounded as the listing shows it, so the order is the one
            // `riskier_first` gives the built views.
            let priority = round2(view.priority());
            if let Some((p, id, brand)) = &self.cutoff {
                let place = p
                    .total_cmp(&priority)
                    .then_with(|| view.player_id.cmp(id.as_str()))
                    .then_with(|| view.brand.cmp(brand.as_str()));
                if place != Ordering::Less {
                    continue;
                }
            }
            self.best
                .push(PlayerInfo::from_view(&view, engine.clock(), currency));
            // Bounded memory: cut back to the best `limit` now and then.
            if self.best.len() >= 2 * self.limit.max(32) {
                self.cut();
            }
        }
    }

    fn cut(&mut self) {
        self.best.sort_by(riskier_first);
        self.best.truncate(self.limit);
        if self.best.len() == self.limit {
            self.cutoff = self
                .best
                .last()
                .map(|w| (w.priority, w.player_id.clone(), w.brand.clone()));
        }
    }

    /// The riskiest `limit` players seen, riskiest first.
    pub fn finish(mut self) -> Vec<PlayerInfo> {
        self.cut();
        self.best
    }
}

/// Players listed when `limit` is not given, and the most one may ask for.
pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 1000;

/// The API's settings and its directory.
#[derive(Clone)]
pub struct Api {
    pub directory: Arc<dyn PlayerDirectory>,
    /// When set, `/v1/*` needs `Authorization: Bearer <token>`.
    pub auth_token: Option<Arc<str>>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("auth", &self.auth_token.is_some())
            .finish_non_exhaustive()
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": message.into() }))).into_response()
}

#[derive(Serialize)]
struct Players {
    players: Vec<PlayerInfo>,
}

/// Runs a directory call on a blocking thread: it may wait for the
/// pipeline's lock.
async fn ask<T: Send + 'static>(
    api: &Api,
    f: impl FnOnce(&dyn PlayerDirectory) -> T + Send + 'static,
) -> Result<T, Response> {
    let dir = api.directory.clone();
    tokio::task::spawn_blocking(move || f(&*dir))
        .await
        .map_err(|_| error(StatusCode::INTERNAL_SERVER_ERROR, "lookup failed"))
}

pub(crate) async fn get_player(
    State(api): State<Api>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let brand = q.get("brand").cloned();
    let found = match ask(&api, move |d| d.player(&id, brand.as_deref())).await {
        Ok(f) => f,
        Err(e) => return e,
    };
    if found.is_empty() {
        return error(
            StatusCode::NOT_FOUND,
            "no such player on this instance (each instance serves the players of its partitions)",
        );
    }
    Json(Players { players: found }).into_response()
}

pub(crate) async fn list_players(
    State(api): State<Api>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let band = match q.get("band").map(String::as_str) {
        None | Some("") => None,
        Some(b) => match Band::parse(b) {
            Some(b) => Some(b),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("unknown band {b:?}: use green, yellow or red"),
                );
            }
        },
    };
    let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("limit must be a whole number from 1 to {MAX_LIMIT}"),
            );
        }
    };
    let mut players = match ask(&api, move |d| d.riskiest(band, limit)).await {
        Ok(p) => p,
        Err(e) => return e,
    };
    // Whatever the directory did: the documented order and size.
    if let Some(b) = band {
        players.retain(|p| p.band == b.as_str());
    }
    players.sort_by(riskier_first);
    players.truncate(limit);
    Json(Players { players }).into_response()
}

/// Compares in time independent of where the first difference is, so the
/// token cannot be guessed a byte at a time from response times.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `401` unless the request carries the configured bearer token.
pub(crate) async fn require_token(State(api): State<Api>, req: Request, next: Next) -> Response {
    if let Some(token) = &api.auth_token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !same_secret(given.as_bytes(), token.as_bytes()) {
            let mut r = error(StatusCode::UNAUTHORIZED, "a valid bearer token is required");
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            return r;
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    use vigil_domain::event::Game;
    use vigil_domain::{Currency, EngineConfig, Money, Payload, PlayerEvent};

    const DAY_MS: i64 = 86_400_000;

    /// Players of every band and many priorities: each plays every 1st to
    /// 5th day for five weeks at its own stake; some stop or fade.
    fn engine() -> Engine {
        let mut engine = Engine::new(EngineConfig::default()).unwrap();
        let eur = Currency::parse("EUR").unwrap();
        let t0 = 1_790_000_000_000i64;
        let mut out = Vec::new();
        for day in 0..35i64 {
            for p in 0..300u32 {
                let fading = p % 3 == 1 && day >= 21;
                let every = if fading { 4 } else { 1 + i64::from(p % 5) };
                if day % every != 0 || (p % 3 == 0 && day >= 10 + i64::from(p % 7)) {
                    continue;
                }
                let ts = t0 + day * DAY_MS + i64::from(p) * 1000;
                let stake = f64::from(1 + p % 13) * if fading { 0.2 } else { 1.0 };
                let bet = Payload::Bet {
                    stake: Money {
                        amount: stake,
                        currency: eur,
                    },
                    game: Game::Slots,
                    win: None,
                };
                for (k, payload) in [Payload::Login { channel: None }, bet]
                    .into_iter()
                    .enumerate()
                {
                    let event = PlayerEvent {
                        event_id: format!("{p}-{day}-{k}").into(),
                        player_id: format!("p{:03}", p % 150).into(),
                        brand: if p < 150 { "a" } else { "b" }.into(),
                        ts: Timestamp::from_millis(ts + k as i64),
                        payload,
                    };
                    engine.ingest(event, &mut out).unwrap();
                }
            }
        }
        engine.advance_to(Timestamp::from_millis(t0 + 35 * DAY_MS), &mut out);
        engine
    }

    #[test]
    fn the_picker_lists_what_sorting_every_player_lists() {
        let engine = engine();
        let bands = engine.stats().bands;
        assert!(
            bands.iter().all(|&n| n > 0),
            "every band populated: {bands:?}"
        );
        let currency = &engine.config().currency.reporting;
        let every: Vec<PlayerInfo> = engine
            .players()
            .map(|v| PlayerInfo::from_view(&v, engine.clock(), currency))
            .collect();
        for band in [None, Some(Band::Green), Some(Band::Yellow), Some(Band::Red)] {
            for limit in [1, 7, 50, 1000] {
                let mut want: Vec<PlayerInfo> = every
                    .iter()
                    .filter(|p| band.is_none_or(|b| p.band == b.as_str()))
                    .cloned()
                    .collect();
                want.sort_by(riskier_first);
                want.truncate(limit);
                // Walked in slices, as the API walks a partition.
                let mut picker = RiskiestPicker::new(band, limit);
                let mut start = 0;
                while (start as usize) < engine.player_count() {
                    picker.scan(&engine, start..start + 13);
                    start += 13;
                }
                assert_eq!(picker.finish(), want, "band {band:?}, limit {limit}");
            }
        }
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"s3cret", b"s3cret"));
        assert!(!same_secret(b"s3cret", b"s3cres"));
        assert!(!same_secret(b"s3cret", b"s3cre"));
        assert!(!same_secret(b"", b"x"));
    }
}
