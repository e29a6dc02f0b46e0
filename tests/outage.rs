//! A broker outage: the broker process is frozen (SIGSTOP) for 30 s while
//! vigil is processing, then resumed (SIGCONT). Freezing, not restarting:
//! Tansu's memory storage would be lost on a restart, and a frozen broker
//! is the harder case (connections stay open, nothing answers). vigil must
//! ride it out: `/readyz` says 503 during the freeze and 200 after, and
//! nothing is lost (alerts and final scores as one uninterrupted run).
//!
//! The test starts a broker of its own, as freezing the suite's would stall
//! every other test. (An earlier attempt took its broker for dead seconds
//! after its start: the freeze had already begun, as vigil handles the
//! first half within seconds, and with the suite's 6 s session timeout the
//! member was expired during the freeze and never given its partitions
//! again by Tansu 0.6, so `/readyz` stayed 503 after the resume.)

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

const READY: Duration = Duration::from_secs(90);
const FREEZE: Duration = Duration::from_secs(30);

/// A Tansu broker of this test's own on a free port.
struct Broker {
    child: Option<Child>,
    pid: u32,
    addr: String,
    log: std::path::PathBuf,
}

impl Broker {
    fn start() -> Broker {
        // scripts/test.sh exports where it installed Tansu.
        let tansu = std::env::var("VIGIL_TANSU").unwrap_or_else(|_| {
            format!(
                "{}/.cache/vigil/tansu-0.6.0/bin/tansu",
                std::env::var("HOME").unwrap()
            )
        });
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let log = std::env::temp_dir()
            .join(unique("tansu-outage"))
            .with_extension("log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(&tansu)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {tansu} (run ./scripts/test.sh once to install it): {e}")
            });
        let addr = format!("127.0.0.1:{port}");
        let start = Instant::now();
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "tansu not listening:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Broker {
            pid: child.id(),
            child: Some(child),
            addr,
            log,
        }
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.pid.to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig} failed");
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        // Resumed first, so a test failing mid-freeze does not leave a
        // stopped process behind.
        let _ = Command::new("kill")
            .args(["-CONT", &self.pid.to_string()])
            .status();
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

async fn readyz(v: &Vigil) -> Option<(u16, String)> {
    v.get("/readyz").await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frozen_broker_makes_vigil_unready_and_it_resumes_losing_nothing() {
    let broker = Broker::start();
    let mut setup = scoring_setup(2);
    setup.bootstrap = Some(broker.addr.clone());
    // librdkafka's defaults (45 s, 5 min): a 30 s freeze is shorter than
    // the session, so the member stays in the group. With the suite's short
    // session the freeze expires it, and Tansu 0.6 then never assigned the
    // partitions again (see docs/operations.md).
    setup.session_timeout_ms = 45_000;
    setup.max_poll_interval_ms = 300_000;
    create_topic_on(&broker.addr, &setup.input, setup.partitions).await;
    let events = population(12, 60, setup.partitions);
    let records = encode_events(&events);
    let (first, second) = records.split_at(records.len() / 2);

    let v = Vigil::start(&setup);
    v.wait_ready(READY).await;
    produce_on(&broker.addr, &setup.input, first).await;
    v.wait_committed(&setup, first.len(), READY).await;
    produce_on(&broker.addr, &setup.input, second).await;
    // Freeze as soon as vigil is into the second half.
    v.wait_consumed(first.len() + 1, READY).await;
    broker.signal("-STOP");
    let frozen = Instant::now();
    let mut unready = None;
    while frozen.elapsed() < FREEZE {
        if let Some((503, body)) = readyz(&v).await {
            unready.get_or_insert((frozen.elapsed(), body));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let at_end = readyz(&v).await;
    broker.signal("-CONT");
    let resumed = Instant::now();
    let (noticed, reason) = unready.unwrap_or_else(|| {
        panic!(
            "/readyz never said 503 during a {FREEZE:?} freeze; log:\n{}",
            v.log()
        )
    });
    assert!(reason.contains("broker not reachable"), "{reason}");
    assert_eq!(
        at_end.map(|r| r.0),
        Some(503),
        "still unready at the end of the freeze"
    );
    v.wait_ready(READY).await;
    eprintln!(
        "outage: unready {noticed:?} after the freeze, ready again {:?} after resuming",
        resumed.elapsed()
    );
    v.wait_committed(&setup, records.len(), READY).await;
    let (status, log) = v.terminate();
    assert!(status.success(), "{log}");
    assert_as_uninterrupted(
        &setup,
        &events,
        &format!("{log}\n--- broker:\n{}", broker.log()),
    );
}
