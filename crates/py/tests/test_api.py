"""The Python-side API: refresh schedules on the caller's clock, snapshots and windows, the
Fit dataclasses, and the policies' documented properties (priority and mean preservation)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from asgd import staleness, stepsize

H = [3, 40, 120, 260, 300, 180, 70, 20, 6, 1]


def tail(form: str = "exact") -> stepsize.Adaptive:
    return stepsize.Adaptive(stepsize.Policy.tail_tau(form=form), 1.0, tau_max=8)


def test_thesis_code_window_samples_once() -> None:
    """TAIL-tau as the thesis code: one refresh from updates 10m..15m (m = 2), then frozen."""
    a = tail("thesis_code")
    h = staleness.Histogram(8)
    r = stepsize.Refresher.for_policy(a, 2)
    assert r.schedule == {"kind": "window", "start": 20, "end": 30}

    def tau(u: int) -> int:
        return 3 if u <= 20 else (u % 2 if u <= 30 else 7)

    refreshed = []
    for u in range(1, 101):
        h.record(tau(u))
        if r.tick(a, u, float(u), h):
            refreshed.append(u)
    assert refreshed == [30]
    assert r.window_sample == (20, 30, 10)
    assert r.refreshes == 1
    want = tail("thesis_code")
    want.refresh([5, 5])  # updates 21..=30: tau alternating 1, 0
    assert a.factors.tolist() == want.factors.tolist()
    assert a.factors.tolist() != tail("thesis_code").factors.tolist()


def test_every_period_on_a_virtual_clock() -> None:
    a = tail()
    h = staleness.Histogram(8)
    r = stepsize.Refresher.for_policy(a, 2)
    assert r.schedule == {"kind": "every", "period": 0.05}
    ticks = []
    for i, t in enumerate([0.0, 0.049, 0.05, 0.07, 0.0999, 0.1, 0.3]):
        h.record(i % 3)
        ticks.append(r.tick(a, i + 1, t, h))
    assert ticks == [False, False, True, False, False, True, True]
    want = tail()
    want.refresh(h)
    assert a.factors.tolist() == want.factors.tolist()
    # Counts in any form work too (converted at every tick).
    r2 = stepsize.Refresher.every(1.0)
    assert not r2.tick(a, 1, 0.5, H)
    assert r2.tick(a, 2, 1.0, H) and r2.refreshes == 1
    never = stepsize.Refresher.for_policy(stepsize.Adaptive(stepsize.Policy.inverse(), 0.1), 4)
    assert never.schedule == {"kind": "never"}


def test_snapshots_merge_and_windows() -> None:
    h = staleness.Histogram(4)
    for t in [0, 1, 1, 2, 9]:
        h.record(t)
    early = h.snapshot()
    for t in [3, 3, 12]:
        h.record(t)
    late = h.snapshot()
    w = late.since(early)
    assert w.counts.tolist() == [0, 0, 0, 2, 0] and w.overflow == 1 and w.total() == 3
    assert early.merge(w) == late
    assert late.merge([1, 0, 0, 0, 0, 0, 5]).tau_max == 6
    assert len(h) == 5 and h.tau_max == 4 and h.overflow == 2
    assert h.counts.dtype == np.uint64
    assert staleness.Counts.from_samples([2, 0, 2]).counts.tolist() == [1, 0, 2]
    assert "total=8" in repr(h)


def test_fit_objects_are_plain_dataclasses() -> None:
    f = staleness.fit(H, "poisson")
    assert isinstance(f, staleness.Fit) and dataclasses.is_dataclass(f)
    assert f.family == "poisson" and f.method == "bhattacharyya" and f.m is None
    assert set(f.params) == {"lambda"} and f.is_interior and f.at_bound == []
    assert f.model.family == "poisson"
    # All mass on one tau: CMP's nu runs into its upper search bound, which is reported.
    g = staleness.fit([0, 0, 50], "cmp")
    assert g is not None and not g.is_interior
    assert g.at_bound == [staleness.AtBound("nu", "upper", 20.0)]
    a13 = staleness.fit(H, method="a13")
    assert a13 is not None and a13.method == "a13" and a13.m == float(staleness.Counts(H).mode() + 1)


def test_tail_tau_exact_is_mean_preserving_and_priority_preserving() -> None:
    a = stepsize.Adaptive(stepsize.Policy.tail_tau(), 0.5, tau_max=16)
    assert a.factors.tolist() == [1.0] * 17  # eta0 until the first refresh
    a.refresh(H)
    f = a.factors
    assert np.all(np.diff(f[: len(H)]) <= 0)
    assert a.mean_factor(H) == pytest.approx(1.0, abs=1e-6)


def test_drop_above_and_caps() -> None:
    a = stepsize.Adaptive(
        stepsize.Policy.mind_the_step_cmp(lambda_nu=(3.0, 1.0)), 0.01, cap=2.0, drop_above=5
    )
    assert a.eta(6) is None and a.eta(5) is not None
    assert max(a.factors) <= 2.0 * (1 + 1e-6)
    assert (a.cap, a.drop_above, a.mean_preserving) == (2.0, 5, False)
    assert "cap=2.0" in repr(a) and "drop_above=5" in repr(a)


def test_policy_values() -> None:
    p = stepsize.Policy.tail_tau(0.5, stepsize.Phi.power(2.0), "thesis")
    assert p.kind == "tail_tau"
    assert p.params == {"amplitude": 0.5, "phi": stepsize.Phi.power(2.0), "form": "thesis"}
    assert p == stepsize.Policy.tail_tau(amplitude=0.5, phi=stepsize.Phi.power(2.0), form="thesis")
    assert p != stepsize.Policy.tail_tau()
    assert repr(p) == 'Policy.tail_tau(amplitude=0.5, phi=Phi.power(2.0), form="thesis")'
    assert stepsize.Policy.tail_tau(phi="smoothstep").params["phi"] == stepsize.Phi.smoothstep()
    phi = stepsize.Phi.smoothstep()
    assert (phi.eval(0.0), phi.eval(1.0), phi.integral(1.0)) == (0.0, 1.0, 0.5)
    assert stepsize.Policy.inverse().factors(tau_max=3).tolist() == [1.0, 1.0, 0.5, 1 / 3]
