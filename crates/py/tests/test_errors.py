"""Bad input from Python is a ValueError (or TypeError for the wrong type), never a panic or an
abort: every argument is checked before it reaches a crate. (The crates' own messages are
compared against the Rust reference in test_reference.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from asgd import staleness, stepsize
from asgd._asgd import MAX_LEN

H = [3, 40, 120, 260, 300, 180, 70, 20, 6, 1]


@pytest.mark.parametrize("tau", [-1, 2**64, -(2**70)])
def test_tau_out_of_range(tau: int) -> None:
    h = staleness.Histogram(8)
    with pytest.raises(ValueError, match=r"expected an integer in \[0, 2\^64 - 1\], got"):
        h.record(tau)
    a = stepsize.Adaptive(stepsize.Policy.constant(), 0.1)
    with pytest.raises(ValueError, match="expected an integer"):
        a.eta(tau)
    assert h.total() == 0


def test_tau_of_the_wrong_type() -> None:
    h = staleness.Histogram(8)
    for bad in (1.5, "3", None):
        with pytest.raises(TypeError):
            h.record(bad)  # type: ignore[arg-type]
    assert h.total() == 0


def test_largest_tau_goes_to_the_overflow() -> None:
    h = staleness.Histogram(4)
    h.record(2**64 - 1)
    assert (h.overflow, h.total(), h.counts.tolist()) == (1, 1, [0] * 5)


def test_histogram_size_is_bounded() -> None:
    with pytest.raises(ValueError, match=f"tau_max = {MAX_LEN - 1}: must be at most {MAX_LEN - 2}"):
        staleness.Histogram(MAX_LEN - 1)
    with pytest.raises(ValueError):
        staleness.Histogram(-1)
    with pytest.raises(ValueError, match="must be at most"):
        staleness.Counts.from_samples([0, MAX_LEN + 1])


def test_counts_from_bad_sequences() -> None:
    with pytest.raises(ValueError, match=r"counts\[1\] = -3: must be an integer in"):
        staleness.Counts([1, -3, 2])
    with pytest.raises(ValueError, match=r"counts\[2\] = -1: must be >= 0"):
        staleness.Counts(np.array([1, 2, -1], dtype=np.int64))
    with pytest.raises(ValueError, match="one-dimensional, not 2-dimensional"):
        staleness.Counts(np.ones((2, 2), dtype=np.uint64))
    with pytest.raises(TypeError, match="expected a Histogram, Counts, or a sequence"):
        staleness.Counts("123")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not int"):
        staleness.Counts(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        staleness.Counts([1.5, 2])  # type: ignore[list-item]
    # An overflowing total, through every entry point that takes a histogram.
    big = [2**64 - 1, 2**64 - 1, 5]
    msg = r"the histogram's total passes 2\^64 - 1 updates \(at tau = 1\)"
    a = stepsize.Adaptive(stepsize.Policy.tail_tau(), 0.1)
    for call in (
        lambda: staleness.fit(big),
        lambda: staleness.fit_all(big),
        lambda: staleness.fit_cmp_a13(big, 2.0),
        lambda: a.refresh(big),
        lambda: a.mean_factor(big),
        lambda: stepsize.Policy.tail_tau().factors(big),
        lambda: staleness.Counts(H).merge(big),
    ):
        with pytest.raises(ValueError, match=msg):
            call()


def test_counts_accept_numpy_and_iterables() -> None:
    want = staleness.Counts(H)
    assert staleness.Counts(np.array(H, dtype=np.uint64)) == want
    assert staleness.Counts(np.array(H, dtype=np.int32)) == want
    assert staleness.Counts(tuple(H)) == want
    assert staleness.Counts(iter(H)) == want
    assert staleness.Counts(want) == want
    assert staleness.Counts([]).total() == 0


def test_fit_arguments() -> None:
    with pytest.raises(ValueError, match='family = "gauss": must be one of'):
        staleness.fit_bhattacharyya(H, "gauss")
    with pytest.raises(ValueError, match='family = "Poisson"'):
        staleness.fit_mle(H, "Poisson")
    with pytest.raises(ValueError, match="method = 'mle': must be one of"):
        staleness.fit(H, method="mle")  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="the A.13 fit is of the CMP family only"):
        staleness.fit(H, "poisson", method="a13")
    for m in (0.0, -2.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="m = .*: must be finite and > 0"):
            staleness.fit_cmp_a13(H, m)
        with pytest.raises(ValueError, match="must be finite and > 0"):
            staleness.fit_all(H, m)


def test_empty_histograms_fit_nothing() -> None:
    assert staleness.fit_bhattacharyya([0, 0], "cmp") is None
    assert staleness.fit_mle(staleness.Histogram(4), "poisson") is None
    assert staleness.fit_families([]) == []
    r = staleness.fit_all([0])
    assert (r.by_bhattacharyya, r.by_likelihood, r.cmp_a13) == ([], [], None)


def test_model_parameters() -> None:
    for bad in (0.0, -0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"p = .*: must be in \(0, 1\]"):
            staleness.Model.geometric(bad)
    with pytest.raises(ValueError, match="lambda = 0: must be finite and > 0"):
        staleness.Model.poisson(0.0)
    with pytest.raises(ValueError, match="lambda = inf: must be finite and > 0"):
        staleness.Model.cmp(float("inf"), 1.0)
    with pytest.raises(ValueError, match="nu = -1: must be finite and > 0"):
        staleness.Model.cmp(1.0, -1.0)
    with pytest.raises(ValueError, match=r"max = .*: must be at most 2\^53"):
        staleness.Model.uniform(2**64 - 1)
    with pytest.raises(ValueError, match=f"n = {MAX_LEN + 1}: must be at most"):
        staleness.Model.poisson(2.0).pmf_range(MAX_LEN + 1)
    with pytest.raises(ValueError, match="k = .*: must be at most"):
        staleness.Model.cmp(2.0, 1.0).cdf(2**40)
    # Other families' CDFs are closed forms: any k.
    assert staleness.Model.geometric(0.5).cdf(2**63) == 1.0


def test_quantile_range() -> None:
    c = staleness.Counts(H)
    for q in (-0.1, 1.1, float("nan")):
        with pytest.raises(ValueError, match=r"q = .*: must be in \[0, 1\]"):
            c.quantile(q)


def test_policy_arguments() -> None:
    with pytest.raises(ValueError, match='form = "paper": must be'):
        stepsize.Policy.tail_tau(form="paper")
    with pytest.raises(ValueError, match='phi = "linear": must be a Phi'):
        stepsize.Policy.tail_tau(phi="linear")
    with pytest.raises(TypeError, match="phi must be a Phi"):
        stepsize.Policy.tail_tau(phi=2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=f"tau_max = {stepsize.MAX_TAU_MAX + 1}: at most"):
        stepsize.Policy.constant().factors(tau_max=stepsize.MAX_TAU_MAX + 1)
    with pytest.raises(ValueError, match="tau_max = 18446744073709551615: at most"):
        stepsize.Adaptive(stepsize.Policy.constant(), 0.1, tau_max=2**64 - 1)
    with pytest.raises(ValueError, match="m = .*: must be at most"):
        stepsize.Policy.fleet_for_threads(2**64 - 1)
    with pytest.raises(TypeError):
        stepsize.Adaptive(stepsize.Policy.constant(), 0.1, 8)  # type: ignore[call-arg]


def test_refresher_arguments() -> None:
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="period = .*: must be finite and > 0"):
            stepsize.Refresher.every(bad)
    a = stepsize.Adaptive(stepsize.Policy.tail_tau(), 0.1)
    with pytest.raises(ValueError, match="threads = .*: must be at most"):
        stepsize.Refresher.for_policy(a, 2**63)
