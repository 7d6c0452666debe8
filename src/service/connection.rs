//! One client connection: peer check first, then frames in and out. A connection that sends nothing holds no slot
//! and no buffer, and is closed after [`Config::idle_client`](super::Config::idle_client); once its first byte
//! arrives it takes one of the `--max-clients` slots (two locked 64 KiB buffers, zeroed after use). When every slot is
//! taken, a reserved slot answers `status` and `lock` (and `BUSY` to anything else), so they always get through. A
//! malformed frame gets an error reply, an oversized one closes the connection (it cannot be resynchronised).

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::timeout;

use super::handler::{Answer, handle};
use super::log;
use super::peer::Peer;
use super::state::State;
use crate::memory::SecretBuf;
use crate::protocol::wire::{MAX_FRAME, Response, code, encode, frame_end, parse_request};

/// Largest frame a reserved slot reads: `status` and `lock` need a few dozen bytes.
const CONTROL_FRAME: usize = 1024;

/// The connection slots of a service.
pub struct Slots {
    /// `--max-clients` of them, for any request.
    pub regular: Arc<Semaphore>,
    /// A few more, for `status` and `lock` when the regular ones are all taken.
    pub reserved: Arc<Semaphore>,
}

/// Connections accepted but silent so far (each costs an fd and a task for up to 2 s). When that many wait, as many
/// more get only [`FLOOD_GRACE`] to send their first byte (a real client writes at once; `lock` gets through), and
/// beyond that a connection is closed at once: a flood of silent connections cannot exhaust the file descriptors.
pub const MAX_WAITING: usize = 256;

/// How long a connection accepted during a flood of silent ones may take to send its first byte.
pub const FLOOD_GRACE: std::time::Duration = std::time::Duration::from_millis(100);

/// Reserved slots for `status` and `lock`.
pub const RESERVED_SLOTS: usize = 16;

/// A reserved slot waits this long for the rest of a frame whose first byte has arrived: `status` and `lock` come in
/// one write, so a client that trickles bytes to hold reserved slots loses them at once.
const CONTROL_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

impl Slots {
    /// `max_clients` regular slots and [`RESERVED_SLOTS`].
    pub fn new(max_clients: usize) -> Slots {
        Slots { regular: Arc::new(Semaphore::new(max_clients)), reserved: Arc::new(Semaphore::new(RESERVED_SLOTS)) }
    }
}

enum Frame {
    /// A complete frame of this length (without the newline) is at the start of the buffer.
    Line(usize),
    /// The client closed the connection.
    Closed,
    /// No newline within the buffer's capacity.
    TooLarge,
}

async fn read_frame(stream: &mut UnixStream, buf: &mut SecretBuf) -> std::io::Result<Frame> {
    loop {
        if let Some(end) = frame_end(buf.as_slice()) {
            return Ok(Frame::Line(end));
        }
        if buf.spare().is_empty() {
            return Ok(Frame::TooLarge);
        }
        let n = stream.read(buf.spare()).await?;
        if n == 0 {
            return Ok(Frame::Closed);
        }
        buf.advance(n);
    }
}

/// Make an answer ready to send, into `out`: log and count what it hands out only once it is encoded, and once the
/// access log has its lines (an answer whose lines cannot be written hands nothing out, unless `audit.json` says to
/// warn). Blocking (the log's file lock): called on the blocking thread that made the answer. `false` when nothing
/// can be sent (the connection is closed).
fn prepare(state: &State, answer: Answer, out: &mut SecretBuf, peer: &Peer) -> bool {
    let Answer { mut resp, mut handed_out, mut audit } = answer;
    // A `lock` (or expiry) that came while this answer was being made: file-store secrets do not leave.
    if let Some(h) = &handed_out
        && h.epoch.is_some_and(|e| e != state.epoch())
    {
        drop(resp);
        log(format_args!("refused {} to {peer}: {} (locked meanwhile)", h.what, code::LOCKED));
        resp = Response::fail(code::LOCKED, "the file store was locked while this request was answered");
        handed_out = None;
        for e in audit.iter_mut().filter(|e| e.fp.is_some()) {
            e.fp = None;
            e.outcome = code::LOCKED.into();
        }
    }
    let encoded = encode(&resp, out).is_ok();
    if !encoded {
        for e in audit.iter_mut().filter(|e| e.fp.is_some()) {
            e.fp = None;
            e.outcome = code::TOO_LARGE.into();
        }
    }
    if !audit.is_empty()
        && let Err(e) = crate::audit::record(&state.paths, &audit, &peer.who, &|w| log(format_args!("{w}")))
    {
        log(format_args!("{e}"));
        if encoded && handed_out.is_some() {
            drop(resp);
            out.clear();
            log(format_args!("refused get to {peer}: AUDIT (the access log cannot be written)"));
            return encode(&Response::fail(code::AUDIT, e.to_string()), out).is_ok();
        }
    }
    if !encoded {
        drop(resp);
        out.clear();
        if handed_out.is_some() {
            log(format_args!("refused get to {peer}: {} (the answer would exceed {MAX_FRAME} bytes)", code::TOO_LARGE));
        }
        let too_big =
            Response::fail(code::TOO_LARGE, format!("the answer would exceed {MAX_FRAME} bytes; ask for fewer ids"));
        return encode(&too_big, out).is_ok();
    } else if let Some(h) = handed_out {
        log(format_args!("handed out {} to {peer}", h.what));
        state.count_handed_out(h.count);
    }
    true
}

/// Write what [`prepare`] put into `out`, then clear it; whether the client took it in time.
async fn write_out(state: &State, stream: &mut UnixStream, out: &mut SecretBuf) -> bool {
    let ok = matches!(timeout(state.config.client_timeout, stream.write_all(out.as_slice())).await, Ok(Ok(())));
    out.clear();
    ok
}

/// Run `make` on a blocking thread with `buf` lent to it; the buffer comes back with what `make` returned. `None`
/// when the thread failed: the buffer went down with it (and was zeroed as it was dropped).
async fn on_blocking_thread(
    mut buf: SecretBuf,
    make: impl FnOnce(&mut SecretBuf) -> bool + Send + 'static,
) -> Option<(SecretBuf, bool)> {
    tokio::task::spawn_blocking(move || {
        let ready = make(&mut buf);
        (buf, ready)
    })
    .await
    .ok()
}

/// [`prepare`] and [`write_out`] for an answer made on this task (`lock`, `status`, errors): one without access log
/// lines is prepared here; one with them on a blocking thread.
async fn send(state: &Arc<State>, stream: &mut UnixStream, answer: Answer, out: &mut SecretBuf, peer: &Peer) -> bool {
    let ready = if answer.audit.is_empty() {
        prepare(state, answer, out, peer)
    } else {
        let (st, p) = (state.clone(), peer.clone());
        // Rare (a refusal that is logged): an empty stand-in while the buffer is lent out.
        let lent = std::mem::replace(out, SecretBuf::new(0));
        let Some((buf, ready)) = on_blocking_thread(lent, move |buf| prepare(&st, answer, buf, &p)).await else {
            return false;
        };
        *out = buf;
        ready
    };
    ready && write_out(state, stream, out).await
}

/// An answer that holds no secret, sent without locked buffers.
async fn send_plain(state: &State, stream: &mut UnixStream, resp: &Response) {
    let mut line = serde_json::to_vec(resp).unwrap_or_default();
    line.push(b'\n');
    let _ = timeout(state.config.client_timeout, stream.write_all(&line)).await;
}

fn busy() -> Response {
    Response::fail(code::BUSY, "too many clients at once; try again")
}

/// Wait until the client has sent a byte (without reading it); `false` when it closed the connection first.
async fn first_byte(stream: &UnixStream) -> std::io::Result<bool> {
    loop {
        stream.readable().await?;
        let peeked = stream.try_io(tokio::io::Interest::READABLE, || {
            rustix::net::recv(stream, &mut [0u8; 1], rustix::net::RecvFlags::PEEK | rustix::net::RecvFlags::DONTWAIT)
                .map_err(std::io::Error::from)
        });
        match peeked {
            Ok((n, _)) => return Ok(n > 0),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Serve one connection until the client closes it, misbehaves or times out.
pub async fn serve(
    state: Arc<State>,
    mut stream: UnixStream,
    slots: Arc<Slots>,
    waiting: OwnedSemaphorePermit,
    first_byte_within: std::time::Duration,
) {
    let peer = match Peer::of(&stream) {
        Ok(p) => p,
        Err(e) => {
            log(format_args!("rejected a connection: peer credentials unavailable ({e})"));
            return;
        }
    };
    if !peer.allowed(state.own_uid(), state.config.allow_root) {
        log(format_args!("rejected peer {peer}: this service serves uid {} only", state.own_uid()));
        return;
    }
    // Nothing is held for a connection that has not sent a byte.
    let spoke = matches!(timeout(first_byte_within, first_byte(&stream)).await, Ok(Ok(true)));
    // Its place among the connections waiting for a first byte ([`MAX_WAITING`]) is free again.
    drop(waiting);
    if !spoke {
        return;
    }
    if let Ok(permit) = slots.regular.clone().try_acquire_owned() {
        serve_frames(&state, stream, &peer, permit).await;
    } else if let Ok(permit) = slots.reserved.clone().try_acquire_owned() {
        serve_control(&state, stream, &peer, permit).await;
    } else {
        log(format_args!("refused a connection from {peer}: {} (every slot is taken)", code::BUSY));
        send_plain(&state, &mut stream, &busy()).await;
    }
}

/// Every slot is taken: answer one `status` or `lock`, anything else `BUSY`.
async fn serve_control(state: &State, mut stream: UnixStream, peer: &Peer, permit: OwnedSemaphorePermit) {
    let mut inbuf = SecretBuf::new(CONTROL_FRAME);
    let frame = timeout(CONTROL_WAIT.min(state.config.client_timeout), read_frame(&mut stream, &mut inbuf)).await;
    let resp = match frame {
        Ok(Ok(Frame::Line(end))) => match parse_request(&inbuf.as_slice()[..end]) {
            Ok(req) if matches!(req.op.as_str(), "lock" | "status") => Some(handle(state, req, peer).resp),
            _ => None,
        },
        Ok(Ok(Frame::Closed)) | Ok(Err(_)) => return,
        Ok(Ok(Frame::TooLarge)) | Err(_) => None,
    };
    inbuf.clear();
    let resp = resp.unwrap_or_else(|| {
        log(format_args!("refused a request from {peer}: {} (every slot is taken)", code::BUSY));
        busy()
    });
    send_plain(state, &mut stream, &resp).await;
    drop(permit);
}

/// Frames in and out until the client closes, misbehaves or times out.
async fn serve_frames(state: &Arc<State>, mut stream: UnixStream, peer: &Peer, permit: OwnedSemaphorePermit) {
    let mut inbuf = SecretBuf::new(MAX_FRAME);
    // Lent to the blocking thread that makes each answer, and given back with it.
    let mut out = Some(SecretBuf::new(MAX_FRAME));
    loop {
        // Between requests, a silent client is closed as fast as one that never sent anything.
        if inbuf.is_empty() {
            match timeout(state.config.idle_client(), stream.read(inbuf.spare())).await {
                Ok(Ok(n)) if n > 0 => inbuf.advance(n),
                _ => break,
            }
        }
        let end = match timeout(state.config.client_timeout, read_frame(&mut stream, &mut inbuf)).await {
            Err(_) => {
                if !inbuf.is_empty() {
                    log(format_args!("dropped {peer}: incomplete frame after the client timeout"));
                }
                break;
            }
            Ok(Err(_)) | Ok(Ok(Frame::Closed)) => break,
            Ok(Ok(Frame::TooLarge)) => {
                log(format_args!("dropped {peer}: frame larger than {MAX_FRAME} bytes"));
                let resp = Response::fail(code::TOO_LARGE, format!("frame larger than {MAX_FRAME} bytes"));
                let out = out.get_or_insert_with(|| SecretBuf::new(MAX_FRAME));
                send(state, &mut stream, resp.into(), out, peer).await;
                break;
            }
            Ok(Ok(Frame::Line(end))) => end,
        };
        let answer = match parse_request(&inbuf.as_slice()[..end]) {
            Err(resp) => {
                let c = resp.error.as_ref().map_or("", |e| e.code.as_str());
                log(format_args!("refused a frame from {peer}: {c}"));
                (*resp).into()
            }
            // `lock` and `status` never wait behind slow requests on the blocking pool.
            Ok(req) if matches!(req.op.as_str(), "lock" | "status") => handle(state, req, peer),
            Ok(req) => {
                // One hop to the blocking pool: the answer is made, encoded and logged there.
                inbuf.consume(end + 1);
                let (st, p) = (state.clone(), peer.clone());
                let lent = out.take().unwrap_or_else(|| SecretBuf::new(MAX_FRAME));
                let done = on_blocking_thread(lent, move |buf| prepare(&st, handle(&st, req, &p), buf, &p)).await;
                let (mut buf, ready) = match done {
                    Some(r) => r,
                    None => {
                        // The buffer went down with the handler (and was zeroed as it was dropped).
                        log(format_args!("refused a request from {peer}: {} (the handler failed)", code::INTERNAL));
                        let mut buf = SecretBuf::new(MAX_FRAME);
                        let failed: Answer = Response::fail(code::INTERNAL, "the request failed unexpectedly").into();
                        let ready = prepare(state, failed, &mut buf, peer);
                        (buf, ready)
                    }
                };
                let sent = ready && write_out(state, &mut stream, &mut buf).await;
                out = Some(buf);
                if !sent {
                    break;
                }
                continue;
            }
        };
        inbuf.consume(end + 1);
        let out = out.get_or_insert_with(|| SecretBuf::new(MAX_FRAME));
        if !send(state, &mut stream, answer, out, peer).await {
            break;
        }
    }
    drop(permit);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::handler::HandOut;

    #[tokio::test]
    async fn an_answer_made_before_a_lock_is_not_sent_after_it() {
        let state = Arc::new(State::for_tests());
        let epoch = state.epoch();
        let mut values = std::collections::BTreeMap::new();
        values.insert("main/a:b".to_string(), zeroize::Zeroizing::new("sk-LOCKED-CANARY".to_string()));
        let answer = Answer {
            resp: Response { values: Some(values), ..Response::ok() },
            handed_out: Some(HandOut { count: 1, what: "[main/a:b]".into(), epoch: Some(epoch) }),
            audit: Vec::new(),
        };
        // `lock` arrives after the secret was decrypted, before the answer is sent.
        state.lock();
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let peer = Peer { uid: 0, pid: 0, comm: String::new(), who: Default::default() };
        let mut out = SecretBuf::new(MAX_FRAME);
        assert!(send(&state, &mut a, answer, &mut out, &peer).await);
        drop(a);
        let mut got = Vec::new();
        b.read_to_end(&mut got).await.unwrap();
        let got = String::from_utf8(got).unwrap();
        assert!(got.contains("LOCKED") && !got.contains("sk-LOCKED-CANARY"), "{got}");
        assert_eq!(state.status().handed_out, 0);
    }
}
