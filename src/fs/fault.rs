//! Test hook: simulate a crash between two file writes.
//!
//! `fail_after(n)` makes the (n+1)-th file change on this thread (an atomic write or a removal through
//! [`crate::fs`]) fail with an I/O error, and every change after it too, until [`clear`]: the command stops there
//! as if the process had died, leaving exactly the files a crash at that point would leave (each atomic write is
//! all or nothing). `tests/durability.rs` uses it to check that no command loses a secret when it stops at any
//! write. It is per thread, so other tests running in parallel are not affected; nothing in clawkeep calls it.
//!
//! `skip_fsync(true)` skips the fsyncs of atomic writes on this thread (the model test makes hundreds of
//! thousands of writes in a temp dir, where durability against power loss does not matter).

use std::cell::Cell;

thread_local! {
    static BUDGET: Cell<Option<u64>> = const { Cell::new(None) };
    static NO_SYNC: Cell<bool> = const { Cell::new(false) };
}

/// Allow `n` more file changes on this thread, then fail every further one.
pub fn fail_after(n: u64) {
    BUDGET.with(|b| b.set(Some(n)));
}

/// Stop failing file changes on this thread.
pub fn clear() {
    BUDGET.with(|b| b.set(None));
}

/// Whether the budget set by [`fail_after`] ran out (the simulated crash happened).
pub fn tripped() -> bool {
    BUDGET.with(|b| b.get() == Some(0))
}

/// Skip (or stop skipping) fsync in atomic writes on this thread.
pub fn skip_fsync(skip: bool) {
    NO_SYNC.with(|s| s.set(skip));
}

pub(crate) fn fsync_skipped() -> bool {
    NO_SYNC.with(Cell::get)
}

/// Called before every file change: an error when the simulated crash point is reached.
pub(crate) fn before_change(path: &std::path::Path) -> crate::Result<()> {
    BUDGET.with(|b| match b.get() {
        Some(0) => Err(crate::Error::io(path, "writing", std::io::Error::other("simulated crash (test hook)"))),
        Some(n) => {
            b.set(Some(n - 1));
            Ok(())
        }
        None => Ok(()),
    })
}
