"""Per-call cost from Python of ``Adaptive.eta(tau)`` and ``Histogram.record(tau)``, next to a
plain Python function call and pure-Python equivalents, in the same run.

    python crates/py/bench.py            # with asgd installed (ci.sh, or maturin develop -r)

Prints nanoseconds per call: the best of 5 repeats of 10^6 calls each (timeit; the loop's own
overhead is included in every row alike).
"""

from __future__ import annotations

import threading
import timeit

from asgd import staleness, stepsize

N = 1_000_000
REPEATS = 5


def plain(tau: int) -> int:
    return tau


def main() -> None:
    hist = staleness.Histogram(64)
    for t in range(1000):
        hist.record(t % 7)
    eta = stepsize.Adaptive(stepsize.Policy.tail_tau(), 0.01, tau_max=64, drop_above=32)
    eta.refresh(hist)
    table = [float(x) for x in eta.factors]
    counts = [0] * 66
    lock = threading.Lock()

    def py_record(tau: int) -> None:
        with lock:
            counts[min(tau, 65)] += 1

    def py_eta(tau: int) -> float:
        return 0.01 * table[min(tau, 64)]

    cases = [
        ("plain Python call f(3)", "plain(3)"),
        ("Histogram.record(3)", "record(3)"),
        ("Adaptive.eta(3)", "eta(3)"),
        ("Adaptive.eta(40) (dropped: None)", "eta(40)"),
        ("pure Python record (lock + list)", "py_record(3)"),
        ("pure Python eta (list lookup)", "py_eta(3)"),
    ]
    env = {
        "plain": plain,
        "record": hist.record,
        "eta": eta.eta,
        "py_record": py_record,
        "py_eta": py_eta,
    }
    print(f"{'call':<36} ns/call (best of {REPEATS} x {N})")
    for name, stmt in cases:
        best = min(timeit.repeat(stmt, globals=env, number=N, repeat=REPEATS))
        print(f"{name:<36} {best / N * 1e9:7.1f}")


if __name__ == "__main__":
    main()
