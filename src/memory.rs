//! Memory hygiene, in one place: process hardening (not dumpable, no core files), page-aligned, mlocked,
//! zeroized-on-drop storage for the unwrapped identity and for frames that carry secrets, an allocator that zeroes
//! every heap block when it is freed, the crypto worker (the one thread that ever holds key material on its stack,
//! burned after every job), and secret output written with one `write(2)` from such memory.
//!
//! This is the only module allowed `unsafe` (allocation, `mlock`/`munlock`). Locking is best effort: when
//! `RLIMIT_MEMLOCK` forbids it, a warning is printed once and the memory is still zeroized on drop.

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::ptr::NonNull;
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

use zeroize::Zeroize;

static WARN_MLOCK: Once = Once::new();
static LOCKED_BYTES: AtomicUsize = AtomicUsize::new(0);

/// The process's allocator: the system allocator, except that every block is zeroed before it is freed (and a
/// reallocation copies, then zeroes and frees the old block). So nothing that lived on the heap — age's and argon2's
/// intermediates, serde's scratch buffers, std's stdout buffer — survives in freed memory.
pub struct ZeroingAlloc;

/// Zero `len` bytes at `ptr` in a way the compiler cannot drop as a dead store before `free`.
///
/// # Safety
/// `ptr..ptr+len` must be writable.
unsafe fn wipe(ptr: *mut u8, len: usize) {
    // SAFETY: the caller guarantees the range is writable.
    unsafe { std::ptr::write_bytes(ptr, 0, len) };
    std::sync::atomic::compiler_fence(Ordering::SeqCst);
    std::hint::black_box(ptr);
}

// SAFETY: defers to `System` for every allocation; only adds zeroing of blocks that are being released.
unsafe impl GlobalAlloc for ZeroingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` is a live block of `layout.size()` bytes, freed right after.
        unsafe {
            wipe(ptr, layout.size());
            System.dealloc(ptr, layout)
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees `new_size` rounded to `layout.align()` does not overflow.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: new_layout has a non-zero size (GlobalAlloc::realloc's contract).
        let new = unsafe { System.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are live and distinct; the old one is released after the copy.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: ZeroingAlloc = ZeroingAlloc;

/// Bytes of the crypto worker's stack zeroed after each job: far more than any job uses (argon2's memory and age's
/// buffers are on the heap).
const BURN_BYTES: usize = 512 * 1024;
/// The crypto worker's stack.
const WORKER_STACK: usize = 4 * 1024 * 1024;

/// Zero the `BURN_BYTES` of stack below the caller's frame: everything a job just left there.
#[inline(never)]
fn burn_stack() {
    let mut area = std::mem::MaybeUninit::<[u8; BURN_BYTES]>::uninit();
    let p = area.as_mut_ptr().cast::<u8>();
    // SAFETY: `area` is BURN_BYTES of this frame.
    unsafe { wipe(p, BURN_BYTES) };
    std::hint::black_box(&area);
}

/// A job computes its result and returns how to deliver it, so the stack is burned before the caller goes on.
type Job = Box<dyn FnOnce() -> Box<dyn FnOnce() + Send> + Send>;

static WORKER: std::sync::OnceLock<std::sync::Mutex<std::sync::mpsc::Sender<Job>>> = std::sync::OnceLock::new();

thread_local! {
    static ON_WORKER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn worker_main(jobs: std::sync::mpsc::Receiver<Job>) {
    ON_WORKER.with(|w| w.set(true));
    for job in jobs {
        // A panicking job drops its answer channel (its caller gets an error); the worker carries on.
        let deliver = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
        burn_stack();
        if let Ok(deliver) = deliver {
            deliver();
        }
    }
}

/// Run `f` on the crypto worker, a dedicated long-lived thread whose stack is zeroed after every job, and wait for
/// its result. Every use of key material (unwrapping the identity, argon2id, age encryption and decryption) goes
/// through here, so the stacks of other threads — tokio's blocking pool keeps exited threads' stacks cached — never
/// hold a copy. Results must carry key material only behind pointers (e.g. a [`Locked`]), never by value. Called on
/// the worker itself, `f` runs inline.
pub fn on_worker<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> crate::Result<T> {
    if ON_WORKER.with(|w| w.get()) {
        return Ok(f());
    }
    let failed = || crate::Error::Internal("the crypto worker failed".into());
    let sender = WORKER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        if let Err(e) = std::thread::Builder::new()
            .name("clawkeep-crypto".into())
            .stack_size(WORKER_STACK)
            .spawn(move || worker_main(rx))
        {
            eprintln!("clawkeep: could not start the crypto worker: {e}");
        }
        std::sync::Mutex::new(tx)
    });
    let (tx, rx) = std::sync::mpsc::sync_channel::<T>(1);
    let job: Job = Box::new(move || {
        let result = f();
        Box::new(move || {
            let _ = tx.send(result);
        })
    });
    sender.lock().unwrap_or_else(|p| p.into_inner()).send(job).map_err(|_| failed())?;
    rx.recv().map_err(|_| failed())
}

/// Write `data` to stdout with `write(2)` directly — one call unless the kernel takes less — bypassing std's
/// buffered stdout, which would keep (and free unzeroed) a copy. Pass memory that is zeroed after use.
pub fn write_stdout(mut data: &[u8]) -> std::io::Result<()> {
    let out = std::io::stdout();
    // Anything printed earlier goes first.
    std::io::Write::flush(&mut out.lock())?;
    let fd = std::os::fd::AsFd::as_fd(&out);
    while !data.is_empty() {
        match rustix::io::write(fd, data) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

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
    fn the_crypto_worker_runs_jobs_on_one_thread_and_survives_a_panic() {
        let here = std::thread::current().id();
        let (a, nested) =
            on_worker(|| (std::thread::current().id(), on_worker(|| std::thread::current().id()))).unwrap();
        assert_ne!(a, here);
        assert_eq!(nested.unwrap(), a, "a job that asks for the worker runs inline");
        assert!(on_worker(|| -> u8 { panic!("job failed") }).is_err());
        assert_eq!(on_worker(|| std::thread::current().id()).unwrap(), a, "the same worker carries on");
    }

    #[test]
    fn locked_value_round_trips_and_drops() {
        let v = Locked::new(String::from("value"));
        assert_eq!(v.as_str(), "value");
        drop(v);
    }
}
