"""fastnn.compat against the loop-based implementation (tests/loop_cnn.py), side by side.

    python bench/compat_speed.py [--repeats 3]            # adamGD on a batch of 32
    python bench/compat_speed.py --train DIR               # also train() for 2 epochs of 50,000
"""

import argparse
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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train", metavar="MNIST_DIR", help="also time train() for 2 epochs")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    batch = np.hstack([rng.standard_normal((32, 784)), rng.integers(0, 10, (32, 1))])
    p_loop, p_fast = params(), params()
    loop = best_time(lambda: loop_cnn.adamGD(batch, 10, 0.01, 28, 1, 0.95, 0.99, p_loop, []),
                     args.repeats)
    fast = best_time(lambda: network.adamGD(batch, 10, 0.01, 28, 1, 0.95, 0.99, p_fast, []),
                     args.repeats * 20)
    print(f"adamGD, batch 32: loop {loop * 1e3:.0f} ms, fastnn.compat {fast * 1e3:.2f} ms, "
          f"fastnn/loop time {fast / loop:.4f}")
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
