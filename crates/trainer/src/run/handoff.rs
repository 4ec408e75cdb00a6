//! How the real-thread executor hands events from its workers to the coordinator without the
//! measurement changing what it measures.
//!
//! - **One clock** ([`Clock`]): time zero is taken after every worker is ready and before any
//!   can start (between the two start barriers), and every event is stamped on it by its
//!   worker, so a coordinator that is descheduled (m ≫ cores) or busy evaluating neither delays
//!   nor compresses the timeline.
//! - **One order** ([`Clock::stamp`]): the stamp and a global event number are taken together
//!   under a tiny lock, so sorting by number sorts by time. The coordinator receives events in
//!   that order ([`Inbox`]), whatever order the workers' batches arrive in.
//! - **Batched hand-off** ([`Outbox`]): a worker buffers its events and sends them `FLUSH_EVENTS`
//!   at a time (or after `FLUSH_SECONDS`) over a bounded channel, so it rarely waits for the
//!   coordinator; the time it does wait is measured and reported.

use super::events::{Event, Rec};
use parking_lot::Mutex;
use std::collections::BinaryHeap;
use std::sync::mpsc::SyncSender;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A worker sends its buffered events when it holds this many…
pub(crate) const FLUSH_EVENTS: usize = 16;
/// …or when its last send is this long ago (so the coordinator's view lags little, and an event
/// after a long gradient goes out at once).
pub(crate) const FLUSH_SECONDS: f64 = 0.05;

/// The run's clock and event order.
#[derive(Default)]
pub(crate) struct Clock {
    zero: OnceLock<Instant>,
    order: Mutex<u64>,
}

impl Clock {
    /// Time zero: call once, after every worker is ready and before any is released.
    pub fn start(&self) {
        let _ = self.zero.set(Instant::now());
    }

    /// Seconds since time zero (0 before it).
    pub fn seconds(&self) -> f64 {
        self.zero.get().map_or(0.0, |z| z.elapsed().as_secs_f64())
    }

    /// An event number and a time, taken together: numbers ascend with time.
    pub fn stamp(&self) -> (u64, f64) {
        let mut o = self.order.lock();
        let n = *o;
        *o += 1;
        (n, self.seconds())
    }
}

/// An event with its global number (the coordinator's order).
pub(crate) struct Numbered {
    pub order: u64,
    pub rec: Rec,
}

impl PartialEq for Numbered {
    fn eq(&self, o: &Self) -> bool {
        self.order == o.order
    }
}
impl Eq for Numbered {}
impl PartialOrd for Numbered {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Numbered {
    /// Reversed: the heap's top is the smallest number.
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        o.order.cmp(&self.order)
    }
}

/// A worker's buffered hand-off to the coordinator.
pub(crate) struct Outbox<'c> {
    clock: &'c Clock,
    worker: usize,
    tx: SyncSender<Vec<Numbered>>,
    buf: Vec<Numbered>,
    flush_events: usize,
    last_flush: f64,
    /// Time spent waiting for the channel (it was full: the coordinator is behind).
    pub blocked: Duration,
    /// Whether the coordinator hung up.
    pub closed: bool,
}

impl<'c> Outbox<'c> {
    /// A worker's outbox that sends every `flush_events` events (or after `FLUSH_SECONDS`).
    pub fn new(
        clock: &'c Clock,
        worker: usize,
        tx: SyncSender<Vec<Numbered>>,
        flush_events: usize,
    ) -> Self {
        Outbox {
            clock,
            worker,
            tx,
            buf: Vec::with_capacity(flush_events),
            flush_events,
            last_flush: 0.0,
            blocked: Duration::ZERO,
            closed: false,
        }
    }

    /// Stamp and buffer one event; send the buffer when it is full or old. `false` once the
    /// coordinator has hung up.
    pub fn send(&mut self, event: Event) -> bool {
        let (order, at) = self.clock.stamp();
        self.buf.push(Numbered {
            order,
            rec: Rec {
                at,
                worker: self.worker,
                event,
            },
        });
        if self.buf.len() >= self.flush_events || at - self.last_flush >= FLUSH_SECONDS {
            self.last_flush = at;
            self.flush();
        }
        !self.closed
    }

    /// Send what is buffered (also before the worker blocks: parked workers must not hold
    /// events the coordinator's order waits for).
    pub fn flush(&mut self) {
        if self.buf.is_empty() || self.closed {
            return;
        }
        let batch = std::mem::replace(&mut self.buf, Vec::with_capacity(self.flush_events));
        let t = Instant::now();
        // `try_send` first, so that the common case costs no clock read beyond this one.
        match self.tx.try_send(batch) {
            Ok(()) => {}
            Err(std::sync::mpsc::TrySendError::Full(batch)) => {
                if self.tx.send(batch).is_err() {
                    self.closed = true;
                }
                self.blocked += t.elapsed();
            }
            Err(std::sync::mpsc::TrySendError::Disconnected(_)) => self.closed = true,
        }
    }
}

impl Drop for Outbox<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

/// The coordinator's side: batches in, events out in global order.
#[derive(Default)]
pub(crate) struct Inbox {
    heap: BinaryHeap<Numbered>,
    next: u64,
}

impl Inbox {
    pub fn push(&mut self, batch: Vec<Numbered>) {
        self.heap.extend(batch);
    }

    /// The next event in order, if it has arrived.
    pub fn pop_ready(&mut self) -> Option<Rec> {
        if self.heap.peek().is_some_and(|n| n.order == self.next) {
            self.next += 1;
            return self.heap.pop().map(|n| n.rec);
        }
        None
    }

    /// Every worker has finished: the rest in order (no gaps are left to wait for).
    pub fn pop_any(&mut self) -> Option<Rec> {
        self.heap.pop().map(|n| {
            self.next = n.order + 1;
            n.rec
        })
    }
}
