"""Stride-1 convolution as one small GEMM per sample, in the "wide" layout (:mod:`.wide`).

In that layout (the padded image flattened to (C, H*W)), kernel tap t = (c, ky, kx)
is the contiguous slice ``xf[c, ky*W + kx :][:L]`` over the L = (OH-1)*W + OW wide positions.
Copying those K = C*KH*KW slices one under the other gives the im2col matrix cols (K, L) at
memcpy speed, and then

- forward:      acc (F, L) = W (F, K) @ cols, plus the bias and the same epilogues as direct;
- weight grad:  dW_i (F, K) = G (F, L) @ cols.T, G being the wide output gradient (zero at the
                W - OW positions of each row that the forward pass drops);
- input grad:   dcols (K, L) = W.T @ G, each row added back onto its tap's slice of dx.

The GEMMs are ``np.dot`` inside the ``prange`` loop, which Numba hands to SciPy's BLAS
(``scipy.linalg.cython_blas``). Each Numba thread runs its samples' GEMMs on a single-threaded
BLAS (:func:`.._common.single_threaded_blas`), so there is one pool of threads, Numba's: with BLAS
threads of its own beside Numba's spinning OpenMP threads, the two fought over the two cores
and a whole VGG step got twice as slow (see the README's "Convolution algorithms").

Each thread takes a fixed block of samples and reuses its scratch for all of them (no buffer
per image); per-sample weight gradients are summed in batch order, so results do not depend on
the thread count.

Its epilogues are :mod:`.wide`'s, compiled into this module's cached kernels: a fused ReLU
or max-pool passes a NaN (it is never hidden as a 0).
"""

from __future__ import annotations

import numpy as np
from numba import get_num_threads, njit, prange

from ...geometry import pad
from .._common import single_threaded_blas
from .wide import bias_epilogue, padded_backward, tap, unpool_grad, widen_grad


@njit(cache=True, inline="always")
def _unroll(xf, kh, kw, width, length, cols):
    """cols (C*KH*KW, length): row t is tap t's wide slice of one sample xf (C, H*W)."""
    for t in range(cols.shape[0]):
        cols[t] = tap(xf, t, kh, kw, width, length)


@njit(cache=True, inline="always")
def _fold(dcols, kh, kw, width, length, dxf):
    """The adjoint of _unroll: dxf (C, H*W) = the sum of dcols' rows on their taps' slices."""
    dxf[:] = 0
    for t in range(dcols.shape[0]):
        tap(dxf, t, kh, kw, width, length)[:] += dcols[t]


@njit(cache=True, parallel=True)
def _forward(x, w2, b, kh, kw, oh, ow, relu, scale, shift, stats, pool_size, pool_stride,
             y, argmax, sums, parts):
    """The gemm forward pass: per sample, unroll (:func:`_unroll`), one GEMM, then the
    epilogue (:func:`.wide.bias_epilogue`). Each of ``parts`` blocks of samples reuses one
    scratch.

    Arguments (positional): those of :func:`.direct._forward`, then
    parts : the number of blocks the batch is cut into (one per thread)
    """
    n, ch, h, width = x.shape
    f_count, k = w2.shape
    length = (oh - 1) * width + ow
    xf = x.reshape(n, ch, h * width)
    for part in prange(parts):
        cols = np.empty((k, length), dtype=x.dtype)
        acc = np.empty((f_count, length), dtype=x.dtype)
        for i in range(part * n // parts, (part + 1) * n // parts):
            _unroll(xf[i], kh, kw, width, length, cols)
            np.dot(w2, cols, acc)
            bias_epilogue(acc, b, width, ow, relu, scale, shift, stats, pool_size, pool_stride,
                           y[i], argmax[i], sums[i])


@njit(cache=True, parallel=True)
def _backward(dy, x, w2, kh, kw, oh, ow, need_dx, mask, masked, k1, k2, k3, y, argmax, pooled,
              dx, dw_per, db_per, parts):
    """The gemm backward pass: per sample, the prologue, unroll, then dW_i = G @ cols.T and
    (with need_dx) dcols = W.T @ G folded back onto dx.

    Arguments (positional): those of :func:`.direct._backward`, then
    parts : the number of blocks the batch is cut into (one per thread)
    """
    n, ch, h, width = x.shape
    f_count, k = w2.shape
    length = (oh - 1) * width + ow
    xf = x.reshape(n, ch, h * width)
    dxf = dx.reshape(dx.shape[0], ch, -1)
    w2t = w2.T
    for part in prange(parts):
        cols = np.empty((k, length), dtype=x.dtype)
        dcols = np.empty((k if need_dx else 1, length), dtype=x.dtype)
        g = np.empty((f_count, length), dtype=x.dtype)
        for i in range(part * n // parts, (part + 1) * n // parts):
            g[:] = 0
            if pooled:
                unpool_grad(dy[i], y[i], argmax[i], ow, width, g, db_per[i])
            else:
                widen_grad(dy[i], mask[i], masked, k1, k2, k3, width, g, db_per[i])
            _unroll(xf[i], kh, kw, width, length, cols)
            np.dot(g, cols.T, dw_per[i])
            if need_dx:
                np.dot(w2t, g, dcols)
                _fold(dcols, kh, kw, width, length, dxf[i])


def forward(x, padding, w2, b, kh, kw, oh, ow, relu, scale, shift, stats, pool_size, pool_stride,
            y, argmax, sums) -> None:
    """The gemm forward pass (see .wide for its arguments): _forward on x padded, one block of
    samples per thread."""
    with single_threaded_blas():
        _forward(pad(x, padding), w2, b, kh, kw, oh, ow, relu, scale, shift, stats, pool_size,
                 pool_stride, y, argmax, sums, min(x.shape[0], get_num_threads()))


def backward(dy, x, padding, w2, kh, kw, oh, ow, need_dx, mask, masked, k1, k2, k3, y, argmax,
             pooled, db_per):
    """The gemm backward pass (see .wide for its arguments): _backward on x padded, one block of
    samples per thread; returns dx (or None) and dw."""
    with single_threaded_blas():
        return padded_backward(_backward, dy, x, padding, w2, kh, kw, oh, ow, need_dx, mask,
                               masked, k1, k2, k3, y, argmax, pooled, db_per,
                               min(x.shape[0], get_num_threads()))
