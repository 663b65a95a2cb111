"""Dense layers: y = x @ w.T + b and its gradients, parallel over rows.

A large layer (w of at least ``GEMM_WEIGHTS`` entries, SimpleVGGNet's 8192 -> 512) runs as
BLAS GEMMs instead, in both passes: the row loops read all of w once per 4 samples (forward)
or per sample (dx), where a GEMM over blocks of w reads it once. At batch 32 the forward pass
took 2.2 ms against 1.7 ms as GEMMs, the backward 10.3 against 6.0 ms (``python
bench/conv_layers.py``). The GEMMs are cut into a fixed number of blocks, not one per thread,
so the results do not depend on the thread count.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .. import _checks as c
from ._common import FASTMATH, add_combination, single_threaded_blas
from .activations import relu_backward


@njit(cache=True, parallel=True, fastmath=FASTMATH)
def _dense_forward(x, w, b, relu, y):
    """y = x @ w.T + b in tiles of 4 rows by 4 outputs: 16 dot products share each pass over
    their 8 input rows (a dot product at a time needs two loads per multiply-add)."""
    n, k = x.shape
    m = w.shape[0]
    for blk in prange((n + 3) // 4):
        i0 = blk * 4
        a0, a1, a2, a3 = x[i0], x[min(i0 + 1, n - 1)], x[min(i0 + 2, n - 1)], x[min(i0 + 3, n - 1)]
        for o0 in range(0, m, 4):
            c0, c1 = w[o0], w[min(o0 + 1, m - 1)]
            c2, c3 = w[min(o0 + 2, m - 1)], w[min(o0 + 3, m - 1)]
            s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = x.dtype.type(0)
            s20 = s21 = s22 = s23 = s30 = s31 = s32 = s33 = x.dtype.type(0)
            for j in range(k):
                p0, p1, p2, p3 = a0[j], a1[j], a2[j], a3[j]
                q0, q1, q2, q3 = c0[j], c1[j], c2[j], c3[j]
                s00 += p0 * q0
                s01 += p0 * q1
                s02 += p0 * q2
                s03 += p0 * q3
                s10 += p1 * q0
                s11 += p1 * q1
                s12 += p1 * q2
                s13 += p1 * q3
                s20 += p2 * q0
                s21 += p2 * q1
                s22 += p2 * q2
                s23 += p2 * q3
                s30 += p3 * q0
                s31 += p3 * q1
                s32 += p3 * q2
                s33 += p3 * q3
            sums = (s00, s01, s02, s03, s10, s11, s12, s13,
                    s20, s21, s22, s23, s30, s31, s32, s33)
            for d in range(min(4, n - i0)):
                for e in range(min(4, m - o0)):
                    acc = sums[4 * d + e] + b[o0 + e]
                    y[i0 + d, o0 + e] = 0 if relu and acc <= 0 else acc  # as _relu: NaN passes


@njit(cache=True, parallel=True, fastmath=FASTMATH)
def _dense_backward(dy, x, w, dx, dw, db):
    n, m = dy.shape
    dyt = np.ascontiguousarray(dy.T)  # (out, N): coefficients for dw
    for i in prange(n):  # dx[i] = dy[i] @ w
        dx[i] = 0
        add_combination(dx[i], dy[i], w)
    for o in prange(m):  # dw[o] = dy[:, o] @ x, summed in batch order
        dw[o] = 0
        add_combination(dw[o], dyt[o], x)
    for o in range(m):
        acc = 0.0
        for i in range(n):
            acc += dyt[o, i]
        db[o] = acc


GEMM_WEIGHTS = 1 << 20
GEMM_BLOCKS = 4


@njit(cache=True, parallel=True)
def _dense_forward_gemm(x, w, b, relu, y, blocks):
    """y = x @ w.T + b (or its ReLU) with one GEMM per block of outputs (rows of w)."""
    n, m = y.shape
    xt = np.ascontiguousarray(x.T)
    for blk in prange(blocks):
        o0, o1 = blk * m // blocks, (blk + 1) * m // blocks
        if o1 > o0:
            part = np.dot(w[o0:o1], xt)  # (outputs, N): w's rows stream once
            for i in range(n):
                for o in range(o0, o1):
                    acc = part[o - o0, i] + b[o]
                    y[i, o] = 0 if relu and acc <= 0 else acc  # as _relu: NaN passes


@njit(cache=True, parallel=True)
def _dense_backward_gemm(dy, x, w, dx, dw, db, blocks):
    n, m = dy.shape
    dyt = np.ascontiguousarray(dy.T)
    for blk in prange(blocks):
        i0, i1 = blk * n // blocks, (blk + 1) * n // blocks
        o0, o1 = blk * m // blocks, (blk + 1) * m // blocks
        if i1 > i0:
            np.dot(dy[i0:i1], w, dx[i0:i1])
        if o1 > o0:
            np.dot(dyt[o0:o1], x, dw[o0:o1])
    for o in range(m):
        acc = 0.0
        for i in range(n):
            acc += dyt[o, i]
        db[o] = acc


def dense_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, relu: bool = False) -> np.ndarray:
    """x (N, in), w (out, in), b (out,) -> y (N, out) = x @ w.T + b, or its ReLU."""
    x, w, b = c.dense_args(x, w, b)
    y = np.empty((x.shape[0], w.shape[0]), dtype=x.dtype)
    if w.size >= GEMM_WEIGHTS and x.shape[0]:
        with single_threaded_blas():
            _dense_forward_gemm(x, w, b, bool(relu), y, GEMM_BLOCKS)
    else:
        _dense_forward(x, w, b, bool(relu), y)
    return y


def dense_backward(dy: np.ndarray, x: np.ndarray, w: np.ndarray,
                   relu_output: np.ndarray | None = None):
    """dy (N, out) -> dx (N, in), dw (out, in), db (out,).

    With ``relu_output`` (the output of a ReLU fused into this layer), dy is first gated by
    relu_output > 0: the ReLU's backward pass done here.
    """
    dy, x, w = c.dense_backward_args(dy, x, w)
    relu_output = c.relu_output_arg(relu_output, dy)
    if relu_output is not None:
        dy = relu_backward(dy, relu_output)
    dx = np.empty_like(x)
    dw = np.empty_like(w)
    db = np.empty(w.shape[0], dtype=x.dtype)
    if w.size >= GEMM_WEIGHTS and x.shape[0]:
        with single_threaded_blas():
            _dense_backward_gemm(dy, x, w, dx, dw, db, GEMM_BLOCKS)
    else:
        _dense_backward(dy, x, w, dx, dw, db)
    return dx, dw, db

