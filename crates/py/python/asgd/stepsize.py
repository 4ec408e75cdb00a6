"""Staleness-adaptive step sizes eta(tau) (thesis Ch. A, C).

Wraps the Rust crate ``stepsize``:

- :class:`Policy` (``stepsize::Policy``): the shape eta(tau)/eta0 - constant, 1/tau (inverse),
  FLeet, TAIL-tau in its three CDF forms with any :class:`Phi`, MindTheStep under a geometric
  (A.9) or CMP (A.14) model, and momentum-tuned MindTheStep (A.16-A.18).
- :class:`Adaptive` (``stepsize::Adaptive`` with ``stepsize::Options``): a policy with eta0,
  mean preservation, a cap and drop-above; ``eta(tau)`` is one atomic load of its table,
  ``refresh(histogram)`` re-tabulates it (without the GIL), ``factors`` is the table as a NumPy
  array and ``mean_factor(histogram)`` its E[eta]/eta0.
- :class:`Refresher` (``stepsize::Refresher``): when to refresh, on your clock.

Example::

    from asgd import staleness, stepsize
    hist = staleness.Histogram(64)
    eta = stepsize.Adaptive(stepsize.Policy.tail_tau(), eta0=0.01, tau_max=64)
    ...  # workers: hist.record(tau); lr = eta.eta(tau)
    eta.refresh(hist)
"""

from ._asgd import MAX_TAU_MAX, Adaptive, Phi, Policy, Refresher

__all__ = ["Adaptive", "CDF_FORMS", "MAX_TAU_MAX", "Phi", "Policy", "Refresher"]

#: TAIL-tau's CDF forms (``stepsize::CdfForm``): ``Exact``, ``Thesis``, ``ThesisCode``.
CDF_FORMS = ("exact", "thesis", "thesis_code")
