//! A blocking client for the vault service (the CLI needs no async runtime). One request, one response.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use super::wire::{MAX_FRAME, Request, Response, encode, frame_end};
use crate::error::{Error, Result};
use crate::memory::SecretBuf;

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
        let mut buf = SecretBuf::new(MAX_FRAME);
        encode(req, &mut buf).map_err(|_| Error::InvalidInput(format!("request larger than {MAX_FRAME} bytes")))?;
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
                return Err(Error::Service("the vault service sent an oversized answer".into()));
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
}
