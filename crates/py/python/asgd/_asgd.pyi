"""Type stubs of the native module ``asgd._asgd`` (PyO3, crate ``asgd-py``).

Import from :mod:`asgd.staleness`, :mod:`asgd.stepsize` and :mod:`asgd` (``train``), which
re-export these.
"""

import os
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union, final

import numpy as np
import numpy.typing as npt

_HistogramLike = Union["Histogram", "Counts", Iterable[int], npt.NDArray[np.integer[Any]]]

__all__ = [
    "Histogram",
    "Counts",
    "Model",
    "_fit_bhattacharyya",
    "_fit_mle",
    "_fit_cmp_a13",
    "_fit_families",
    "_fit_all",
    "bhattacharyya",
    "Phi",
    "Policy",
    "Adaptive",
    "Refresher",
    "train",
    "MAX_TAU_MAX",
    "MAX_LEN",
]

#: The longest step-size table ``Adaptive`` accepts (``stepsize::MAX_TAU_MAX`` = 2^20).
MAX_TAU_MAX: int
#: The most buckets a histogram or pmf range built from Python may have (2^24).
MAX_LEN: int

# ---------------------------------------------------------------- staleness

@final
class Histogram:
    """A staleness histogram that many threads record into at once (``staleness::Histogram``).

    Exact buckets for tau = 0..=tau_max and one overflow bucket. ``record`` is one relaxed
    atomic increment; the statistics read a snapshot (O(tau_max) each), so for many queries
    take ``snapshot()`` once.
    """

    def __new__(cls, tau_max: int) -> Histogram:
        """Buckets 0..=``tau_max`` (at most ``MAX_LEN - 2``) and an overflow bucket."""
    def record(self, tau: int) -> None:
        """Count one update of staleness ``tau`` (above tau_max: the overflow bucket).
        ``ValueError`` for a negative tau."""
    @property
    def tau_max(self) -> int:
        """The largest tau with its own bucket."""
    def snapshot(self) -> Counts:
        """The counts so far (concurrent records may or may not be included)."""
    @property
    def counts(self) -> npt.NDArray[np.uint64]:
        """``counts[tau]`` for tau = 0..=tau_max (a snapshot)."""
    @property
    def overflow(self) -> int:
        """Updates with tau > tau_max."""
    def total(self) -> int:
        """Updates recorded so far."""
    def pmf(self, tau: Optional[int] = None) -> Any:
        """Empirical P[tau' = tau] (a float); without ``tau`` the PMF over 0..=tau_max (an
        array)."""
    def cdf(self, tau: Optional[int] = None) -> Any:
        """Empirical F(tau) = P[tau' <= tau] (a float); without ``tau`` the CDF over
        0..=tau_max (an array)."""
    def mean(self) -> float:
        """Mean staleness (overflowed updates counted at tau_max + 1)."""
    def __len__(self) -> int:
        """tau_max + 1."""

@final
class Counts:
    """An immutable histogram snapshot (``staleness::Counts``).

    ``Counts(counts)`` takes a Histogram, a Counts, a 1-D integer array or a sequence of
    non-negative ints ``counts[tau]`` (no overflow); a total past 2^64 - 1 is a
    ``ValueError`` with ``staleness::CountsError``'s message.
    """

    def __new__(cls, counts: _HistogramLike) -> Counts: ...
    @staticmethod
    def from_samples(samples: Sequence[int]) -> Counts:
        """Counts of staleness samples, with buckets up to the largest sample."""
    @property
    def tau_max(self) -> int: ...
    @property
    def counts(self) -> npt.NDArray[np.uint64]:
        """``counts[tau]`` for tau = 0..=tau_max."""
    @property
    def overflow(self) -> int:
        """Updates with tau > tau_max."""
    def count(self, tau: int) -> int:
        """Updates of staleness ``tau`` (0 above tau_max)."""
    def total(self) -> int: ...
    def pmf(self, tau: Optional[int] = None) -> Any:
        """Empirical P[tau' = tau]; without ``tau`` the PMF over 0..=tau_max (an array)."""
    def cdf(self, tau: Optional[int] = None) -> Any:
        """Empirical F(tau) = P[tau' <= tau], O(1); without ``tau`` the CDF over 0..=tau_max."""
    def mean(self) -> float:
        """Mean staleness (overflowed updates counted at tau_max + 1, a lower bound)."""
    def variance(self) -> float:
        """Population variance (same convention for the overflow as ``mean``)."""
    def quantile(self, q: float) -> int:
        """The smallest tau with F(tau) >= q, q in [0, 1] (tau_max + 1 if in the overflow)."""
    def mode(self) -> int:
        """The most frequent tau (the smallest on ties)."""
    def merge(self, other: _HistogramLike) -> Counts:
        """Both histograms' counts added (covering the larger bucket range)."""
    def since(self, earlier: _HistogramLike) -> Counts:
        """The counts recorded after ``earlier`` was taken (a sliding window)."""
    def __len__(self) -> int: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class Model:
    """A staleness model (``staleness::Model``): Geometric, Uniform, Poisson or CMP (A.12)."""

    @staticmethod
    def geometric(p: float) -> Model:
        """P[tau = k] = p (1 - p)^k, p in (0, 1]."""
    @staticmethod
    def uniform(max: int) -> Model:
        """P[tau = k] = 1/(max + 1) for k <= max, max in [0, 2^53]."""
    @staticmethod
    def poisson(lam: float) -> Model:
        """P[tau = k] = e^-lam lam^k / k!, lam finite and > 0."""
    @staticmethod
    def cmp(lam: float, nu: float) -> Model:
        """P[tau = k] = lam^k / ((k!)^nu Z(lam, nu)), lam and nu finite and > 0."""
    @property
    def family(self) -> str:
        """``"geometric"``, ``"uniform"``, ``"poisson"`` or ``"cmp"``."""
    @property
    def params(self) -> Dict[str, float]:
        """``{"p": ...}``, ``{"max": int}``, ``{"lambda": ...}``, ``{"lambda": ..., "nu": ...}``."""
    def pmf(self, k: int) -> float: ...
    def ln_pmf(self, k: int) -> float:
        """ln P[tau = k] (-inf outside the support)."""
    def pmf_range(self, n: int) -> npt.NDArray[np.float64]:
        """P[tau = k] for k = 0..=n (n at most ``MAX_LEN``)."""
    def cdf(self, k: int) -> float:
        """F(k) = P[tau <= k] (for CMP, k at most ``MAX_LEN``)."""
    def mean(self) -> float: ...
    def mode(self) -> int:
        """The most likely tau (the smallest on ties)."""
    def __eq__(self, value: object, /) -> bool: ...

def _fit_bhattacharyya(histogram: _HistogramLike, family_name: str) -> Optional[Dict[str, Any]]: ...
def _fit_mle(histogram: _HistogramLike, family_name: str) -> Optional[Dict[str, Any]]: ...
def _fit_cmp_a13(histogram: _HistogramLike, m: float) -> Optional[Dict[str, Any]]: ...
def _fit_families(histogram: _HistogramLike) -> List[Dict[str, Any]]: ...
def _fit_all(
    histogram: _HistogramLike, m: Optional[float] = None
) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]], Optional[Dict[str, Any]]]: ...
def bhattacharyya(a: _HistogramLike, b: _HistogramLike) -> float:
    """The Bhattacharyya distance between two histograms (0: identical; symmetric; the
    overflows count as one more cell)."""

# ---------------------------------------------------------------- stepsize

@final
class Phi:
    """TAIL-tau's shape phi (``stepsize::Phi``, Thm C.4.8)."""

    @staticmethod
    def identity() -> Phi:
        """phi(x) = x (Definition C.4.5)."""
    @staticmethod
    def smoothstep() -> Phi:
        """phi(x) = 3x^2 - 2x^3."""
    @staticmethod
    def power(k: float) -> Phi:
        """phi(x) = 2^(k-1) x^k below 1/2, mirrored above; k >= 1 (checked by the policy)."""
    def eval(self, x: float) -> float:
        """phi(x), x clamped to [0, 1]."""
    def integral(self, x: float) -> float:
        """The integral of phi over [0, x]."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class Policy:
    """A step-size shape eta(tau)/eta0 (``stepsize::Policy``), checked when built
    (``ValueError`` with ``stepsize::PolicyError``'s message)."""

    @staticmethod
    def constant() -> Policy:
        """eta(tau) = eta0."""
    @staticmethod
    def inverse() -> Policy:
        """eta(tau) = eta0 / max(tau, 1)."""
    @staticmethod
    def fleet(beta: float) -> Policy:
        """FLeet: eta0 e^(-beta tau), beta finite and >= 0."""
    @staticmethod
    def fleet_for_threads(m: int) -> Policy:
        """FLeet with beta from section C.6 footnote 3 for m workers."""
    @staticmethod
    def tail_tau(
        amplitude: float = 1.0, phi: Union[Phi, str, None] = None, form: str = "exact"
    ) -> Policy:
        """TAIL-tau: eta0 (1 + A (1 - 2 phi(F(tau)))), A in [0, 1]; ``phi`` a Phi or
        ``"identity"`` (default) / ``"smoothstep"``; ``form`` ``"exact"``, ``"thesis"`` or
        ``"thesis_code"``."""
    @staticmethod
    def mind_the_step_geometric(momentum: float, p: Optional[float] = None) -> Policy:
        """MindTheStep, geometric model (A.9): eta0 C^-tau / p, C = (1 - p)/momentum;
        ``p=None``: fitted at every refresh."""
    @staticmethod
    def mind_the_step_cmp(
        c: float = 1.0, lambda_nu: Optional[Tuple[float, float]] = None
    ) -> Policy:
        """MindTheStep, CMP model (A.14): eta0 C lam^-tau (tau!)^nu; needs ``cap``."""
    @staticmethod
    def mind_the_step_momentum(
        k: float, lambda_nu: Optional[Tuple[float, float]] = None, printed: bool = False
    ) -> Policy:
        """Momentum-tuned MindTheStep (A.16-A.18)."""
    @property
    def kind(self) -> str:
        """The constructor's name (``"tail_tau"``, ...)."""
    @property
    def params(self) -> Dict[str, Any]:
        """The parameters by the constructor's argument names."""
    def is_bounded(self, eta0: float) -> bool:
        """Whether eta(tau)/eta0 stays bounded in tau at this eta0."""
    @property
    def is_instance_based(self) -> bool:
        """Whether the table depends on the observed staleness distribution."""
    def factors(
        self, histogram: Optional[_HistogramLike] = None, tau_max: int = 256, eta0: float = 1.0
    ) -> npt.NDArray[np.float64]:
        """The raw factors for tau = 0..=tau_max, before Adaptive's clamp, cap and mean
        preservation (GIL released)."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class Adaptive:
    """A policy made concrete (``stepsize::Adaptive``): eta0, the options
    (``stepsize::Options``) and the table eta(tau) for tau = 0..=tau_max."""

    def __new__(
        cls,
        policy: Policy,
        eta0: float,
        *,
        tau_max: int = 256,
        mean_preserving: bool = False,
        cap: Optional[float] = None,
        drop_above: Optional[int] = None,
    ) -> Adaptive:
        """``ValueError`` (``stepsize::PolicyError``'s message) for eta0 or cap not finite and
        > 0, tau_max > 2^20, or an unbounded policy without ``cap``."""
    def eta(self, tau: int) -> Optional[float]:
        """eta(tau), or None when the update is dropped (tau > drop_above). O(1)."""
    def refresh(self, histogram: _HistogramLike) -> None:
        """Re-tabulate from the observed counts (GIL released; a no-op for policies that need
        no histogram, or an empty one)."""
    @property
    def factors(self) -> npt.NDArray[np.float64]:
        """eta(tau)/eta0 for tau = 0..=tau_max as currently tabulated."""
    def mean_factor(self, histogram: _HistogramLike) -> float:
        """E[eta]/eta0 of the current table over ``histogram``."""
    @property
    def needs_histogram(self) -> bool:
        """Whether ``refresh`` changes anything."""
    @property
    def policy(self) -> Policy: ...
    @property
    def eta0(self) -> float: ...
    @property
    def tau_max(self) -> int: ...
    @property
    def mean_preserving(self) -> bool: ...
    @property
    def cap(self) -> Optional[float]: ...
    @property
    def drop_above(self) -> Optional[int]: ...

@final
class Refresher:
    """When an Adaptive is refreshed (``stepsize::Refresher``), on the caller's clock."""

    @staticmethod
    def for_policy(adaptive: Adaptive, threads: int) -> Refresher:
        """The policy's own schedule: the thesis code's TAIL-tau samples updates 10m-15m once;
        other histogram-driven policies refresh every 50 ms; the rest never."""
    @staticmethod
    def every(period: float) -> Refresher:
        """Every ``period`` seconds (finite and > 0), the first at ``period``."""
    @staticmethod
    def window(start: int, end: int) -> Refresher:
        """Once, from the updates recorded between update ``start`` and update ``end``."""
    @staticmethod
    def never() -> Refresher: ...
    def tick(
        self, adaptive: Adaptive, updates: int, seconds: float, histogram: _HistogramLike
    ) -> bool:
        """Call per update (or batch): refreshes ``adaptive`` when due; returns whether it did."""
    @property
    def schedule(self) -> Dict[str, Any]:
        """``{"kind": "never" | "every" | "window", ...}``."""
    @property
    def window_sample(self) -> Optional[Tuple[int, int, int]]:
        """(start, end, updates) of a window schedule's sample, once taken."""
    @property
    def refreshes(self) -> int:
        """Refreshes done so far."""

# ---------------------------------------------------------------- trainer

def train(
    *,
    data: Union[str, "os.PathLike[str]", None] = None,
    format: str = "idx",
    preset: str = "default",
    progress: Optional[Callable[[Dict[str, Any]], object]] = None,
    **config: Any,
) -> Dict[str, Any]:
    """Train a network with parallel SGD (``trainer::train``) and return the report as a dict
    of the trainer binary's JSON schema (``asgd-trainer-report/2``; NaN and infinities are
    ``None``, as in the JSON).

    ``config``: ``trainer::Config``'s fields, named as the binary's options without the dashes
    (``algorithm="hogwild"``, ``threads=4``, ``arch="mlp:1x32"``, ``eta_cap=2.0``, ...), laid
    over ``preset`` (``"default"`` or ``"thesis"``). ``data``: a directory of IDX files
    (``format="idx"``) or CIFAR-10 binary batches (``format="cifar10"``); ``None``: the
    checkout's bundled MNIST. Bad input: ``ValueError`` with the binary's message, before
    anything is trained.

    ``progress(d)``: called on this thread, ``d["kind"] == "progress"`` (seconds, updates,
    epochs, total_epochs, trailing_loss, updates_per_second; about every 0.2 s) or
    ``"evaluation"`` (each evaluation point during the run). An exception from it stops the
    run and is raised once it has stopped.

    The GIL is released while the run goes on. Ctrl-C stops the run within one gradient and
    returns its report with outcome ``"interrupted"``; a second Ctrl-C is raised as
    ``KeyboardInterrupt`` once the run has stopped.
    """
