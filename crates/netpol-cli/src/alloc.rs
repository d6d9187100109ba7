//! The global allocator: mimalloc, plus exit code 2 when memory runs out.
//!
//! Rust's default on allocation failure prints a message and aborts (SIGABRT, exit 134),
//! outside netpol's 0/1/2 contract; `std::alloc::set_alloc_error_hook` is unstable. So the
//! allocator itself checks: when mimalloc returns null, [`out_of_memory`] writes a fixed
//! message to stderr and ends the process with 2. It allocates nothing, takes no lock and
//! runs no destructors or `atexit` handlers (`write(2)` and `_exit(2)` are async-signal-safe),
//! so it is sound wherever an allocation fails, on any thread, even during another exit.
//! Partial stdout may be lost, which is acceptable for a run that failed.
//!
//! This is the only module with `unsafe` (the workspace denies it elsewhere): implementing
//! `GlobalAlloc` and calling libc are unsafe by definition.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout};

use mimalloc::MiMalloc;

/// mimalloc, exiting with 2 instead of returning null.
#[derive(Debug)]
pub(crate) struct Allocator;

// SAFETY: every method passes its arguments to mimalloc unchanged, so the caller's
// guarantees are mimalloc's; the one addition never returns.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        let p = unsafe { MiMalloc.alloc(layout) };
        if p.is_null() {
            out_of_memory();
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { MiMalloc.alloc_zeroed(layout) };
        if p.is_null() {
            out_of_memory();
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, that is from mimalloc, with `layout`.
        unsafe { MiMalloc.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`, and the caller upholds `realloc`'s size contract.
        let p = unsafe { MiMalloc.realloc(ptr, layout, new_size) };
        if p.is_null() {
            out_of_memory();
        }
        p
    }
}

const MESSAGE: &[u8] =
    b"netpol: error: out of memory: the input needs more memory than is available\n";

#[cfg(unix)]
fn out_of_memory() -> ! {
    // SAFETY: writes a static buffer of the given length to fd 2; a failed or short write
    // is ignored (there is nothing better to do).
    let _ = unsafe { libc::write(2, MESSAGE.as_ptr().cast(), MESSAGE.len()) };
    // SAFETY: `_exit` ends the process at once; it has no preconditions.
    unsafe { libc::_exit(2) }
}

#[cfg(not(unix))]
fn out_of_memory() -> ! {
    use std::io::Write as _;
    // Unbuffered stderr and a static message: no allocation.
    let _ = std::io::stderr().write_all(MESSAGE);
    std::process::exit(2)
}
