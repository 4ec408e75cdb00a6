"""Staleness histograms, the thesis' staleness models, and their fits (Ch. A, Table A.1).

Wraps the Rust crate ``staleness``:

- :class:`Histogram` (``staleness::Histogram``): record into it from any thread; ``record`` is
  one relaxed atomic increment. Exact buckets 0..=tau_max and an overflow bucket.
- :class:`Counts` (``staleness::Counts``): an immutable snapshot with PMF, CDF, mean, variance,
  quantiles, merge and windowed difference.
- :class:`Model` (``staleness::Model``): Geometric, Uniform, Poisson, CMP (A.12).
- :func:`fit` and the functions it dispatches to (``staleness::fit_*``), returning :class:`Fit`
  dataclasses. Fits release the GIL.

Every function that takes a histogram accepts a :class:`Histogram` (snapshotted when called), a
:class:`Counts`, a 1-D NumPy integer array, or any sequence of non-negative ints ``counts[tau]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Union, overload

if TYPE_CHECKING:
    from typing import Literal

from ._asgd import Counts, Histogram, Model, bhattacharyya
from . import _asgd

if TYPE_CHECKING:
    import numpy as np

    HistogramLike = Union[Histogram, Counts, Iterable[int], "np.ndarray[Any, Any]"]

__all__ = [
    "AtBound",
    "Counts",
    "FAMILIES",
    "Fit",
    "FitReport",
    "Histogram",
    "METHODS",
    "Model",
    "bhattacharyya",
    "fit",
    "fit_all",
    "fit_bhattacharyya",
    "fit_cmp_a13",
    "fit_families",
    "fit_mle",
]

#: The four model families, in ``staleness::Family::ALL`` order.
FAMILIES = ("geometric", "uniform", "poisson", "cmp")
#: The fitting methods: minimum Bhattacharyya distance, maximum likelihood, and A.13.
METHODS = ("bhattacharyya", "likelihood", "a13")


@dataclass(frozen=True)
class AtBound:
    """A fitted parameter that ended on a bound of the search box (``staleness::AtBound``):
    the optimum lies on or beyond it, so the value is a limit of the search, not an estimate."""

    #: ``"p"``, ``"max"``, ``"lambda"``, ``"nu"`` or ``"mu"`` (CMP's lambda^(1/nu)).
    param: str
    #: ``"lower"`` or ``"upper"``.
    side: str
    #: The bound's value.
    bound: float


@dataclass(frozen=True)
class Fit:
    """One fitted model (``staleness::Fit``)."""

    #: ``"geometric"``, ``"uniform"``, ``"poisson"`` or ``"cmp"``.
    family: str
    #: ``"bhattacharyya"``, ``"likelihood"`` or ``"a13"``.
    method: str
    #: The parameters by name: ``p``; ``max`` (an int); ``lambda``; ``lambda`` and ``nu``.
    params: Dict[str, float]
    #: The Bhattacharyya distance D_B = -ln sum sqrt(p_obs q) to the histogram (0: identical).
    distance: float
    #: sum counts(tau) ln q(tau) (-inf if an observed tau has zero model probability).
    log_likelihood: float
    #: The parameters that ended on a bound of the search box (empty for a proper fit).
    at_bound: List[AtBound]
    #: A.13's m (the number of workers, the mode's location) for ``method == "a13"``.
    m: Optional[float] = None
    #: The fitted model, to evaluate.
    model: Model = field(default=None, repr=False, compare=False)  # type: ignore[assignment]

    @property
    def is_interior(self) -> bool:
        """Whether every parameter is an interior optimum (``at_bound`` empty)."""
        return not self.at_bound

    @classmethod
    def _from_native(cls, d: Dict[str, Any]) -> "Fit":
        return cls(
            family=d["family"],
            method=d["method"],
            params=d["params"],
            distance=d["distance"],
            log_likelihood=d["log_likelihood"],
            at_bound=[AtBound(p, s, b) for (p, s, b) in d["at_bound"]],
            m=d["m"],
            model=d["model"],
        )


@dataclass(frozen=True)
class FitReport:
    """All four families by both methods plus the A.13 CMP fit (``staleness::FitReport``)."""

    #: Sorted by distance, best first.
    by_bhattacharyya: List[Fit]
    #: Sorted by log-likelihood, best first.
    by_likelihood: List[Fit]
    #: The A.13 CMP fit (None for an empty histogram).
    cmp_a13: Optional[Fit]


def _opt(d: Optional[Dict[str, Any]]) -> Optional[Fit]:
    return None if d is None else Fit._from_native(d)


def fit_bhattacharyya(histogram: "HistogramLike", family: str) -> Optional[Fit]:
    """The ``family`` model minimising the Bhattacharyya distance to ``histogram`` (the Table
    A.1 procedure: a global grid, refined locally). None for an empty histogram."""
    return _opt(_asgd._fit_bhattacharyya(histogram, family))


def fit_mle(histogram: "HistogramLike", family: str) -> Optional[Fit]:
    """The ``family`` model of maximum likelihood (the overflow bucket a censored cell). None
    for an empty histogram."""
    return _opt(_asgd._fit_mle(histogram, family))


def fit_cmp_a13(histogram: "HistogramLike", m: float) -> Optional[Fit]:
    """The thesis' CMP fit: lambda = m^nu (A.13, the mode at m workers), nu by minimum
    Bhattacharyya distance. None for an empty histogram."""
    return _opt(_asgd._fit_cmp_a13(histogram, m))


def fit_families(histogram: "HistogramLike") -> List[Fit]:
    """The four families by minimum Bhattacharyya distance, best first (empty list for an
    empty histogram)."""
    return [Fit._from_native(d) for d in _asgd._fit_families(histogram)]


def fit_all(histogram: "HistogramLike", m: Optional[float] = None) -> FitReport:
    """Everything: four families by both methods and the A.13 CMP fit (``m`` defaults to the
    histogram's mode + 1)."""
    b, l, a = _asgd._fit_all(histogram, m)
    return FitReport(
        by_bhattacharyya=[Fit._from_native(d) for d in b],
        by_likelihood=[Fit._from_native(d) for d in l],
        cmp_a13=_opt(a),
    )


@overload
def fit(
    histogram: "HistogramLike",
    family: str,
    method: 'Literal["bhattacharyya", "likelihood", "a13"]' = ...,
    m: Optional[float] = ...,
) -> Optional[Fit]: ...
@overload
def fit(
    histogram: "HistogramLike",
    family: None = ...,
    method: 'Literal["bhattacharyya", "likelihood"]' = ...,
    m: Optional[float] = ...,
) -> List[Fit]: ...
@overload
def fit(
    histogram: "HistogramLike",
    family: None = ...,
    *,
    method: 'Literal["a13"]',
    m: Optional[float] = ...,
) -> Optional[Fit]: ...
def fit(
    histogram: "HistogramLike",
    family: Optional[str] = None,
    method: str = "bhattacharyya",
    m: Optional[float] = None,
) -> Union[Fit, List[Fit], None]:
    """Fit staleness models to ``histogram``.

    - ``family`` given: that family's :class:`Fit` by ``method`` (None for an empty histogram).
    - ``family=None``: all four families by ``method``, best first.
    - ``method="a13"``: the CMP fit of A.13 with ``m`` workers (default: mode + 1);
      ``family`` must then be None or ``"cmp"``.

    ``method`` is ``"bhattacharyya"``, ``"likelihood"`` or ``"a13"``.
    """
    if method not in METHODS:
        raise ValueError(
            f"method = {method!r}: must be one of {', '.join(repr(x) for x in METHODS)}"
        )
    if method == "a13":
        if family not in (None, "cmp"):
            raise ValueError(f"family = {family!r}: the A.13 fit is of the CMP family only")
        if m is None:
            c = histogram.snapshot() if isinstance(histogram, Histogram) else Counts(histogram)
            m = float(c.mode() + 1)
        return fit_cmp_a13(histogram, m)
    one = fit_bhattacharyya if method == "bhattacharyya" else fit_mle
    if family is not None:
        return one(histogram, family)
    if method == "bhattacharyya":
        return fit_families(histogram)
    if not isinstance(histogram, (Histogram, Counts)):
        histogram = Counts(histogram)
    elif isinstance(histogram, Histogram):
        histogram = histogram.snapshot()
    fits = [f for f in (fit_mle(histogram, fam) for fam in FAMILIES) if f is not None]
    fits.sort(key=lambda f: f.log_likelihood, reverse=True)
    return fits
