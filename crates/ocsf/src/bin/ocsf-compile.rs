//! `ocsf-compile SCHEMA_DIR OUT.json`: compiles the OCSF schema sources into the compact table
//! that `shrike-ocsf` embeds.
//!
//! ```text
//! cargo run -p shrike-ocsf --bin ocsf-compile -- \
//!     /work/shared/data/ocsf/schema-1.8.0 crates/ocsf/schema/ocsf-1.8.0.json
//! ```

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [src, out] = args.as_slice() else {
        eprintln!("usage: ocsf-compile SCHEMA_DIR OUT.json");
        return ExitCode::from(2);
    };
    let table = match shrike_ocsf::compile(Path::new(src)) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("ocsf-compile: {e}");
            return ExitCode::from(2);
        }
    };
    let text = table.to_json_lines();
    if let Err(e) = std::fs::write(out, &text) {
        eprintln!("ocsf-compile: writing {out}: {e}");
        return ExitCode::from(2);
    }
    eprintln!(
        "ocsf-compile: OCSF {}: {} classes, {} objects, {} types, {} bytes -> {out}",
        table.version,
        table.classes.len(),
        table.objects.len(),
        table.types.len(),
        text.len()
    );
    ExitCode::SUCCESS
}
