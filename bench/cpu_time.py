"""CPU time of a zoo network's training step and batch-1 predict on one Numba thread.

    python bench/cpu_time.py mnist-cnn [--steps 50]

CPU time (``time.process_time``) of a one-thread process counts only the time it ran, so the
figure stays steady while other processes share the machine: a profile to compare two
versions of a kernel, not a speed claim (the bench, ``fastnn bench``, makes those).
"""

import argparse
import os
import time

os.environ["NUMBA_NUM_THREADS"] = "1"  # before Numba is imported

import numpy as np  # noqa: E402

import fastnn as fn  # noqa: E402
from fastnn import zoo  # noqa: E402


def best_cpu(fn_, repeats: int = 5, loops: int = 1) -> float:
    """Least CPU seconds per call of ``fn_`` over ``repeats`` runs of ``loops`` calls."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        for _ in range(loops):
            fn_()
        best = min(best, (time.process_time() - t0) / loops)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("network", choices=[n.name for n in zoo.ZOO])
    parser.add_argument("--steps", type=int, default=50, help="training steps per repeat")
    args = parser.parse_args()
    fn.retain_freed_memory()
    net = zoo.get(args.network)
    model = net.build(net.size)
    rng = np.random.default_rng(0)
    x = rng.random((32 * args.steps, *net.input_shape()), dtype=np.float32)
    y = rng.integers(0, net.classes, len(x))
    opt = fn.SGD(0.01, momentum=0.9)

    def epoch():
        model.fit(x, y, optimizer=opt, epochs=1, batch_size=32, verbose=0)

    model.fit(x[:64], y[:64], optimizer=opt, epochs=1, batch_size=32, verbose=0)  # compile
    step = best_cpu(epoch) / args.steps
    one = x[:1]
    for _ in range(50):
        model.predict(one)
    predict = best_cpu(lambda: model.predict(one), loops=500)
    print(f"{args.network}: training step (batch 32, SGD) {step * 1e3:.3f} ms, batch-1 predict "
          f"{predict * 1e6:.1f} us of CPU time on one Numba thread")


if __name__ == "__main__":
    main()
