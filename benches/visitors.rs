//! Memory per idle initialised visitor: 100,000 SDK cores in one process, each after
//! `init_visitor` and the settings frame with its outputs drained, counted by a global
//! allocator that tracks live heap bytes.
//!
//! `cargo bench --bench visitors` prints `(heap bytes + size_of::<Sdk>()) / visitor`.

use cobrowse_visitor_core::{
    ApiCall, ClientFrame, Event, InitParams, Input, Instant, Output, Sdk, ServerFrame,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to `System` unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Relaxed);
        ALLOCS.fetch_add(1, Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Relaxed);
        ALLOCS.fetch_add(1, Relaxed);
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Relaxed);
        LIVE.fetch_sub(layout.size(), Relaxed);
        ALLOCS.fetch_add(1, Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const VISITORS: usize = 100_000;

fn rss_bytes() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn initialised_visitor(i: usize) -> Sdk {
    let mut sdk = Sdk::default();
    let _ = sdk.handle_input(
        Instant::ZERO,
        Input::Api(ApiCall::InitVisitor(InitParams::anonymous(19921))),
    );
    while !matches!(sdk.poll_output(), Output::Timeout(_)) {}
    let _ = sdk.handle_input(
        Instant::from_millis(40 + i as u64 % 7),
        Input::Frame(ServerFrame::Settings {
            v: 1,
            key_length: 4,
            agent_start: false,
        }),
    );
    while !matches!(sdk.poll_output(), Output::Timeout(_)) {}
    sdk
}

fn main() {
    let inline = std::mem::size_of::<Sdk>();
    let rss0 = rss_bytes();
    // The Vec that holds them is the process's, not the visitors': count it apart.
    let mut all: Vec<Sdk> = Vec::with_capacity(VISITORS);
    let live0 = LIVE.load(Relaxed);
    let allocs0 = ALLOCS.load(Relaxed);
    for i in 0..VISITORS {
        all.push(initialised_visitor(i));
    }
    let heap = LIVE.load(Relaxed) - live0;
    let allocs = ALLOCS.load(Relaxed) - allocs0;
    let rss1 = rss_bytes();
    let per_heap = heap as f64 / VISITORS as f64;
    let per = per_heap + inline as f64;
    println!("visitors                      {VISITORS}");
    println!("size_of::<Sdk>()              {inline} B");
    println!(
        "size_of::<Output>()           {} B",
        std::mem::size_of::<Output>()
    );
    println!(
        "size_of::<Input>()            {} B",
        std::mem::size_of::<Input>()
    );
    println!(
        "size_of::<Event>()            {} B",
        std::mem::size_of::<Event>()
    );
    println!(
        "size_of::<ClientFrame>()      {} B",
        std::mem::size_of::<ClientFrame>()
    );
    println!("live heap per visitor         {per_heap:.1} B");
    println!(
        "allocations per visitor       {:.2}",
        allocs as f64 / VISITORS as f64
    );
    println!("bytes per idle visitor        {per:.1} B (target <= 1024)");
    if let (Some(a), Some(b)) = (rss0, rss1) {
        println!(
            "RSS growth per visitor        {:.1} B (machine + heap + malloc overhead)",
            b.saturating_sub(a) as f64 / VISITORS as f64
        );
    }
    std::hint::black_box(&all);
}
