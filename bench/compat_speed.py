"""fastnn.compat against the loop-based implementation (tests/loop_cnn.py): one adamGD call on
a batch of 32, each side in processes of its own (3 each, taking turns), min and median.

    python bench/compat_speed.py [--repeats 3]            # adamGD on a batch of 32
    python bench/compat_speed.py --train DIR               # also train() for 2 epochs of 50,000
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import loop_cnn  # noqa: E402

from fastnn.compat import network  # noqa: E402


def params():
    np.random.seed(0)
    return [network.initializeFilter((8, 1, 5, 5)), network.initializeFilter((8, 8, 5, 5)),
            network.initializeWeight((128, 800)), network.initializeWeight((10, 128)),
            np.zeros((8, 1)), np.zeros((8, 1)), np.zeros((128, 1)), np.zeros((10, 1))]


def best_time(fn, repeats):
    fn()  # compile / warm up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def time_side(side: str, repeats: int) -> float:
    """Best seconds of one adamGD call on a batch of 32, in this process."""
    rng = np.random.default_rng(0)
    batch = np.hstack([rng.standard_normal((32, 784)), rng.integers(0, 10, (32, 1))])
    p = params()
    step = loop_cnn.adamGD if side == "loop" else network.adamGD
    return best_time(lambda: step(batch, 10, 0.01, 28, 1, 0.95, 0.99, p, []),
                     repeats if side == "loop" else repeats * 20)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--processes", type=int, default=3, help="processes per side")
    parser.add_argument("--train", metavar="MNIST_DIR", help="also time train() for 2 epochs")
    parser.add_argument("--side", choices=["loop", "fastnn"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:  # a child: one side alone in this process
        print(json.dumps(time_side(args.side, args.repeats)))
        return
    times = {"loop": [], "fastnn": []}
    for _ in range(args.processes):
        for side in times:
            out = subprocess.run([sys.executable, __file__, "--side", side, "--repeats",
                                  str(args.repeats)], capture_output=True, text=True, check=True)
            times[side].append(json.loads(out.stdout.splitlines()[-1]))
    loop, fast = min(times["loop"]), min(times["fastnn"])
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"adamGD, batch 32, {args.processes} processes each: loop {loop * 1e3:.0f} ms "
          f"(median {med['loop'] * 1e3:.0f}), fastnn.compat {fast * 1e3:.2f} ms (median "
          f"{med['fastnn'] * 1e3:.2f}); fastnn/loop time {fast / loop:.4f} "
          f"(median {med['fastnn'] / med['loop']:.4f}): {loop / fast:.0f}x faster")
    if args.train:
        with tempfile.TemporaryDirectory() as tmp:
            np.random.seed(0)
            t0 = time.perf_counter()
            cost = network.train(save_path=f"{tmp}/params.pkl", data_dir=args.train)
            wall = time.perf_counter() - t0
            accuracy, _ = network.measure(f"{tmp}/params.pkl", args.train)
        steps = len(cost)
        print(f"train(): 2 epochs of 50,000 images ({steps} adamGD calls) in {wall:.0f} s "
              f"({wall / 60:.1f} min); test accuracy {accuracy:.2%}; the loop version at "
              f"{loop:.2f} s per call would need {loop * steps / 3600:.1f} h")


if __name__ == "__main__":
    main()
