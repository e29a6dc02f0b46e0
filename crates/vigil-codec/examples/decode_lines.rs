//! Decodes every event of a file REPEAT times (for instruction counts):
//! JSON lines, or with `--proto` a length-delimited protobuf stream (as
//! `vigil gen --format proto` writes).
fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let proto = args
        .iter()
        .position(|a| a == "--proto")
        .map(|i| args.remove(i));
    let path = args.first().expect("file");
    let repeat: usize = args.get(1).map_or(1, |r| r.parse().expect("repeat"));
    let events: Vec<Vec<u8>> = if proto.is_some() {
        let file = std::io::BufReader::new(std::fs::File::open(path).expect("open"));
        vigil_codec::proto::DelimitedReader::new(file)
            .collect::<Result<_, _>>()
            .expect("frames")
    } else {
        let text = std::fs::read_to_string(path).expect("read");
        text.lines().map(|l| l.as_bytes().to_vec()).collect()
    };
    let decode = if proto.is_some() {
        vigil_codec::proto::decode_event
    } else {
        vigil_codec::json::decode_event
    };
    let mut ok = 0usize;
    for _ in 0..repeat {
        for e in &events {
            ok += usize::from(std::hint::black_box(decode(e)).is_ok());
        }
    }
    eprintln!("{} events, {ok} decoded", events.len());
}
