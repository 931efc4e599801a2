//! `gen-vectors`: writes `vectors/journeys/<journey>.json` for every `scenarios/*.jsonl`
//! (`--check`: writes nothing, exits 1 when a committed file differs).
#![forbid(unsafe_code)]

use cobrowse_visitor_vectors::generate;
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let check = std::env::args().any(|a| a == "--check");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = root.join("vectors").join("journeys");
    let vectors = match generate::all(&root) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("gen-vectors: {e}");
            return ExitCode::from(2);
        }
    };
    let mut stale = 0;
    for (name, text) in &vectors {
        let path = out.join(name);
        if check {
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                eprintln!("{}: stale (run gen-vectors)", path.display());
                stale += 1;
            }
        } else if let Err(e) = std::fs::write(&path, text) {
            eprintln!("{}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    if stale > 0 {
        return ExitCode::FAILURE;
    }
    println!(
        "{} vectors {}",
        vectors.len(),
        if check { "up to date" } else { "written" }
    );
    ExitCode::SUCCESS
}
