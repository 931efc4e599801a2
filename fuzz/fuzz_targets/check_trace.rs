//! Arbitrary bytes as a trace file into the check: a report or an error, never a panic, and
//! heap bounded per line (measured by the counting allocator below). See
//! `cobrowse_fuzz::trace`.
#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};

/// The system allocator, counting live bytes for `cobrowse_fuzz::memory`.
struct Counting;

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// counting only reads `layout.size()` and `new_size`.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is (the caller upholds `alloc`'s contract).
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            cobrowse_fuzz::memory::allocated(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            cobrowse_fuzz::memory::allocated(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) };
        cobrowse_fuzz::memory::freed(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            cobrowse_fuzz::memory::freed(layout.size());
            cobrowse_fuzz::memory::allocated(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(failure) = cobrowse_fuzz::trace::run(data) {
        panic!("{failure}");
    }
});
