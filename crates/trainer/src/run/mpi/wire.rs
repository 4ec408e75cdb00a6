//! The messages of Alg. A.1 on the wire: every message is one `f32` buffer, a small header
//! followed by `d` values (a gradient, or θ), so that a gradient or a state moves in one
//! message, without packing copies. Header fields are f32-exact integers (< 2^24 each), which
//! survive any MPI transport and need no reinterpretation of bits.

use mpi::Tag;

/// Worker → server: a gradient, or a control word (data used up, failure, interrupt).
pub const TAG_WORK: Tag = 1;
/// Server → worker: the new state θ with its version, or stop.
pub const TAG_STATE: Tag = 2;
/// Worker → server, once at the end: its measurements (`f64`, see [`RankStats`]).
pub const TAG_STATS: Tag = 3;

/// Header length in `f32` slots: version (three 24-bit digits), loss, kind.
pub const HEADER: usize = 5;
const LOSS: usize = 3;
const KIND: usize = 4;
const DIGIT: u64 = 1 << 24;

/// What a message says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Worker: the gradient (direction) computed on the given version, with its mini-batch loss.
    Gradient,
    /// Worker: its share of the data is used up.
    Done,
    /// Worker: the mini-batch loss was not finite (the loss field says which value).
    Failed,
    /// Worker: it received SIGINT/SIGTERM.
    Interrupted,
    /// Server: the new θ and its version; go on.
    State,
    /// Server: stop (no θ follows).
    Stop,
}

impl Kind {
    fn code(self) -> f32 {
        match self {
            Kind::Gradient => 1.0,
            Kind::Done => 2.0,
            Kind::Failed => 3.0,
            Kind::Interrupted => 4.0,
            Kind::State => 5.0,
            Kind::Stop => 6.0,
        }
    }

    fn from_code(c: f32) -> Option<Kind> {
        Some(match c as u32 {
            1 => Kind::Gradient,
            2 => Kind::Done,
            3 => Kind::Failed,
            4 => Kind::Interrupted,
            5 => Kind::State,
            6 => Kind::Stop,
            _ => return None,
        })
    }
}

/// Write the header of `buf`: `version`, `loss`, `kind`.
pub fn set_header(buf: &mut [f32], version: u64, loss: f32, kind: Kind) {
    buf[0] = (version % DIGIT) as f32;
    buf[1] = ((version / DIGIT) % DIGIT) as f32;
    buf[2] = (version / (DIGIT * DIGIT)) as f32;
    buf[LOSS] = loss;
    buf[KIND] = kind.code();
}

/// The header of `buf`: (version, loss, kind); `None` for a malformed header.
pub fn header(buf: &[f32]) -> Option<(u64, f32, Kind)> {
    let digit = |x: f32| (x >= 0.0 && x < DIGIT as f32 && x.fract() == 0.0).then_some(x as u64);
    let v = digit(buf[0])? + digit(buf[1])? * DIGIT + digit(buf[2])? * DIGIT * DIGIT;
    Some((v, buf[LOSS], Kind::from_code(buf[KIND])?))
}

/// A worker's measurements, sent to the server at the end as one `f64` message:
/// `[sent, active_seconds, θ-hash (two 32-bit halves), n_tc, n_rtt, tc…, rtt…]`.
pub struct RankStats {
    pub sent: u64,
    pub active_seconds: f64,
    /// Hash of the worker's final θ (SYNC replicas; 0 for async).
    pub theta_hash: u64,
    pub tc_ms: Vec<f64>,
    pub rtt_us: Vec<f64>,
}

impl RankStats {
    pub fn encode(&self) -> Vec<f64> {
        let mut v = vec![
            self.sent as f64,
            self.active_seconds,
            (self.theta_hash >> 32) as f64,
            (self.theta_hash & 0xffff_ffff) as f64,
            self.tc_ms.len() as f64,
            self.rtt_us.len() as f64,
        ];
        v.extend(&self.tc_ms);
        v.extend(&self.rtt_us);
        v
    }

    pub fn decode(v: &[f64]) -> Option<RankStats> {
        let (head, rest) = v.split_at_checked(6)?;
        let (ntc, nrtt) = (head[4] as usize, head[5] as usize);
        if rest.len() != ntc + nrtt {
            return None;
        }
        Some(RankStats {
            sent: head[0] as u64,
            active_seconds: head[1],
            theta_hash: ((head[2] as u64) << 32) | head[3] as u64,
            tc_ms: rest[..ntc].to_vec(),
            rtt_us: rest[ntc..].to_vec(),
        })
    }
}

/// A hash of θ's bits (start-up agreement, SYNC replicas).
pub fn hash_f32(x: &[f32]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    for v in x {
        v.to_bits().hash(&mut h);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_large_versions_and_every_kind() {
        let mut b = vec![0.0f32; HEADER + 3];
        for (v, k) in [
            (0, Kind::Gradient),
            (DIGIT - 1, Kind::State),
            (DIGIT * DIGIT + 12_345, Kind::Stop),
            (u64::from(u32::MAX) * 977, Kind::Failed),
        ] {
            set_header(&mut b, v, -1.5, k);
            assert_eq!(header(&b), Some((v, -1.5, k)));
        }
        b[KIND] = 9.0;
        assert_eq!(header(&b), None);
    }

    #[test]
    fn stats_round_trip_and_refuse_a_short_message() {
        let s = RankStats {
            sent: 7,
            active_seconds: 1.25,
            theta_hash: 0xdead_beef_0123_4567,
            tc_ms: vec![1.0, 2.0],
            rtt_us: vec![3.0],
        };
        let e = s.encode();
        let d = RankStats::decode(&e).unwrap();
        assert_eq!((d.sent, d.theta_hash), (7, 0xdead_beef_0123_4567));
        assert_eq!((d.tc_ms, d.rtt_us), (vec![1.0, 2.0], vec![3.0]));
        assert!(RankStats::decode(&e[..e.len() - 1]).is_none());
    }
}
