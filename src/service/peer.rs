//! Who is asking: the kernel's peer credentials (SO_PEERCRED), checked before a byte is read, like ssh-agent.

/// A connected client as the kernel reports it.
#[derive(Debug, Clone)]
pub struct Peer {
    /// User id.
    pub uid: u32,
    /// Process id (0 if unknown).
    pub pid: i32,
    /// The process name (`/proc/<pid>/comm`), for the log.
    pub comm: String,
    /// Its executable and command line, and its parent's when it is a clawkeep process (for the access log).
    pub who: crate::audit::Who,
}

impl Peer {
    /// Read the credentials of a connection.
    pub fn of(stream: &tokio::net::UnixStream) -> std::io::Result<Peer> {
        let cred = stream.peer_cred()?;
        let pid = cred.pid().unwrap_or(0);
        let comm = crate::fs::read_proc(std::path::Path::new(&format!("/proc/{pid}/comm")))
            .map(|s| s.trim().chars().filter(|c| !c.is_control()).take(32).collect())
            .unwrap_or_default();
        let who = crate::audit::Who::peer(cred.uid(), pid);
        Ok(Peer { uid: cred.uid(), pid, comm, who })
    }

    /// Whether this peer may be served: the service's own uid, or root when allowed.
    pub fn allowed(&self, own_uid: u32, allow_root: bool) -> bool {
        self.uid == own_uid || (allow_root && self.uid == 0)
    }
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "uid={} pid={}", self.uid, self.pid)?;
        if !self.comm.is_empty() {
            write!(f, " ({})", self.comm)?;
        }
        Ok(())
    }
}
