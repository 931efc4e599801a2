//! A hostile server: a message over the size limit (announced in one frame header, or grown
//! by fragments) fails the link without being buffered; a message over the core's frame
//! limit but under the transport's is refused by the core and changes nothing; a flood of
//! frames keeps the app's calls answered and the memory bounded. Heap use is measured by a
//! counting global allocator (peak of live bytes above a baseline), calls' latency by the
//! wall clock; both are bounded generously and printed (`--nocapture`).

use cobrowse_visitor_core::{ApiCall, ApiError, Error, Event};
use cobrowse_visitor_driver::{
    spawn, DriverConfig, DriverError, LinkError, LoopbackServer, Notification, ServerConfig,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

// ---- Measuring the heap ----------------------------------------------------------------

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// Counts live heap bytes and their peak; every call is forwarded to `System`.
struct Measuring;

fn grew(by: usize) {
    let live = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to `System`; the wrapper only counts.
unsafe impl GlobalAlloc for Measuring {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= layout.size() {
            grew(new_size - layout.size());
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Measuring = Measuring;

/// The tests of this binary measure one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Starts measuring: the peak is reset to what is live now, which is returned.
fn baseline() -> usize {
    let live = LIVE.load(Ordering::Relaxed);
    PEAK.store(live, Ordering::Relaxed);
    live
}

fn peak_above(base: usize) -> usize {
    PEAK.load(Ordering::Relaxed).saturating_sub(base)
}

const WAIT: Duration = Duration::from_secs(10);

async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, f)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

async fn until(
    notes: &mut mpsc::UnboundedReceiver<Notification>,
    mut pred: impl FnMut(&Notification) -> bool,
) -> Notification {
    within("a notification", async {
        loop {
            let n = notes.recv().await.expect("the driver runs");
            if pred(&n) {
                return n;
            }
        }
    })
    .await
}

// ---- A raw hostile server -----------------------------------------------------------------

/// Accepts one WebSocket on 127.0.0.1, then hands the raw TCP stream to `behave`: what it
/// writes is raw WebSocket framing (unmasked, server to client).
async fn hostile<F, Fut>(behave: F) -> String
where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("ws://{}/", listener.local_addr().expect("an address"));
    tokio::spawn(async move {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        // A small read buffer, so that the measured heap is mostly the driver's.
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .read_buffer_size(1024);
        let Ok(ws) = tokio_tungstenite::accept_async_with_config(tcp, Some(config)).await else {
            return;
        };
        behave(ws.into_inner()).await;
    });
    url
}

/// A server-to-client frame header: `opcode` with FIN as given, a 64-bit length.
fn header(fin: bool, opcode: u8, len: u64) -> Vec<u8> {
    let mut h = vec![if fin { 0x80 } else { 0 } | opcode, 127];
    h.extend_from_slice(&len.to_be_bytes());
    h
}

/// Writes `block` again and again until the peer is gone.
async fn write_forever(tcp: &mut TcpStream, block: &[u8]) {
    while tcp.write_all(block).await.is_ok() {}
}

/// The driver's link to `url` fails with `TooLarge`; the heap's peak above the baseline
/// taken before the driver started.
async fn link_fails_too_large(url: String) -> usize {
    let base = baseline();
    let (sdk, mut notes) = spawn(DriverConfig::new(url));
    let lost = until(&mut notes, |n| matches!(n, Notification::Disconnected(_))).await;
    let peak = peak_above(base);
    let limit = DriverConfig::new("").max_message_bytes;
    assert_eq!(
        lost,
        Notification::Disconnected(LinkError::TooLarge { limit })
    );
    until(&mut notes, |n| {
        matches!(n, Notification::Event(Event::ConnectionWarning))
    })
    .await;
    sdk.shutdown().await.expect("driver running");
    peak
}

/// A frame header announcing 1 GiB, then payload as fast as TCP takes it: the driver
/// refuses it on the header and never buffers the payload.
#[tokio::test]
async fn an_announced_giant_frame_fails_the_link_unbuffered() {
    let _one = ONE_AT_A_TIME.lock().await;
    let block = vec![b'a'; 64 * 1024];
    let url = hostile(move |mut tcp| async move {
        let _ = tcp.write_all(&header(true, 0x1, 1 << 30)).await;
        write_forever(&mut tcp, &block).await;
    })
    .await;
    let peak = link_fails_too_large(url).await;
    println!("1 GiB announced: the link failed, heap peak {peak} B above the baseline");
    // Nothing of the payload: the connection's own buffers only.
    assert!(peak < 256 * 1024, "peak {peak} B");
}

/// A message grown by 8 KiB fragments without end: each fragment is under the frame limit,
/// the message goes over the message limit and the link fails there.
#[tokio::test]
async fn a_message_grown_by_fragments_fails_the_link_at_the_limit() {
    let _one = ONE_AT_A_TIME.lock().await;
    let fragment = 8 * 1024;
    let mut first = header(false, 0x1, fragment as u64);
    first.extend(std::iter::repeat_n(b'a', fragment));
    let mut more = header(false, 0x0, fragment as u64);
    more.extend(std::iter::repeat_n(b'a', fragment));
    let url = hostile(move |mut tcp| async move {
        let _ = tcp.write_all(&first).await;
        write_forever(&mut tcp, &more).await;
    })
    .await;
    let peak = link_fails_too_large(url).await;
    println!("fragments without end: the link failed, heap peak {peak} B above the baseline");
    // At most the message limit (64 KiB) and the connection's own buffers.
    let limit = DriverConfig::new("").max_message_bytes;
    assert!(peak < limit + 192 * 1024, "peak {peak} B");
}

/// 20 KiB of JSON: over the core's 16 KiB frame limit, under the transport's 64 KiB. The
/// core refuses it as malformed, the link stays up, nothing changes; the next frame works.
#[tokio::test]
async fn a_message_over_the_frame_limit_is_refused_by_the_core() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = LoopbackServer::start(ServerConfig::new(19921, 7))
        .await
        .expect("bind");
    let control = server.control();
    let mut config = DriverConfig::new(server.url());
    config.trace = true;
    let (sdk, mut notes) = spawn(config);
    let mut status = sdk.status();
    within("the connection", status.wait_for(|s| s.connected))
        .await
        .expect("driver running");
    let big = format!(
        r#"{{"type":"session_ended","reason":"{}"}}"#,
        "x".repeat(20 * 1024)
    );
    control.send_raw(big).await.expect("server running");
    let refused = until(&mut notes, |n| matches!(n, Notification::FrameRefused(_))).await;
    let Notification::FrameRefused(e) = refused else {
        unreachable!()
    };
    assert_eq!(
        e.code(),
        cobrowse_visitor_core::ErrorCode::FrameTooLarge,
        "{e}"
    );
    let s = *status.borrow();
    assert!(s.connected);
    assert_eq!(s.connections, 1);
    // The link and the core are as they were: init works.
    sdk.call(ApiCall::InitVisitor(
        cobrowse_visitor_core::InitParams::anonymous(19921),
    ))
    .await
    .expect("init_visitor accepted");
    until(&mut notes, |n| {
        matches!(n, Notification::Event(Event::VisitorInitialized { .. }))
    })
    .await;
    sdk.shutdown().await.expect("driver running");
    control.shutdown().await.expect("server running");
}

/// A server floods frames the state does not expect (and garbage) as fast as TCP takes
/// them. The app's calls are answered at once (the driver's `biased` select takes a command
/// before the next message), the core's state does not move (every call is refused for the
/// same reason as before the flood, and no event but those refusals arrives), and the
/// heap stays bounded: the driver reads one message at a time and the flood waits in TCP.
#[tokio::test]
async fn a_flood_keeps_calls_answered_and_memory_bounded() {
    let _one = ONE_AT_A_TIME.lock().await;
    // One block of many small frames: unexpected, undecodable, a wrong protocol version.
    let mut block = Vec::new();
    for text in [
        r#"{"type":"presence_blur"}"#,
        r#"{"type":"guest_count","guestcount":3}"#,
        "{not json",
        r#"{"type":"settings","v":2,"key_length":4}"#,
    ] {
        for _ in 0..256 {
            block.push(0x81);
            block.push(u8::try_from(text.len()).expect("short"));
            block.extend_from_slice(text.as_bytes());
        }
    }
    let url = hostile(move |mut tcp| async move {
        write_forever(&mut tcp, &block).await;
    })
    .await;
    let base = baseline();
    let (sdk, mut notes) = spawn(DriverConfig::new(url));
    let status = sdk.status();
    let mut status_wait = status.clone();
    within(
        "the flood",
        status_wait.wait_for(|s| s.connected && s.received > 1_000),
    )
    .await
    .expect("driver running");

    let calls = 50;
    let mut worst = Duration::ZERO;
    let mut total = Duration::ZERO;
    let started = std::time::Instant::now();
    let read_before = status.borrow().received;
    for _ in 0..calls {
        let t = std::time::Instant::now();
        let answer = within("a call's answer", sdk.call(ApiCall::EndSession)).await;
        let took = t.elapsed();
        worst = worst.max(took);
        total += took;
        assert!(
            matches!(
                answer,
                Err(DriverError::Refused(Error::Api(ApiError::NotInitialized)))
            ),
            "refused as before the flood: {answer:?}"
        );
    }
    let elapsed = started.elapsed();
    let read = status.borrow().received - read_before;
    let peak = peak_above(base);
    // Only the refusals' events: the flood changed nothing.
    let mut events = 0;
    while let Ok(n) = notes.try_recv() {
        match n {
            Notification::Event(Event::InvalidState { .. }) => events += 1,
            Notification::Connected => {}
            other => panic!("the flood caused {other:?}"),
        }
    }
    assert_eq!(events, calls);
    println!(
        "flood: {read} frames read while {calls} calls were answered in {elapsed:?} \
         (mean {:?}, worst {worst:?}); heap peak {peak} B above the baseline",
        total / u32::try_from(calls).expect("few")
    );
    assert!(read > 0, "the flood went on during the calls");
    assert!(worst < Duration::from_secs(2), "worst call {worst:?}");
    assert!(peak < 512 * 1024, "peak {peak} B");
    sdk.shutdown().await.expect("driver running");
}
