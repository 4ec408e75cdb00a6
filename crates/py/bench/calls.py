"""Per-call cost from Python of ``Adaptive.eta(tau)`` and ``Histogram.record(tau)``, next to a
plain Python function call and pure-Python equivalents, in the same run.

    python crates/py/bench/calls.py [--json out.json] [--calls N] [--repeats R]

(with asgd installed: ``pip install ./crates/py``). Prints nanoseconds per call, the best of R
repeats of N calls each (timeit; the loop's own overhead is in every row alike; many short
repeats, 200 x 20000 by default, so that the best one ran unpreempted on a shared machine), and each
row's ratio to the plain Python call; ``--json`` also writes them with the machine (CPU model,
cores, Python) and the command.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import threading
import timeit
from typing import Any, Dict, List

from asgd import staleness, stepsize


def plain(tau: int) -> int:
    return tau


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--calls", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=200)
    args = ap.parse_args()

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
    n, repeats = args.calls, args.repeats
    rows: List[Dict[str, Any]] = []
    for name, stmt in cases:
        best = min(timeit.repeat(stmt, globals=env, number=n, repeat=repeats))
        rows.append({"call": name, "stmt": stmt, "ns_per_call": best / n * 1e9})
    base = rows[0]["ns_per_call"]
    for r in rows:
        r["vs_plain_call"] = r["ns_per_call"] / base

    machine = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_implementation() + " " + platform.python_version(),
        "platform": platform.platform(),
    }
    print(f"{machine['cpu']}, {machine['cores']} cores, {machine['python']}")
    print(f"{'call':<36} {'ns/call':>8} {'x plain':>8}   (best of {repeats} x {n})")
    for r in rows:
        print(f"{r['call']:<36} {r['ns_per_call']:8.1f} {r['vs_plain_call']:8.2f}")
    if args.json:
        out = {
            "command": [sys.executable, *sys.argv],
            "machine": machine,
            "calls": n,
            "repeats": repeats,
            "rows": rows,
        }
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
