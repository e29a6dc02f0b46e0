//! `scripts/bench-run.sh`, the end-to-end benchmark of the real service,
//! at a toy size against the suite's broker, so the command the README and
//! benches/README.md give keeps working: it loads what `vigil gen` makes,
//! `vigil run` consumes all of it (the script waits for that on vigil's
//! own `/metrics`), and SIGTERM stops it cleanly. The figures it prints are
//! not judged here.

mod cli;
mod support;

use std::path::Path;
use std::process::Command;

use cli::vigil;
use support::bootstrap;

/// The first number after `prefix` on the line that starts with `label`.
fn figure(out: &str, label: &str, prefix: &str) -> u64 {
    let line = out
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no `{label}` line in:\n{out}"));
    let rest = line[label.len()..]
        .split_once(prefix)
        .map_or(&line[label.len()..], |(_, r)| r)
        .trim_start();
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no number after {prefix:?} in {line:?}"))
}

#[test]
fn bench_run_consumes_everything_gen_loads_and_stops_cleanly() {
    let (players, days) = ("60", "10");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/bench-run.sh");
    let out = Command::new("bash")
        .arg(&script)
        .args([players, days])
        .env("VIGIL_BIN", env!("CARGO_BIN_EXE_vigil"))
        .env("VIGIL_TEST_BOOTSTRAP", bootstrap())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench-run.sh failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // It waited for every event the simulator makes for this population
    // (the script's seed is 1), not for a part of them.
    let file = vigil(&["gen", "--players", players, "--days", days, "--seed", "1"]).stdout;
    let made = file
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count() as u64;
    assert!(made > 1000, "{made}");
    assert_eq!(figure(&stdout, "events:", ""), made, "{stdout}");
    // vigil's own counts, from its /metrics: all of it read, none refused.
    assert_eq!(figure(&stdout, "consumed:", ""), made, "{stdout}");
    assert_eq!(figure(&stdout, "consumed:", "events,"), 0, "{stdout}");
    assert!(
        stdout.contains("shutdown:               SIGTERM, exit 0"),
        "{stdout}"
    );
}
