//! Memory hygiene, in one place: process hardening (not dumpable, no core files) and page-aligned, mlocked,
//! zeroized-on-drop storage for the unwrapped identity and for frames that carry secrets.
//!
//! This is the only module allowed `unsafe` (allocation, `mlock`/`munlock`). Locking is best effort: when
//! `RLIMIT_MEMLOCK` forbids it, a warning is printed once and the memory is still zeroized on drop.

#![allow(unsafe_code)]

use std::alloc::Layout;
use std::ptr::NonNull;
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

use zeroize::Zeroize;

static WARN_MLOCK: Once = Once::new();
static LOCKED_BYTES: AtomicUsize = AtomicUsize::new(0);

/// Make the process non-dumpable (no ptrace by other processes of the same user, /proc/<pid>/mem and environ
/// unreadable, no core dumps) and set the soft `RLIMIT_CORE` to 0. The hard limit is left alone so `exec` can give
/// the program it starts the limit the user had; the returned value is that limit.
pub fn harden_process() -> Option<rustix::process::Rlimit> {
    let _ = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
    let old = rustix::process::getrlimit(rustix::process::Resource::Core);
    let zero = rustix::process::Rlimit { current: Some(0), maximum: old.maximum };
    let _ = rustix::process::setrlimit(rustix::process::Resource::Core, zero);
    Some(old)
}

/// Also lower the hard `RLIMIT_CORE` to 0, for processes that never start another program (the service).
pub fn forbid_core_dumps() {
    let zero = rustix::process::Rlimit { current: Some(0), maximum: Some(0) };
    let _ = rustix::process::setrlimit(rustix::process::Resource::Core, zero);
}

/// Bytes currently mlocked by this module (reported by the service's `status`).
pub fn locked_bytes() -> usize {
    LOCKED_BYTES.load(Ordering::Relaxed)
}

/// Page-aligned memory of whole pages: locked if allowed, zeroed before it is freed.
struct Region {
    ptr: NonNull<u8>,
    layout: Layout,
    locked: bool,
}

impl Region {
    fn new(size: usize, align: usize) -> Region {
        let page = rustix::param::page_size();
        let size = size.max(1).div_ceil(page) * page;
        let layout = Layout::from_size_align(size, align.max(page)).expect("page-aligned layout");
        // SAFETY: layout has a non-zero size.
        let raw = unsafe { std::alloc::alloc_zeroed(layout) };
        let Some(ptr) = NonNull::new(raw) else { std::alloc::handle_alloc_error(layout) };
        // SAFETY: the range is exactly the allocation above.
        let locked = unsafe { rustix::mm::mlock(ptr.as_ptr().cast(), size) }.is_ok();
        if locked {
            LOCKED_BYTES.fetch_add(size, Ordering::Relaxed);
        } else {
            WARN_MLOCK.call_once(|| {
                eprintln!(
                    "clawkeep: warning: could not lock secret memory into RAM (RLIMIT_MEMLOCK too low); secrets may \
                     be swapped out — raise `ulimit -l` or set LimitMEMLOCK= in the unit"
                )
            });
        }
        Region { ptr, layout, locked }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: the allocation is layout.size() bytes, initialised (zeroed) and owned by self.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.layout.size()) }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        self.bytes_mut().zeroize();
        if self.locked {
            // SAFETY: the range was locked in `new`; nothing else shares these pages.
            let _ = unsafe { rustix::mm::munlock(self.ptr.as_ptr().cast(), self.layout.size()) };
            LOCKED_BYTES.fetch_sub(self.layout.size(), Ordering::Relaxed);
        }
        // SAFETY: allocated in `new` with this layout.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), self.layout) };
    }
}

// SAFETY: Region owns its allocation exclusively.
unsafe impl Send for Region {}
// SAFETY: shared access only reads.
unsafe impl Sync for Region {}

/// A value kept on its own locked pages, dropped in place and then zeroed.
pub struct Locked<T> {
    region: Region,
    _marker: std::marker::PhantomData<T>,
}

impl<T> Locked<T> {
    /// Move `value` onto locked pages.
    pub fn new(value: T) -> Locked<T> {
        let region = Region::new(size_of::<T>(), align_of::<T>());
        // SAFETY: the region is large and aligned enough for T and not yet initialised as T.
        unsafe { region.ptr.as_ptr().cast::<T>().write(value) };
        Locked { region, _marker: std::marker::PhantomData }
    }
}

impl<T> std::ops::Deref for Locked<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: initialised in `new`, dropped only in `drop`.
        unsafe { &*self.region.ptr.as_ptr().cast::<T>() }
    }
}

impl<T> Drop for Locked<T> {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`; the region (dropped after this) zeroes the bytes.
        unsafe { std::ptr::drop_in_place(self.region.ptr.as_ptr().cast::<T>()) };
    }
}

// SAFETY: Locked<T> owns a T.
unsafe impl<T: Send> Send for Locked<T> {}
// SAFETY: Locked<T> hands out &T only.
unsafe impl<T: Sync> Sync for Locked<T> {}

/// A fixed-capacity byte buffer on locked pages, for frames that carry secrets. It never reallocates (writes past
/// its capacity fail), so no copy of its content is left behind in freed memory; it is zeroed when dropped.
pub struct SecretBuf {
    region: Region,
    len: usize,
    cap: usize,
}

impl SecretBuf {
    /// A buffer holding at most `cap` bytes.
    pub fn new(cap: usize) -> SecretBuf {
        SecretBuf { region: Region::new(cap, 1), len: 0, cap }
    }

    /// The filled part.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: len <= cap <= region size; bytes are initialised.
        unsafe { std::slice::from_raw_parts(self.region.ptr.as_ptr(), self.len) }
    }

    /// Bytes used.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Room left.
    pub fn spare(&mut self) -> &mut [u8] {
        let (len, cap) = (self.len, self.cap);
        &mut self.region.bytes_mut()[len..cap]
    }

    /// Mark `n` more bytes (written into `spare()`) as filled.
    pub fn advance(&mut self, n: usize) {
        self.len = (self.len + n).min(self.cap);
    }

    /// Drop the first `n` bytes, moving the rest to the front, and zero what was freed.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        let len = self.len;
        let bytes = self.region.bytes_mut();
        bytes.copy_within(n..len, 0);
        bytes[len - n..len].zeroize();
        self.len = len - n;
    }

    /// Zero and empty.
    pub fn clear(&mut self) {
        let len = self.len;
        self.region.bytes_mut()[..len].zeroize();
        self.len = 0;
    }
}

impl std::io::Write for SecretBuf {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if data.len() > self.cap - self.len {
            return Err(std::io::Error::other("frame too large"));
        }
        self.spare()[..data.len()].copy_from_slice(data);
        self.len += data.len();
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn secret_buf_is_bounded_and_consumes() {
        let mut b = SecretBuf::new(8);
        b.write_all(b"abc\ndef").unwrap();
        assert!(b.write_all(b"gh").is_err(), "writes past capacity must fail, not reallocate");
        b.consume(4);
        assert_eq!(b.as_slice(), b"def");
        b.clear();
        assert!(b.is_empty());
    }

    #[test]
    fn locked_value_round_trips_and_drops() {
        let v = Locked::new(String::from("value"));
        assert_eq!(v.as_str(), "value");
        drop(v);
    }
}
