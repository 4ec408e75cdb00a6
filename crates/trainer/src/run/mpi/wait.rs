//! Waiting without spinning. MPI's blocking calls busy-poll; on a machine with fewer cores
//! than processes a spinning process holds a core that the process it waits for needs (the
//! peer that must take the message), and the wait grows to a scheduler time slice
//! (milliseconds). Here every wait polls, and sleeps between polls.

use mpi::point_to_point::{Destination, Message, Source};
use mpi::topology::Process;
use mpi::Tag;
use std::time::Duration;

/// Spin briefly (a reply is often due within microseconds), then sleep between polls.
pub(crate) struct Backoff(u32);

impl Backoff {
    pub fn new() -> Self {
        Backoff(0)
    }

    pub fn reset(&mut self) {
        self.0 = 0;
    }

    pub fn wait(&mut self) {
        self.0 += 1;
        if self.0 < 16 {
            std::thread::yield_now();
        } else {
            std::thread::sleep(Duration::from_micros(20));
        }
    }
}

/// Send `buf` to `to` (non-blocking send, polled until complete).
pub(crate) fn send(to: &Process<'_>, buf: &[f32], tag: Tag) {
    mpi::request::scope(|scope| {
        let mut req = to.immediate_send_with_tag(scope, buf, tag);
        let mut backoff = Backoff::new();
        loop {
            match req.test() {
                Ok(_) => return,
                Err(r) => {
                    req = r;
                    backoff.wait();
                }
            }
        }
    })
}

/// The next message from `from` with `tag` (probed until one arrives); receive it with
/// [`Message::matched_receive_into`].
pub(crate) fn probe(from: &Process<'_>, tag: Tag) -> Message {
    let mut backoff = Backoff::new();
    loop {
        match from.immediate_matched_probe_with_tag(tag) {
            Some((msg, _)) => return msg,
            None => backoff.wait(),
        }
    }
}
