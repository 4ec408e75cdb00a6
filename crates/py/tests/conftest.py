"""Shared fixtures: the Rust crates' own results on fixed inputs.

``reference`` is the JSON that the ``asgd-reference`` binary (crates/py/reference, which calls
the ``staleness`` and ``stepsize`` crates directly, without PyO3) prints. ``ci.sh`` builds it and
passes its path in ``ASGD_REFERENCE``; without that variable it is built here with cargo. A
missing reference is an error, never a skip.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import subprocess
from typing import Any

import pytest

CRATE = pathlib.Path(__file__).resolve().parent.parent


def _decode(v: Any) -> Any:
    """JSON has no inf/nan: the reference writes them as strings."""
    if isinstance(v, str) and v in ("inf", "-inf", "nan"):
        return float(v)
    if isinstance(v, list):
        return [_decode(x) for x in v]
    if isinstance(v, dict):
        return {k: _decode(x) for k, x in v.items()}
    return v


@pytest.fixture(scope="session")
def reference() -> Any:
    path = os.environ.get("ASGD_REFERENCE")
    if path:
        text = pathlib.Path(path).read_text()
    else:
        text = subprocess.run(
            ["cargo", "run", "--release", "--quiet", "-p", "asgd-reference"],
            cwd=CRATE,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    return _decode(json.loads(text))


def same(a: Any, b: Any) -> bool:
    """Exact equality, with NaN equal to NaN (the same computation gives the same bits)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)
