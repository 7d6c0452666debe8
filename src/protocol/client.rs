//! A blocking client for the vault service (the CLI needs no async runtime). One request, one response.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use super::wire::{MAX_FRAME, Request, Response, encode, frame_end};
use crate::error::{Error, Result};
use crate::memory::SecretBuf;

/// The buffer a call starts with: one page.
const SMALL_FRAME: usize = 4096;

/// A connection to the service.
pub struct Client {
    stream: UnixStream,
    path: std::path::PathBuf,
}

impl Client {
    /// Connect; `Ok(None)` when no service listens there (no socket, or a stale one).
    pub fn connect(path: &Path, timeout: Duration) -> Result<Option<Client>> {
        let stream = match UnixStream::connect(path) {
            Ok(s) => s,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused) => {
                return Ok(None);
            }
            Err(e) => return Err(Error::io(path, "connecting to the vault service at", e)),
        };
        // Talk only to a service of our own user (root may talk to any): a passphrase or secret must not go to a
        // socket someone else put in the way.
        let me = crate::fs::euid();
        let server = rustix::net::sockopt::socket_peercred(&stream)
            .map_err(|e| Error::io(path, "reading the peer credentials of", e.into()))?
            .uid
            .as_raw();
        if server != me && me != 0 {
            return Err(Error::Service(format!(
                "the socket {} is served by uid {server}, not by you (uid {me}); refusing to talk to it",
                path.display()
            )));
        }
        stream
            .set_read_timeout(Some(timeout))
            .and_then(|()| stream.set_write_timeout(Some(timeout)))
            .map_err(|e| Error::io(path, "configuring the connection to", e))?;
        Ok(Some(Client { stream, path: path.into() }))
    }

    /// Send one request and read its response.
    pub fn call(&mut self, req: &Request) -> Result<Response> {
        // Most requests and answers are a few hundred bytes: start with one locked page, and move to a whole frame's
        // worth only when one does not fit (the page is zeroed as it is dropped).
        let mut buf = SecretBuf::new(SMALL_FRAME);
        if encode(req, &mut buf).is_err() {
            buf = SecretBuf::new(MAX_FRAME);
            encode(req, &mut buf).map_err(|_| Error::InvalidInput(format!("request larger than {MAX_FRAME} bytes")))?;
        }
        // A service that refuses at once (BUSY) answers and closes before reading the request: the write may fail,
        // but its answer is waiting to be read, and says more than "connection lost".
        let written = self.stream.write_all(buf.as_slice());
        buf.clear();
        loop {
            if let Some(end) = frame_end(buf.as_slice()) {
                return serde_json::from_slice(&buf.as_slice()[..end]).map_err(|_| {
                    Error::Service(format!("the vault service at {} sent a malformed answer", self.path.display()))
                });
            }
            if buf.spare().is_empty() {
                if buf.as_slice().len() >= MAX_FRAME {
                    return Err(Error::Service("the vault service sent an oversized answer".into()));
                }
                let mut big = SecretBuf::new(MAX_FRAME);
                std::io::Write::write_all(&mut big, buf.as_slice())
                    .map_err(|_| Error::Service("the vault service sent an oversized answer".into()))?;
                buf = big;
            }
            let n = match self.stream.read(buf.spare()) {
                Ok(n) => n,
                Err(e) => return Err(self.lost(written.err().unwrap_or(e))),
            };
            if n == 0 {
                if let Err(e) = written {
                    return Err(self.lost(e));
                }
                return Err(Error::Service(format!(
                    "the vault service at {} closed the connection without answering (it may have stopped or \
                     refused this user)",
                    self.path.display()
                )));
            }
            buf.advance(n);
        }
    }

    fn lost(&self, e: std::io::Error) -> Error {
        use std::io::ErrorKind::*;
        let what = match e.kind() {
            WouldBlock | TimedOut => "did not answer in time".to_string(),
            ConnectionReset | BrokenPipe | UnexpectedEof => {
                "closed the connection without answering (it may have stopped or refused this user)".to_string()
            }
            _ => format!("failed: {e}"),
        };
        Error::Service(format!("the vault service at {} {what}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_sent_before_the_request_was_read_is_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let busy = super::super::wire::Response::fail(super::super::wire::code::BUSY, "too many clients");
            let mut frame = serde_json::to_vec(&busy).unwrap();
            frame.push(b'\n');
            s.write_all(&frame).unwrap();
            // Closed without reading the request, as the service does when it is full.
        });
        let mut c = Client::connect(&path, Duration::from_secs(2)).unwrap().unwrap();
        server.join().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let r = c.call(&Request::new("status")).unwrap();
        assert!(!r.ok);
        assert_eq!(r.error.unwrap().code, "BUSY");
    }

    /// A call starts with a one-page buffer: an answer larger than that (to a small request) and a request larger
    /// than that go through whole, in pieces of any size; an answer larger than a frame is refused.
    #[test]
    fn requests_and_answers_larger_than_the_first_buffer_go_through_whole() {
        use std::io::{BufRead, BufReader};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let ids: Vec<String> = (0..200).map(|i| format!("main/anthropic:profile-{i:04}-{}", "x".repeat(40))).collect();
        let all = ids.clone();
        let server = std::thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            let mut r = BufReader::new(&s);
            let answer = |ids: &[String]| {
                let values: std::collections::BTreeMap<String, zeroize::Zeroizing<String>> =
                    ids.iter().map(|id| (id.clone(), zeroize::Zeroizing::new(format!("value-of-{id}")))).collect();
                let resp = super::super::wire::Response { values: Some(values), ..super::super::wire::Response::ok() };
                let mut frame = serde_json::to_vec(&resp).unwrap();
                frame.push(b'\n');
                frame
            };
            // 1: a one-id request, answered with 200 values, in small pieces.
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            let frame = answer(&all);
            assert!(frame.len() > 3 * SMALL_FRAME, "{}", frame.len());
            for piece in frame.chunks(1000) {
                (&s).write_all(piece).unwrap();
                std::thread::sleep(Duration::from_millis(2));
            }
            // 2: a request of 200 ids arrives whole; one value back.
            line.clear();
            r.read_line(&mut line).unwrap();
            let req: Request = serde_json::from_str(&line).unwrap();
            assert_eq!(req.ids, all, "the request arrived whole");
            (&s).write_all(&answer(&all[..1])).unwrap();
            // 3: an answer larger than a frame.
            line.clear();
            r.read_line(&mut line).unwrap();
            (&s).write_all(&vec![b'x'; MAX_FRAME + 10]).unwrap();
        });
        let mut c = Client::connect(&path, Duration::from_secs(5)).unwrap().unwrap();
        let mut one = Request::new("get");
        one.ids = vec![ids[0].clone()];
        let values = c.call(&one).unwrap().values.unwrap();
        assert_eq!(values.len(), 200);
        for id in &ids {
            assert_eq!(values[id].as_str(), format!("value-of-{id}"));
        }
        let mut many = Request::new("get");
        many.ids = ids.clone();
        assert_eq!(c.call(&many).unwrap().values.unwrap().len(), 1);
        let err = match c.call(&Request::new("status")) {
            Ok(_) => panic!("an answer larger than a frame was accepted"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains("oversized"), "{err}");
        server.join().unwrap();
    }
}
