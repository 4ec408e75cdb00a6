"""``asgd.train``: the same run as the ``trainer`` binary (a fixed-seed single-thread run's
report equals the binary's JSON, timing aside), the binary's error messages, the GIL released
while it trains, and Ctrl-C giving an ``interrupted`` report.

The binary is ``ASGD_TRAINER`` (ci.sh passes the one ``cargo test --workspace`` built), else
it is built here with cargo. A missing binary is an error, never a skip.
"""

from __future__ import annotations

import _thread
import gzip
import json
import math
import os
import pathlib
import signal
import subprocess
import threading
from typing import Any, Dict, List

import pytest

import asgd
from test_threads import assert_progressed, progress_during

ROOT = pathlib.Path(__file__).resolve().parents[3]
BUNDLED = ROOT / "data" / "mnist"


def write_idx_prefix(src: pathlib.Path, dst: pathlib.Path, n: int) -> None:
    """The first ``n`` items of a gzipped IDX file (images or labels), uncompressed."""
    with gzip.open(src) as f:
        magic = f.read(4)
        dims = magic[3]
        shape = [int.from_bytes(f.read(4), "big") for _ in range(dims)]
        item = 1
        for d in shape[1:]:
            item *= d
        body = f.read(n * item)
    header = magic + b"".join(int(d).to_bytes(4, "big") for d in [n, *shape[1:]])
    dst.write_bytes(header + body)


@pytest.fixture(scope="session")
def mnist(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The bundled MNIST's first 4000 training and 1000 test samples: every run here loads and
    evaluates in a fraction of the full set's time."""
    d = tmp_path_factory.mktemp("mnist-4000")
    for name, n in (("train", 4000), ("t10k", 1000)):
        for kind in ("images-idx3", "labels-idx1"):
            stem = f"{name}-{kind}-ubyte"
            write_idx_prefix(BUNDLED / f"{stem}.gz", d / stem, n)
    return str(d)


# A small fixed-seed run: one thread, MLP 1x32, one epoch (125 updates of 32 samples),
# a momentum and a non-default initialisation so that those options travel too. No evaluation
# between the first and the last: an intermediate one evaluates a snapshot of theta taken
# whenever the coordinator gets to it, so its update count depends on timing.
SMALL: Dict[str, Any] = dict(
    algorithm="seq",
    arch="mlp:1x32",
    batch=32,
    epochs=1.0,
    eta=0.1,
    momentum=0.5,
    init="glorot",
    seed=7,
    eval_points=0,
    eval_subset=1000,
    eps=[0.9, 0.5],
)


@pytest.fixture(scope="session")
def trainer_bin() -> pathlib.Path:
    path = os.environ.get("ASGD_TRAINER")
    if path:
        return pathlib.Path(path)
    out = subprocess.run(
        ["cargo", "build", "--quiet", "-p", "trainer", "--bin", "trainer", "--message-format=json"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for line in out.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == "trainer":
            if msg.get("executable"):
                return pathlib.Path(msg["executable"])
    raise RuntimeError("cargo built no trainer binary")


def flag(key: str, value: Any) -> List[str]:
    """One keyword as the binary's option."""
    name = "--" + key.replace("_", "-")
    if value is True:
        return [name]
    if isinstance(value, list):
        return [name, ",".join(str(v) for v in value)]
    return [name, str(value)]


def run_binary(
    trainer: pathlib.Path, tmp: pathlib.Path, data: str, **config: Any
) -> "subprocess.CompletedProcess[str]":
    args = [str(trainer), "--quiet", "--data", str(data), "--json", str(tmp / "report.json")]
    for k, v in config.items():
        args += flag(k, v)
    return subprocess.run(args, capture_output=True, text=True, timeout=300)


def flagify(message: str) -> str:
    """The binary's rendering of a library message: `field` becomes --field (its args.rs)."""
    out = []
    for i, part in enumerate(message.split("`")):
        if i % 2 == 1 and part and all(c.islower() or c.isdigit() or c == "_" for c in part):
            out.append("--" + part.replace("_", "-"))
        elif i % 2 == 1:
            out.append(f"`{part}`")
        else:
            out.append(part)
    return "".join(out)


# Measured time and the machine differ between two runs; everything else must not.
TIMING = {"seconds", "per_second", "tc_ms", "tu_us", "handoff", "memory", "machine", "command"}


def untimed(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: untimed(x) for k, x in v.items() if k not in TIMING}
    if isinstance(v, list):
        return [untimed(x) for x in v]
    return v


def test_report_equals_the_binarys(
    mnist: str, trainer_bin: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    done = run_binary(trainer_bin, tmp_path, mnist, **SMALL)
    assert done.returncode == 0, done.stderr
    want = json.loads((tmp_path / "report.json").read_text())
    got = asgd.train(data=mnist, **SMALL)
    assert got.keys() == want.keys()
    assert got["schema"] == "asgd-trainer-report/2"
    assert got["command"][0] == "asgd.train"
    # The run itself: 125 updates, each one's trailing loss in the series.
    assert got["updates"]["applied"] == want["updates"]["applied"] == 125
    assert len(got["minibatch_series"]) == got["updates"]["total"]
    assert [p["updates"] for p in got["series"]] == [0, got["updates"]["applied"]]
    assert got["final"]["train_loss"] < got["initial_loss"]
    assert untimed(got) == untimed(want)


def test_progress_callback_sees_every_evaluation(mnist: str) -> None:
    seen: List[Dict[str, Any]] = []
    report = asgd.train(
        data=mnist, **{**SMALL, "epochs": 5.0, "eval_points": 4}, progress=seen.append
    )
    evals = [{k: v for k, v in d.items() if k != "kind"} for d in seen if d["kind"] == "evaluation"]
    # The first point (theta0) and the last (the final evaluation) are not reported as they go.
    assert evals == report["series"][1:-1]
    assert len(evals) >= 1
    for d in seen:
        assert d["kind"] in ("progress", "evaluation")
        if d["kind"] == "progress":
            assert d["total_epochs"] == 5.0 and d["updates"] <= report["updates"]["total"]


# Bad input the binary refuses after parsing its options: the same message, with fields named
# as keywords rather than flags.
SAME_AS_BINARY = [
    dict(threads=0),
    dict(algorithm="seq", threads=2),
    dict(eta=-1.0),
    dict(eta=math.nan),
    dict(policy="tail", amplitude=1.5),
    dict(policy="mts_cmp"),
    dict(policy="mts_geom"),
    dict(momentum=1.0),
    dict(batch=5000, epochs=0.01),
    dict(eval_subset=5000, epochs=0.01),
    dict(data="/nonexistent/mnist"),
]


@pytest.mark.parametrize("bad", SAME_AS_BINARY, ids=lambda d: ",".join(d))
def test_errors_are_the_binarys(
    bad: Dict[str, Any], mnist: str, trainer_bin: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    bad = {"data": mnist, **bad}
    done = run_binary(trainer_bin, tmp_path, **bad)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("trainer: error: "), done.stderr
    want = done.stderr.removeprefix("trainer: error: ").rstrip("\n")
    with pytest.raises(ValueError) as e:
        asgd.train(**bad)
    assert flagify(str(e.value)) == want


def test_unknown_keyword_lists_the_fields(mnist: str) -> None:
    with pytest.raises(ValueError) as e:
        asgd.train(data=mnist, threads=1, learning_rate=0.1)
    message = str(e.value)
    assert message.startswith("unknown field `learning_rate`, expected one of "), message
    listed = message.split("expected one of ", 1)[1].replace("`", "").split(", ")
    fields = asgd.train(data=mnist, **SMALL)["config"].keys()
    assert sorted(listed) == sorted(fields)


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(threads="two"), "`threads`: invalid type: string \"two\", expected usize"),
        (dict(threads=-1), "`threads`: invalid value: integer `-1`, expected usize"),
        (dict(threads=None), "`threads`: invalid type: null, expected usize"),
        (dict(eps=[0.5, math.inf]), "`eps` must be a finite number"),
        (dict(persistence="often"), "`persistence`: "),
        (dict(threads=2**70), "`threads` = 1180591620717411303424: must be an integer"),
        (dict(format="png"), "unknown data format `png` (expected idx or cifar10)"),
        (dict(preset="fast"), 'preset = "fast": must be "default" or "thesis"'),
    ],
)
def test_bad_values(bad: Dict[str, Any], message: str, mnist: str) -> None:
    with pytest.raises(ValueError) as e:
        asgd.train(data=mnist, **bad)
    assert str(e.value).startswith(message), str(e.value)


def test_wrong_type_is_a_type_error(mnist: str) -> None:
    with pytest.raises(TypeError, match="`eta`: expected None, a bool, a number"):
        asgd.train(data=mnist, eta=object())


def test_options_travel_into_the_config(mnist: str) -> None:
    r = asgd.train(
        data=mnist,
        **{**SMALL, "epochs": 0.01},
        persistence=math.inf,
        eta_cap=None,
        drop_above=40,
        tau_max=64,
    )
    c = r["config"]
    assert (c["persistence"], c["eta_cap"], c["drop_above"], c["tau_max"]) == ("inf", None, 40, 64)
    assert (c["threads"], c["arch"], c["init"], c["momentum"]) == (1, "mlp:1x32", "glorot", 0.5)
    t = asgd.train(data=mnist, preset="thesis", **{**SMALL, "epochs": 0.01})
    assert (t["config"]["scale"], t["config"]["eps_by"]) == ("raw", "minibatch")


def test_train_releases_the_gil(mnist: str) -> None:
    # The call must last long enough to tell (> 0.2 s): on a fast CPU 5 epochs of the small
    # set take 0.1 s, so the run grows until it does, whatever the machine.
    epochs = 5.0
    for _ in range(6):
        run = dict(algorithm="seq", epochs=epochs, eval_points=0, eval_subset=1000)
        t0, t1, stamps = progress_during(lambda: asgd.train(data=mnist, **run))
        if t1 - t0 > 0.4:
            break
        epochs *= 4
    assert_progressed(t0, t1, stamps)


# Long enough never to finish first: the interrupt must end it.
LONG: Dict[str, Any] = dict(
    algorithm="hogwild", threads=2, epochs=1000.0, max_seconds=120.0, eval_subset=1000
)


def test_ctrl_c_gives_an_interrupted_report(mnist: str) -> None:
    """``_thread.interrupt_main()`` raises KeyboardInterrupt in the main thread as SIGINT
    would, from the progress callback once the run is under way."""
    calls = 0

    def progress(d: Dict[str, Any]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            _thread.interrupt_main()

    r = asgd.train(data=mnist, progress=progress, **LONG)
    assert (r["outcome"], r["stopped_by"]) == ("interrupted", "interrupt")
    assert 0 < r["updates"]["total"] and r["epochs"] < 1000
    assert r["seconds"] < 60
    assert r["final"]["test_accuracy"] is not None


def test_sigint_gives_an_interrupted_report(mnist: str) -> None:
    """A real SIGINT to this process, from another thread after a second."""
    timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        r = asgd.train(data=mnist, **LONG)
    finally:
        timer.cancel()
    assert (r["outcome"], r["stopped_by"]) == ("interrupted", "interrupt")
    assert r["seconds"] < 60


def test_an_exception_from_the_callback_stops_the_run(mnist: str) -> None:
    def progress(d: Dict[str, Any]) -> None:
        raise RuntimeError("enough")

    with pytest.raises(RuntimeError, match="enough"):
        asgd.train(data=mnist, progress=progress, **LONG)


def test_without_data_it_is_the_bundled_mnist() -> None:
    r = asgd.train(algorithm="seq", batch=100, epochs=0.002, eval_points=0, eval_subset=100)
    assert r["data"]["source"] == str(BUNDLED.resolve())
    assert (r["data"]["train"], r["data"]["test"]) == (60_000, 10_000)
