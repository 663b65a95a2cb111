"""The MNIST CNN of ``fastnn train mnist`` in PyTorch (CPU), for side-by-side comparison.

    python bench/torch_mnist.py --data DIR [--epochs 2 --batch-size 32 --lr 2e-3 --schedule cosine]

Same network, initialization family (He), optimizer, schedule, batch size and data (read with
fastnn's MNIST loader); prints test accuracy, wall time from process start, and peak memory.
PyTorch is optional and never a dependency of fastnn.
"""

import time

START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import resource  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from fastnn import datasets  # noqa: E402


def network() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 5), nn.ReLU(), nn.Conv2d(8, 8, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(800, 128), nn.ReLU(), nn.Linear(128, 10))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--schedule", choices=["cosine", "constant"], default="cosine")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    (x, y), (xt, yt) = datasets.mnist(args.data)
    if args.limit:
        x, y = x[: args.limit], y[: args.limit]
    x, y, xt, yt = map(torch.from_numpy, (x, y, xt, yt))
    model = network()
    for m in model:
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps = math.ceil(len(x) / args.batch_size)
    total = steps * args.epochs
    warmup = 0.02

    def factor(step: int) -> float:
        if args.schedule == "constant":
            return 1.0
        p = step / total
        if p < warmup:
            return (p + 1e-3) / warmup
        return 0.5 * (1 + math.cos(math.pi * (p - warmup) / (1 - warmup)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(args.seed)
    train_start = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        order = torch.from_numpy(rng.permutation(len(x)))
        for s in range(steps):
            idx = order[s * args.batch_size : (s + 1) * args.batch_size]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            sched.step()
        model.eval()
        with torch.no_grad():
            acc = float((model(xt).argmax(1) == yt).float().mean())
        print(f"epoch {epoch + 1}: test accuracy {acc:.2%}", flush=True)
    train_s = time.perf_counter() - train_start
    result = {"test_accuracy": acc, "train_seconds": train_s,
              "wall_seconds": time.perf_counter() - START,
              "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
              "threads": torch.get_num_threads(), "torch": torch.__version__}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
