//! `completions` and `man`: generated from the same clap definitions as the parser, so they never drift.

use std::io::Write;

use clap::CommandFactory;

use clawkeep::error::exit;
use clawkeep::{Error, Result};

use super::Cli;

/// A completion script for `shell` on stdout.
pub fn completions(shell: clap_complete::Shell) -> Result<i32> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "clawkeep", &mut out);
    write_out(&out)
}

/// The man page (roff) on stdout.
pub fn man() -> Result<i32> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut out).map_err(|e| Error::io("<stdout>", "rendering", e))?;
    write_out(&out)
}

fn write_out(bytes: &[u8]) -> Result<i32> {
    let mut o = std::io::stdout().lock();
    match o.write_all(bytes).and_then(|()| o.flush()) {
        // A reader that stopped early (`| head`) is not an error.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::io("<stdout>", "writing", e)),
        _ => Ok(exit::OK),
    }
}
