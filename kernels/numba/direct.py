"""Direct stride-1 convolution on "wide" rows, with the epilogues that fusion needs.

Why this algorithm: with few channels (the MNIST CNN's 1 and 8) an im2col matrix is mostly
copies of the input, and a GEMM over K = C*KH*KW = 25..200 is too thin to reach the BLAS peak.
Working on the image itself keeps one sample's data in cache and costs no copies.

On the image flattened to (C, H*W), the kernel tap (c, ky, kx) is the row c shifted by
ky*W + kx, so each tap is one contiguous slice over L = (OH-1)*W + OW "wide" positions
j = oy*W + ox. Positions with ox >= OW are computed and dropped (forward) or carry zero
gradient (backward). The inner loops combine 8 taps (or 8 filters) per load and store of an
accumulator row, and two filters per tap load, which lifts them from load/store-bound towards
the multiply-add throughput.

Epilogues run on each sample's wide output while it is in cache: ReLU, a per-channel affine
(batch norm in inference), per-sample channel sums (batch-norm statistics), or ReLU followed by
max-pooling. The backward pass takes the conv output's gradient as ``k1*dy + k2*m + k3`` per
channel, gated by ``m > 0`` (``m`` a fused ReLU's output): a plain ReLU is (1, 0, 0), and batch
norm's backward through its batch statistics has this form too.

Work is split by sample under ``prange``; per-sample weight gradients and statistics are summed
in batch order, so results do not depend on the thread count.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..geometry import crop, pad
from ._common import FASTMATH, add_combination, sum_batch


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
        add_combination(_tap(dxf, t, kh, kw, width, length), w2[:, t], g)


@njit(cache=True, parallel=True)
def _forward(x, w2, b, kh, kw, oh, ow, relu, scale, shift, stats, pool_size, pool_stride,
             y, argmax, sums):
    """x (N, C, H, W) padded -> y (N, F, OH, OW) = scale * (conv or its ReLU) + shift, and with
    ``stats`` each sample's channel sums and sums of squares in sums (N, F, 2); or, with
    pool_size > 0, the ReLU max-pooled into y (N, F, PH, PW) and argmax. One kernel for all,
    so Numba compiles it once."""
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
            _unwiden(acc, width, relu, scale, shift, stats, y[i], sums[i])


@njit(cache=True)
def _bias_epilogue(acc, b, width, ow, relu, scale, shift, stats, pool_size, pool_stride, y,
                   argmax, sums):
    """One sample's wide output acc (F, OH*W) of the GEMM-based kernels: plus the bias, then
    ReLU + max-pool into y and argmax, or _unwiden into y and sums."""
    for fi in range(acc.shape[0]):
        acc[fi] += b[fi]
    if pool_size:
        _relu_pool(acc, width, ow, pool_size, pool_stride, y, argmax)
    else:
        _unwiden(acc, width, relu, scale, shift, stats, y, sums)


@njit(cache=True, fastmath=FASTMATH)
def _unwiden(acc, width, relu, scale, shift, stats, y, sums):
    """y (F, OH, OW) = scale * (the wide rows of acc, or their ReLU) + shift; ReLU turns NaN
    into 0 as _relu does. With stats, sums[f] = (sum, sum of squares) of the unscaled values."""
    for fi in range(y.shape[0]):
        s, ss = 0.0, 0.0
        a, c = scale[fi], shift[fi]
        for oy in range(y.shape[1]):
            row = acc[fi, oy * width : oy * width + y.shape[2]]
            out = y[fi, oy]
            for ox in range(y.shape[2]):
                v = row[ox] if not relu or row[ox] > 0 else 0
                out[ox] = a * v + c
                s += v
                ss += v * v
        if stats:
            sums[fi, 0] = s
            sums[fi, 1] = ss
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


@njit(cache=True, fastmath=FASTMATH)
def _widen_grad(dy, mask, masked, k1, k2, k3, width, g, db):
    """One sample: v = k1*dy + k2*mask + k3 per channel, zero where masked and mask <= 0, into
    the wide rows of g (zeros); db gets its sums per filter."""
    zero = g.dtype.type(0)
    for fi in range(dy.shape[0]):
        a, b, c = k1[fi], k2[fi], k3[fi]
        acc = 0.0  # float64; fastmath lets the sum vectorize (in a fixed order)
        for oy in range(dy.shape[1]):
            row = g[fi, oy * width : oy * width + dy.shape[2]]
            for ox in range(dy.shape[2]):
                m = mask[fi, oy, ox]
                v = a * dy[fi, oy, ox] + b * m + c
                v = v if not masked or m > 0 else zero
                row[ox] = v
                acc += v
        db[fi] = acc


@njit(cache=True, parallel=True)
def _backward(dy, x, w2, kh, kw, oh, ow, need_dx, mask, masked, k1, k2, k3, y, argmax, pooled,
              dx, dw_per, db_per):
    """Per-sample dw_per (N, F, K) and db_per (N, F), summed in batch order by the caller, and
    dx. The conv output's gradient is k1*dy + k2*mask + k3, gated by mask > 0 when masked; or,
    when pooled, dy is the gradient of _forward's pooled y with its argmax."""
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
            _widen_grad(dy[i], mask[i], masked, k1, k2, k3, width, g, db_per[i])
        _wide_backward_one(g, xf[i], w2, width, kh, kw, length, need_dx, dxf[i], dw_per[i])


# --- entry points (arguments checked by the caller; x unpadded, w (F, C, KH, KW)) -------------

_NONE4 = np.zeros((1, 1, 1, 1), dtype=np.int64)  # an unused argmax


def _kernels(algorithm):
    """The (forward, backward) kernels of ``algorithm``: "direct" (this module) or "gemm"
    (:mod:`.gemm`, built on this module's epilogues and prologues, so imported here)."""
    if algorithm == "gemm":
        from . import gemm

        return gemm.forward, gemm.backward
    assert algorithm == "direct", algorithm
    return _forward, _backward


def _winograd():
    from . import winograd  # built on this module's epilogues and prologues

    return winograd


def _run_forward(x, w, b, padding, relu, scale, shift, stats, pool_size, pool_stride,
                 algorithm="direct"):
    n, _, h, wd = x.shape
    f, _, kh, kw = w.shape
    oh, ow = h + 2 * padding - kh + 1, wd + 2 * padding - kw + 1
    if pool_size:
        shape = (n, f, (oh - pool_size) // pool_stride + 1, (ow - pool_size) // pool_stride + 1)
    else:
        shape = (n, f, oh, ow)
    y = np.empty(shape, dtype=x.dtype)
    argmax = np.empty(shape if pool_size else (n, 1, 1, 1), dtype=np.int64)
    sums = np.empty((n, f if stats else 1, 2))  # sums[i] of every sample is a valid view
    one, zero = np.ones(f, dtype=x.dtype), np.zeros(f, dtype=x.dtype)
    scale = one if scale is None else scale
    shift = zero if shift is None else shift
    if algorithm == "winograd":  # pads each sample in its own scratch
        _winograd().forward(x, padding, w.reshape(f, -1), b, oh, ow, relu, scale, shift, stats,
                            pool_size, pool_stride, y, argmax, sums)
    else:
        _kernels(algorithm)[0](pad(x, padding), w.reshape(f, -1), b, kh, kw, oh, ow, relu,
                               scale, shift, stats, pool_size, pool_stride, y, argmax, sums)
    return y, argmax, sums


def conv_forward(x, w, b, padding, relu, scale=None, shift=None, algorithm="direct"):
    """y (N, F, OH, OW) = scale * conv(x) (or its ReLU) + shift, per channel when given.

    The entry points here take ``algorithm``, "direct", "gemm" or "winograd": they share the
    wide layout and every epilogue and prologue, and differ in the core only."""
    return _run_forward(x, w, b, padding, relu, scale, shift, False, 0, 0, algorithm)[0]


def conv_relu_stats_forward(x, w, b, padding, algorithm="direct"):
    """y = relu(conv(x)) (N, F, OH, OW) and its per-channel mean and (biased) variance, summed
    in float64 in batch order."""
    y, _, sums = _run_forward(x, w, b, padding, True, None, None, True, 0, 0, algorithm)
    count = y.shape[0] * y.shape[2] * y.shape[3]
    total = sum_batch(sums)
    mean = total[:, 0] / count
    var = np.maximum(total[:, 1] / count - mean * mean, 0.0)
    return y, mean.astype(x.dtype), var.astype(x.dtype)


def conv_relu_pool_forward(x, w, b, padding, pool_size, pool_stride, algorithm="direct"):
    """relu(conv(x)) max-pooled: y (N, F, PH, PW) and argmax into the (OH, OW) planes."""
    y, argmax, _ = _run_forward(x, w, b, padding, True, None, None, False, pool_size,
                                pool_stride, algorithm)
    return y, argmax


def _run_backward(dy, x, w, padding, oh, ow, input_grad, mask, masked, k, y, argmax, pooled,
                  algorithm="direct"):
    n, ch, h, wd = x.shape
    f, _, kh, kw = w.shape
    db_per = np.empty((n, f), dtype=np.float64)
    if k is None:
        k = np.ones(f, dtype=x.dtype), np.zeros(f, dtype=x.dtype), np.zeros(f, dtype=x.dtype)
    if algorithm == "winograd":  # pads and crops each sample in its own scratch
        dx = np.empty_like(x) if input_grad else np.empty((n, ch, 1, 1), dtype=x.dtype)
        dw = _winograd().backward(dy, x, padding, w.reshape(f, -1), oh, ow, input_grad, mask,
                                  masked, *k, y, argmax, pooled, dx, db_per)
    else:
        xp = pad(x, padding)
        dx = np.empty_like(xp) if input_grad else np.empty((n, ch, 1, 1), dtype=x.dtype)
        dw_per = np.empty((n, f, w[0].size), dtype=x.dtype)
        _kernels(algorithm)[1](dy, xp, w.reshape(f, -1), kh, kw, oh, ow, input_grad, mask,
                               masked, *k, y, argmax, pooled, dx, dw_per, db_per)
        dx = crop(dx, padding, h, wd) if input_grad else None
        dw = sum_batch(dw_per)
    return (dx if input_grad else None, dw.reshape(w.shape), sum_batch(db_per).astype(x.dtype))


def conv_backward(dy, x, w, padding, input_grad, mask=None, k=None, algorithm="direct"):
    """dx (or None), dw, db for dy (N, F, OH, OW) on the conv output, first turned into
    k1*dy + k2*mask + k3 per channel (k = (k1, k2, k3), default (1, 0, 0)) and gated by
    mask > 0 when a mask (a fused ReLU's output) is given."""
    masked = mask is not None
    return _run_backward(dy, x, w, padding, dy.shape[2], dy.shape[3], input_grad,
                         mask if masked else dy, masked, k, dy, _NONE4, False, algorithm)


def conv_relu_pool_backward(dy, y, argmax, x, w, padding, oh, ow, input_grad,
                            algorithm="direct"):
    """dx (or None), dw, db for dy (N, F, PH, PW) on conv_relu_pool_forward's output y."""
    return _run_backward(dy, x, w, padding, oh, ow, input_grad, dy, False, None, y, argmax, True,
                         algorithm)
