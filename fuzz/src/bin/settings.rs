//! Prints the settings edits an `engine_config` input makes, one per line
//! (`cargo run --bin settings FILE`), to read a finding.

fn main() -> std::io::Result<()> {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: settings FILE");
        std::process::exit(2);
    };
    let data = std::fs::read(path)?;
    for (pointer, value) in vigil_fuzz::settings::edits(&data) {
        println!("{pointer} = {value}");
    }
    match vigil_fuzz::settings::edit(&data) {
        None => println!("(the edited settings do not read back)"),
        Some(cfg) => match cfg.validate() {
            Ok(()) => println!("(valid)"),
            Err(e) => println!("(refused: {e})"),
        },
    }
    Ok(())
}
