//! Load generator for the vault service (`scripts/bench` runs it): N client threads send `get` for one id for a
//! fixed time, on one kept connection each or on a fresh connection per request, and the run prints throughput and
//! latency percentiles as one JSON line.
//!
//! ```text
//! cargo run --release --example loadgen -- --socket PATH --id main/anthropic:default --clients 32 --seconds 30 --mode kept
//! ```
//!
//! Every answer is checked: a request that does not come back with the id's value counts as an error, and the run
//! exits 1 when any did. Values are never printed.
#![allow(clippy::disallowed_methods)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clawkeep::protocol::client::Client;
use clawkeep::protocol::wire::Request;

struct Args {
    socket: PathBuf,
    id: String,
    clients: usize,
    seconds: f64,
    kept: bool,
}

fn args() -> Args {
    let mut a = Args { socket: PathBuf::new(), id: String::new(), clients: 1, seconds: 5.0, kept: true };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--socket" => a.socket = value().into(),
            "--id" => a.id = value(),
            "--clients" => a.clients = value().parse().unwrap_or_else(|_| usage("--clients: a number")),
            "--seconds" => a.seconds = value().parse().unwrap_or_else(|_| usage("--seconds: a number")),
            "--mode" => {
                a.kept = match value().as_str() {
                    "kept" => true,
                    "fresh" => false,
                    _ => usage("--mode: kept or fresh"),
                }
            }
            _ => usage(&format!("unknown flag {flag}")),
        }
    }
    if a.socket.as_os_str().is_empty() || a.id.is_empty() || a.clients == 0 {
        usage("--socket and --id are required, --clients at least 1");
    }
    a
}

fn usage(why: &str) -> ! {
    eprintln!("loadgen: {why}\nusage: loadgen --socket PATH --id ID [--clients N] [--seconds S] [--mode kept|fresh]");
    std::process::exit(64);
}

/// What one client thread saw: latencies in nanoseconds, and how many requests failed.
struct Seen {
    latencies: Vec<u64>,
    errors: u64,
}

fn client(a: &Args, deadline: Instant) -> Seen {
    let timeout = Duration::from_secs(10);
    let mut req = Request::new("get");
    req.ids = vec![a.id.clone()];
    let mut seen = Seen { latencies: Vec::with_capacity(1 << 16), errors: 0 };
    let mut kept: Option<Client> = None;
    while Instant::now() < deadline {
        let start = Instant::now();
        let conn = match kept.take() {
            Some(c) => Ok(Some(c)),
            None => Client::connect(&a.socket, timeout),
        };
        let ok = match conn {
            Ok(Some(mut c)) => {
                let ok = c.call(&req).is_ok_and(|r| r.ok && r.values.as_ref().is_some_and(|v| v.contains_key(&a.id)));
                if ok && a.kept {
                    kept = Some(c);
                }
                ok
            }
            _ => false,
        };
        seen.latencies.push(start.elapsed().as_nanos() as u64);
        if !ok {
            seen.errors += 1;
        }
    }
    seen
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1e6
}

fn main() {
    let a = args();
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(a.seconds);
    let seen: Vec<Seen> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..a.clients).map(|_| s.spawn(|| client(&a, deadline))).collect();
        handles.into_iter().map(|h| h.join().expect("client thread")).collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    let errors: u64 = seen.iter().map(|s| s.errors).sum();
    let mut all: Vec<u64> = seen.into_iter().flat_map(|s| s.latencies).collect();
    all.sort_unstable();
    println!(
        "{{\"clients\":{},\"mode\":\"{}\",\"seconds\":{:.1},\"requests\":{},\"errors\":{},\"per_second\":{:.0},\
         \"p50_ms\":{:.3},\"p99_ms\":{:.3},\"p999_ms\":{:.3}}}",
        a.clients,
        if a.kept { "kept" } else { "fresh" },
        elapsed,
        all.len(),
        errors,
        all.len() as f64 / elapsed,
        percentile(&all, 0.50),
        percentile(&all, 0.99),
        percentile(&all, 0.999),
    );
    std::process::exit(i32::from(errors > 0));
}
