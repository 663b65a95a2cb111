"""Direct stride-1 convolution on the image itself, in the "wide" layout (:mod:`.wide`).

Why this algorithm: with few channels (the MNIST CNN's 1 and 8) an im2col matrix is mostly
copies of the input, and a GEMM over K = C*KH*KW = 25..200 is too thin to reach the BLAS peak.
Working on the image itself keeps one sample's data in cache and costs no copies.

Each tap is one contiguous slice of the flattened sample (:func:`.wide.tap`). The inner loops
combine 8 taps (or 8 filters) per load and store of an accumulator row, and two filters per tap
load, which lifts them from load/store-bound towards the multiply-add throughput.

Work is split by sample under ``prange``; per-sample weight gradients and statistics are summed
in batch order (:mod:`.wide`), so results do not depend on the thread count.

Its epilogues are :mod:`.wide`'s, compiled into this module's cached kernels: a fused ReLU
or max-pool passes a NaN (it is never hidden as a 0).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ...geometry import pad
from .._common import FASTMATH, add_combination
from .wide import padded_backward, relu_pool, tap, taps8, unpool_grad, unwiden, widen_grad


@njit(cache=True, fastmath=FASTMATH)
def _wide_forward_one(xf, w2, b, width, kh, kw, length, acc):
    """xf (C, H*W), w2 (F, C*KH*KW) -> acc (F, >= length) holds the wide output."""
    f_count, taps = w2.shape[0], w2.shape[1]
    for fi in range(f_count):
        acc[fi, :length] = b[fi]
    t = 0
    while t + 8 <= taps:
        s0, s1, s2, s3, s4, s5, s6, s7 = taps8(xf, t, kh, kw, width, length)
        for fi in range(0, f_count - 1, 2):
            a, c = acc[fi], acc[fi + 1]
            u0, u1, u2, u3, u4, u5, u6, u7 = w2[fi, t : t + 8]
            v0, v1, v2, v3, v4, v5, v6, v7 = w2[fi + 1, t : t + 8]
            for j in range(length):
                x0, x1, x2, x3 = s0[j], s1[j], s2[j], s3[j]
                x4, x5, x6, x7 = s4[j], s5[j], s6[j], s7[j]
                a[j] += (u0 * x0 + u1 * x1 + u2 * x2 + u3 * x3
                         + u4 * x4 + u5 * x5 + u6 * x6 + u7 * x7)
                c[j] += (v0 * x0 + v1 * x1 + v2 * x2 + v3 * x3
                         + v4 * x4 + v5 * x5 + v6 * x6 + v7 * x7)
        if f_count % 2:
            a = acc[f_count - 1]
            u0, u1, u2, u3, u4, u5, u6, u7 = w2[f_count - 1, t : t + 8]
            for j in range(length):
                a[j] += (u0 * s0[j] + u1 * s1[j] + u2 * s2[j] + u3 * s3[j] + u4 * s4[j]
                         + u5 * s5[j] + u6 * s6[j] + u7 * s7[j])
        t += 8
    for tr in range(t, taps):  # the last taps, one at a time
        xs = tap(xf, tr, kh, kw, width, length)
        for fi in range(f_count):
            a, u = acc[fi], w2[fi, tr]
            for j in range(length):
                a[j] += u * xs[j]


@njit(cache=True, fastmath=FASTMATH)
def _wide_backward_one(g, xf, w2, width, kh, kw, length, need_dx, dxf, dw):
    """g (F, >= length) wide output gradient (zero where ox >= OW) -> dw (F, K), dxf (C, H*W)."""
    f_count, taps = w2.shape[0], w2.shape[1]
    zero = xf.dtype.type(0)
    t = 0
    while t + 8 <= taps:  # dw[f, t] = <g[f], tap t>: 8 taps of two filters per pass
        s0, s1, s2, s3, s4, s5, s6, s7 = taps8(xf, t, kh, kw, width, length)
        for fi in range(0, f_count, 2):
            fj = min(fi + 1, f_count - 1)  # an odd last filter is computed twice
            ga, gb = g[fi], g[fj]
            a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = zero
            b0 = b1 = b2 = b3 = b4 = b5 = b6 = b7 = zero
            for j in range(length):
                p, q = ga[j], gb[j]
                x0, x1, x2, x3 = s0[j], s1[j], s2[j], s3[j]
                x4, x5, x6, x7 = s4[j], s5[j], s6[j], s7[j]
                a0 += p * x0
                a1 += p * x1
                a2 += p * x2
                a3 += p * x3
                a4 += p * x4
                a5 += p * x5
                a6 += p * x6
                a7 += p * x7
                b0 += q * x0
                b1 += q * x1
                b2 += q * x2
                b3 += q * x3
                b4 += q * x4
                b5 += q * x5
                b6 += q * x6
                b7 += q * x7
            dw[fi, t : t + 8] = (a0, a1, a2, a3, a4, a5, a6, a7)
            dw[fj, t : t + 8] = (b0, b1, b2, b3, b4, b5, b6, b7)
        t += 8
    for tr in range(t, taps):
        xs = tap(xf, tr, kh, kw, width, length)
        for fi in range(f_count):
            gf, a = g[fi], zero
            for j in range(length):
                a += gf[j] * xs[j]
            dw[fi, tr] = a
    if not need_dx:
        return
    dxf[:] = 0
    for t in range(taps):  # dx[tap t] += sum_f w[f, t] * g[f]
        add_combination(tap(dxf, t, kh, kw, width, length), w2[:, t], g)


@njit(cache=True, parallel=True)
def _forward(x, w2, b, kh, kw, oh, ow, relu, scale, shift, stats, pool_size, pool_stride,
             y, argmax, sums):
    """The direct forward pass, one sample per prange iteration: the wide output, then the
    epilogue (:func:`.wide.unwiden` or :func:`.wide.relu_pool`). One kernel for every epilogue,
    so Numba compiles it once.

    Arguments (positional):
    x : (N, C, H, W) the input, padded
    w2 : (F, K) the weights, K = C*KH*KW
    b : (F,) the bias
    kh, kw : the kernel's height and width
    oh, ow : the output's height and width
    relu : bool, ReLU after the bias
    scale, shift : (F,) the per-channel affine after the ReLU (ones and zeros when unused)
    stats : bool, fill sums
    pool_size, pool_stride : the max-pool window and stride after the ReLU; 0, 0 for none
    y : (N, F, OH, OW) output, or (N, F, PH, PW) when pooled
    argmax : (N, F, PH, PW) int64 output, the pool's argmax into the (OH, OW) planes; unused
        ((N, 1, 1, 1)) when not pooled
    sums : (N, F, 2) float64 output, each sample's channel sums and sums of squares of the
        values before the affine; unused ((N, 1, 2)) without stats
    """
    n, ch, h, width = x.shape
    f_count = w2.shape[0]
    length = (oh - 1) * width + ow
    xf = x.reshape(n, ch, h * width)
    for i in prange(n):
        acc = np.empty((f_count, oh * width), dtype=x.dtype)
        _wide_forward_one(xf[i], w2, b, width, kh, kw, length, acc)
        if pool_size:
            relu_pool(acc, width, ow, pool_size, pool_stride, y[i], argmax[i])
        else:
            unwiden(acc, width, relu, scale, shift, stats, y[i], sums[i])


@njit(cache=True, parallel=True)
def _backward(dy, x, w2, kh, kw, oh, ow, need_dx, mask, masked, k1, k2, k3, y, argmax, pooled,
              dx, dw_per, db_per):
    """The direct backward pass, one sample per prange iteration: the prologue
    (:func:`.wide.widen_grad` or :func:`.wide.unpool_grad`), then the weight and input
    gradients on the wide rows.

    Arguments (positional):
    dy : (N, F, OH, OW) the output gradient, or (N, F, PH, PW) that of the pooled output
    x : (N, C, H, W) the input, padded
    w2 : (F, K) the weights, K = C*KH*KW
    kh, kw : the kernel's height and width
    oh, ow : the conv output's height and width
    need_dx : bool, compute dx
    mask : (N, F, OH, OW) a fused ReLU's output (dy itself when not masked)
    masked : bool, gate the gradient by mask > 0
    k1, k2, k3 : (F,) the gradient is k1*dy + k2*mask + k3 per channel ((1, 0, 0): dy itself)
    y, argmax : (N, F, PH, PW) the pooled output and its argmax when pooled, else unused
    pooled : bool, dy is the pooled output's gradient (y, argmax route it; k and mask unused)
    dx : (N, C, H, W) output, the input gradient (padded); unused ((N, C, 1, 1)) without need_dx
    dw_per : (N, F, K) output, each sample's weight gradient (the caller sums them in order)
    db_per : (N, F) float64 output, each sample's bias gradient
    """
    n, ch, h, width = x.shape
    f_count = w2.shape[0]
    length = (oh - 1) * width + ow
    xf = x.reshape(n, ch, h * width)
    dxf = dx.reshape(dx.shape[0], ch, -1)
    for i in prange(n):
        g = np.zeros((f_count, oh * width), dtype=x.dtype)
        if pooled:
            unpool_grad(dy[i], y[i], argmax[i], ow, width, g, db_per[i])
        else:
            widen_grad(dy[i], mask[i], masked, k1, k2, k3, width, g, db_per[i])
        _wide_backward_one(g, xf[i], w2, width, kh, kw, length, need_dx, dxf[i], dw_per[i])


# --- the core (see .wide for its arguments) ----------------------------------------------------

def forward(x, padding, w2, b, kh, kw, oh, ow, relu, scale, shift, stats, pool_size, pool_stride,
            y, argmax, sums) -> None:
    """The direct forward pass: _forward on x padded."""
    _forward(pad(x, padding), w2, b, kh, kw, oh, ow, relu, scale, shift, stats, pool_size,
             pool_stride, y, argmax, sums)


def backward(dy, x, padding, w2, kh, kw, oh, ow, need_dx, mask, masked, k1, k2, k3, y, argmax,
             pooled, db_per):
    """The direct backward pass: _backward on x padded; returns dx (or None) and dw."""
    return padded_backward(_backward, dy, x, padding, w2, kh, kw, oh, ow, need_dx, mask, masked,
                            k1, k2, k3, y, argmax, pooled, db_per)
