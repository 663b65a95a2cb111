"""Per-layer profile of a training step: each step of a zoo network's plan timed forward and
backward at batch 32, with GFLOP/s (direct-convolution FLOPs) and the share of the measured
matmul peak; for every convolution also each algorithm of the Numba backend, so the switch
points in kernels/numba/conv/__init__.py can be checked on this machine, and each algorithm's
float32 error: the largest difference of the convolution's output from the float64 one, over
the largest output.

    python bench/conv_layers.py                      # SimpleVGGNet with batch norm
    python bench/conv_layers.py --network cifar-cnn
"""

from __future__ import annotations

import argparse

import numpy as np

import fastnn as fn
from fastnn import zoo
from fastnn.benchmark.child import matmul_peak, time_call
from fastnn.benchmark.results import format_table
from fastnn.kernels import numba as nk


def best(fn, budget: float) -> float:
    """Best seconds per call of fn over repeats for about ``budget`` seconds."""
    return min(time_call(fn, budget))


ALGORITHMS = ("direct", "gemm", "winograd")  # the stride-1 algorithms (winograd: 3x3 only)


def _force(step, sample_shape, pair):
    """Makes a convolution step run ``pair`` (forward, backward) on this input shape."""
    step.choose(sample_shape)
    for key in step.chosen:
        step.chosen[key] = pair
    step.algorithm = pair


def float32_errors(conv, x: np.ndarray, algorithms: list[str]) -> dict[str, float]:
    """max |y32 - y64| / max |y64| of conv's output on x for each algorithm, y64 by direct
    convolution in float64 (the weights and input rounded to float32 first, so only the
    arithmetic differs)."""
    w, b = conv.params["w"], conv.params["b"]
    exact = nk.conv2d_forward(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64),
                              conv.stride, conv.padding, algorithm=("direct", "direct"))
    scale = np.abs(exact).max()
    return {f"{a} error": float(np.abs(nk.conv2d_forward(x, w, b, conv.stride, conv.padding,
                                                         algorithm=(a, a)) - exact).max() / scale)
            for a in algorithms}


def profile(name: str, batch: int, budget: float) -> tuple[list[dict], float]:
    net = zoo.get(name)
    model = net.build(net.size)
    rng = np.random.default_rng(0)
    x = rng.random((batch, *net.input_shape()), dtype=np.float32)
    model.predict(x[:1])  # allocate the parameters, choose the algorithms
    per_layer = zoo.layer_flops(model, net.input_shape())
    peak = matmul_peak()
    rows, h = [], x
    for start, step in zip(model.plan.first_index, model.plan):
        f = batch * sum(per_layer[start : start + len(step.layers)])
        first = start == 0
        out = step.forward(h, True)
        dy = rng.standard_normal(out.shape).astype(np.float32)
        row = {"layers": f"{start}-{start + len(step.layers) - 1}", "step": step.describe(),
               "input": "x".join(map(str, h.shape[1:]))}

        def run(h=h, step=step, dy=dy):
            return (best(lambda: step.forward(h, True), budget),
                    best(lambda: (step.forward(h, True), step.backward(dy)), budget))

        chosen = getattr(step, "algorithm", None)
        if chosen and chosen[0] in ALGORITHMS:  # stride 1: every algorithm can run it
            times = {}
            conv = step.layers[0]
            runnable = [a for a in ALGORITHMS
                        if a != "winograd" or conv.params["w"].shape[2:] == (3, 3)]
            for a in runnable:
                _force(step, h.shape[1:], (a, a))
                fwd, both = run()
                times[a] = fwd, both - fwd
                row |= {f"fwd {a}": fwd, f"bwd {a}": both - fwd}
            row |= float32_errors(conv, h[:4], runnable)
            _force(step, h.shape[1:], chosen)
            fwd, bwd = times[chosen[0]][0], times[chosen[1]][1]
            row["algorithm"] = "/".join(chosen)
        else:
            fwd, both = run()
            bwd = both - fwd
        row |= {"forward": fwd, "backward": bwd}
        if f:
            bwd_flops = f if first else 2 * f
            row |= {"fwd GFLOP/s": f / fwd / 1e9, "fwd % of peak": 100 * f / fwd / 1e9 / peak,
                    "bwd GFLOP/s": bwd_flops / bwd / 1e9,
                    "bwd % of peak": 100 * bwd_flops / bwd / 1e9 / peak}
        rows.append(row)
        h = out
    total = {"layers": "all", "step": "", "forward": sum(r["forward"] for r in rows),
             "backward": sum(r["backward"] for r in rows)}
    return [*rows, total], peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", default="simple-vgg-bn", choices=[n.name for n in zoo.ZOO])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--budget", type=float, default=0.6, help="seconds per timing")
    args = parser.parse_args()
    fn.retain_freed_memory()
    rows, peak = profile(args.network, args.batch, args.budget)
    print(f"{args.network}, batch {args.batch}; matmul peak {peak:.0f} GFLOP/s; "
          "times per call, the chosen algorithm's in forward/backward")
    print(format_table(rows, ["layers", "step", "input", "algorithm", "forward", "backward",
                              "fwd GFLOP/s", "fwd % of peak", "bwd GFLOP/s", "bwd % of peak",
                              *(f"{p} {a}" for p in ("fwd", "bwd") for a in ALGORITHMS)]))
    print("\nfloat32 error of each algorithm (max |y32 - y64| / max |y64|, 4 samples):")
    print(format_table([r for r in rows if "direct error" in r],
                       ["layers", "input", *(f"{a} error" for a in ALGORITHMS)]))


if __name__ == "__main__":
    main()
