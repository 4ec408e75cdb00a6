"""Updates per second: PyTorch's own HOGWILD! recipe against asgd's trainer, side by side.

PyTorch's recipe (its ``mnist_hogwild`` example): one model in shared memory
(``model.share_memory()``), one ``torch.multiprocessing`` process per worker, each with its own
SGD optimizer and one intra-op thread (``torch.set_num_threads(1)``), no lock. The model here is
the MLP 3x128 of the trainer's default (784-128-128-128-10, ReLU), batch 64.

The trainer runs the same network, batch and worker count with ``--algorithm hogwild`` and
``--algorithm leashed`` (``--eval-points 0``, a time limit), and its JSON report gives updates/s.
The three are run in alternation, ``--rounds`` times, so the machine's load is shared alike; the
medians and their ratios are printed as JSON.

    cargo build --release -p trainer --bin trainer
    python examples/python/torch_hogwild_rate.py --data data/mnist \\
        --trainer target/release/trainer --workers 2 --seconds 8 --rounds 3

Requires ``torch`` and ``numpy`` (not test dependencies of the project).
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import pathlib
import platform
import statistics
import subprocess
import tempfile
import time

import numpy as np
import torch
import torch.multiprocessing as mp
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path: pathlib.Path) -> np.ndarray:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    nd = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(nd)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * nd)
    if data.size != math.prod(dims):
        raise ValueError(f"{path}: {data.size} bytes for dimensions {dims}")
    return data.reshape(dims)


def load(data: str):
    d = pathlib.Path(data)

    def find(stem: str) -> pathlib.Path:
        for name in (stem + ".gz", stem):
            if (d / name).is_file():
                return d / name
        raise FileNotFoundError(f"{d}: no {stem}[.gz]")

    x = read_idx(find("train-images-idx3-ubyte")).astype(np.float32) / 255.0
    y = read_idx(find("train-labels-idx1-ubyte")).astype(np.int64)
    return torch.from_numpy(x.reshape(len(x), -1)), torch.from_numpy(y)


class Mlp(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.l1, self.l2, self.l3 = nn.Linear(784, 128), nn.Linear(128, 128), nn.Linear(128, 128)
        self.out = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.l1(x))
        x = F.relu(self.l2(x))
        x = F.relu(self.l3(x))
        return F.log_softmax(self.out(x), dim=1)


def worker(rank, model, x, y, batch, seconds, counts, start):
    torch.set_num_threads(1)
    torch.manual_seed(rank)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.5)
    n = len(x)
    while start.value == 0.0:
        time.sleep(0.001)
    end = start.value + seconds
    done = 0
    while time.time() < end:
        perm = torch.randperm(n)
        for i in range(0, n - batch + 1, batch):
            idx = perm[i : i + batch]
            opt.zero_grad()
            F.nll_loss(model(x[idx]), y[idx]).backward()
            opt.step()
            done += 1
            if done % 16 == 0:
                counts[rank] = done
                if time.time() >= end:
                    break
    counts[rank] = done


def torch_rate(x, y, workers, batch, seconds) -> float:
    model = Mlp()
    model.share_memory()
    counts = mp.Array("q", workers)
    start = mp.Value("d", 0.0)
    procs = [
        mp.Process(target=worker, args=(r, model, x, y, batch, seconds, counts, start))
        for r in range(workers)
    ]
    for p in procs:
        p.start()
    time.sleep(1.0)  # let every process import and reach the start line
    t0 = time.time()
    start.value = t0
    for p in procs:
        p.join()
    return sum(counts) / seconds


def trainer_rate(trainer, data, algorithm, workers, batch, seconds) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "r.json")
        subprocess.run(
            [trainer, "--data", data, "--algorithm", algorithm, "--threads", str(workers),
             "--arch", "mlp", "--batch", str(batch), "--eta", "0.01", "--epochs", "1000",
             "--max-seconds", str(seconds), "--eval-points", "0", "--json", out],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        with open(out) as f:
            r = json.load(f)
    return r["updates"]["total"] / r["seconds"]


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--trainer", required=True, help="path of the release trainer binary")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    x, y = load(a.data)
    runs = {"torch_hogwild": [], "asgd_hogwild": [], "asgd_leashed": []}
    for r in range(a.rounds):
        runs["torch_hogwild"].append(torch_rate(x, y, a.workers, a.batch, a.seconds))
        for alg in ("hogwild", "leashed"):
            runs[f"asgd_{alg}"].append(
                trainer_rate(a.trainer, a.data, alg, a.workers, a.batch, a.seconds))
        print(f"round {r + 1}/{a.rounds}: "
              + ", ".join(f"{k} {v[-1]:.0f}/s" for k, v in runs.items()), flush=True)
    med = {k: statistics.median(v) for k, v in runs.items()}
    print(json.dumps({
        "cpu": cpu_model(), "cores": os.cpu_count(), "torch": torch.__version__,
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "workers": a.workers, "batch": a.batch, "seconds": a.seconds, "runs": runs,
        "median_updates_per_second": med,
        "ratio_hogwild": med["asgd_hogwild"] / med["torch_hogwild"],
        "ratio_leashed": med["asgd_leashed"] / med["torch_hogwild"],
    }, indent=1))


if __name__ == "__main__":
    mp.set_start_method("fork")
    main()
