//! Decoder throughput, as events per second on one core
//! (`Throughput::Elements`): the decoders sit in front of the engine on the
//! hot path, so they must be cheap next to its ~1 M events/s.
//!
//! Run: `cargo bench -p vigil-codec --bench decode`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use vigil_codec::{json, proto};
use vigil_domain::event::{DepositStatus, Game, MessageAction, MessageChannel};
use vigil_domain::{Currency, Money, Payload, PlayerEvent, Timestamp};

/// A mix shaped like real traffic: mostly bets, some logins and sessions,
/// a few deposits and messages.
fn events(n: usize) -> Vec<PlayerEvent> {
    let eur = Currency::parse("EUR").expect("valid code");
    (0..n)
        .map(|i| {
            let payload = match i % 10 {
                0 => Payload::Login {
                    channel: Some("mobile".into()),
                },
                1 => Payload::SessionEnd { duration_s: 1800 },
                2 => Payload::Deposit {
                    amount: Money {
                        amount: 50.0,
                        currency: eur,
                    },
                    status: DepositStatus::Ok,
                },
                3 => Payload::Message {
                    channel: MessageChannel::Push,
                    action: MessageAction::Opened,
                },
                _ => Payload::Bet {
                    stake: Money {
                        amount: ((i % 17) * 20 + 10) as f64 / 100.0,
                        currency: eur,
                    },
                    game: Game::Slots,
                    win: (i % 3 == 0).then_some(Money {
                        amount: 1.5,
                        currency: eur,
                    }),
                },
            };
            PlayerEvent {
                event_id: compact_str::format_compact!("evt-{i:012}"),
                player_id: compact_str::format_compact!("p{:08}", i * 7919 % 100_000),
                brand: "casino-a".into(),
                ts: Timestamp::from_millis(1_793_534_400_000 + i as i64 * 137),
                payload,
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let events = events(10_000);
    let lines: Vec<String> = events.iter().map(json::encode_event).collect();
    let frames: Vec<Vec<u8>> = events.iter().map(proto::encode_event).collect();
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("json", |b| {
        b.iter(|| {
            for l in &lines {
                let _ = black_box(json::decode_event(black_box(l.as_bytes())));
            }
        })
    });
    group.bench_function("protobuf", |b| {
        b.iter(|| {
            for f in &frames {
                let _ = black_box(proto::decode_event(black_box(f)));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
