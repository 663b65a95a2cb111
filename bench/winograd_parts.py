"""Where a Winograd layer's time goes: each part of the forward pass of
kernels/numba/conv/winograd.py timed on one thread over a batch, on the zoo's layer shapes, with
the GEMMs' GFLOP/s.

    python bench/winograd_parts.py [--batch 32]

Parts: the copy of each sample into the padded scratch, the input transform, the 36 GEMMs per
chunk, the output transform and the epilogue (ReLU into the output). One thread, so the parts
add up to the single-thread time; the layer runs them on every thread at once.
"""

from __future__ import annotations

import argparse

import numpy as np
from numba import njit

from fastnn.benchmark.child import time_call
from fastnn.benchmark.results import format_table
from fastnn.kernels.numba._common import single_threaded_blas
from fastnn.kernels.numba.conv import winograd as w
from fastnn.kernels.numba.conv.wide import unwiden


def best(fn, budget: float) -> float:
    """Best seconds per call of fn over repeats for about ``budget`` seconds."""
    return min(time_call(fn, budget))


LAYERS = [(32, 32, 32), (64, 32, 32), (64, 64, 32), (128, 64, 16), (128, 128, 16), (64, 64, 16)]
"""(filters, channels, size) of SimpleVGGNet's and the CIFAR-style network's 3x3 layers."""


@njit
def _copy_in(xs, x, pad):
    h, wd = x.shape[2], x.shape[3]
    for s in range(x.shape[0]):
        xs[:, pad : pad + h, pad : pad + wd] = x[s]


@njit
def _input_transforms(xs, th, tw, v, count, rows, n):
    for _ in range(n):
        w._input_transform(xs, th, tw, v, count, 0, rows)


@njit
def _gemms(u, v, m, f, c, count, chunks):
    for _ in range(chunks):
        for xi in range(36):
            np.dot(w._slab(u, xi, f, c), w._slab(v, xi, c, count), w._slab(m, xi, f, count))


@njit
def _output_transforms(m, count, th, tw, width, cols, acc, n):
    for _ in range(n):
        w._output_transform(m, count, 0, th, tw, width, cols, acc)


@njit
def _epilogues(acc, width, one, zero, y, sums, n):
    for _ in range(n):
        unwiden(acc, width, True, one, zero, False, y, sums)


def parts(f: int, c: int, size: int, batch: int, budget: float) -> dict:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, c, size, size)).astype(np.float32)
    u = w._filter_transform(rng.standard_normal((f, c * 9)).astype(np.float32))
    th, tw, per, chunks = w._geometry(batch, size, size)
    count, width = per * th * tw, 4 * tw + 2
    xs = np.zeros((c, 4 * th + 2, width), np.float32)
    v, m = w._slabs(c, count, np.float32), w._slabs(f, count, np.float32)
    v[:] = 0
    m[:] = 0
    rows, cols = np.empty((6, width), np.float32), np.empty((4, 6, th * tw), np.float32)
    acc = np.zeros((f, 4 * th * width), np.float32)
    y, sums = np.empty((f, size, size), np.float32), np.zeros((f, 2))
    one, zero = np.ones(f, np.float32), np.zeros(f, np.float32)
    with single_threaded_blas():
        times = {
            "copy in": best(lambda: _copy_in(xs, x, 1), budget),
            "input transform": best(
                lambda: _input_transforms(xs, th, tw, v, count, rows, batch), budget),
            "GEMMs": best(lambda: _gemms(u, v, m, f, c, count, chunks), budget),
            "output transform": best(
                lambda: _output_transforms(m, count, th, tw, width, cols, acc, batch), budget),
            "epilogue": best(lambda: _epilogues(acc, width, one, zero, y, sums, batch),
                                  budget),
        }
    total = sum(times.values())
    gemm_flops = 2 * 36 * f * c * count * chunks
    return {"layer": f"{c}->{f} {size}x{size}", **times, "total": total,
            "GEMM GFLOP/s": gemm_flops / times["GEMMs"] / 1e9,
            "transforms % of total": 100 * (times["input transform"] + times["output transform"]
                                            + times["copy in"]) / total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--budget", type=float, default=0.5, help="seconds per timing")
    args = parser.parse_args()
    rows = [parts(f, c, size, args.batch, args.budget) for f, c, size in LAYERS]
    print(f"Winograd forward pass by parts, one thread, batch {args.batch} (seconds per batch):")
    print(format_table(rows, ["layer", "copy in", "input transform", "GEMMs", "output transform",
                              "epilogue", "total", "GEMM GFLOP/s", "transforms % of total"]))


if __name__ == "__main__":
    main()
