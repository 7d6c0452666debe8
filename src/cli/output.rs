//! Rendering: tables for people, JSON for scripts. The only place that formats command results.

use comfy_table::{Table, presets};
use serde::Serialize;

/// Write `text` and a newline to stdout. A reader that went away (`… --json | head`) ends the command quietly, as
/// a broken pipe ends other Unix tools, instead of a panic.
fn out_line(text: &str) {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    if writeln!(o, "{text}").and_then(|()| o.flush()).is_err() {
        std::process::exit(clawkeep::error::exit::OK);
    }
}

/// Print text (one or many lines) and a newline on stdout, in one write.
pub fn text(text: &str) {
    out_line(text);
}

/// Print a value as pretty JSON on stdout, written as it is serialized (a 10,000-profile audit is about 5 MB: no
/// copy of the whole text is built first). A reader that went away ends the command quietly, as in [`out_line`];
/// any other write error is said, with exit 74.
pub fn json<T: Serialize>(v: &T) {
    use std::io::Write;
    let mut w = std::io::BufWriter::with_capacity(64 << 10, std::io::stdout().lock());
    let written = serde_json::to_writer_pretty(&mut w, v)
        .map_err(std::io::Error::from)
        .and_then(|()| w.write_all(b"\n"))
        .and_then(|()| w.flush());
    if let Err(e) = written {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("clawkeep: could not write the JSON output: {e}");
            std::process::exit(clawkeep::error::exit::IO);
        }
        std::process::exit(clawkeep::error::exit::OK);
    }
}

/// Print a value as one line of JSON on stdout.
pub fn json_line<T: Serialize>(v: &T) {
    out_line(&serde_json::to_string(v).unwrap_or_else(|_| "null".into()));
}

/// Print a plain aligned table on stdout.
pub fn table(header: &[&str], rows: Vec<Vec<String>>) {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING);
    t.set_header(header.iter().map(|h| h.to_string()).collect::<Vec<_>>());
    for r in rows {
        t.add_row(r);
    }
    // comfy-table pads the first column with a leading space under NOTHING; trim each line's left margin.
    for line in t.to_string().lines() {
        out_line(line.strip_prefix(' ').unwrap_or(line).trim_end());
    }
}

/// `3d 4h`, `5h 12m`, `expired 2h ago`.
pub fn human_ms(ms: i64) -> String {
    let s = clawkeep::ops::status::human_duration(ms);
    if ms < 0 { format!("{s} ago") } else { s }
}
