"""Threads: exact counts from many recording threads, and the GIL released during long calls
(a second Python thread makes progress while a fit or a refresh runs)."""

from __future__ import annotations

import threading
import time
from typing import Callable, List, Tuple

import numpy as np

from asgd import staleness, stepsize


def test_record_from_many_threads_is_exact() -> None:
    threads, per = 8, 20_000
    h = staleness.Histogram(16)
    start = threading.Barrier(threads)

    def work(t: int) -> None:
        start.wait()
        for i in range(per):
            h.record((i + t) % 21)  # 17..20 overflow

    ts = [threading.Thread(target=work, args=(r,)) for r in range(threads)]
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    c = h.snapshot()
    want = np.zeros(21, dtype=np.int64)
    for t in range(threads):
        np.add.at(want, (np.arange(per) + t) % 21, 1)
    assert c.total() == threads * per
    assert c.counts.tolist() == want[:17].tolist()
    assert c.overflow == int(want[17:].sum())


def wide_histogram(n: int = 12_000) -> np.ndarray:
    """A hump over n buckets: the CMP fit's cost grows with the support."""
    k = np.arange(n)
    hump: np.ndarray = (1000 * np.exp(-0.5 * ((k - n / 2) / (n / 8)) ** 2)).astype(np.uint64)
    return hump + 1


def progress_during(
    call: Callable[[], object], tick: Callable[[], None] = lambda: None
) -> Tuple[float, float, List[float]]:
    """Run ``call`` in a second thread; meanwhile this thread loops (calling ``tick``),
    stamping each iteration. Returns the call's start and end and the stamps between."""
    ready = threading.Event()
    span: List[float] = []

    def worker() -> None:
        ready.set()
        t0 = time.perf_counter()
        call()
        span.extend([t0, time.perf_counter()])

    t = threading.Thread(target=worker)
    t.start()
    ready.wait()
    stamps: List[float] = []
    while t.is_alive():
        tick()
        stamps.append(time.perf_counter())
    t.join()
    t0, t1 = span
    return t0, t1, [s for s in stamps if t0 < s < t1]


def assert_progressed(t0: float, t1: float, stamps: List[float]) -> None:
    duration = t1 - t0
    # The call must be long enough to tell: a held GIL would stall this thread for all of it.
    assert duration > 0.2, f"the call took only {duration:.3f} s: make its input bigger"
    assert len(stamps) > 1000, f"{len(stamps)} iterations in {duration:.3f} s"
    # With the GIL held, this thread still gets a switch interval (5 ms: thousands of
    # iterations) just before the call starts or just after it returns, so the count alone
    # cannot tell. The stamps would then cluster at one end: the largest gap, from the call's
    # start through every stamp to its end, would be nearly the whole call.
    gaps = np.diff(np.asarray([t0, *stamps, t1]))
    assert gaps.max() < duration / 2, f"stalled {gaps.max():.3f} s of {duration:.3f} s"


def test_fit_releases_the_gil() -> None:
    c = staleness.Counts(wide_histogram())
    assert_progressed(*progress_during(lambda: staleness.fit_bhattacharyya(c, "cmp")))


def test_fit_all_releases_the_gil() -> None:
    c = staleness.Counts(wide_histogram())
    assert_progressed(*progress_during(lambda: staleness.fit_all(c)))


def test_refresh_releases_the_gil_and_eta_reads_meanwhile() -> None:
    """MindTheStep with fitted CMP parameters fits at every refresh; other threads keep
    reading eta (from the old or the new table) while it runs."""
    c = staleness.Counts(wide_histogram())
    a = stepsize.Adaptive(
        stepsize.Policy.mind_the_step_cmp(), 0.01, tau_max=64, cap=5.0, mean_preserving=True
    )
    seen: List[float] = []

    def read() -> None:
        e = a.eta(7)
        assert e is not None
        seen.append(e)

    t0, t1, stamps = progress_during(lambda: a.refresh(c), read)
    assert_progressed(t0, t1, stamps)
    assert len(seen) >= len(stamps)
    assert all(0.0 <= e <= 0.05 * (1 + 1e-6) for e in seen)  # f32 table
