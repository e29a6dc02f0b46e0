//! Decodes every line of a file REPEAT times (for instruction counts).
fn main() {
    let path = std::env::args().nth(1).expect("file");
    let repeat: usize = std::env::args()
        .nth(2)
        .map_or(1, |r| r.parse().expect("repeat"));
    let text = std::fs::read_to_string(path).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    let mut ok = 0usize;
    for _ in 0..repeat {
        for l in &lines {
            ok += usize::from(
                std::hint::black_box(vigil_codec::json::decode_event(l.as_bytes())).is_ok(),
            );
        }
    }
    eprintln!("{} lines, {ok} decoded", lines.len());
}
