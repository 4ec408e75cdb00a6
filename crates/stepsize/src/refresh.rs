//! When a policy's table is re-tabulated from the live staleness histogram.
//!
//! The schedule belongs to the policy, not to whoever runs the workers: the thesis code's
//! TAIL-τ samples its histogram once, over updates 10m–15m, while every other histogram-driven
//! policy follows the live histogram. A [`Refresher`] is driven by its caller's clock (wall
//! seconds for threads, virtual seconds for a simulator) and update count; it takes a snapshot
//! only when one is due.

use crate::{Adaptive, CdfForm, Policy};
use staleness::Counts;

/// How often the trainer's live policies are refreshed, in seconds.
pub const REFRESH_PERIOD: f64 = 0.05;

/// When an [`Adaptive`] is refreshed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RefreshSchedule {
    /// Never: the table does not depend on the histogram.
    Never,
    /// From the cumulative histogram every `period` seconds, the first at `period`.
    Every { period: f64 },
    /// Once, from the counts recorded between update `from` and update `to` (the thesis code's
    /// window 10m–15m), then frozen.
    Window { from: u64, to: u64 },
}

impl RefreshSchedule {
    /// The schedule of `adaptive` run by `threads` workers: the thesis code's TAIL-τ
    /// ([`CdfForm::ThesisCode`]) samples updates 10m–15m once; any other policy that needs a
    /// histogram follows it every [`REFRESH_PERIOD`] seconds; the rest never refresh.
    pub fn for_policy(adaptive: &Adaptive, threads: usize) -> Self {
        let m = threads as u64;
        match adaptive.policy() {
            Policy::TailTau {
                form: CdfForm::ThesisCode,
                ..
            } => RefreshSchedule::Window {
                from: 10 * m,
                to: 15 * m,
            },
            _ if adaptive.needs_histogram() => RefreshSchedule::Every {
                period: REFRESH_PERIOD,
            },
            _ => RefreshSchedule::Never,
        }
    }
}

/// What a window schedule sampled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowSample {
    /// The update counts at which the window's first and last snapshots were taken (the
    /// schedule's `from` and `to`, or later when the caller's ticks skipped past them).
    pub from: u64,
    pub to: u64,
    /// Updates recorded in the sample (the histogram's total between the two snapshots): at
    /// m = 2 the thesis' window holds only 10.
    pub updates: u64,
}

/// Drives an [`Adaptive`]'s refreshes on its [`RefreshSchedule`].
#[derive(Clone, Debug)]
pub struct Refresher {
    schedule: RefreshSchedule,
    next: f64,
    start: Option<(u64, Counts)>,
    window: Option<WindowSample>,
    buf: Counts,
    refreshes: u64,
}

impl Refresher {
    pub fn new(schedule: RefreshSchedule) -> Self {
        Refresher {
            schedule,
            next: match schedule {
                RefreshSchedule::Every { period } => period,
                _ => f64::INFINITY,
            },
            start: None,
            window: None,
            buf: Counts::zeros(0),
            refreshes: 0,
        }
    }

    /// [`RefreshSchedule::for_policy`].
    pub fn for_policy(adaptive: &Adaptive, threads: usize) -> Self {
        Refresher::new(RefreshSchedule::for_policy(adaptive, threads))
    }

    pub fn schedule(&self) -> RefreshSchedule {
        self.schedule
    }

    /// Call once per update (or per batch of updates) with the updates so far and the seconds
    /// since the start, on the caller's clock. `snapshot` fills a [`Counts`] with the live
    /// histogram (e.g. `|c| hist.snapshot_into(c)`) and is called only when one is due.
    /// Returns whether `adaptive` was refreshed. With batched calls the window's snapshots are
    /// taken at the first call at or past `from` and `to`; [`Refresher::window`] says where.
    pub fn tick(
        &mut self,
        adaptive: &Adaptive,
        updates: u64,
        seconds: f64,
        snapshot: impl FnOnce(&mut Counts),
    ) -> bool {
        match self.schedule {
            RefreshSchedule::Never => false,
            RefreshSchedule::Every { period } => {
                if seconds < self.next {
                    return false;
                }
                snapshot(&mut self.buf);
                adaptive.refresh(&self.buf);
                self.next = seconds + period;
                let refreshed = self.buf.total() > 0 && adaptive.needs_histogram();
                self.refreshes += u64::from(refreshed);
                refreshed
            }
            RefreshSchedule::Window { from, to } => {
                if self.window.is_some() || updates < from {
                    return false;
                }
                match self.start.take() {
                    None => {
                        let mut early = Counts::zeros(0);
                        snapshot(&mut early);
                        self.start = Some((updates, early));
                        false
                    }
                    Some(start) if updates < to => {
                        self.start = Some(start);
                        false
                    }
                    Some((at, early)) => {
                        snapshot(&mut self.buf);
                        let sample = self.buf.since(&early);
                        adaptive.refresh(&sample);
                        self.window = Some(WindowSample {
                            from: at,
                            to: updates,
                            updates: sample.total(),
                        });
                        // An empty window leaves the table as it was (η0 for TAIL-τ).
                        let refreshed = sample.total() > 0 && adaptive.needs_histogram();
                        self.refreshes += u64::from(refreshed);
                        refreshed
                    }
                }
            }
        }
    }

    /// The sample a window schedule took (`None` before it closed, or for other schedules).
    pub fn window(&self) -> Option<WindowSample> {
        self.window
    }

    /// Refreshes done so far.
    pub fn refreshes(&self) -> u64 {
        self.refreshes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Options, Phi};
    use staleness::Histogram;

    fn tail(form: CdfForm) -> Adaptive {
        Adaptive::new(
            Policy::TailTau {
                amplitude: 1.0,
                phi: Phi::Identity,
                form,
            },
            1.0,
            Options::default(),
            8,
        )
    }

    #[test]
    fn schedules_follow_the_policy() {
        let constant = Adaptive::new(Policy::Constant, 0.1, Options::default(), 8);
        assert_eq!(
            RefreshSchedule::for_policy(&constant, 4),
            RefreshSchedule::Never
        );
        let mean = Adaptive::new(
            Policy::Constant,
            0.1,
            Options {
                mean_preserving: true,
                ..Options::default()
            },
            8,
        );
        assert_eq!(
            RefreshSchedule::for_policy(&mean, 4),
            RefreshSchedule::Every { period: 0.05 }
        );
        assert_eq!(
            RefreshSchedule::for_policy(&tail(CdfForm::ThesisCode), 4),
            RefreshSchedule::Window { from: 40, to: 60 }
        );
    }

    /// Periodic refreshes on a virtual clock: due at 0.05 s, then 0.05 s after each; the
    /// snapshot is taken only when due.
    #[test]
    fn every_period_on_virtual_seconds() {
        let a = tail(CdfForm::Exact);
        let h = Histogram::new(8);
        let mut r = Refresher::for_policy(&a, 2);
        let mut snapshots = 0;
        let mut ticks = Vec::new();
        for (i, t) in [0.0, 0.049, 0.05, 0.07, 0.0999, 0.1, 0.3]
            .into_iter()
            .enumerate()
        {
            h.record(i as u64 % 3);
            let refreshed = r.tick(&a, i as u64 + 1, t, |c| {
                snapshots += 1;
                h.snapshot_into(c)
            });
            ticks.push(refreshed);
        }
        assert_eq!(ticks, [false, false, true, false, false, true, true]);
        assert_eq!((snapshots, r.refreshes()), (3, 3));
        // The table is the one of the histogram at the last refresh.
        let want = tail(CdfForm::Exact);
        want.refresh(&h.snapshot());
        assert_eq!(a.factors_now(), want.factors_now());
        assert_eq!(r.window(), None);
    }

    /// The thesis code's window: one refresh from exactly the updates 10m–15m, then frozen
    /// however the histogram moves; the sample's size is reported (10 updates at m = 2).
    #[test]
    fn window_samples_once_and_reports_its_size() {
        let a = tail(CdfForm::ThesisCode);
        let h = Histogram::new(8);
        let mut r = Refresher::for_policy(&a, 2);
        let tau = |u: u64| {
            if u <= 20 {
                3
            } else if u <= 30 {
                u % 2
            } else {
                7
            }
        };
        let mut refreshed_at = Vec::new();
        for u in 1..=100u64 {
            h.record(tau(u));
            if r.tick(&a, u, u as f64, |c| h.snapshot_into(c)) {
                refreshed_at.push(u);
            }
        }
        assert_eq!(refreshed_at, [30]);
        assert_eq!(
            r.window(),
            Some(WindowSample {
                from: 20,
                to: 30,
                updates: 10
            })
        );
        // Updates 21..=30 only: τ alternating 1, 0.
        let want = tail(CdfForm::ThesisCode);
        want.refresh(&Counts::from_counts(vec![5, 5]));
        assert_eq!(a.factors_now(), want.factors_now());
    }

    /// Batched ticks that skip past `from` and `to` snapshot at the first tick past each, and
    /// say so.
    #[test]
    fn window_with_batched_ticks() {
        let a = tail(CdfForm::ThesisCode);
        let h = Histogram::new(8);
        let mut r = Refresher::new(RefreshSchedule::Window { from: 10, to: 20 });
        let mut done = Vec::new();
        for u in 1..=40u64 {
            h.record(u % 4);
            if u % 7 == 0 {
                done.push(r.tick(&a, u, 0.0, |c| h.snapshot_into(c)));
            }
        }
        assert_eq!(done, [false, false, true, false, false]);
        assert_eq!(
            r.window(),
            Some(WindowSample {
                from: 14,
                to: 21,
                updates: 7
            })
        );
    }
}
