//! Cost of one SDK-core step (input handled, outputs drained) per input kind in a steady
//! state, beside the floor: a bare enum-match-and-queue-push machine with the same drive
//! loop. Also the integration controller's step. Allocations are counted by divan's
//! `AllocProfiler`.
//!
//! `cargo bench --bench sdk`

use cobrowse_visitor_testkit::fixtures;

use divan::counter::ItemsCount;
use divan::{black_box, AllocProfiler, Bencher};
use fixtures::{controller, controller_step, CtlInput, Kind};
use std::collections::VecDeque;

#[global_allocator]
static ALLOC: AllocProfiler = AllocProfiler::system();

fn main() {
    divan::main();
}

// ---- The floor ------------------------------------------------------------------------

/// Inputs of the floor machine: the shapes of the string-free SDK inputs.
#[derive(Clone, Copy)]
enum FloorInput {
    GuestCount(u32),
    Lifecycle(bool),
    Timeout,
}

/// Outputs of the floor machine (read only through `black_box`).
#[allow(dead_code)]
enum FloorOutput {
    Event(u32),
    Transmit(bool),
    Connect,
    Timeout(Option<u64>),
}

/// The floor: match the input, update a field, push one output, drain until `Timeout`.
struct Floor {
    guests: u32,
    foreground: bool,
    deadline: Option<u64>,
    out: VecDeque<FloorOutput>,
}

impl Floor {
    fn new() -> Self {
        Floor {
            guests: 0,
            foreground: true,
            deadline: Some(15_000),
            out: VecDeque::with_capacity(8),
        }
    }

    fn handle_input(&mut self, now: u64, input: FloorInput) {
        match input {
            FloorInput::GuestCount(n) => {
                self.guests = n;
                self.out.push_back(FloorOutput::Event(n));
            }
            FloorInput::Lifecycle(fg) => {
                self.foreground = fg;
                self.out.push_back(FloorOutput::Transmit(fg));
            }
            FloorInput::Timeout => {
                self.deadline = Some(now + 16_000);
                self.out.push_back(FloorOutput::Connect);
            }
        }
    }

    fn poll_output(&mut self) -> FloorOutput {
        self.out
            .pop_front()
            .unwrap_or(FloorOutput::Timeout(self.deadline))
    }

    #[inline]
    fn step(&mut self, now: u64, input: FloorInput) -> usize {
        self.handle_input(now, input);
        let mut n = 0;
        loop {
            match self.poll_output() {
                FloorOutput::Timeout(_) => return n,
                o => {
                    black_box(&o);
                    n += 1;
                }
            }
        }
    }
}

/// The floor: string-free inputs (a guest count, background, foreground, a timer), each
/// handled and drained, with the same harness as the SDK core's kinds below.
#[divan::bench]
fn floor(bencher: Bencher) {
    let mut m = Floor::new();
    let cycle = vec![
        FloorInput::GuestCount(2),
        FloorInput::Lifecycle(false),
        FloorInput::Lifecycle(true),
        FloorInput::Timeout,
    ];
    let mut now = 0;
    bencher
        .counter(ItemsCount::new(BATCH))
        .with_inputs(|| cycle.clone())
        .bench_local_refs(|inputs| {
            let mut outs = 0;
            for input in inputs.drain(..) {
                now += 1;
                outs += m.step(now, input);
            }
            outs
        });
}

// ---- SDK core: one input kind each, in a steady state ---------------------------------

/// Inputs per timed iteration, the same for every bench here (cycles are 1, 2 or 4 long),
/// so that the harness costs each the same per input.
const BATCH: usize = 4;

fn bench_kind(bencher: Bencher, kind: Kind) {
    let mut m = kind.setup();
    let cycle = kind.cycle();
    let batch: Vec<_> = cycle.iter().cycle().take(BATCH).cloned().collect();
    // The inputs (and the strings some carry) are the caller's: made outside the timing.
    bencher
        .counter(ItemsCount::new(BATCH))
        .with_inputs(|| batch.clone())
        .bench_local_refs(|inputs| {
            // `drain` keeps the Vec's buffer: it is freed outside the timing.
            let mut outs = 0;
            for input in inputs.drain(..) {
                outs += m.step(input).0;
            }
            outs
        });
}

/// `guest_count` frame while a session runs.
#[divan::bench]
fn guest_count(bencher: Bencher) {
    bench_kind(bencher, Kind::GuestCount);
}

/// `Input::Timeout` firing the reconnect timer while the link is down.
#[divan::bench]
fn timer_expiry(bencher: Bencher) {
    bench_kind(bencher, Kind::TimerExpiry);
}

/// Background then foreground.
#[divan::bench]
fn lifecycle(bencher: Bencher) {
    bench_kind(bencher, Kind::Lifecycle);
}

/// `presence_show_terms` frame while presence is connected.
#[divan::bench]
fn presence_show_terms(bencher: Bencher) {
    bench_kind(bencher, Kind::PresenceShowTerms);
}

/// `presence_signal_agent` (carries strings).
#[divan::bench]
fn presence_signal(bencher: Bencher) {
    bench_kind(bencher, Kind::PresenceSignal);
}

/// `start_session`, `session_started`, `end_session`, `session_ended` (two carry strings).
#[divan::bench]
fn session_start_end(bencher: Bencher) {
    bench_kind(bencher, Kind::SessionStartEnd);
}

/// Network lost then restored, nothing on.
#[divan::bench]
fn network(bencher: Bencher) {
    bench_kind(bencher, Kind::Network);
}

/// Network lost then restored with presence and a session on (the restore's frames carry
/// the key and the visitor id).
#[divan::bench]
fn network_resume(bencher: Bencher) {
    bench_kind(bencher, Kind::NetworkResume);
}

/// Each input of the session cycle on its own, from a freshly built state (built outside
/// the timing; a fresh machine per iteration is colder in the caches than a machine in a
/// loop, so these compare with `floor_fresh`, the floor in the same harness).
mod session_inputs {
    use super::fixtures::{self, Machine};
    use super::{Floor, FloorInput};
    use cobrowse_visitor_core::Input;
    use divan::Bencher;

    /// The floor, one input on a fresh machine per iteration.
    #[divan::bench]
    fn floor_fresh(bencher: Bencher) {
        bencher
            .with_inputs(Floor::new)
            .bench_local_refs(|m| m.step(1, FloorInput::GuestCount(2)));
    }

    fn one(bencher: Bencher, make: fn() -> (Machine, Input)) {
        bencher
            .with_inputs(make)
            .bench_local_refs(|(m, input)| m.step(std::mem::replace(input, Input::Timeout)));
    }

    /// `start_session(random)` from idle.
    #[divan::bench]
    fn start_session(bencher: Bencher) {
        one(bencher, || {
            (Machine::initialised(None), fixtures::session_start())
        });
    }

    /// `session_started` from starting.
    #[divan::bench]
    fn session_started(bencher: Bencher) {
        one(bencher, || {
            let mut m = Machine::initialised(None);
            m.step(fixtures::session_start());
            (m, fixtures::session_started())
        });
    }

    /// `end_session()` from running.
    #[divan::bench]
    fn end_session(bencher: Bencher) {
        one(bencher, || {
            (
                Machine::initialised(None).with_session(),
                fixtures::session_end(),
            )
        });
    }

    /// `session_ended` from ending.
    #[divan::bench]
    fn session_ended(bencher: Bencher) {
        one(bencher, || {
            let mut m = Machine::initialised(None).with_session();
            m.step(fixtures::session_end());
            (m, fixtures::session_ended())
        });
    }
}

// ---- The integration controller -------------------------------------------------------

fn bench_controller(bencher: Bencher, logged_in: bool, cycle: Vec<CtlInput>) {
    let mut c = controller(logged_in);
    bencher
        .counter(ItemsCount::new(cycle.len()))
        .with_inputs(|| cycle.clone())
        .bench_local_refs(|inputs| {
            let mut outs = 0;
            for input in inputs.drain(..) {
                outs += controller_step(&mut c, input);
            }
            outs
        });
}

/// Controller step: an event it ignores (`EventGuestCountChange`).
#[divan::bench]
fn controller_guest_count(bencher: Bencher) {
    bench_controller(
        bencher,
        false,
        vec![CtlInput::Event(
            cobrowse_visitor_core::Event::GuestCountChange { guestcount: 2 },
        )],
    );
}

/// Controller step: tap, connected, end, ended (4 inputs per iteration).
#[divan::bench]
fn controller_manual_session(bencher: Bencher) {
    bench_controller(bencher, false, fixtures::controller_manual_cycle());
}

/// Controller step: terms shown, declined (2 inputs per iteration).
#[divan::bench]
fn controller_terms_declined(bencher: Bencher) {
    bench_controller(bencher, true, fixtures::controller_terms_cycle());
}
