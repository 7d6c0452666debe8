//! The `clawkeep` binary: parse, run, print the error once, exit with its code.

mod cli;

fn main() {
    std::process::exit(cli::main());
}
