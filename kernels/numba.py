"""Numba kernels with the same functions and signatures as :mod:`fastnn.kernels.reference`.

Each public function validates its arguments in :mod:`._checks` and hands plain contiguous
arrays to an ``@njit(cache=True)`` body. Work that pays for two threads (convolution and
pooling over the batch, dense layers over rows) uses ``prange`` with one output slice per
iteration, so results never depend on the number of threads. Reductions over the batch (weight
gradients) are summed per sample and then added in batch order, which keeps them deterministic.

Convolution with stride 1 works on "wide" shifted rows of each image and never builds the
im2col matrix (see the comment above ``_taps8``); other strides go through per-sample im2col.
The inner loops are arranged so that every load and store of an accumulator row serves eight
multiply-adds (``_add_combination`` and the tap loops), which is what makes them fast.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numba import njit, prange

from . import _checks as c

# Let LLVM reorder sums so dot products vectorize; keep NaN/inf semantics intact.
FASTMATH = {"reassoc", "contract", "nsz", "arcp"}


@njit(cache=True, inline="always", fastmath=FASTMATH)
def _add_combination(dst, coefs, rows):
    """dst += coefs @ rows[:, :len(dst)], eight rows per pass over dst: one load and store of
    dst serve eight multiply-adds, where a row at a time would be bound by the stores."""
    n, r_count = dst.size, coefs.size
    r = 0
    while r + 8 <= r_count:
        r0, r1, r2, r3 = rows[r], rows[r + 1], rows[r + 2], rows[r + 3]
        r4, r5, r6, r7 = rows[r + 4], rows[r + 5], rows[r + 6], rows[r + 7]
        c0, c1, c2, c3 = coefs[r], coefs[r + 1], coefs[r + 2], coefs[r + 3]
        c4, c5, c6, c7 = coefs[r + 4], coefs[r + 5], coefs[r + 6], coefs[r + 7]
        for j in range(n):
            dst[j] += (c0 * r0[j] + c1 * r1[j] + c2 * r2[j] + c3 * r3[j]
                       + c4 * r4[j] + c5 * r5[j] + c6 * r6[j] + c7 * r7[j])
        r += 8
    for rr in range(r, r_count):
        c, row = coefs[rr], rows[rr]
        for j in range(n):
            dst[j] += c * row[j]


# --- dense -------------------------------------------------------------------------------------


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
                    y[i0 + d, o0 + e] = acc if not relu or acc > 0 else 0  # as _relu: NaN -> 0


@njit(cache=True, parallel=True, fastmath=FASTMATH)
def _dense_backward(dy, x, w, dx, dw, db):
    n, m = dy.shape
    dyt = np.ascontiguousarray(dy.T)  # (out, N): coefficients for dw
    for i in prange(n):  # dx[i] = dy[i] @ w
        dx[i] = 0
        _add_combination(dx[i], dy[i], w)
    for o in prange(m):  # dw[o] = dy[:, o] @ x, summed in batch order
        dw[o] = 0
        _add_combination(dw[o], dyt[o], x)
    for o in range(m):
        acc = 0.0
        for i in range(n):
            acc += dyt[o, i]
        db[o] = acc


def dense_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, relu: bool = False) -> np.ndarray:
    """x (N, in), w (out, in), b (out,) -> y (N, out) = x @ w.T + b, or its ReLU."""
    x, w, b = c.dense_args(x, w, b)
    y = np.empty((x.shape[0], w.shape[0]), dtype=x.dtype)
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
    _dense_backward(dy, x, w, dx, dw, db)
    return dx, dw, db


# --- convolution -------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _im2col_one(x, kh, kw, stride, padding, oh, ow, cols):
    """One sample: x (C, H, W) -> cols (C*KH*KW, OH*OW)."""
    ch, h, w = x.shape
    for ci in range(ch):
        for ky in range(kh):
            for kx in range(kw):
                row = (ci * kh + ky) * kw + kx
                for oy in range(oh):
                    iy = oy * stride + ky - padding
                    base = oy * ow
                    if iy < 0 or iy >= h:
                        for ox in range(ow):
                            cols[row, base + ox] = 0
                        continue
                    for ox in range(ow):
                        ix = ox * stride + kx - padding
                        cols[row, base + ox] = x[ci, iy, ix] if 0 <= ix < w else 0


@njit(cache=True, inline="always")
def _col2im_one(cols, kh, kw, stride, padding, oh, ow, dx):
    """One sample, the adjoint of _im2col_one: adds cols (C*KH*KW, OH*OW) into dx (C, H, W)."""
    ch, h, w = dx.shape
    dx[:] = 0
    for ci in range(ch):
        for ky in range(kh):
            for kx in range(kw):
                row = (ci * kh + ky) * kw + kx
                for oy in range(oh):
                    iy = oy * stride + ky - padding
                    if iy < 0 or iy >= h:
                        continue
                    base = oy * ow
                    for ox in range(ow):
                        ix = ox * stride + kx - padding
                        if 0 <= ix < w:
                            dx[ci, iy, ix] += cols[row, base + ox]


@njit(cache=True, parallel=True)
def _im2col(x, kh, kw, stride, padding, oh, ow, cols):
    for i in prange(x.shape[0]):
        _im2col_one(x[i], kh, kw, stride, padding, oh, ow, cols[i])


@njit(cache=True, parallel=True)
def _col2im(cols, kh, kw, stride, padding, oh, ow, dx):
    for i in prange(dx.shape[0]):
        _col2im_one(cols[i], kh, kw, stride, padding, oh, ow, dx[i])


@njit(cache=True, parallel=True, fastmath=FASTMATH)
def _conv2d_forward(x, w2, b, kh, kw, stride, padding, oh, ow, relu, y):
    """y (N, F, OH*OW) = w2 (F, K) @ im2col(x[n]) (K, OH*OW) + b, one sample per iteration."""
    f, k = w2.shape
    p = oh * ow
    for i in prange(x.shape[0]):
        cols = np.empty((k, p), dtype=x.dtype)
        _im2col_one(x[i], kh, kw, stride, padding, oh, ow, cols)
        out = y[i]
        for fi in range(f):
            out[fi, :] = b[fi]
        for ki in range(k):
            crow = cols[ki]
            for fi in range(f):
                wk = w2[fi, ki]
                orow = out[fi]
                for q in range(p):
                    orow[q] += wk * crow[q]
        if relu:
            for fi in range(f):
                for q in range(p):
                    out[fi, q] = out[fi, q] if out[fi, q] > 0 else 0


@njit(cache=True, parallel=True, fastmath=FASTMATH)
def _conv2d_backward(dy, x, w2, kh, kw, stride, padding, oh, ow, need_dx, dx, dw_per):
    """dy (N, F, P); dw_per (N, F, K) gets each sample's weight gradient."""
    n = x.shape[0]
    f, k = w2.shape
    p = oh * ow
    for i in prange(n):
        cols = np.empty((k, p), dtype=x.dtype)
        _im2col_one(x[i], kh, kw, stride, padding, oh, ow, cols)
        g = dy[i]
        for fi in range(f):
            grow = g[fi]
            for ki in range(k):
                crow = cols[ki]
                acc = x.dtype.type(0)
                for q in range(p):
                    acc += grow[q] * crow[q]
                dw_per[i, fi, ki] = acc
        if need_dx:
            # dcols = w2.T @ dy[i], reusing the cols buffer, then folded back onto dx[i]
            for ki in range(k):
                cols[ki] = 0
                _add_combination(cols[ki], w2[:, ki], g)
            _col2im_one(cols, kh, kw, stride, padding, oh, ow, dx[i])


# Stride 1 skips im2col: on the image flattened to (C, H*W), the kernel tap (c, ky, kx) is the
# row c shifted by ky*W + kx, so each tap is one contiguous slice over L = (OH-1)*W + OW "wide"
# positions j = oy*W + ox. Positions with ox >= OW are computed and dropped (forward) or carry
# zero gradient (backward). One sample's data stays in cache. The inner loops combine 8 taps
# (or 8 filters) per load and store of an accumulator row, and two filters per tap load, which
# lifts them from load/store-bound towards the multiply-add throughput.


@njit(cache=True, inline="always")
def _taps8(xf, t, kh, kw, width, length):
    """The slices of taps t..t+7, see _tap."""
    return (_tap(xf, t, kh, kw, width, length), _tap(xf, t + 1, kh, kw, width, length),
            _tap(xf, t + 2, kh, kw, width, length), _tap(xf, t + 3, kh, kw, width, length),
            _tap(xf, t + 4, kh, kw, width, length), _tap(xf, t + 5, kh, kw, width, length),
            _tap(xf, t + 6, kh, kw, width, length), _tap(xf, t + 7, kh, kw, width, length))


@njit(cache=True, inline="always")
def _tap(xf, t, kh, kw, width, length):
    """xf[c, off : off + length] for tap t = (c*KH + ky)*KW + kx, off = ky*W + kx."""
    c, r = divmod(t, kh * kw)
    off = (r // kw) * width + r % kw
    return xf[c, off : off + length]


@njit(cache=True, fastmath=FASTMATH)
def _wide_forward_one(xf, w2, b, width, kh, kw, length, acc):
    """xf (C, H*W), w2 (F, C*KH*KW) -> acc (F, >= length) holds the wide output."""
    f_count, taps = w2.shape[0], w2.shape[1]
    for fi in range(f_count):
        acc[fi, :length] = b[fi]
    t = 0
    while t + 8 <= taps:
        s0, s1, s2, s3, s4, s5, s6, s7 = _taps8(xf, t, kh, kw, width, length)
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
        xs = _tap(xf, tr, kh, kw, width, length)
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
        s0, s1, s2, s3, s4, s5, s6, s7 = _taps8(xf, t, kh, kw, width, length)
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
        xs = _tap(xf, tr, kh, kw, width, length)
        for fi in range(f_count):
            gf, a = g[fi], zero
            for j in range(length):
                a += gf[j] * xs[j]
            dw[fi, tr] = a
    if not need_dx:
        return
    dxf[:] = 0
    for t in range(taps):  # dx[tap t] += sum_f w[f, t] * g[f]
        _add_combination(_tap(dxf, t, kh, kw, width, length), w2[:, t], g)


_NO_ARGMAX = np.zeros((1, 1, 1, 1), dtype=np.int64)  # argmax argument when not pooling


@njit(cache=True, parallel=True)
def _conv2d_forward_s1(x, w2, b, kh, kw, oh, ow, relu, pool_size, pool_stride, y, argmax):
    """y (N, F, OH, OW), or its ReLU; with pool_size > 0, the ReLU max-pooled into
    y (N, F, PH, PW) and argmax. One kernel for both, so Numba compiles it once."""
    n, ch, h, width = x.shape
    f_count = w2.shape[0]
    length = (oh - 1) * width + ow
    xf = x.reshape(n, ch, h * width)
    for i in prange(n):
        acc = np.empty((f_count, oh * width), dtype=x.dtype)
        _wide_forward_one(xf[i], w2, b, width, kh, kw, length, acc)
        if pool_size:
            _relu_pool(acc, width, ow, pool_size, pool_stride, y[i], argmax[i])
        else:
            _unwiden(acc, width, relu, y[i])


@njit(cache=True)
def _unwiden(acc, width, relu, y):
    """y (F, OH, OW) from the wide rows of acc, or its ReLU (NaN -> 0, as _relu)."""
    for fi in range(y.shape[0]):
        for oy in range(y.shape[1]):
            row = acc[fi, oy * width : oy * width + y.shape[2]]
            for ox in range(y.shape[2]):
                y[fi, oy, ox] = row[ox] if not relu or row[ox] > 0 else 0


@njit(cache=True, fastmath=FASTMATH)
def _widen_grad(dy, mask, masked, width, g, db):
    """One sample: dy (F, OH, OW), gated by mask > 0 when masked, into the wide rows of g
    (zeros); db gets its sums per filter."""
    zero = g.dtype.type(0)
    for fi in range(dy.shape[0]):
        acc = 0.0  # float64; fastmath lets the sum vectorize (in a fixed order)
        for oy in range(dy.shape[1]):
            row = g[fi, oy * width : oy * width + dy.shape[2]]
            for ox in range(dy.shape[2]):
                v = dy[fi, oy, ox]
                v = v if not masked or mask[fi, oy, ox] > 0 else zero
                row[ox] = v
                acc += v
        db[fi] = acc


@njit(cache=True, parallel=True)
def _conv2d_backward_s1(dy, x, w2, kh, kw, oh, ow, need_dx, mask, masked, y, argmax, pooled,
                        dx, dw_per, db_per):
    """Per-sample dw_per (N, F, K) and db_per (N, F), summed in batch order by the caller, and
    dx. dy is the conv output's gradient, gated by mask > 0 when masked (a fused ReLU); or,
    when pooled, the gradient of _conv2d_forward_s1's pooled y with its argmax."""
    n, ch, h, width = x.shape
    f_count = w2.shape[0]
    length = (oh - 1) * width + ow
    xf = x.reshape(n, ch, h * width)
    dxf = dx.reshape(dx.shape[0], ch, -1)
    for i in prange(n):
        g = np.zeros((f_count, oh * width), dtype=x.dtype)
        if pooled:
            _unpool_grad(dy[i], y[i], argmax[i], ow, width, g, db_per[i])
        else:
            _widen_grad(dy[i], mask[i], masked, width, g, db_per[i])
        _wide_backward_one(g, xf[i], w2, width, kh, kw, length, need_dx, dxf[i], dw_per[i])


@njit(cache=True, fastmath=FASTMATH)
def _bias_grad(dy, db):
    """db[f] = sum of dy (N, F, OH, OW) over all but F, in float64 (vectorized: reassoc)."""
    n, f_count = dy.shape[0], dy.shape[1]
    flat = dy.reshape(n, f_count, -1)
    for fi in range(f_count):
        acc = 0.0
        for i in range(n):
            row = flat[i, fi]
            for q in range(row.size):
                acc += row[q]
        db[fi] = acc


def im2col(x: np.ndarray, kh: int, kw: int, stride: int = 1, padding: int = 0) -> np.ndarray:
    """x (N, C, H, W) -> cols (N, C*KH*KW, OH*OW): the patch under each output position."""
    x, kh, kw, stride, padding = c.im2col_args(x, kh, kw, stride, padding)
    n, ch, h, w = x.shape
    oh = (h + 2 * padding - kh) // stride + 1
    ow = (w + 2 * padding - kw) // stride + 1
    cols = np.empty((n, ch * kh * kw, oh * ow), dtype=x.dtype)
    _im2col(x, kh, kw, stride, padding, oh, ow, cols)
    return cols


def col2im(cols: np.ndarray, x_shape, kh: int, kw: int, stride: int = 1,
           padding: int = 0) -> np.ndarray:
    """The adjoint of :func:`im2col`: cols (N, C*KH*KW, OH*OW) -> dx (N, C, H, W)."""
    cols, x_shape, kh, kw, stride, padding = c.col2im_args(cols, x_shape, kh, kw, stride,
                                                           padding)
    n, ch, h, w = x_shape
    oh = (h + 2 * padding - kh) // stride + 1
    ow = (w + 2 * padding - kw) // stride + 1
    dx = np.empty(x_shape, dtype=cols.dtype)
    _col2im(cols, kh, kw, stride, padding, oh, ow, dx)
    return dx


def conv2d_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1,
                   padding: int = 0, relu: bool = False) -> np.ndarray:
    """Cross-correlation (as in PyTorch) with zero padding: y (N, F, OH, OW), or its ReLU."""
    x, w, b, stride, padding = c.conv2d_args(x, w, b, stride, padding)
    n, _, h, wd = x.shape
    f, _, kh, kw = w.shape
    oh = (h + 2 * padding - kh) // stride + 1
    ow = (wd + 2 * padding - kw) // stride + 1
    if stride == 1:
        y = np.empty((n, f, oh, ow), dtype=x.dtype)
        _conv2d_forward_s1(_pad(x, padding), w.reshape(f, -1), b, kh, kw, oh, ow, bool(relu), 0,
                           0, y, _NO_ARGMAX)
        return y
    y = np.empty((n, f, oh * ow), dtype=x.dtype)
    _conv2d_forward(x, w.reshape(f, -1), b, kh, kw, stride, padding, oh, ow, bool(relu), y)
    return y.reshape(n, f, oh, ow)


def _pad(x: np.ndarray, padding: int) -> np.ndarray:
    if padding == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))


def _crop(xp: np.ndarray, padding: int, h: int, w: int) -> np.ndarray:
    """The inverse of _pad: the (H, W) interior, contiguous."""
    if padding == 0:
        return xp
    return np.ascontiguousarray(xp[:, :, padding : padding + h, padding : padding + w])


def conv2d_backward(dy: np.ndarray, x: np.ndarray, w: np.ndarray, stride: int = 1,
                    padding: int = 0, input_grad: bool = True,
                    relu_output: np.ndarray | None = None):
    """dy (N, F, OH, OW) -> dx (N, C, H, W) or None without input_grad, dw, db.

    With ``relu_output`` (the output of a ReLU fused into this layer), dy is first gated by
    relu_output > 0: the ReLU's backward pass done here.
    """
    dy, x, w, stride, padding = c.conv2d_backward_args(dy, x, w, stride, padding)
    relu_output = c.relu_output_arg(relu_output, dy)
    n, f, oh, ow = dy.shape
    kh, kw = w.shape[2:]
    if stride == 1:
        masked = relu_output is not None
        return _backward_s1(dy, x, w, padding, oh, ow, input_grad,
                            relu_output if masked else dy, masked, dy, _NO_ARGMAX, False)
    dw_per = np.empty((n, f, w[0].size), dtype=x.dtype)
    if relu_output is not None:
        dy = relu_backward(dy, relu_output)
    db = np.empty(f, dtype=x.dtype)
    dx = np.empty_like(x) if input_grad else np.empty((n, 0, 0, 0), dtype=x.dtype)
    _conv2d_backward(dy.reshape(n, f, oh * ow), x, w.reshape(f, -1), kh, kw, stride, padding,
                     oh, ow, input_grad, dx, dw_per)
    _bias_grad(dy, db)
    return (dx if input_grad else None), _sum_batch(dw_per).reshape(w.shape), db


def _backward_s1(dy, x, w, padding, oh, ow, input_grad, mask, masked, y, argmax, pooled):
    """The stride-1 backward pass shared by conv2d_backward and its pooled variant (see
    _conv2d_backward_s1 for the arguments): dx or None, dw, db."""
    n, ch, h, wd = x.shape
    f, _, kh, kw = w.shape
    xp = _pad(x, padding)
    dxp = np.empty_like(xp) if input_grad else np.empty((n, ch, 1, 1), dtype=x.dtype)
    dw_per = np.empty((n, f, w[0].size), dtype=x.dtype)
    db_per = np.empty((n, f), dtype=np.float64)
    _conv2d_backward_s1(dy, xp, w.reshape(f, -1), kh, kw, oh, ow, input_grad, mask, masked, y,
                        argmax, pooled, dxp, dw_per, db_per)
    dx = _crop(dxp, padding, h, wd) if input_grad else None
    return dx, _sum_batch(dw_per).reshape(w.shape), _sum_batch(db_per).astype(x.dtype)


@njit(cache=True)
def _sum_batch_impl(a, out):
    out[:] = 0
    for i in range(a.shape[0]):
        out += a[i]


def _sum_batch(a: np.ndarray) -> np.ndarray:
    """Sum over the first axis in batch order (deterministic, unlike a threaded reduction)."""
    out = np.empty(a.shape[1:], dtype=a.dtype)
    _sum_batch_impl(a, out)
    return out


# --- max-pooling -------------------------------------------------------------------------------


@njit(cache=True, parallel=True)
def _maxpool_forward(x, size, stride, oh, ow, y, argmax):
    """Visits each window in row-major order, so ties keep the first maximum; a NaN replaces a
    number and is never replaced (NumPy's argmax). Selects rather than branches: on real data
    the comparisons are unpredictable."""
    w = x.shape[3]
    for i in prange(x.shape[0]):
        for ci in range(x.shape[1]):
            plane = x[i, ci]
            for oy in range(oh):
                y0 = oy * stride
                for ox in range(ow):
                    x0 = ox * stride
                    best, where = plane[y0, x0], y0 * w + x0
                    for dy_ in range(size):
                        row = plane[y0 + dy_]
                        for dx_ in range(size):
                            v = row[x0 + dx_]
                            take = (v > best) | ((v != v) & (best == best))
                            best = v if take else best
                            where = (y0 + dy_) * w + x0 + dx_ if take else where
                    y[i, ci, oy, ox] = best
                    argmax[i, ci, oy, ox] = where


@njit(cache=True, parallel=True)
def _maxpool_backward(dy, argmax, dx):
    n, ch, oh, ow = dy.shape
    for i in prange(n):
        for ci in range(ch):
            plane = dx[i, ci]
            plane[:] = 0
            for oy in range(oh):
                for ox in range(ow):
                    plane[argmax[i, ci, oy, ox]] += dy[i, ci, oy, ox]


def maxpool2d_forward(x: np.ndarray, size: int = 2, stride: int | None = 2):
    """x (N, C, H, W) -> y (N, C, OH, OW) and argmax (N, C, OH, OW) int64.

    argmax holds the winner's flat index ``h * W + w`` within its (H, W) plane; ties go to the
    first maximum in row-major order, and a NaN wins as in NumPy's argmax.
    """
    x, size, stride = c.pool_args(x, size, stride)
    n, ch, h, w = x.shape
    oh = (h - size) // stride + 1
    ow = (w - size) // stride + 1
    y = np.empty((n, ch, oh, ow), dtype=x.dtype)
    argmax = np.empty((n, ch, oh, ow), dtype=np.int64)
    _maxpool_forward(x, size, stride, oh, ow, y, argmax)
    return y, argmax


def maxpool2d_backward(dy: np.ndarray, argmax: np.ndarray, x_shape) -> np.ndarray:
    """Routes dy (N, C, OH, OW) to each window's winner; overlapping windows accumulate."""
    dy, argmax, x_shape = c.pool_backward_args(dy, argmax, x_shape)
    n, ch, h, w = x_shape
    dx = np.empty((n, ch, h * w), dtype=dy.dtype)
    _maxpool_backward(dy, argmax, dx)
    return dx.reshape(x_shape)


# --- Conv2D + ReLU + MaxPool2D in one pass ----------------------------------------------------
# The convolution's output stays in a per-sample scratch buffer and is pooled straight from it;
# only the pooled values and their argmax reach memory. Backward needs no more: the ReLU passes
# a window's gradient where its maximum is > 0, and the argmax says where it goes.


@njit(cache=True)
def _relu_pool(acc, width, ow, size, stride, y, argmax):
    """y (F, PH, PW) = windowed max of relu(conv output); row oy of filter f's output is at
    acc[f, oy*width:] (wide layout). argmax indexes the (OH, OW) planes; ties keep the first
    maximum. (A function of its own: inlined into the prange loop, it made the convolution
    before it 20% slower.)"""
    for fi in range(y.shape[0]):
        _relu_pool_plane(acc[fi], width, ow, size, stride, y[fi], argmax[fi])


@njit(cache=True, inline="always")
def _relu_pool_plane(acc, width, ow, size, stride, y, argmax):
    zero = acc.dtype.type(0)
    if size == 2 and stride == 2:  # the common case, unrolled
        for py in range(y.shape[0]):
            r0, o0 = 2 * py * width, 2 * py * ow
            for px in range(y.shape[1]):
                j, r1 = r0 + 2 * px, r0 + width + 2 * px
                a, b, c, d = acc[j], acc[j + 1], acc[r1], acc[r1 + 1]
                best, k = (a if a > 0 else zero), 0
                best, k = (b, 1) if b > best else (best, k)
                best, k = (c, ow) if c > best else (best, k)
                best, k = (d, ow + 1) if d > best else (best, k)
                y[py, px] = best
                argmax[py, px] = o0 + 2 * px + k
        return
    for py in range(y.shape[0]):
        y0 = py * stride
        for px in range(y.shape[1]):
            x0 = px * stride
            first = acc[y0 * width + x0]
            best, where = (first if first > 0 else zero), y0 * ow + x0  # relu: NaN -> 0
            for dy_ in range(size):
                base = (y0 + dy_) * width + x0
                for dx_ in range(size):
                    v = acc[base + dx_]
                    take = v > best
                    best = v if take else best
                    where = (y0 + dy_) * ow + x0 + dx_ if take else where
            y[py, px] = best
            argmax[py, px] = where


@njit(cache=True, fastmath=FASTMATH)
def _unpool_grad(dy, y, argmax, ow, width, g, db):
    """One sample: dy (F, PH, PW) where y > 0, routed to argmax in the wide rows of g; db gets
    its sums per filter."""
    for fi in range(dy.shape[0]):
        acc = 0.0
        for py in range(dy.shape[1]):
            for px in range(dy.shape[2]):
                if y[fi, py, px] > 0:
                    v = dy[fi, py, px]
                    oy, ox = divmod(argmax[fi, py, px], ow)
                    g[fi, oy * width + ox] += v
                    acc += v
        db[fi] = acc


def conv2d_relu_maxpool_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1,
                                padding: int = 0, pool_size: int = 2,
                                pool_stride: int | None = None):
    """Conv2D, ReLU and MaxPool2D in one call: y (N, F, PH, PW) and argmax into the conv
    output's (OH, OW) planes, as maxpool2d_forward on relu(conv2d_forward(x, w, b))."""
    x, w, b, stride, padding, pool_size, pool_stride = c.conv_pool_args(
        x, w, b, stride, padding, pool_size, pool_stride)
    if stride != 1:
        return maxpool2d_forward(conv2d_forward(x, w, b, stride, padding, relu=True), pool_size,
                                 pool_stride)
    xp = _pad(x, padding)
    n, _, h, wd = xp.shape
    f, _, kh, kw = w.shape
    oh, ow = h - kh + 1, wd - kw + 1
    shape = (n, f, (oh - pool_size) // pool_stride + 1, (ow - pool_size) // pool_stride + 1)
    y, argmax = np.empty(shape, dtype=x.dtype), np.empty(shape, dtype=np.int64)
    _conv2d_forward_s1(xp, w.reshape(f, -1), b, kh, kw, oh, ow, True, pool_size, pool_stride, y,
                       argmax)
    return y, argmax


def conv2d_relu_maxpool_backward(dy: np.ndarray, y: np.ndarray, argmax: np.ndarray,
                                 x: np.ndarray, w: np.ndarray, stride: int = 1, padding: int = 0,
                                 input_grad: bool = True):
    """dy (N, F, PH, PW) on the pooled output y -> dx (or None), dw, db.

    The ReLU passes a window's gradient where its maximum y is > 0; the pool routes it to the
    argmax; the convolution's backward does the rest.
    """
    dy, y, argmax, x, w, stride, padding, conv_shape = c.conv_pool_backward_args(
        dy, y, argmax, x, w, stride, padding)
    if stride != 1:
        dconv = maxpool2d_backward(np.where(y > 0, dy, 0).astype(dy.dtype), argmax, conv_shape)
        return conv2d_backward(dconv, x, w, stride, padding, input_grad)
    return _backward_s1(dy, x, w, padding, conv_shape[2], conv_shape[3], input_grad, dy, False,
                        y, argmax, True)


# --- activations -------------------------------------------------------------------------------


@njit(cache=True)
def _relu(x, y):
    for i in range(x.size):
        y[i] = x[i] if x[i] > 0 else 0


@njit(cache=True)
def _relu_backward(dy, x, dx):
    for i in range(x.size):
        dx[i] = dy[i] if x[i] > 0 else 0


@njit(cache=True)
def _sigmoid(x, y):
    for i in range(x.size):
        v = x[i]
        if v >= 0:
            y[i] = 1 / (1 + np.exp(-v))
        else:
            e = np.exp(v)
            y[i] = e / (1 + e)


@njit(cache=True)
def _sigmoid_backward(dy, y, dx):
    for i in range(y.size):
        dx[i] = dy[i] * y[i] * (1 - y[i])


@njit(cache=True)
def _tanh(x, y):
    for i in range(x.size):
        y[i] = np.tanh(x[i])


@njit(cache=True)
def _tanh_backward(dy, y, dx):
    for i in range(y.size):
        dx[i] = dy[i] * (1 - y[i] * y[i])


def _unary(kernel, x: np.ndarray) -> np.ndarray:
    x = c.unary_args(x)
    y = np.empty_like(x)
    kernel(x.reshape(-1), y.reshape(-1))
    return y


def _unary_backward(kernel, dy: np.ndarray, x: np.ndarray, name: str) -> np.ndarray:
    dy, x = c.unary_backward_args(dy, x, name)
    dx = np.empty_like(dy)
    kernel(dy.reshape(-1), x.reshape(-1), dx.reshape(-1))
    return dx


def relu_forward(x: np.ndarray) -> np.ndarray:
    return _unary(_relu, x)


def relu_backward(dy: np.ndarray, x: np.ndarray) -> np.ndarray:
    """dx = dy where x > 0, else 0 (x is the ReLU's input)."""
    return _unary_backward(_relu_backward, dy, x, "x")


def sigmoid_forward(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)), computed without overflow for inputs of any size."""
    return _unary(_sigmoid, x)


def sigmoid_backward(dy: np.ndarray, y: np.ndarray) -> np.ndarray:
    """dx = dy * y * (1 - y), where y is the sigmoid's output."""
    return _unary_backward(_sigmoid_backward, dy, y, "y")


def tanh_forward(x: np.ndarray) -> np.ndarray:
    return _unary(_tanh, x)


def tanh_backward(dy: np.ndarray, y: np.ndarray) -> np.ndarray:
    """dx = dy * (1 - y**2), where y is the tanh's output."""
    return _unary_backward(_tanh_backward, dy, y, "y")


# --- losses ------------------------------------------------------------------------------------


@njit(cache=True)
def _softmax(logits, p):
    n, k = logits.shape
    for i in range(n):
        m = logits[i, 0]
        for j in range(1, k):
            m = max(m, logits[i, j])
        s = 0.0
        for j in range(k):
            e = math.exp(logits[i, j] - m)
            p[i, j] = e
            s += e
        for j in range(k):
            p[i, j] /= s


@njit(cache=True)
def _softmax_cross_entropy(logits, labels, dlogits):
    n, k = logits.shape
    loss = 0.0
    for i in range(n):
        m = logits[i, 0]
        for j in range(1, k):
            m = max(m, logits[i, j])
        s = 0.0
        for j in range(k):
            s += math.exp(logits[i, j] - m)
        log_s = math.log(s)
        loss += log_s - (logits[i, labels[i]] - m)
        for j in range(k):
            dlogits[i, j] = math.exp(logits[i, j] - m - log_s) / n
        dlogits[i, labels[i]] -= 1.0 / n
    return loss / n


@njit(cache=True)
def _bce_with_logits(z, t, dz):
    n = z.size
    loss = 0.0
    for i in range(n):
        zi = float(z[i])
        ti = float(t[i])
        e = math.exp(-abs(zi))
        loss += max(zi, 0.0) - zi * ti + math.log1p(e)
        sig = 1.0 / (1.0 + e) if zi >= 0 else e / (1.0 + e)
        dz[i] = (sig - ti) / n
    return loss / n


@njit(cache=True)
def _multiclass_hinge(logits, labels, margin, dlogits):
    n, k = logits.shape
    loss = 0.0
    dlogits[:] = 0
    for i in range(n):
        y = labels[i]
        for j in range(k):
            if j == y:
                continue
            m = logits[i, j] - logits[i, y] + margin
            if m > 0:
                loss += m
                dlogits[i, j] += 1.0 / n
                dlogits[i, y] -= 1.0 / n
    return loss / n


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of logits (N, K), stable for logits of any size."""
    logits = c.floats("logits", logits, 2)
    p = np.empty_like(logits)
    _softmax(logits, p)
    return p


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray):
    """Mean cross-entropy of softmax(logits) (N, K) against int labels (N,) -> (loss, dlogits)."""
    logits, labels = c.labels_args(logits, labels)
    dlogits = np.empty_like(logits)
    loss = _softmax_cross_entropy(logits, labels, dlogits)
    return logits.dtype.type(loss), dlogits


def binary_cross_entropy_with_logits(logits: np.ndarray, targets: np.ndarray):
    """Mean binary cross-entropy of sigmoid(logits) against targets, same shape."""
    logits, targets = c.binary_args(logits, targets)
    dlogits = np.empty_like(logits)
    loss = _bce_with_logits(logits.reshape(-1), targets.reshape(-1), dlogits.reshape(-1))
    return logits.dtype.type(loss), dlogits


def multiclass_hinge(logits: np.ndarray, labels: np.ndarray, margin: float = 1.0):
    """Mean over rows of sum_{j != y} max(0, z_j - z_y + margin); returns (loss, dlogits)."""
    logits, labels = c.labels_args(logits, labels)
    margin = c.number("margin", margin)
    dlogits = np.empty_like(logits)
    loss = _multiclass_hinge(logits, labels, margin, dlogits)
    return logits.dtype.type(loss), dlogits


# --- optimizer updates (in place) --------------------------------------------------------------


# Updates of large arrays run under prange: besides using both cores, the parallel loop body
# is what LLVM vectorizes here (the serial loop over four arrays stays scalar, 14x slower).
# Small arrays (biases, small filters) take the serial loop: waking a thread costs more.
PARALLEL_MIN = 16384


@njit(cache=True, inline="always", fastmath=FASTMATH)
def _sgd_at(i, p, g, v, lr, momentum, weight_decay, use_velocity):
    gi = g[i] + weight_decay * p[i]
    if use_velocity:
        v[i] = momentum * v[i] + gi
        gi = v[i]
    p[i] -= lr * gi


@njit(cache=True, inline="always", fastmath=FASTMATH)
def _adam_at(i, p, g, m, v, step, beta1, beta2, eps, weight_decay, sqrt_c2):
    """Constants arrive in p's dtype so the arithmetic stays in that precision."""
    one = p.dtype.type(1)
    gi = g[i] + weight_decay * p[i]
    m[i] = beta1 * m[i] + (one - beta1) * gi
    v[i] = beta2 * v[i] + (one - beta2) * gi * gi
    p[i] -= step * m[i] / (np.sqrt(v[i]) / sqrt_c2 + eps)


@njit(cache=True, parallel=True, fastmath=FASTMATH)
def _sgd_parallel(p, g, v, lr, momentum, weight_decay, use_velocity):
    for i in prange(p.size):
        _sgd_at(i, p, g, v, lr, momentum, weight_decay, use_velocity)


@njit(cache=True, fastmath=FASTMATH)
def _sgd_serial(p, g, v, lr, momentum, weight_decay, use_velocity):
    for i in range(p.size):
        _sgd_at(i, p, g, v, lr, momentum, weight_decay, use_velocity)


@njit(cache=True, parallel=True, fastmath=FASTMATH)
def _adam_parallel(p, g, m, v, step, beta1, beta2, eps, weight_decay, sqrt_c2):
    for i in prange(p.size):
        _adam_at(i, p, g, m, v, step, beta1, beta2, eps, weight_decay, sqrt_c2)


# error_model="numpy": no ZeroDivisionError check in the loop, so the division vectorizes.
@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _adam_serial(p, g, m, v, step, beta1, beta2, eps, weight_decay, sqrt_c2):
    for i in range(p.size):
        _adam_at(i, p, g, m, v, step, beta1, beta2, eps, weight_decay, sqrt_c2)


# One call updates every array: the dispatch is paid once, not once per array. (Take the
# arrays out of the tuples one statement at a time: Numba 0.68 lost the writes to p in the
# prange loop after ``p, g, m, v = ps[k], gs[k], ms[k], vs[k]``.)


@njit(cache=True, parallel=True, fastmath=FASTMATH)
def _sgd_many(ps, gs, vs, lr, momentum, weight_decay, use_velocity):
    for k in range(len(ps)):
        p = ps[k]
        g = gs[k]
        v = vs[k]
        if p.size >= PARALLEL_MIN:
            for i in prange(p.size):
                _sgd_at(i, p, g, v, lr, momentum, weight_decay, use_velocity)
        else:
            for i in range(p.size):
                _sgd_at(i, p, g, v, lr, momentum, weight_decay, use_velocity)


@njit(cache=True, parallel=True, fastmath=FASTMATH, error_model="numpy")
def _adam_many(ps, gs, ms, vs, step, beta1, beta2, eps, weight_decay, sqrt_c2):
    for k in range(len(ps)):
        p = ps[k]
        g = gs[k]
        m = ms[k]
        v = vs[k]
        if p.size >= PARALLEL_MIN:
            for i in prange(p.size):
                _adam_at(i, p, g, m, v, step, beta1, beta2, eps, weight_decay, sqrt_c2)
        else:
            for i in range(p.size):
                _adam_at(i, p, g, m, v, step, beta1, beta2, eps, weight_decay, sqrt_c2)


def _flat(arrays) -> tuple:
    """1-D views of C-contiguous arrays, as one tuple: a single Numba argument."""
    return tuple(a.reshape(-1) for a in arrays)


def sgd_update(param: np.ndarray, grad: np.ndarray, velocity: np.ndarray | None, lr: float,
               momentum: float = 0.0, weight_decay: float = 0.0) -> None:
    """param -= lr * v with v = momentum * v + (grad + weight_decay * param), in place."""
    grad = c.update_args(param, grad, ("velocity", velocity))
    lr, momentum = c.number("lr", lr), c.number("momentum", momentum)
    weight_decay = c.number("weight_decay", weight_decay)
    if momentum and velocity is None:
        raise ValueError("sgd_update with momentum needs a velocity array")
    dt = param.dtype.type
    v = param.reshape(-1) if velocity is None else velocity.reshape(-1)
    update = _sgd_parallel if param.size >= PARALLEL_MIN else _sgd_serial
    update(param.reshape(-1), grad.reshape(-1), v, dt(lr), dt(momentum), dt(weight_decay),
           velocity is not None)


def adam_update(param: np.ndarray, grad: np.ndarray, m: np.ndarray, v: np.ndarray, t: int,
                lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                weight_decay: float = 0.0) -> None:
    """One Adam step with bias correction, in place on param, m and v; t counts from 1."""
    grad = c.update_args(param, grad, ("m", m), ("v", v))
    constants = _adam_constants(param.dtype, t, lr, beta1, beta2, eps, weight_decay)
    update = _adam_parallel if param.size >= PARALLEL_MIN else _adam_serial
    update(param.reshape(-1), grad.reshape(-1), m.reshape(-1), v.reshape(-1), *constants)


def _adam_constants(dtype, t, lr, beta1, beta2, eps, weight_decay) -> tuple:
    """The checked hyper-parameters in the kernels' order, in the parameters' dtype."""
    t = c.integer("t", t, 1)
    lr, eps = c.number("lr", lr), c.number("eps", eps)
    beta1, beta2 = c.number("beta1", beta1), c.number("beta2", beta2)
    weight_decay = c.number("weight_decay", weight_decay)
    dt = dtype.type
    return (dt(lr / (1 - beta1**t)), dt(beta1), dt(beta2), dt(eps), dt(weight_decay),
            dt(math.sqrt(1 - beta2**t)))


def sgd_update_many(params: Sequence[np.ndarray], grads: Sequence[np.ndarray],
                    velocities: Sequence[np.ndarray] | None, lr: float, momentum: float = 0.0,
                    weight_decay: float = 0.0) -> None:
    """sgd_update on every (param, grad, velocity); velocities may be None without momentum."""
    grads = c.update_many_args(params, grads, ("velocities", velocities))
    lr, momentum = c.number("lr", lr), c.number("momentum", momentum)
    weight_decay = c.number("weight_decay", weight_decay)
    if momentum and velocities is None:
        raise ValueError("sgd_update_many with momentum needs velocity arrays")
    if not len(params):
        return
    dt = params[0].dtype.type
    vs = params if velocities is None else velocities
    _sgd_many(_flat(params), _flat(grads), _flat(vs), dt(lr), dt(momentum), dt(weight_decay),
              velocities is not None)


def adam_update_many(params: Sequence[np.ndarray], grads: Sequence[np.ndarray],
                     ms: Sequence[np.ndarray], vs: Sequence[np.ndarray], t: int,
                     lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                     eps: float = 1e-8, weight_decay: float = 0.0) -> None:
    """adam_update on every (param, grad, m, v): one optimizer step for a whole model, in one
    call (a call per array costs about 11 us of dispatch each)."""
    grads = c.update_many_args(params, grads, ("ms", ms), ("vs", vs))
    dtype = params[0].dtype if len(params) else np.dtype(np.float64)
    constants = _adam_constants(dtype, t, lr, beta1, beta2, eps, weight_decay)
    if len(params):
        _adam_many(_flat(params), _flat(grads), _flat(ms), _flat(vs), *constants)
