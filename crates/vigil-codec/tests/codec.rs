//! Decoders refuse bad input precisely and never panic; encoders round-trip.

use proptest::prelude::*;
use vigil_codec::{json, output, proto, snapshot};
use vigil_domain::event::*;
use vigil_domain::state::PlayerState;
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

fn money() -> impl Strategy<Value = Money> {
    (
        0u32..10_000_000,
        prop::sample::select(vec!["EUR", "USD", "SEK"]),
    )
        .prop_map(|(c, cur)| Money {
            amount: c as f64 / 100.0,
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
        (money(), pick(Game::ALL), prop::option::of(0u32..1_000_000)).prop_map(
            |(stake, game, win)| Payload::Bet {
                stake,
                game,
                win: win.map(|w| Money {
                    amount: w as f64 / 100.0,
                    currency: stake.currency
                }),
            }
        ),
        (money(), pick(DepositStatus::ALL))
            .prop_map(|(amount, status)| Payload::Deposit { amount, status }),
        (money(), pick(WithdrawalStatus::ALL))
            .prop_map(|(amount, status)| Payload::Withdrawal { amount, status }),
        ("[a-z0-9-]{1,12}", pick(TicketAction::ALL))
            .prop_map(|(ticket_id, action)| Payload::Ticket { ticket_id, action }),
        ("[a-z0-9]{1,8}", money())
            .prop_map(|(draw_id, amount)| Payload::LotteryTicket { draw_id, amount }),
        (pick(BonusAction::ALL), prop::option::of(0.0f64..1e6))
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
        "[a-z0-9é\"\\\\ ]{1,12}",
        "[a-z-]{1,10}",
        0i64..4_000_000_000_000,
        payload(),
    )
        .prop_map(|(event_id, player_id, brand, ms, payload)| PlayerEvent {
            event_id,
            player_id: format!("p{player_id}"),
            brand,
            ts: Timestamp::from_millis(ms),
            payload,
        })
}

fn state() -> impl Strategy<Value = PlayerState> {
    (
        any::<u32>(),
        prop::array::uniform28(any::<u8>()),
        prop::array::uniform28(any::<u16>()),
        prop::array::uniform28(any::<u32>()),
        prop::array::uniform6(any::<f32>()),
        prop::array::uniform6(any::<f32>()),
        prop::array::uniform8(any::<u32>()),
        (
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<f32>(),
            any::<u16>(),
            any::<bool>(),
            0u8..3,
        ),
    )
        .prop_map(
            |(head, visits, bets, stake, short, long, ids, (a, b, c, gap, gaps, ready, band))| {
                let mut s = PlayerState::default();
                s.window.head_day = head;
                s.window.visits = visits;
                s.window.bets = bets;
                s.window.stake_cents = stake;
                s.decayed.short = short;
                s.decayed.long = long;
                s.decayed.at = a;
                s.recent_ids.ids = ids;
                s.recent_ids.next = (b % 8) as u8;
                s.first_seen = a;
                s.last_event = b;
                s.last_active = c;
                s.typical_gap_secs = gap;
                s.gaps = gaps;
                s.tickets.slots = [(a, b), (c, a), (b, c)];
                s.tickets.replied = (a % 8) as u8;
                s.withdrawals.requested_at = [b, c];
                s.nps.latest = (a % 11) as u8;
                s.nps.at = c;
                s.rg.flags = (b % 16) as u8;
                s.verdict.score = gap;
                s.verdict.band = Band::ALL[band as usize];
                s.verdict.ready = ready;
                s.verdict.evaluated_at = a;
                s.cooldowns.band_change_at = b;
                s.next_due = c;
                s
            },
        )
}

/// Float fields compared by bits (NaN included), everything else by value.
fn same_state(a: &PlayerState, b: &PlayerState) -> bool {
    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    bits(&a.decayed.short) == bits(&b.decayed.short)
        && bits(&a.decayed.long) == bits(&b.decayed.long)
        && a.typical_gap_secs.to_bits() == b.typical_gap_secs.to_bits()
        && a.verdict.score.to_bits() == b.verdict.score.to_bits()
        && a.window == b.window
        && a.recent_ids == b.recent_ids
        && a.tickets == b.tickets
        && a.withdrawals == b.withdrawals
        && a.nps == b.nps
        && a.rg == b.rg
        && a.cooldowns == b.cooldowns
        && (
            a.first_seen,
            a.last_event,
            a.last_active,
            a.gaps,
            a.next_due,
        ) == (
            b.first_seen,
            b.last_event,
            b.last_active,
            b.gaps,
            b.next_due,
        )
        && (a.verdict.band, a.verdict.ready, a.verdict.evaluated_at)
            == (b.verdict.band, b.verdict.ready, b.verdict.evaluated_at)
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

#[test]
fn snapshot_size_is_small_and_wrong_lengths_are_refused() {
    let snap = PlayerSnapshot {
        player_id: "p00012345".into(),
        brand: "casino-a".into(),
        state: PlayerState::default(),
    };
    let bytes = snapshot::encode_snapshot(&snap);
    assert!(bytes.len() < 400, "{} bytes", bytes.len());
    let mut msg: vigil_proto::v1::PlayerSnapshot = prost::Message::decode(&bytes[..]).unwrap();
    msg.state.as_mut().unwrap().bets.pop();
    let err = snapshot::decode_snapshot(&prost::Message::encode_to_vec(&msg)).unwrap_err();
    assert!(err.to_string().contains("`bets`"), "{err}");
    msg.version = 9;
    assert!(snapshot::decode_snapshot(&prost::Message::encode_to_vec(&msg)).is_err());
}
