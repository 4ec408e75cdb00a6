"""The Python results equal the Rust crates' on the same inputs (exactly: same code, same bits).

The expected values come from the ``asgd-reference`` binary (see conftest.py), which runs the
``staleness`` and ``stepsize`` crates directly; here every input goes through the bindings: a
histogram built from a Python list or recorded sample by sample, policies from keyword
arguments, results converted back to Python objects.
"""

from __future__ import annotations

from typing import Any, Dict, List

import numpy as np
import pytest
from conftest import same

from asgd import staleness, stepsize

# How each policy case passes its histogram to refresh / mean_factor / factors: every accepted
# form gets used.
FORMS = ("histogram", "counts", "list", "uint64", "int64")


def build_histogram(inp: Dict[str, Any]) -> Any:
    """A live Histogram for recorded samples, Counts for plain counts."""
    if "samples" in inp:
        h = staleness.Histogram(inp["tau_max"])
        for t in inp["samples"]:
            h.record(t)
        return h
    return staleness.Counts(inp["counts"])


def as_form(inp: Dict[str, Any], form: str) -> Any:
    h = build_histogram(inp)
    counts = h.snapshot() if isinstance(h, staleness.Histogram) else h
    if counts.overflow and form not in ("histogram", "counts"):
        # Only a live histogram (or its snapshot) has an overflow bucket.
        form = "histogram"
    if form == "histogram":
        return h
    if form == "counts":
        return counts
    if form == "list":
        return [int(x) for x in counts.counts]
    if form == "uint64":
        return counts.counts.astype(np.uint64)
    return counts.counts.astype(np.int64)


def fit_dict(f: staleness.Fit) -> Dict[str, Any]:
    return {
        "family": f.family,
        "method": f.method,
        "m": f.m,
        "params": dict(f.params),
        "distance": f.distance,
        "log_likelihood": f.log_likelihood,
        "at_bound": [[a.param, a.side, a.bound] for a in f.at_bound],
    }


def fits_dicts(fits: List[staleness.Fit]) -> List[Dict[str, Any]]:
    return [fit_dict(f) for f in fits]


def test_reference_covers_every_policy_and_form(reference: Any) -> None:
    kinds = {p["policy"][0] for p in reference["policies"]}
    assert kinds == {
        "constant",
        "inverse",
        "fleet",
        "tail_tau",
        "mind_the_step_geometric",
        "mind_the_step_cmp",
        "mind_the_step_momentum",
    }
    tails = [p["policy"][1] for p in reference["policies"] if p["policy"][0] == "tail_tau"]
    assert {t["form"] for t in tails} == set(stepsize.CDF_FORMS)
    assert {str(t["phi"]) for t in tails} >= {"identity", "smoothstep", "{'power': 3.0}"}
    opts = [p["options"] for p in reference["policies"]]
    assert any(o["mean_preserving"] for o in opts)
    assert any(o["cap"] is not None for o in opts)
    assert any(o["drop_above"] is not None for o in opts)


@pytest.mark.parametrize("i", range(7))
def test_histogram_statistics(reference: Any, i: int) -> None:
    case = reference["histograms"][i]
    want = case["stats"]
    h = build_histogram(case["input"])
    c = h.snapshot() if isinstance(h, staleness.Histogram) else h
    assert c.tau_max == want["tau_max"]
    assert c.counts.tolist() == want["counts"]
    assert c.overflow == want["overflow"]
    assert c.total() == want["total"] == h.total()
    assert same(c.mean(), want["mean"]) and same(h.mean(), want["mean"])
    assert same(c.variance(), want["variance"])
    assert c.mode() == want["mode"]
    assert [[q, c.quantile(q)] for q, _ in want["quantiles"]] == want["quantiles"]
    assert same(c.pmf().tolist(), want["pmf"])
    assert same(h.pmf().tolist(), want["pmf"])
    assert same([c.cdf(t) for t in range(c.tau_max + 3)], want["cdf"])
    assert same(h.cdf().tolist(), want["cdf"][: c.tau_max + 1])
    assert same([c.pmf(t) for t in range(c.tau_max + 1)], want["pmf"])


@pytest.mark.parametrize("i", range(7))
def test_fits(reference: Any, i: int) -> None:
    case = reference["histograms"][i]
    want = case["fits"]
    h = build_histogram(case["input"])
    report = staleness.fit_all(h)
    assert same(fits_dicts(report.by_bhattacharyya), want["by_bhattacharyya"])
    assert same(fits_dicts(report.by_likelihood), want["by_likelihood"])
    got_a13 = None if report.cmp_a13 is None else fit_dict(report.cmp_a13)
    assert same(got_a13, want["cmp_a13"])
    m3 = staleness.fit_all(h, m=3.0).cmp_a13
    assert same(None if m3 is None else fit_dict(m3), want["cmp_a13_m3"])
    a = staleness.fit_cmp_a13(h, 2.5)
    assert same(None if a is None else fit_dict(a), want["cmp_a13_m2_5"])
    # The one-family functions and the dispatcher agree with the sorted lists.
    assert same(fits_dicts(staleness.fit_families(h)), want["by_bhattacharyya"])
    assert same(fits_dicts(staleness.fit(h)), want["by_bhattacharyya"])
    assert same(fits_dicts(staleness.fit(h, method="likelihood")), want["by_likelihood"])
    for w in want["by_bhattacharyya"]:
        f = staleness.fit_bhattacharyya(h, w["family"])
        assert f is not None and same(fit_dict(f), w)
        assert same(fit_dict(staleness.fit(h, w["family"])), w)
    for w in want["by_likelihood"]:
        f = staleness.fit_mle(h, w["family"])
        assert f is not None and same(fit_dict(f), w)
    if want["cmp_a13"] is not None:
        got = staleness.fit(h, method="a13")
        assert got is not None and same(fit_dict(got), want["cmp_a13"])


def test_fit_models_evaluate_like_their_params(reference: Any) -> None:
    """A fit's model is the model its params describe."""
    h = build_histogram(reference["histograms"][1]["input"])
    for f in staleness.fit_families(h):
        p = f.params
        m = {
            "geometric": lambda: staleness.Model.geometric(p["p"]),
            "uniform": lambda: staleness.Model.uniform(int(p["max"])),
            "poisson": lambda: staleness.Model.poisson(p["lambda"]),
            "cmp": lambda: staleness.Model.cmp(p["lambda"], p["nu"]),
        }[f.family]()
        assert m == f.model
        assert f.model.params == p


def test_models(reference: Any) -> None:
    for want in reference["models"]:
        p = want["params"]
        m = {
            "geometric": lambda: staleness.Model.geometric(p["p"]),
            "uniform": lambda: staleness.Model.uniform(int(p["max"])),
            "poisson": lambda: staleness.Model.poisson(p["lambda"]),
            "cmp": lambda: staleness.Model.cmp(p["lambda"], p["nu"]),
        }[want["family"]]()
        assert m.family == want["family"]
        assert same([m.pmf(k) for k in range(21)], want["pmf"])
        assert same(m.pmf_range(20).tolist(), want["pmf_range"])
        assert same([m.ln_pmf(k) for k in range(21)], want["ln_pmf"])
        assert same([m.cdf(k) for k in range(21)], want["cdf"])
        assert same(m.mean(), want["mean"])
        assert m.mode() == want["mode"]


def test_bhattacharyya_between_histograms(reference: Any) -> None:
    hs = {c["name"]: build_histogram(c["input"]) for c in reference["histograms"]}
    want = reference["bhattacharyya"]
    assert same(staleness.bhattacharyya(hs["hump"], hs["halving"]), want["hump_halving"])
    assert same(staleness.bhattacharyya(hs["hump"], hs["overflowing"]), want["hump_overflowing"])


def make_policy(spec: List[Any]) -> stepsize.Policy:
    kind, kwargs = spec
    kwargs = dict(kwargs)
    if isinstance(kwargs.get("phi"), dict):
        kwargs["phi"] = stepsize.Phi.power(kwargs["phi"]["power"])
    if kwargs.get("lambda_nu") is not None:
        kwargs["lambda_nu"] = tuple(kwargs["lambda_nu"])
    policy: stepsize.Policy = getattr(stepsize.Policy, kind)(**kwargs)
    return policy


def make_adaptive(case: Dict[str, Any]) -> stepsize.Adaptive:
    return stepsize.Adaptive(make_policy(case["policy"]), case["eta0"], **case["options"])


def test_policies(reference: Any) -> None:
    inputs = {c["name"]: c["input"] for c in reference["histograms"]}
    assert len(reference["policies"]) > 100
    for n, case in enumerate(reference["policies"]):
        form = FORMS[n % len(FORMS)]
        hist = as_form(inputs[case["histogram"]], form)
        a = make_adaptive(case)
        ctx = (case["policy"], case["options"], case["histogram"], form)
        assert same(a.factors.tolist(), case["factors_before"]), ctx
        a.refresh(hist)
        assert a.factors.dtype == np.float64
        assert same(a.factors.tolist(), case["factors"]), ctx
        assert same([a.eta(t) for t in case["taus"]], case["etas"]), ctx
        assert same(a.mean_factor(hist), case["mean_factor"]), ctx
        raw = a.policy.factors(hist, tau_max=case["options"]["tau_max"], eta0=case["eta0"])
        assert same(raw.tolist(), case["raw_factors"]), ctx
        assert a.policy.is_bounded(case["eta0"]) == case["is_bounded"]
        assert a.policy.is_instance_based == case["is_instance_based"]
        assert a.needs_histogram == case["needs_histogram"]
        assert a.policy == make_policy(case["policy"])


def test_error_messages_are_the_librarys(reference: Any) -> None:
    for case in reference["errors"]:
        with pytest.raises(ValueError) as e:
            if case["kind"] == "counts":
                staleness.Counts(case["counts"])
            elif case["kind"] == "policy":
                make_policy(case["policy"])
            else:
                make_adaptive(case)
        assert str(e.value) == case["message"], case
    kinds = [c["kind"] for c in reference["errors"]]
    assert kinds.count("policy") >= 8 and kinds.count("adaptive") >= 5
