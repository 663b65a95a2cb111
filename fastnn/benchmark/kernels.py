"""The kernel cases that ``fastnn bench`` times, on the MNIST CNN's shapes at batch 32: each
names a kernel function that ``numba``, ``reference`` and, for some, the NumPy im2col
baseline (``numpy-im2col``) have under the same name and signature, and builds its arguments
from a seeded generator, so every process times the same data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..kernels import numba as nk
from ..kernels import reference as rk
from ..kernels import vectorized as vk

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
