"""asgd: staleness models and staleness-adaptive step sizes for asynchronous SGD.

The Rust crates ``staleness``, ``stepsize`` and ``trainer`` of the asgd workspace, from Python:

- :mod:`asgd.staleness`: a histogram that any thread records staleness into without a lock,
  its PMF/CDF, the four staleness models (Geometric, Uniform, Poisson, Conway-Maxwell-Poisson)
  and their fits (minimum Bhattacharyya distance, maximum likelihood, the thesis' A.13 search).
- :mod:`asgd.stepsize`: every step-size policy (constant, 1/tau, FLeet, TAIL-tau, MindTheStep)
  with mean preservation, caps and drop-above, as an object with ``eta(tau)``,
  ``refresh(histogram)``, its factor table as a NumPy array and ``mean_factor``.
- :func:`train`: the ``trainer`` crate's run (any algorithm, network, policy) on a data
  directory, its report as a dict of the binary's JSON schema; Ctrl-C gives an
  ``interrupted`` report.

Bad input raises ``ValueError`` with the Rust library's message; long calls (fits, refreshes,
training) release the GIL.
"""

from . import staleness, stepsize
from ._asgd import train

__all__ = ["staleness", "stepsize", "train"]
__version__ = "0.1.0"
