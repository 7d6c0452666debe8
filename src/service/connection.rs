//! One client connection: peer check first, then frames in and out, each within the client timeout. Buffers are
//! locked, fixed-size and zeroed after use; a malformed frame gets an error reply, an oversized one closes the
//! connection (it cannot be resynchronised), a silent client is dropped at the timeout.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::timeout;

use super::log;
use super::peer::Peer;
use super::state::State;
use crate::memory::SecretBuf;
use crate::protocol::wire::{MAX_FRAME, Response, code, encode, frame_end, parse_request};

enum Frame {
    /// A complete frame of this length (without the newline) is at the start of the buffer.
    Line(usize),
    /// The client closed the connection.
    Closed,
    /// No newline within `MAX_FRAME` bytes.
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

async fn send(state: &State, stream: &mut UnixStream, resp: &Response, out: &mut SecretBuf) -> bool {
    if encode(resp, out).is_err() {
        let too_big =
            Response::fail(code::TOO_LARGE, format!("the answer would exceed {MAX_FRAME} bytes; ask for fewer ids"));
        if encode(&too_big, out).is_err() {
            return false;
        }
    }
    let ok = matches!(timeout(state.config.client_timeout, stream.write_all(out.as_slice())).await, Ok(Ok(())));
    out.clear();
    ok
}

/// Serve one connection until the client closes it, misbehaves or times out.
pub async fn serve(state: Arc<State>, mut stream: UnixStream, permit: Option<OwnedSemaphorePermit>) {
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
    if permit.is_none() {
        // No locked buffers for a connection that is turned away: the answer holds no secret.
        let mut busy =
            serde_json::to_vec(&Response::fail(code::BUSY, "too many clients at once; try again")).unwrap_or_default();
        busy.push(b'\n');
        let _ = timeout(state.config.client_timeout, stream.write_all(&busy)).await;
        return;
    }
    let mut inbuf = SecretBuf::new(MAX_FRAME);
    let mut out = SecretBuf::new(MAX_FRAME);
    loop {
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
                send(&state, &mut stream, &resp, &mut out).await;
                break;
            }
            Ok(Ok(Frame::Line(end))) => end,
        };
        let resp = match parse_request(&inbuf.as_slice()[..end]) {
            Err(resp) => *resp,
            // `lock` and `status` never wait behind slow requests on the blocking pool.
            Ok(req) if matches!(req.op.as_str(), "lock" | "status") => super::handler::handle(&state, req, &peer),
            Ok(req) => {
                let st = state.clone();
                let p = peer.clone();
                tokio::task::spawn_blocking(move || super::handler::handle(&st, req, &p))
                    .await
                    .unwrap_or_else(|_| Response::fail(code::INTERNAL, "the request failed unexpectedly"))
            }
        };
        inbuf.consume(end + 1);
        if !send(&state, &mut stream, &resp, &mut out).await {
            break;
        }
    }
    drop(permit);
}
