"""Kernel benchmark cases on the MNIST CNN's shapes and the timing helpers, shared by
``bench/``, :mod:`fastnn.zoo` and ``fastnn bench``.

Every case builds its arguments once; implementations are timed side by side in one process,
so the ratios are what counts on a shared, noisy machine, not the absolute times. Every ratio
is the Numba kernel's time over the other's: lower is better.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .kernels import numba as nk
from .kernels import reference as rk
from .kernels import vectorized as vk
from .progress import Progress

IMPLEMENTATIONS = {"reference": rk, "numba": nk, "numpy-im2col": vk}


@dataclass(frozen=True)
class KernelCase:
    name: str
    function: str
    make_args: Callable[[np.random.Generator], tuple]

    def args(self, seed: int = 0) -> tuple:
        return self.make_args(np.random.default_rng(seed))

    def implementations(self) -> list[str]:
        return [name for name, mod in IMPLEMENTATIONS.items() if hasattr(mod, self.function)]


def _f32(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def _conv(n, c, f, h, k):
    return lambda r: (_f32(r, n, c, h, h), _f32(r, f, c, k, k), _f32(r, f))


def _conv_bwd(n, c, f, h, k):
    o = h - k + 1
    return lambda r: (_f32(r, n, f, o, o), _f32(r, n, c, h, h), _f32(r, f, c, k, k))


def _pool_bwd(r):
    y, arg = nk.maxpool2d_forward(_f32(r, 32, 8, 20, 20), 2, 2)
    return (_f32(r, *y.shape), arg, (32, 8, 20, 20))


def _adam(r):
    p = _f32(r, 128, 800)
    return (p, _f32(r, 128, 800), np.zeros_like(p), np.zeros_like(p), 1)


def _adam_model(r):
    """Every parameter of the MNIST CNN: one optimizer step."""
    shapes = [(8, 1, 5, 5), (8,), (8, 8, 5, 5), (8,), (128, 800), (128,), (10, 128), (10,)]
    params, grads = [_f32(r, *s) for s in shapes], [_f32(r, *s) for s in shapes]
    return (params, grads, [np.zeros_like(p) for p in params],
            [np.zeros_like(p) for p in params], 1)


def _conv_pool_bwd(r):
    x, w = _f32(r, B, 8, 24, 24), _f32(r, 8, 8, 5, 5) * np.float32(0.1)
    y, argmax = nk.conv2d_relu_maxpool_forward(x, w, _f32(r, 8))
    return (_f32(r, *y.shape), y, argmax, x, w)


B = 32
KERNEL_CASES = [
    KernelCase("conv1 forward 1->8 5x5 28x28", "conv2d_forward", _conv(B, 1, 8, 28, 5)),
    KernelCase("conv1 backward", "conv2d_backward", _conv_bwd(B, 1, 8, 28, 5)),
    KernelCase("conv2 forward 8->8 5x5 24x24", "conv2d_forward", _conv(B, 8, 8, 24, 5)),
    KernelCase("conv2 backward", "conv2d_backward", _conv_bwd(B, 8, 8, 24, 5)),
    KernelCase("im2col 8x24x24 5x5", "im2col", lambda r: (_f32(r, B, 8, 24, 24), 5, 5)),
    KernelCase("col2im 8x24x24 5x5", "col2im",
               lambda r: (_f32(r, B, 200, 400), (B, 8, 24, 24), 5, 5)),
    KernelCase("maxpool forward 2x2 on 8x20x20", "maxpool2d_forward",
               lambda r: (_f32(r, B, 8, 20, 20), 2, 2)),
    KernelCase("maxpool backward", "maxpool2d_backward", _pool_bwd),
    KernelCase("conv2 + relu + maxpool forward", "conv2d_relu_maxpool_forward",
               _conv(B, 8, 8, 24, 5)),
    KernelCase("conv2 + relu + maxpool backward", "conv2d_relu_maxpool_backward",
               _conv_pool_bwd),
    KernelCase("dense forward 800->128", "dense_forward",
               lambda r: (_f32(r, B, 800), _f32(r, 128, 800), _f32(r, 128))),
    KernelCase("dense backward 800->128", "dense_backward",
               lambda r: (_f32(r, B, 128), _f32(r, B, 800), _f32(r, 128, 800))),
    KernelCase("dense forward 128->10", "dense_forward",
               lambda r: (_f32(r, B, 128), _f32(r, 10, 128), _f32(r, 10))),
    KernelCase("dense backward 128->10", "dense_backward",
               lambda r: (_f32(r, B, 10), _f32(r, B, 128), _f32(r, 10, 128))),
    KernelCase("relu forward 8x24x24", "relu_forward", lambda r: (_f32(r, B, 8, 24, 24),)),
    KernelCase("relu backward 8x24x24", "relu_backward",
               lambda r: (_f32(r, B, 8, 24, 24), _f32(r, B, 8, 24, 24))),
    KernelCase("softmax cross-entropy 10", "softmax_cross_entropy",
               lambda r: (_f32(r, B, 10), r.integers(0, 10, B))),
    KernelCase("adam update 128x800", "adam_update", _adam),
    KernelCase("adam update, all 8 CNN parameters", "adam_update_many", _adam_model),
]


def time_call(fn: Callable[[], object], budget: float = 0.5, repeats: int = 5) -> float:
    """Best-of-``repeats`` seconds per call, each repeat running for about budget/repeats."""
    fn()  # warm-up: JIT compile, caches
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-7)
    loops = max(1, int(budget / repeats / once))
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        best = min(best, (time.perf_counter() - t0) / loops)
    return best


def kernel_table(budget: float = 0.5, names: list[str] | None = None) -> list[dict]:
    """Times every kernel case on every implementation; rows with seconds and time ratios."""
    rows = []
    cases = [c for c in KERNEL_CASES if not names or any(n in c.name for n in names)]
    bar = Progress(len(cases), "kernels", unit="case", leave=False)
    for case in cases:
        bar.update()
        args = case.args()
        row = {"case": case.name}
        for impl in case.implementations():
            fn = getattr(IMPLEMENTATIONS[impl], case.function)
            row[impl] = time_call(lambda f=fn, a=args: f(*a), budget)
        row["numba/reference"] = row["numba"] / row["reference"]
        if "numpy-im2col" in row:
            row["numba/numpy-im2col"] = row["numba"] / row["numpy-im2col"]
        rows.append(row)
    bar.close()
    return rows


def format_table(rows: list[dict], columns: list[str]) -> str:
    """A Markdown table; seconds shown in ms or us, ratios with an x."""

    def cell(key: str, v: object) -> str:
        if v is None:
            return "-"
        if isinstance(v, str):
            return v
        if "/" in key or "%" in key or "GFLOP" in key or "error" in key:
            return f"{v:.3g}" if v < 1000 else f"{v:,.0f}"
        if v >= 100:
            return f"{v / 60:.0f} min"
        if v >= 1:
            return f"{v:.2f} s"
        return f"{v * 1e3:.2f} ms" if v >= 1e-3 else f"{v * 1e6:.1f} us"

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(cell(c, row.get(c)) for c in columns) + " |")
    return "\n".join(lines)


KERNEL_COLUMNS = ["case", "reference", "numpy-im2col", "numba", "numba/reference",
                  "numba/numpy-im2col"]


def interleaved(calls: dict[str, Callable[[], object]], budget: float, rounds: int = 3,
                 repeats: int = 5) -> dict[str, float]:
    """Best time of each call over ``rounds`` rounds that take turns, so that a slow spell of
    a shared machine hits both sides of a ratio alike."""
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(rounds):
        for name, fn in calls.items():
            best[name] = min(best[name], time_call(fn, budget / rounds, repeats))
    return best


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def run_all(quick: bool = False, networks: list[str] | None = None) -> dict:
    """Everything ``fastnn bench`` prints: the matmul peak, the kernels, the model zoo (or the
    ``networks`` of it)."""
    import platform

    import numba

    from .zoo import matmul_peak, zoo_table

    peak = matmul_peak()
    kernels = kernel_table(budget=0.05 if quick else 0.5)
    zoo = zoo_table(budget=0.5 if quick else 3.0, steps=4 if quick else 8, names=networks,
                    peak=peak)
    return {
        "date": time.strftime("%Y-%m-%d %H:%M"), "machine": platform.machine(),
        "processor": _cpu_name(), "threads": numba.config.NUMBA_NUM_THREADS,
        "numpy": np.__version__, "numba": numba.__version__, "quick": quick,
        "torch": _torch_version(), "matmul_peak_gflops": peak, "kernels": kernels, "zoo": zoo,
    }


def _torch_version() -> str | None:
    if not torch_available():
        return None
    import torch

    return torch.__version__


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "unknown"
