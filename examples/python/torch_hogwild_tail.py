"""PyTorch's HOGWILD! recipe on MNIST with measured staleness and TAIL-tau step sizes.

The recipe is PyTorch's own (the ``mnist_hogwild`` example): one model whose parameters live in
shared memory (``model.share_memory()``), one ``torch.multiprocessing`` process per worker,
each running its own SGD optimizer on it with no lock. Added here:

Staleness, measured per update across processes
    Each worker ``r`` counts the updates it has applied in ``done[r]``, a shared int64 tensor
    with one writer per entry, so the global version ``done.sum()`` needs no lock. A worker
    reads the version when it starts its forward pass and again just before
    ``optimizer.step()``: the difference, tau, is the number of updates other workers applied
    in between (the staleness tau of the thesis, Ch. A and C). Each worker records tau into its
    own row of ``counts``, a shared (workers x (tau_max + 2)) int64 tensor, again one writer
    per row; the last column lumps every tau > tau_max.

The histogram reaches the parent
    The parent sums the rows into ``asgd.staleness.Counts`` (the merged histogram), so nothing
    is sent between processes and the workers' hot path is two tensor increments.

TAIL-tau step sizes from ``asgd.stepsize``
    The parent owns an ``asgd.stepsize.Adaptive`` (TAIL-tau, ``--form exact`` by default: the
    mean step stays eta0) and an ``asgd.stepsize.Refresher`` that decides when to re-tabulate
    it from the merged histogram: every 50 ms, or for ``--form thesis_code`` once from updates
    10m..15m as the thesis' code does. After each refresh the parent writes eta(tau) for
    tau = 0..=tau_max + 1 into ``lr_table``, a shared float64 tensor; a worker sets its
    optimizer's learning rate to ``lr_table[min(tau, tau_max + 1)]`` before each step (NaN:
    the update is dropped, with ``--drop-above``). Lumping tau > tau_max into one bucket loses
    nothing: TAIL-tau's last table entry stands for every tau >= tau_max.

At the end the parent prints the staleness histogram, the best fitting staleness models
(``asgd.staleness.fit_all``), the step-size table, its mean factor over the run's histogram,
and the test accuracy.

Data: the MNIST IDX files (``train-images-idx3-ubyte[.gz]`` and the rest) in ``--data``
(default ``$MNIST_DIR``); nothing is downloaded. Requires ``torch`` and ``asgd`` (see
docs/python.md); torchvision is not needed.

    python examples/python/torch_hogwild_tail.py --data shared/data/mnist --workers 4 \\
        --epochs 1 --limit 20000
"""

from __future__ import annotations

import argparse
import gzip
import math
import os
import pathlib
import time
from typing import Tuple

import numpy as np
import torch
import torch.multiprocessing as mp
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim

from asgd import staleness, stepsize


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=os.environ.get("MNIST_DIR"), help="MNIST IDX directory")
    p.add_argument("--workers", type=int, default=4, help="HOGWILD! processes")
    p.add_argument("--epochs", type=int, default=1, help="epochs per worker")
    p.add_argument("--limit", type=int, default=0, help="use only the first N training images")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.01, help="eta0")
    p.add_argument("--momentum", type=float, default=0.5)
    p.add_argument("--amplitude", type=float, default=1.0, help="TAIL-tau's A in [0, 1]")
    p.add_argument("--form", default="exact", choices=stepsize.CDF_FORMS)
    p.add_argument("--phi", default="identity", choices=("identity", "smoothstep"))
    p.add_argument("--tau-max", type=int, default=64, help="table and histogram length")
    p.add_argument("--drop-above", type=int, default=None, help="drop updates with tau above")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    if not args.data:
        p.error("give --data DIR (or set MNIST_DIR) with the MNIST IDX files")
    if args.drop_above is not None and args.drop_above > args.tau_max:
        p.error("--drop-above must be at most --tau-max (the shared table covers 0..tau_max+1)")
    return args


class Net(nn.Module):
    """The usual small MNIST convolutional network."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.drop(self.conv2(x)), 2))
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.dropout(x, training=self.training)
        return F.log_softmax(self.fc2(x), dim=1)


def read_idx(path: pathlib.Path) -> np.ndarray:
    """An IDX file (optionally gzipped) as a uint8 array of its dimensions."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    nd = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(nd)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * nd)
    if data.size != math.prod(dims):
        raise ValueError(f"{path}: {data.size} bytes for dimensions {dims}")
    return data.reshape(dims)


def load(data: str, split: str, limit: int = 0) -> Tuple[torch.Tensor, torch.Tensor]:
    d = pathlib.Path(data)

    def find(stem: str) -> pathlib.Path:
        for name in (stem + ".gz", stem):
            if (d / name).is_file():
                return d / name
        raise FileNotFoundError(f"{d}: no {stem}[.gz]")

    x = read_idx(find(f"{split}-images-idx3-ubyte"))
    y = read_idx(find(f"{split}-labels-idx1-ubyte"))
    if limit:
        x, y = x[:limit], y[:limit]
    images = (torch.from_numpy(x.astype(np.float32)) / 255.0 - 0.1307) / 0.3081
    return images.unsqueeze(1), torch.from_numpy(y.astype(np.int64))


def worker(
    rank: int,
    args: argparse.Namespace,
    model: Net,
    train: Tuple[torch.Tensor, torch.Tensor],
    done: torch.Tensor,
    counts: torch.Tensor,
    lr_table: torch.Tensor,
) -> None:
    """One HOGWILD! process: SGD on the shared model, no lock, with tau measured per update
    and the learning rate read from the parent's TAIL-tau table."""
    torch.manual_seed(args.seed + rank)
    torch.set_num_threads(1)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(*train), batch_size=args.batch_size, shuffle=True
    )
    opt = optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    last = counts.shape[1] - 1
    model.train()
    for _ in range(args.epochs):
        for x, y in loader:
            read_at = int(done.sum())
            opt.zero_grad()
            loss = F.nll_loss(model(x), y)
            loss.backward()
            tau = int(done.sum()) - read_at
            bucket = min(tau, last)
            counts[rank, bucket] += 1
            lr = float(lr_table[bucket])
            if math.isnan(lr):
                continue  # dropped (tau > --drop-above)
            for g in opt.param_groups:
                g["lr"] = lr
            opt.step()
            done[rank] += 1


def publish(eta: stepsize.Adaptive, lr_table: torch.Tensor) -> None:
    """eta(tau) for tau = 0..=tau_max + 1 into the shared table (NaN: dropped)."""
    etas = [eta.eta(t) for t in range(lr_table.numel())]
    lr_table.copy_(torch.tensor([math.nan if e is None else e for e in etas], dtype=torch.float64))


def merged(counts: torch.Tensor) -> staleness.Counts:
    """The workers' histograms summed into one (the last bucket: every tau > tau_max)."""
    return staleness.Counts(counts.sum(0).tolist())


def test(model: Net, data: Tuple[torch.Tensor, torch.Tensor]) -> Tuple[float, float]:
    model.eval()
    with torch.no_grad():
        out = model(data[0])
        loss = F.nll_loss(out, data[1]).item()
        acc = (out.argmax(1) == data[1]).float().mean().item()
    return loss, acc


def main() -> None:
    args = parse_args()
    torch.manual_seed(args.seed)
    mp.set_start_method("spawn", force=True)
    train = load(args.data, "train", args.limit)
    test_set = load(args.data, "t10k")

    model = Net()
    model.share_memory()
    done = torch.zeros(args.workers, dtype=torch.int64).share_memory_()
    counts = torch.zeros(args.workers, args.tau_max + 2, dtype=torch.int64).share_memory_()
    lr_table = torch.zeros(args.tau_max + 2, dtype=torch.float64).share_memory_()

    policy = stepsize.Policy.tail_tau(args.amplitude, args.phi, args.form)
    eta = stepsize.Adaptive(
        policy, args.lr, tau_max=args.tau_max, drop_above=args.drop_above
    )
    refresher = stepsize.Refresher.for_policy(eta, args.workers)
    publish(eta, lr_table)  # eta0 until the first refresh

    procs = [
        mp.Process(target=worker, args=(r, args, model, train, done, counts, lr_table))
        for r in range(args.workers)
    ]
    start = time.perf_counter()
    for p in procs:
        p.start()
    while any(p.is_alive() for p in procs):
        time.sleep(0.01)
        # The Refresher decides whether a refresh is due (every 50 ms, or the thesis code's
        # window); the merged histogram is cheap to build at this rate.
        if refresher.tick(eta, int(done.sum()), time.perf_counter() - start, merged(counts)):
            publish(eta, lr_table)
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise SystemExit(f"worker exited with {p.exitcode}")
    seconds = time.perf_counter() - start

    hist = merged(counts)
    print(f"{int(done.sum())} updates applied by {args.workers} processes in {seconds:.1f} s")
    print(f"staleness: mean {hist.mean():.2f}, mode {hist.mode()}, "
          f"90% <= {hist.quantile(0.9)}, above tau_max: {hist.count(args.tau_max + 1)}")
    print("counts[tau]:", hist.counts[: min(len(hist), 3 * args.workers)].tolist(), "...")
    report = staleness.fit_all(hist, m=float(args.workers))
    for f in report.by_bhattacharyya[:2]:
        print(f"fit ({f.method}): {f.family} {f.params} D_B = {f.distance:.4f}"
              + (f" at bound {[a.param for a in f.at_bound]}" if f.at_bound else ""))
    if report.cmp_a13 is not None:
        f = report.cmp_a13
        print(f"fit (A.13, m = {f.m:g}): {f.params} D_B = {f.distance:.4f}")
    print(f"TAIL-tau ({args.form}) factors eta(tau)/eta0:",
          np.round(eta.factors[: 3 * args.workers], 3).tolist(), "...")
    print(f"refreshes: {refresher.refreshes}, mean factor over the run: "
          f"{eta.mean_factor(hist):.4f}")
    loss, acc = test(model, test_set)
    print(f"test: loss {loss:.4f}, accuracy {100 * acc:.2f}%")


if __name__ == "__main__":
    main()
