//! Decoders refuse bad input precisely and never panic; encoders round-trip.

use proptest::prelude::*;
use vigil_codec::{changelog, json, output, proto, retention, snapshot};
use vigil_domain::decay::Decayed;
use vigil_domain::event::*;
use vigil_domain::offer::{MadeOffer, OfferStatus};
use vigil_domain::outcome::Tracked;
use vigil_domain::safeguard::HarmDay;
use vigil_domain::state::{
    Cooldowns, Fact, NpsMemory, OpenTickets, PendingWithdrawals, PlayerState, RecentIds, RgState,
    Verdict,
};
use vigil_domain::state::{Friction, Retention};
use vigil_domain::window::{DayWindow, Memory};
use vigil_domain::*;

fn code(line: &str) -> (&'static str, String) {
    let e = json::decode_event(line.as_bytes()).unwrap_err();
    (e.code(), e.to_string())
}

#[test]
fn the_documented_example_line_is_accepted() {
    let e = json::decode_event(
        br#"{"event_id":"e1","player_id":"p42","brand":"casino-a","ts":"2026-11-01T12:00:00Z","type":"login","channel":"mobile"}"#,
    )
    .unwrap();
    assert_eq!(e.event_id, "e1");
    assert_eq!(e.player_id, "p42");
    assert_eq!(e.brand, "casino-a");
    assert_eq!(e.ts, Timestamp::from_secs(1_793_534_400));
    assert_eq!(
        e.payload,
        Payload::Login {
            channel: Some("mobile".into())
        }
    );
}

#[test]
fn amounts_may_be_numbers_or_decimal_strings_and_unknown_fields_are_ignored() {
    let e = json::decode_event(
        br#"{"event_id":"e","player_id":"p","brand":"b","ts":"2026-11-01T12:00:00Z","type":"bet","stake":"12.50","currency":"eur","game":"crash","extra":{"a":[1,2]}}"#,
    )
    .unwrap();
    let Payload::Bet { stake, game, win } = e.payload else {
        panic!()
    };
    assert_eq!(stake.amount, 12.5);
    assert_eq!(stake.currency.as_str(), "EUR");
    assert_eq!(game, Game::Other);
    assert_eq!(win, None);
}

#[test]
fn each_reason_is_precise() {
    let base = r#""event_id":"e","player_id":"p","brand":"b","ts":"2026-11-01T12:00:00Z""#;
    assert_eq!(code("{oops").0, "invalid_json");
    assert_eq!(code("[1,2]").0, "invalid_json");
    assert_eq!(
        code(&format!("{{{base}}}")),
        ("missing_field", "missing required field `type`".into())
    );
    assert_eq!(
        code(&format!(r#"{{{base},"type":"teleport"}}"#)).0,
        "unknown_type"
    );
    assert_eq!(
        code(&format!(
            r#"{{{base},"type":"deposit","currency":"EUR","status":"ok"}}"#
        ))
        .1,
        "missing required field `amount`"
    );
    let (c, msg) = code(&format!(
        r#"{{{base},"type":"deposit","amount":5,"currency":"EUR","status":"pending"}}"#
    ));
    assert_eq!(c, "invalid_field");
    assert!(
        msg.contains("`status`") && msg.contains("ok, failed"),
        "{msg}"
    );
    let (c, msg) = code(&format!(
        r#"{{{base},"type":"deposit","amount":-5,"currency":"EUR","status":"ok"}}"#
    ));
    assert!(c == "invalid_field" && msg.contains("`amount`"), "{msg}");
    let (c, msg) = code(&format!(
        r#"{{{base},"type":"deposit","amount":true,"currency":"EUR","status":"ok"}}"#
    ));
    assert!(c == "invalid_field" && msg.contains("boolean"), "{msg}");
    let (c, msg) = code(&format!(
        r#"{{{base},"type":"deposit","amount":5,"currency":"EURO","status":"ok"}}"#
    ));
    assert!(c == "invalid_field" && msg.contains("`currency`"), "{msg}");
    let (c, msg) = code(&format!(r#"{{{base},"type":"nps","score":11}}"#));
    assert!(c == "invalid_field" && msg.contains("`score`"), "{msg}");
    assert_eq!(
        code(r#"{"event_id":"e","player_id":"p","brand":"b","ts":"yesterday","type":"login"}"#).0,
        "invalid_timestamp"
    );
    assert_eq!(
        code(r#"{"event_id":"e","player_id":"p","brand":"b","ts":1793534400,"type":"login"}"#).0,
        "invalid_field"
    );
    assert_eq!(code(r#"{"event_id":"","player_id":"p","brand":"b","ts":"2026-11-01T12:00:00Z","type":"login"}"#).0, "invalid_field");
    assert_eq!(
        code(r#"{"player_id":"p","brand":"b","ts":"2026-11-01T12:00:00Z","type":"login"}"#).0,
        "missing_field"
    );
}

#[test]
fn protobuf_reasons_are_precise() {
    assert_eq!(
        proto::decode_event(&[0xff, 0xff, 0xff]).unwrap_err().code(),
        "invalid_protobuf"
    );
    let mut e = PlayerEvent {
        event_id: "e".into(),
        player_id: "p".into(),
        brand: "b".into(),
        ts: Timestamp::from_secs(1_793_534_400),
        payload: Payload::Nps { score: 9 },
    };
    let mut msg: vigil_proto::v1::PlayerEvent =
        prost::Message::decode(&proto::encode_event(&e)[..]).unwrap();
    msg.payload = None;
    let bytes = prost::Message::encode_to_vec(&msg);
    assert_eq!(
        proto::decode_event(&bytes).unwrap_err(),
        Reject::MissingField("type")
    );
    msg.payload = Some(vigil_proto::v1::player_event::Payload::Rg(
        vigil_proto::v1::Rg { action: 0 },
    ));
    let bytes = prost::Message::encode_to_vec(&msg);
    assert_eq!(
        proto::decode_event(&bytes).unwrap_err().code(),
        "invalid_field"
    );
    e.event_id.clear();
    assert_eq!(
        proto::decode_event(&proto::encode_event(&e)).unwrap_err(),
        Reject::MissingField("event_id")
    );
}

#[test]
fn delimited_streams_round_trip() {
    let mut buf = Vec::new();
    for m in [&b"abc"[..], &[], &[7u8; 300][..]] {
        proto::write_delimited(&mut buf, m).unwrap();
    }
    let frames: Vec<Vec<u8>> = proto::DelimitedReader::new(&buf[..])
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(frames, vec![b"abc".to_vec(), vec![], vec![7u8; 300]]);
    let cut = &buf[..buf.len() - 1];
    assert!(
        proto::DelimitedReader::new(cut).last().unwrap().is_err(),
        "a truncated frame is an error"
    );
}

/// Any amount the decoders accept: finite and not negative, including
/// values with long binary expansions, so float formatting is exercised.
fn amount() -> impl Strategy<Value = f64> {
    prop_oneof![
        (0u32..10_000_000).prop_map(|c| c as f64 / 100.0),
        0.0f64..1e12,
        prop::num::f64::POSITIVE | prop::num::f64::ZERO,
    ]
}

fn money() -> impl Strategy<Value = Money> {
    (amount(), prop::sample::select(vec!["EUR", "USD", "SEK"])).prop_map(|(amount, cur)| Money {
        amount,
        currency: Currency::parse(cur).unwrap(),
    })
}

fn pick<T: Copy + std::fmt::Debug + 'static>(all: &'static [T]) -> impl Strategy<Value = T> {
    prop::sample::select(all)
}

fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        prop::option::of("[a-z]{1,8}").prop_map(|channel| Payload::Login { channel }),
        any::<u32>().prop_map(|duration_s| Payload::SessionEnd { duration_s }),
        (money(), pick(Game::ALL), prop::option::of(amount())).prop_map(|(stake, game, win)| {
            Payload::Bet {
                stake,
                game,
                win: win.map(|amount| Money {
                    amount,
                    currency: stake.currency,
                }),
            }
        }),
        (money(), pick(DepositStatus::ALL))
            .prop_map(|(amount, status)| Payload::Deposit { amount, status }),
        (money(), pick(WithdrawalStatus::ALL))
            .prop_map(|(amount, status)| Payload::Withdrawal { amount, status }),
        ("[a-z0-9-]{1,12}", pick(TicketAction::ALL))
            .prop_map(|(ticket_id, action)| Payload::Ticket { ticket_id, action }),
        ("[a-z0-9]{1,8}", money())
            .prop_map(|(draw_id, amount)| Payload::LotteryTicket { draw_id, amount }),
        (pick(BonusAction::ALL), prop::option::of(amount()))
            .prop_map(|(action, amount)| Payload::Bonus { action, amount }),
        (pick(MessageChannel::ALL), pick(MessageAction::ALL))
            .prop_map(|(channel, action)| Payload::Message { channel, action }),
        (0u8..=10).prop_map(|score| Payload::Nps { score }),
        pick(RgAction::ALL).prop_map(|action| Payload::Rg { action }),
    ]
}

fn event() -> impl Strategy<Value = PlayerEvent> {
    (
        "[a-zA-Z0-9_-]{1,20}",
        "[a-z0-9é\"\\\\ \u{1F600}\u{7}/]{1,12}",
        "[a-z-]{1,10}",
        0i64..4_000_000_000_000,
        payload(),
    )
        .prop_map(|(event_id, player_id, brand, ms, payload)| PlayerEvent {
            event_id: event_id.into(),
            player_id: format!("p{player_id}").into(),
            brand: brand.into(),
            ts: Timestamp::from_millis(ms),
            payload,
        })
}

/// Any finite f32 (what the engine stores), with the awkward ones (-0.0,
/// subnormals, the extremes) often. NaN and infinities are refused, see
/// `snapshot_numbers_that_are_not_finite_are_refused`.
fn f32_any() -> impl Strategy<Value = f32> {
    prop_oneof![
        any::<f32>().prop_filter("finite", |x| x.is_finite()),
        Just(-0.0f32),
        Just(f32::MAX),
        Just(f32::MIN_POSITIVE / 4.0),
    ]
}

fn band() -> impl Strategy<Value = Band> {
    prop::sample::select(Band::ALL.to_vec())
}

/// Every field of the state drawn independently.
fn state() -> impl Strategy<Value = PlayerState> {
    let window = (
        any::<u32>(),
        prop::array::uniform28(any::<u8>()),
        prop::array::uniform28(any::<u16>()),
        prop::array::uniform28(any::<u32>()),
        prop::array::uniform4(f32_any()),
    )
        // Boxed, as the whole tuple's value tree no longer fits a debug
        // build's test thread stack otherwise.
        .boxed();
    let decayed = (
        any::<u32>(),
        prop::array::uniform7(f32_any()),
        prop::array::uniform7(f32_any()),
    )
        .boxed();
    let times = (
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        f32_any(),
        any::<u16>(),
        any::<u32>(),
    );
    let memory = (
        prop::array::uniform3((any::<u32>(), any::<u32>())),
        any::<u8>(),
        prop::array::uniform2(any::<u32>()),
        (any::<u8>(), any::<u8>(), any::<u32>()),
        (any::<u8>(), any::<u32>()),
        (prop::array::uniform8(any::<u32>()), any::<u8>()),
    );
    let verdict = (
        f32_any(),
        band(),
        any::<bool>(),
        f32_any(),
        any::<u32>(),
        any::<u32>(),
        any::<bool>(),
    );
    let cooldowns = (any::<u32>(), band(), any::<u32>(), any::<u32>());
    let harm = (
        any::<u16>(),
        any::<u8>(),
        any::<u8>(),
        any::<i32>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(
            |(
                day,
                failed_deposits,
                rising_stakes,
                net_loss_cents,
                deposits_cents,
                last_stake_cents,
            )| {
                HarmDay {
                    day,
                    failed_deposits,
                    rising_stakes,
                    net_loss_cents,
                    deposits_cents,
                    last_stake_cents,
                }
            },
        );
    let made = (1u32.., any::<u16>(), 0u8..5).prop_map(|(at, rule, channel)| MadeOffer {
        at,
        rule,
        channel,
    });
    let tracked = (any::<u128>(), 1u32.., any::<u16>(), 0u8..3, any::<u8>()).prop_map(
        |(source_id, started, score_centi, band, kind)| Tracked {
            source_id,
            started,
            score_centi,
            band,
            kind,
        },
    );
    // Slots fill from the front (free slots are not written).
    let retention = prop::option::of((
        prop::collection::vec(made, 0..=4),
        prop::collection::vec(tracked, 0..=6),
        any::<u32>(),
        any::<u32>(),
    ))
    .prop_map(|r| {
        r.map(|(offers, tracked, harm_seen_at, harm_alerted_at)| {
            let mut out = Retention {
                harm_seen_at,
                harm_alerted_at,
                ..Retention::default()
            };
            out.offers[..offers.len()].copy_from_slice(&offers);
            out.tracked[..tracked.len()].copy_from_slice(&tracked);
            Box::new(out)
        })
    });
    let extra = (any::<u8>(), harm, retention);
    (window, decayed, times, memory, verdict, cooldowns, extra).prop_map(
        |(
            (head_day, visits, bets, stake_cents, [active_days, m_bets, m_stake, days]),
            (at, short, long),
            (first_seen, last_event, last_active, typical_gap_secs, gaps, next_due),
            (slots, replied, requested_at, (latest, previous, nps_at), (flags, rg_at), (ids, next)),
            (score, band, ready, emitted_score, emitted_at, evaluated_at, dirty),
            (band_change_at, alerted_band, usage_drop_at, inactivity_spell),
            (breached, harm, retention),
        )| PlayerState {
            window: DayWindow {
                head_day,
                visits,
                bets,
                stake_cents,
                memory: Memory {
                    active_days,
                    bets: m_bets,
                    stake_cents: m_stake,
                    days,
                },
            },
            decayed: Decayed { at, short, long },
            first_seen,
            last_event,
            last_active,
            typical_gap_secs,
            gaps,
            // As the state keeps it: no box when there is nothing in it.
            friction: Friction {
                tickets: OpenTickets {
                    slots,
                    replied,
                    breached,
                },
                withdrawals: PendingWithdrawals { requested_at },
                nps: NpsMemory {
                    latest,
                    previous,
                    at: nps_at,
                },
                rg: RgState { flags, at: rg_at },
            }
            .boxed(),
            recent_ids: RecentIds { ids, next },
            verdict: Verdict {
                score,
                band,
                ready,
                emitted_score,
                emitted_at,
                evaluated_at,
                dirty,
            },
            cooldowns: Cooldowns {
                band_change_at,
                alerted_band,
                usage_drop_at,
                inactivity_spell,
            },
            harm,
            retention,
            // Not part of a snapshot: the importing engine assigns its own.
            brand: 0,
            next_due,
        },
    )
}

/// Bit-for-bit equality: float fields compared by their bits (so NaN
/// payloads and -0.0 count), then everything else by `PartialEq` with the
/// floats blanked, so a field added to the state later is compared too.
fn same_state(a: &PlayerState, b: &PlayerState) -> bool {
    fn floats(s: &PlayerState) -> Vec<u32> {
        s.decayed
            .short
            .iter()
            .chain(&s.decayed.long)
            .chain([
                &s.typical_gap_secs,
                &s.verdict.score,
                &s.verdict.emitted_score,
                &s.window.memory.active_days,
                &s.window.memory.bets,
                &s.window.memory.stake_cents,
                &s.window.memory.days,
            ])
            .map(|f| f.to_bits())
            .collect()
    }
    fn blank(s: &PlayerState) -> PlayerState {
        let mut s = s.clone();
        s.decayed.short = [0.0; 7];
        s.decayed.long = [0.0; 7];
        s.typical_gap_secs = 0.0;
        s.verdict.score = 0.0;
        s.verdict.emitted_score = 0.0;
        s.window.memory = Memory::default();
        s
    }
    floats(a) == floats(b) && blank(a) == blank(b)
}

proptest! {
    #[test]
    fn json_round_trips(e in event()) {
        prop_assert_eq!(json::decode_event(json::encode_event(&e).as_bytes()).unwrap(), e);
    }

    #[test]
    fn protobuf_round_trips(e in event()) {
        prop_assert_eq!(proto::decode_event(&proto::encode_event(&e)).unwrap(), e);
    }

    #[test]
    fn snapshots_round_trip_exactly(st in state(), id in "[a-z0-9]{1,16}") {
        let snap = PlayerSnapshot { player_id: id, brand: "casino-a".into(), state: st };
        let back = snapshot::decode_snapshot(&snapshot::encode_snapshot(&snap)).unwrap();
        prop_assert_eq!(&back.player_id, &snap.player_id);
        prop_assert_eq!(&back.brand, &snap.brand);
        prop_assert!(same_state(&back.state, &snap.state));
    }

    #[test]
    fn decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = json::decode_event(&bytes);
        let _ = proto::decode_event(&bytes);
        let _ = snapshot::decode_snapshot(&bytes);
        if let Ok(key) = changelog::decode_key(&bytes) {
            let _ = changelog::decode_value(&key, &bytes);
        }
        let player = changelog::StateKey { input_topic: "t".into(), player: Some(("b".into(), "p".into())) };
        let _ = changelog::decode_value(&player, &bytes);
        let _ = output::decode_alert_json(&bytes);
        let _ = output::decode_alert_proto(&bytes);
    }

    #[test]
    fn json_decoder_never_panics_on_near_valid_lines(
        ty in "(login|bet|deposit|nps|rg|x)",
        field in "(stake|amount|score|ts|currency|status|action|game)",
        value in prop_oneof![Just("null".to_string()), Just("-1".to_string()), Just("1e400".to_string()), "\"[^\"\\\\]{0,6}\"", Just("{}".to_string())],
    ) {
        let line = format!(r#"{{"event_id":"e","player_id":"p","brand":"b","ts":"2026-11-01T12:00:00Z","type":"{ty}","{field}":{value}}}"#);
        let _ = json::decode_event(line.as_bytes());
    }
}

#[test]
fn alerts_round_trip_through_both_encodings() {
    let a = Alert {
        alert_id: "0123456789abcdef0123456789abcdef".into(),
        player_id: "p1".into(),
        brand: "casino-a".into(),
        kind: AlertKind::UsageDrop,
        ts: Timestamp::from_millis(1_793_534_400_250),
        score: 61.25,
        prev_score: 72.5,
        band: Band::Yellow,
        prev_band: Band::Green,
        reasons: vec![Reason {
            signal: Signal::Usage,
            value: 10.0,
            baseline: 20.0,
            change_pct: Some(-50.0),
            contribution: 0.0,
        }],
        tier: Tier::HighRoller,
        manager_id: Some("m7".into()),
        value: 1234.5,
        priority: 456.25,
    };
    assert_eq!(
        output::decode_alert_proto(&output::alert_to_proto(&a)).unwrap(),
        a
    );
    assert_eq!(
        output::decode_alert_json(output::alert_to_json(&a).as_bytes()).unwrap(),
        a
    );
    let json = output::alert_to_json(&a);
    assert!(json.starts_with(r#"{"alert_id":"0123456789abcdef0123456789abcdef","player_id":"p1","brand":"casino-a","kind":"usage_drop","ts":"2026-11-01T12:00:00.250Z""#), "{json}");
    assert!(json.contains(r#""band":"yellow","prev_band":"green""#));
}

/// Why the snapshot `msg`, edited, is refused.
fn refused_after(
    msg: &vigil_proto::v1::PlayerSnapshot,
    edit: &dyn Fn(&mut vigil_proto::v1::PlayerSnapshot),
) -> String {
    let mut m = msg.clone();
    edit(&mut m);
    snapshot::decode_snapshot(&prost::Message::encode_to_vec(&m))
        .unwrap_err()
        .to_string()
}

#[test]
fn snapshot_arrays_of_the_wrong_length_and_unknown_versions_are_refused() {
    let mut snap = PlayerSnapshot {
        player_id: "p00012345".into(),
        brand: "casino-a".into(),
        state: PlayerState::default(),
    };
    let bytes = snapshot::encode_snapshot(&snap);
    assert!(bytes.len() < 50, "an empty state is {} bytes", bytes.len());
    assert_eq!(snapshot::decode_snapshot(&bytes).unwrap(), snap);

    snap.state.window.bets[3] = 7;
    snap.state.decayed.short[5] = -0.0;
    let bytes = snapshot::encode_snapshot(&snap);
    let back = snapshot::decode_snapshot(&bytes).unwrap();
    assert_eq!(back.state.window.bets, snap.state.window.bets);
    assert_eq!(back.state.decayed.short[5].to_bits(), (-0.0f32).to_bits());

    let msg: vigil_proto::v1::PlayerSnapshot = prost::Message::decode(&bytes[..]).unwrap();
    let refused = |edit: &dyn Fn(&mut vigil_proto::v1::PlayerSnapshot)| refused_after(&msg, edit);
    let err = refused(&|m| {
        m.state.as_mut().unwrap().bets.pop();
    });
    assert!(err.contains("`bets` has 27 values, expected 28"), "{err}");
    let err = refused(&|m| m.state.as_mut().unwrap().bets.push(1));
    assert!(err.contains("`bets`"), "{err}");
    let err = refused(&|m| m.state.as_mut().unwrap().bets[0] = 70_000);
    assert!(err.contains("`bets` is out of range"), "{err}");
    let err = refused(&|m| m.state.as_mut().unwrap().band = 3);
    assert!(err.contains("`band`"), "{err}");
    let err = refused(&|m| m.state = None);
    assert!(err.contains("no state"), "{err}");
    let err = refused(&|m| m.version = 9);
    assert!(err.contains("version 9"), "{err}");
}

/// Found by fuzzing (`fuzz/`, target `changelog`): the engine stores only
/// finite numbers, so a NaN or an infinity in a record is corruption, and
/// is refused with the field's name like any other value out of range.
#[test]
fn snapshot_numbers_that_are_not_finite_are_refused() {
    let snap = typical_snapshot();
    let msg: vigil_proto::v1::PlayerSnapshot =
        prost::Message::decode(&snapshot::encode_snapshot(&snap)[..]).unwrap();
    let refused = |edit: &dyn Fn(&mut vigil_proto::v1::PlayerState)| {
        refused_after(&msg, &|m| edit(m.state.as_mut().unwrap()))
    };
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let err = refused(&|s| s.decay_short = vec![0.5, bad, 0.0, 0.0, 1.0, 0.0, 0.0]);
        assert!(
            err.contains("`decay_short` is not a finite number"),
            "{err}"
        );
        // The older form, one counter fewer.
        let err = refused(&|s| s.decay_long = vec![bad, 0.0, 0.0, 0.0, 1.0, 0.0]);
        assert!(err.contains("`decay_long` is not a finite number"), "{err}");
        let err = refused(&|s| s.memory = vec![1.0, 2.0, bad, 4.0]);
        assert!(err.contains("`memory`"), "{err}");
        let err = refused(&|s| s.typical_gap_secs = Some(bad));
        assert!(err.contains("`typical_gap_secs`"), "{err}");
        let err = refused(&|s| s.score = Some(bad));
        assert!(err.contains("`score`"), "{err}");
        let err = refused(&|s| s.emitted_score = Some(bad));
        assert!(err.contains("`emitted_score`"), "{err}");
    }
}

fn base_event(payload: Payload) -> PlayerEvent {
    PlayerEvent {
        event_id: "e".into(),
        player_id: "p".into(),
        brand: "b".into(),
        ts: Timestamp::from_secs(1_793_534_400),
        payload,
    }
}

#[test]
fn json_refuses_non_objects_and_names_wrong_types() {
    // serde would read an array as the struct's fields in order.
    let as_array = r#"["e","p","b","2026-11-01T12:00:00Z","login",null,null,null,null,null,null,null,null,null,null,null,null]"#;
    assert_eq!(code(as_array).0, "invalid_json");
    assert_eq!(code("null").0, "invalid_json");
    assert_eq!(code("").0, "invalid_json");
    assert_eq!(code(r#"{"type":"login"} trailing"#).0, "invalid_json");
    let (c, msg) = code(r#"{"type":"login","type":"bet"}"#);
    assert!(
        c == "invalid_json" && msg.contains("duplicate field `type`"),
        "{msg}"
    );
    let not_utf8 = json::decode_event(b"{\"type\":\"login\",\"x\":\"\xff\"}").unwrap_err();
    assert_eq!(not_utf8.code(), "invalid_json");
    assert!(
        not_utf8.to_string().contains("not UTF-8")
            && not_utf8.to_string().contains("from index 21"),
        "{not_utf8}"
    );
    // Escapes in keys and values are read like any other.
    let e = json::decode_event(
        br#"{"event_id":"e\u0031","player_id":"p","brand":"b","ts":"2026-11-01T12:00:00Z","\u0074ype":"login"}"#,
    )
    .unwrap();
    assert_eq!(e.event_id, "e1");
    let base = r#""event_id":"e","player_id":"p","brand":"b","ts":"2026-11-01T12:00:00Z""#;
    let (c, msg) = code(&format!(r#"{{{base},"type":7}}"#));
    assert!(c == "invalid_field" && msg.contains("`type`"), "{msg}");
    let (c, msg) = code(&format!(
        r#"{{{base},"type":"session_end","duration_s":1.5}}"#
    ));
    assert!(
        c == "invalid_field" && msg.contains("`duration_s`") && msg.contains("whole number"),
        "{msg}"
    );
    let (c, msg) = code(&format!(
        r#"{{{base},"type":"session_end","duration_s":-1}}"#
    ));
    assert!(
        c == "invalid_field" && msg.contains("between 0 and"),
        "{msg}"
    );
    let (c, msg) = code(&format!(
        r#"{{{base},"type":"bet","stake":"12,50","currency":"EUR","game":"slots"}}"#
    ));
    assert!(
        c == "invalid_field" && msg.contains("`stake`") && msg.contains("12,50"),
        "{msg}"
    );
    let (c, msg) = code(&format!(
        r#"{{{base},"type":"bet","stake":"NaN","currency":"EUR","game":"slots"}}"#
    ));
    assert!(c == "invalid_field" && msg.contains("finite"), "{msg}");
    assert_eq!(
        code(&format!(
            r#"{{{base},"type":"bet","stake":1,"currency":"EUR"}}"#
        ))
        .1,
        "missing required field `game`"
    );
    assert_eq!(
        code(&format!(
            r#"{{{base},"type":"bet","stake":1,"game":"slots"}}"#
        ))
        .1,
        "missing required field `currency`"
    );
    let (c, msg) = code(&format!(r#"{{{base},"type":"rg","action":"panic"}}"#));
    assert!(
        c == "invalid_field"
            && msg.contains("deposit_limit, cool_off, self_exclusion, reality_check"),
        "{msg}"
    );
    let (c, msg) = code(&format!(
        r#"{{{base},"type":"message","channel":["sms"],"action":"sent"}}"#
    ));
    assert!(
        c == "invalid_field" && msg.contains("an object or array"),
        "{msg}"
    );
    // A null is as good as absent.
    assert_eq!(
        code(&format!(r#"{{{base},"type":"nps","score":null}}"#)).1,
        "missing required field `score`"
    );
}

#[test]
fn json_accepts_what_integrators_send() {
    let base = r#""event_id":"e","player_id":"p","brand":"b","ts":"2026-11-01T13:00:00.5+01:00""#;
    let e = json::decode_event(format!(r#"{{{base},"type":"login","channel":""}}"#).as_bytes())
        .unwrap();
    assert_eq!(e.payload, Payload::Login { channel: None });
    assert_eq!(e.ts, Timestamp::from_millis(1_793_534_400_500));
    let e = json::decode_event(
        format!(r#"{{{base},"type":"nps","score":9.0,"channel":{{"nested":true}}}}"#).as_bytes(),
    )
    .unwrap();
    assert_eq!(e.payload, Payload::Nps { score: 9 });
    let e = json::decode_event(
        format!(r#"{{"type":"bonus","action":"claimed",{base},"amount":" 5 "}}"#).as_bytes(),
    )
    .unwrap();
    assert_eq!(
        e.payload,
        Payload::Bonus {
            action: BonusAction::Claimed,
            amount: Some(5.0)
        }
    );
}

#[test]
fn protobuf_timestamps_and_enums_are_checked() {
    let bytes = proto::encode_event(&base_event(Payload::Rg {
        action: RgAction::CoolOff,
    }));
    let mut msg: vigil_proto::v1::PlayerEvent = prost::Message::decode(&bytes[..]).unwrap();
    msg.ts = None;
    assert_eq!(
        proto::decode_event(&prost::Message::encode_to_vec(&msg)).unwrap_err(),
        Reject::MissingField("ts")
    );
    msg.ts = Some(prost_types::Timestamp {
        seconds: 1_793_534_400,
        nanos: -1,
    });
    assert_eq!(
        proto::decode_event(&prost::Message::encode_to_vec(&msg))
            .unwrap_err()
            .code(),
        "invalid_timestamp"
    );
    msg.ts = Some(prost_types::Timestamp {
        seconds: 1_793_534_400,
        nanos: 250_999_999,
    });
    msg.payload = Some(vigil_proto::v1::player_event::Payload::Rg(
        vigil_proto::v1::Rg { action: 99 },
    ));
    let err = proto::decode_event(&prost::Message::encode_to_vec(&msg)).unwrap_err();
    let msg_text = err.to_string();
    assert!(
        msg_text.contains("`action`")
            && msg_text.contains("unknown")
            && msg_text.contains("2 (cool_off)"),
        "{msg_text}"
    );
    msg.payload = Some(vigil_proto::v1::player_event::Payload::Rg(
        vigil_proto::v1::Rg { action: 2 },
    ));
    let e = proto::decode_event(&prost::Message::encode_to_vec(&msg)).unwrap();
    assert_eq!(e.ts, Timestamp::from_millis(1_793_534_400_250));
    assert_eq!(
        e.payload,
        Payload::Rg {
            action: RgAction::CoolOff
        }
    );
}

#[test]
fn protobuf_amounts_currencies_and_ranges_are_checked() {
    use vigil_proto::v1::player_event::Payload as P;
    let bad = |p: P| {
        let mut msg: vigil_proto::v1::PlayerEvent = prost::Message::decode(
            &proto::encode_event(&base_event(Payload::Nps { score: 1 }))[..],
        )
        .unwrap();
        msg.payload = Some(p);
        proto::decode_event(&prost::Message::encode_to_vec(&msg)).unwrap_err()
    };
    let bet = |stake: f64, currency: &str, game: &str| {
        P::Bet(vigil_proto::v1::Bet {
            stake,
            currency: currency.into(),
            game: game.into(),
            win: None,
        })
    };
    assert_eq!(bad(bet(1.0, "", "slots")), Reject::MissingField("currency"));
    assert_eq!(bad(bet(1.0, "EUR", "")), Reject::MissingField("game"));
    assert_eq!(bad(bet(f64::NAN, "EUR", "slots")).code(), "invalid_field");
    assert_eq!(bad(bet(-1.0, "EUR", "slots")).code(), "invalid_field");
    assert_eq!(bad(bet(1.0, "E1R", "slots")).code(), "invalid_field");
    assert_eq!(
        bad(P::Nps(vigil_proto::v1::Nps { score: 11 })).code(),
        "invalid_field"
    );
    assert_eq!(
        bad(P::Bonus(vigil_proto::v1::Bonus {
            action: 1,
            amount: Some(f64::INFINITY)
        }))
        .code(),
        "invalid_field"
    );
    assert_eq!(
        bad(P::Ticket(vigil_proto::v1::Ticket {
            ticket_id: String::new(),
            action: 1
        })),
        Reject::MissingField("ticket_id")
    );
}

/// The protobuf decoder maps enum numbers by position in the domain's
/// `ALL`: this holds the two declarations in step, by name.
#[test]
fn protobuf_enum_numbers_match_domain_wire_names() {
    use vigil_proto::v1 as pb;
    fn check(prefix: &str, wire: &str, name: Option<&str>) {
        assert_eq!(
            name,
            Some(format!("{prefix}_{}", wire.to_ascii_uppercase()).as_str()),
            "{prefix} {wire}"
        );
    }
    let mut events = Vec::new();
    for &s in DepositStatus::ALL {
        events.push(Payload::Deposit {
            amount: Money {
                amount: 1.0,
                currency: Currency::parse("EUR").unwrap(),
            },
            status: s,
        });
    }
    for &s in WithdrawalStatus::ALL {
        events.push(Payload::Withdrawal {
            amount: Money {
                amount: 1.0,
                currency: Currency::parse("EUR").unwrap(),
            },
            status: s,
        });
    }
    for &a in TicketAction::ALL {
        events.push(Payload::Ticket {
            ticket_id: "t".into(),
            action: a,
        });
    }
    for &a in BonusAction::ALL {
        events.push(Payload::Bonus {
            action: a,
            amount: None,
        });
    }
    for &c in MessageChannel::ALL {
        for &a in MessageAction::ALL {
            events.push(Payload::Message {
                channel: c,
                action: a,
            });
        }
    }
    for &a in RgAction::ALL {
        events.push(Payload::Rg { action: a });
    }
    for p in events {
        let bytes = proto::encode_event(&base_event(p.clone()));
        let msg: pb::PlayerEvent = prost::Message::decode(&bytes[..]).unwrap();
        let name = |n: Option<&'static str>| n;
        match (&p, msg.payload.unwrap()) {
            (Payload::Deposit { status, .. }, pb::player_event::Payload::Deposit(d)) => check(
                "DEPOSIT_STATUS",
                status.as_str(),
                name(
                    pb::DepositStatus::try_from(d.status)
                        .ok()
                        .map(|v| v.as_str_name()),
                ),
            ),
            (Payload::Withdrawal { status, .. }, pb::player_event::Payload::Withdrawal(w)) => {
                check(
                    "WITHDRAWAL_STATUS",
                    status.as_str(),
                    pb::WithdrawalStatus::try_from(w.status)
                        .ok()
                        .map(|v| v.as_str_name()),
                )
            }
            (Payload::Ticket { action, .. }, pb::player_event::Payload::Ticket(t)) => check(
                "TICKET_ACTION",
                action.as_str(),
                pb::TicketAction::try_from(t.action)
                    .ok()
                    .map(|v| v.as_str_name()),
            ),
            (Payload::Bonus { action, .. }, pb::player_event::Payload::Bonus(b)) => check(
                "BONUS_ACTION",
                action.as_str(),
                pb::BonusAction::try_from(b.action)
                    .ok()
                    .map(|v| v.as_str_name()),
            ),
            (Payload::Message { channel, action }, pb::player_event::Payload::Message(m)) => {
                check(
                    "MESSAGE_CHANNEL",
                    channel.as_str(),
                    pb::MessageChannel::try_from(m.channel)
                        .ok()
                        .map(|v| v.as_str_name()),
                );
                check(
                    "MESSAGE_ACTION",
                    action.as_str(),
                    pb::MessageAction::try_from(m.action)
                        .ok()
                        .map(|v| v.as_str_name()),
                );
            }
            (Payload::Rg { action }, pb::player_event::Payload::Rg(r)) => check(
                "RG_ACTION",
                action.as_str(),
                pb::RgAction::try_from(r.action)
                    .ok()
                    .map(|v| v.as_str_name()),
            ),
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn delimited_frames_interoperate_with_prost_and_stop_at_corruption() {
    let e = base_event(Payload::SessionEnd { duration_s: 600 });
    let msg: vigil_proto::v1::PlayerEvent =
        prost::Message::decode(&proto::encode_event(&e)[..]).unwrap();
    let mut buf = prost::Message::encode_length_delimited_to_vec(&msg);
    proto::write_delimited(&mut buf, &proto::encode_event(&e)).unwrap();
    let frames: Vec<_> = proto::DelimitedReader::new(&buf[..])
        .map(|f| proto::decode_event(&f.unwrap()).unwrap())
        .collect();
    assert_eq!(frames, vec![e.clone(), e]);

    // A length prefix of 2^40 bytes: refused, and nothing read after it.
    let mut bad = Vec::new();
    prost::encoding::encode_varint(1 << 40, &mut bad);
    bad.extend_from_slice(&buf);
    let mut r = proto::DelimitedReader::new(&bad[..]);
    let err = r.next().unwrap().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert!(r.next().is_none());
    // Eleven continuation bytes are no varint.
    let mut r = proto::DelimitedReader::new(&[0xffu8; 11][..]);
    assert!(r.next().unwrap().is_err());
    assert!(r.next().is_none());
}

fn sample_reasons() -> Vec<Reason> {
    vec![
        Reason {
            signal: Signal::Frequency,
            value: 1.0 / 3.0,
            baseline: 4.5,
            change_pct: Some(-92.592_592_592),
            contribution: -12.345_678,
        },
        Reason {
            signal: Signal::Recency,
            value: 2.0,
            baseline: 0.0,
            change_pct: None,
            contribution: -0.001,
        },
    ]
}

#[test]
fn score_records_round_trip_and_json_is_rounded() {
    let s = ScoreRecord {
        player_id: "p1".into(),
        brand: "casino-a".into(),
        ts: Timestamp::from_secs(1_793_534_400),
        score: 55.555,
        band: Band::Red,
        baseline_ready: true,
        reasons: sample_reasons(),
    };
    assert_eq!(
        output::decode_score_proto(&output::score_to_proto(&s)).unwrap(),
        s,
        "protobuf keeps full precision"
    );
    let json = output::score_to_json(&s);
    assert_eq!(
        json,
        r#"{"player_id":"p1","brand":"casino-a","ts":"2026-11-01T12:00:00Z","score":55.56,"band":"red","baseline_ready":true,"reasons":[{"signal":"frequency","value":0.33,"baseline":4.5,"change_pct":-92.59,"contribution":-12.35},{"signal":"recency","value":2.0,"baseline":0.0,"change_pct":null,"contribution":0.0}]}"#
    );
    let back = output::decode_score_json(json.as_bytes()).unwrap();
    assert_eq!(back.score, 55.56);
    assert_eq!(back.reasons[0].change_pct, Some(-92.59));
    assert_eq!(back.reasons[1].change_pct, None);
    for enc in [output::Encoding::Json, output::Encoding::Protobuf] {
        let bytes = output::encode_score(&s, enc);
        assert_eq!(output::decode_score(&bytes, enc).unwrap().band, Band::Red);
    }
}

#[test]
fn alert_decoders_refuse_unknown_values() {
    let a = Alert {
        alert_id: "a".into(),
        player_id: "p".into(),
        brand: "b".into(),
        kind: AlertKind::Inactivity,
        ts: Timestamp::from_secs(1),
        score: 10.0,
        prev_score: 20.0,
        band: Band::Red,
        prev_band: Band::Yellow,
        reasons: sample_reasons(),
        tier: Tier::Regular,
        manager_id: None,
        value: 0.0,
        priority: 0.9,
    };
    for enc in [output::Encoding::Json, output::Encoding::Protobuf] {
        let back = output::decode_alert(&output::encode_alert(&a, enc), enc).unwrap();
        assert_eq!(
            (back.kind, back.band, back.prev_band),
            (a.kind, a.band, a.prev_band)
        );
    }
    let json = output::alert_to_json(&a).replace("\"red\"", "\"purple\"");
    assert!(output::decode_alert_json(json.as_bytes()).is_err());
    let json = output::alert_to_json(&a).replace("\"frequency\"", "\"vibes\"");
    assert!(output::decode_alert_json(json.as_bytes()).is_err());
    let mut msg: vigil_proto::v1::Alert =
        prost::Message::decode(&output::alert_to_proto(&a)[..]).unwrap();
    msg.band = i32::MIN;
    assert!(output::decode_alert_proto(&prost::Message::encode_to_vec(&msg)).is_err());
    msg.band = 3;
    msg.kind = 99;
    assert!(output::decode_alert_proto(&prost::Message::encode_to_vec(&msg)).is_err());
}

#[test]
fn encodings_parse_from_config_and_strings() {
    use output::Encoding;
    assert_eq!("json".parse::<Encoding>(), Ok(Encoding::Json));
    assert_eq!("protobuf".parse::<Encoding>(), Ok(Encoding::Protobuf));
    assert!("xml".parse::<Encoding>().is_err());
    assert_eq!(
        serde_json::from_str::<Encoding>(r#""protobuf""#).unwrap(),
        Encoding::Protobuf
    );
    assert_eq!(serde_json::to_string(&Encoding::Json).unwrap(), r#""json""#);
    assert_eq!(Encoding::Protobuf.to_string(), "protobuf");
}

/// A regular player's four weeks: daily visits and bets, deposits, a few
/// messages and tickets, an NPS answer. The resulting snapshot is what the
/// changelog mostly carries.
fn typical_snapshot() -> PlayerSnapshot {
    let mut engine = Engine::new(EngineConfig::default()).unwrap();
    let mut out = Vec::new();
    let eur = Currency::parse("EUR").unwrap();
    let start = Timestamp::from_secs(1_793_534_400).as_millis();
    let mut n = 0u64;
    let mut push = |engine: &mut Engine, day: i64, minute: i64, payload: Payload| {
        n += 1;
        let e = PlayerEvent {
            event_id: format!("e{n}").into(),
            player_id: "p00012345".into(),
            brand: "casino-a".into(),
            ts: Timestamp::from_millis(start + day * 86_400_000 + minute * 60_000),
            payload,
        };
        engine.ingest(e, &mut out).unwrap();
    };
    for day in 0..28 {
        push(&mut engine, day, 0, Payload::Login { channel: None });
        for bet in 0..(10 + day % 7) {
            push(
                &mut engine,
                day,
                1 + bet,
                Payload::Bet {
                    stake: Money {
                        amount: 0.5 + (bet % 5) as f64,
                        currency: eur,
                    },
                    game: Game::Slots,
                    win: Some(Money {
                        amount: (bet % 3) as f64,
                        currency: eur,
                    }),
                },
            );
        }
        if day % 3 == 0 {
            push(
                &mut engine,
                day,
                30,
                Payload::Deposit {
                    amount: Money {
                        amount: 50.0,
                        currency: eur,
                    },
                    status: DepositStatus::Ok,
                },
            );
        }
        if day % 7 == 2 {
            push(
                &mut engine,
                day,
                40,
                Payload::Message {
                    channel: MessageChannel::Email,
                    action: MessageAction::Sent,
                },
            );
            push(
                &mut engine,
                day,
                50,
                Payload::Message {
                    channel: MessageChannel::Email,
                    action: MessageAction::Opened,
                },
            );
        }
        if day % 10 == 5 {
            for (minute, action) in [(60, TicketAction::Opened), (200, TicketAction::Resolved)] {
                push(
                    &mut engine,
                    day,
                    minute,
                    Payload::Ticket {
                        ticket_id: format!("t{day}"),
                        action,
                    },
                );
            }
        }
        push(
            &mut engine,
            day,
            90,
            Payload::SessionEnd { duration_s: 5400 },
        );
    }
    push(&mut engine, 27, 100, Payload::Nps { score: 8 });
    engine.flush(&mut out);
    engine.export("casino-a", "p00012345").unwrap()
}

#[test]
fn snapshot_of_a_typical_player_is_small_and_exact() {
    let snap = typical_snapshot();
    let bytes = snapshot::encode_snapshot(&snap);
    // 304 bytes when written (the daily stake figures are the largest
    // part); the bound leaves the state a little room to grow.
    assert!(bytes.len() <= 330, "{} bytes", bytes.len());
    let back = snapshot::decode_snapshot(&bytes).unwrap();
    assert_eq!(back.player_id, snap.player_id);
    assert_eq!(back.brand, snap.brand);
    assert!(same_state(
        &back.state,
        &PlayerState {
            brand: 0,
            ..snap.state
        }
    ));
}

/// Valid encodings with bytes flipped or cut: the decoders refuse or
/// accept, but never panic.
fn mutated(bytes: Vec<u8>, flips: Vec<(usize, u8)>, cut: usize) -> Vec<u8> {
    let mut b = bytes;
    for (at, x) in flips {
        if !b.is_empty() {
            let i = at % b.len();
            b[i] ^= x;
        }
    }
    let keep = b.len().saturating_sub(cut % 4);
    b.truncate(keep);
    b
}

proptest! {
    #[test]
    fn decoders_never_panic_on_mutated_encodings(
        e in event(),
        flips in prop::collection::vec((any::<usize>(), 1u8..), 0..4),
        cut in any::<usize>(),
    ) {
        let _ = json::decode_event(&mutated(json::encode_event(&e).into_bytes(), flips.clone(), cut));
        let _ = proto::decode_event(&mutated(proto::encode_event(&e), flips.clone(), cut));
        let snap = PlayerSnapshot { player_id: e.player_id.into(), brand: e.brand.into(), state: PlayerState::default() };
        let _ = snapshot::decode_snapshot(&mutated(snapshot::encode_snapshot(&snap), flips, cut));
    }
}

proptest! {
    /// The fast UTF-8 check refuses exactly the lines std refuses, and the
    /// reason names std's position.
    #[test]
    fn json_refuses_as_not_utf8_exactly_what_std_refuses(
        e in event(),
        flips in prop::collection::vec((any::<usize>(), 0x80u8..), 0..3),
    ) {
        let b = mutated(json::encode_event(&e).into_bytes(), flips, 0);
        let got = json::decode_event(&b);
        match std::str::from_utf8(&b) {
            Ok(_) => prop_assert!(
                !matches!(&got, Err(r) if r.to_string().contains("not UTF-8")),
                "{got:?}"
            ),
            Err(why) => {
                let Err(r) = got else { panic!("accepted bytes std refuses") };
                prop_assert!(r.to_string().contains(&why.to_string()), "{r}");
            }
        }
    }
}

/// Every kind of fact the reorder buffer can hold.
fn fact() -> impl Strategy<Value = Fact> {
    prop_oneof![
        Just(Fact::Login),
        any::<u32>().prop_map(|duration_s| Fact::SessionEnd { duration_s }),
        (any::<u64>(), any::<Option<u64>>()).prop_map(|(stake_cents, win_cents)| Fact::Bet {
            stake_cents,
            win_cents
        }),
        (any::<u64>(), any::<bool>()).prop_map(|(cents, ok)| Fact::Deposit { cents, ok }),
        (any::<u64>(), pick(WithdrawalStatus::ALL))
            .prop_map(|(cents, status)| Fact::Withdrawal { cents, status }),
        (any::<u32>(), pick(TicketAction::ALL))
            .prop_map(|(id_hash, action)| Fact::Ticket { id_hash, action }),
        any::<u64>().prop_map(|cents| Fact::LotteryTicket { cents }),
        pick(BonusAction::ALL).prop_map(|action| Fact::Bonus { action }),
        pick(MessageAction::ALL).prop_map(|action| Fact::Message { action }),
        (0u8..=10).prop_map(|score| Fact::Nps { score }),
        pick(RgAction::ALL).prop_map(|action| Fact::Rg { action }),
    ]
}

fn pending() -> impl Strategy<Value = Pending> {
    (any::<i64>(), any::<u64>(), fact()).prop_map(|(ts, id_hash, fact)| Pending {
        ts: Timestamp::from_millis(ts),
        id_hash,
        fact,
    })
}

proptest! {
    #[test]
    fn changelog_records_round_trip_exactly(
        st in prop::option::of(state()).boxed(),
        pend in prop::collection::vec(pending(), 0..4).boxed(),
        through in any::<i64>(),
        topic in "[a-z.-]{1,12}",
        brand in "\\PC{0,8}",
        id in "\\PC{1,16}",
    ) {
        let rec = PlayerRecord { player_id: id.clone(), brand: brand.clone(), state: st, pending: pend };
        let key = changelog::decode_key(&changelog::player_key(&topic, &brand, &id)).unwrap();
        prop_assert_eq!(&key.input_topic, &topic);
        prop_assert_eq!(key.player.clone(), Some((brand.clone(), id.clone())));
        let (t, entry) = changelog::decode_value(&key, &changelog::encode_player(&rec, through)).unwrap();
        prop_assert_eq!(t, through);
        let changelog::Entry::Player(back) = entry else { panic!("not a player record") };
        prop_assert_eq!(&back.pending, &rec.pending);
        prop_assert_eq!((&back.player_id, &back.brand), (&rec.player_id, &rec.brand));
        match (&back.state, &rec.state) {
            (Some(a), Some(b)) => prop_assert!(same_state(a, b)),
            (a, b) => prop_assert_eq!(a.is_none(), b.is_none()),
        }
    }

    #[test]
    fn clock_records_round_trip(max_seen in any::<i64>(), clock in any::<i64>(), through in any::<i64>()) {
        let c = EngineClock { max_seen: Timestamp::from_millis(max_seen), clock: Timestamp::from_millis(clock) };
        let key = changelog::decode_key(&changelog::clock_key("events")).unwrap();
        prop_assert_eq!(key.player.clone(), None);
        let (t, entry) = changelog::decode_value(&key, &changelog::encode_clock(c, through)).unwrap();
        prop_assert_eq!(t, through);
        prop_assert_eq!(entry, changelog::Entry::Clock(c));
    }
}

#[test]
fn changelog_values_under_the_wrong_key_or_version_are_refused() {
    let clock = changelog::encode_clock(
        EngineClock {
            max_seen: Timestamp::from_millis(5),
            clock: Timestamp::from_millis(1),
        },
        7,
    );
    let player_key = changelog::decode_key(&changelog::player_key("t", "b", "p")).unwrap();
    let err = changelog::decode_value(&player_key, &clock).unwrap_err();
    assert!(
        err.to_string().contains("clock record under a player key"),
        "{err}"
    );
    let rec = PlayerRecord {
        player_id: "p".into(),
        brand: "b".into(),
        state: None,
        pending: vec![],
    };
    let clock_key = changelog::decode_key(&changelog::clock_key("t")).unwrap();
    let err = changelog::decode_value(&clock_key, &changelog::encode_player(&rec, 1)).unwrap_err();
    assert!(
        err.to_string().contains("player record under a clock key"),
        "{err}"
    );
    // A future version, written by hand: field 1 (version) = 2.
    let err = changelog::decode_value(&clock_key, &[0x08, 0x02]).unwrap_err();
    assert!(err.to_string().contains("version 2"), "{err}");
    let err = changelog::decode_value(&clock_key, &[0x08, 0x01]).unwrap_err();
    assert!(err.to_string().contains("neither"), "{err}");
}

fn sample_offer(status: OfferStatus, suppressed_by: Option<Suppression>) -> Offer {
    Offer {
        offer_id: "00112233445566778899aabbccddeeff".into(),
        alert_id: "0123456789abcdef0123456789abcdef".into(),
        player_id: "p1".into(),
        brand: "casino-a".into(),
        ts: Timestamp::from_secs(1_793_534_400),
        rule: "cashback_red".into(),
        offer: "cashback_10pct".into(),
        channel: Channel::Email,
        value_cap: 12.5,
        value: 125.0,
        priority: 75.25,
        tier: Tier::Vip,
        manager_id: Some("m1".into()),
        status,
        suppressed_by,
        // Two decimals, as JSON writes them, so both encodings are exact.
        reasons: vec![Reason {
            signal: Signal::Frequency,
            value: 0.25,
            baseline: 4.5,
            change_pct: Some(-94.44),
            contribution: -12.5,
        }],
    }
}

#[test]
fn offers_and_outcomes_round_trip_through_both_encodings() {
    let offers = [
        sample_offer(OfferStatus::Sent, None),
        sample_offer(OfferStatus::HeldOut, None),
        sample_offer(OfferStatus::Suppressed, Some(Suppression::SelfExclusion)),
    ];
    let outcome = Outcome {
        outcome_id: "ffeeddccbbaa99887766554433221100".into(),
        source_id: "0123456789abcdef0123456789abcdef".into(),
        source: OutcomeSource::Alert(AlertKind::UsageDrop),
        player_id: "p1".into(),
        brand: "casino-a".into(),
        started: Timestamp::from_secs(1_793_534_400),
        ts: Timestamp::from_secs(1_793_534_400 + 14 * 86_400),
        score_before: 35.5,
        score_after: 72.25,
        band_before: Band::Red,
        band_after: Band::Green,
        recovered: true,
    };
    let held = Outcome {
        source: OutcomeSource::Offer { treated: false },
        ..outcome.clone()
    };
    for enc in [output::Encoding::Json, output::Encoding::Protobuf] {
        for o in &offers {
            let back = retention::decode_offer(&retention::encode_offer(o, enc), enc).unwrap();
            assert_eq!(&back, o, "{enc}");
        }
        for o in [&outcome, &held] {
            let back = retention::decode_outcome(&retention::encode_outcome(o, enc), enc).unwrap();
            assert_eq!(&back, o, "{enc}");
        }
    }
    let json = retention::offer_to_json(&offers[2]);
    assert!(json.contains(r#""status":"suppressed""#), "{json}");
    assert!(
        json.contains(r#""suppressed_by":"self_exclusion""#),
        "{json}"
    );
    let json = retention::outcome_to_json(&held);
    assert!(json.contains(r#""group":"held_out""#), "{json}");
}

#[test]
fn profiles_decode_with_defaults_and_refuse_bad_values() {
    let enc = output::Encoding::Json;
    let r = retention::decode_profile(
        br#"{"player_id":"p1","brand":"casino-a","tier":"high_roller","manager_id":"m3","segments":["sports"],"opt_outs":["sms"]}"#,
        enc,
    )
    .unwrap();
    assert_eq!(r.profile.tier, Tier::HighRoller);
    assert_eq!(r.profile.manager_id.as_deref(), Some("m3"));
    assert!(r.profile.opt_outs.declines(Channel::Sms));
    assert!(!r.profile.opt_outs.declines(Channel::Email));
    let bare = retention::decode_profile(br#"{"player_id":"p2","brand":"b"}"#, enc).unwrap();
    assert_eq!(bare.profile, Profile::default());
    for (bad, code) in [
        (
            &br#"{"player_id":"p","brand":"b","tier":"gold"}"#[..],
            "invalid_field",
        ),
        (
            br#"{"player_id":"p","brand":"b","opt_outs":["fax"]}"#,
            "invalid_field",
        ),
        (br#"{"player_id":"","brand":"b"}"#, "invalid_field"),
        (br#"{"brand":"b"}"#, "invalid_json"),
    ] {
        let e = retention::decode_profile(bad, enc).unwrap_err();
        assert_eq!(e.code(), code, "{e}");
    }
    for enc in [output::Encoding::Json, output::Encoding::Protobuf] {
        let back = retention::decode_profile(&retention::encode_profile(&r, enc), enc).unwrap();
        assert_eq!(back, r);
    }
    assert_eq!(
        retention::decode_profile(b"\xff\xff", output::Encoding::Protobuf)
            .unwrap_err()
            .code(),
        "invalid_protobuf"
    );
}
