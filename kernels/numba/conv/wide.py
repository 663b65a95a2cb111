"""The "wide" layout that the stride-1 convolution algorithms share, and their driver.

On the padded image flattened to (C, H*W), the kernel tap t = (c, ky, kx) is the row c shifted
by ky*W + kx, so each tap is one contiguous slice over L = (OH-1)*W + OW "wide" positions
j = oy*W + ox (:func:`tap`). Positions with ox >= OW are computed and dropped (forward) or carry
zero gradient (backward). Every algorithm here (:mod:`.direct`, :mod:`.gemm`, :mod:`.winograd`)
computes each sample's output in rows of that layout, and this module does the rest:

- epilogues, on each sample's wide output while it is in cache: plus the bias
  (:func:`bias_epilogue`), then ReLU, a per-channel affine (batch norm in inference), per-sample
  channel sums (batch-norm statistics) (:func:`unwiden`), or ReLU followed by max-pooling
  (:func:`relu_pool`);
- prologues, which make the wide output gradient from dy: ``k1*dy + k2*m + k3`` per channel,
  gated by ``m > 0`` (``m`` a fused ReLU's output; a plain ReLU is (1, 0, 0), and batch norm's
  backward through its batch statistics has this form too) (:func:`widen_grad`), or a pooled
  gradient routed to its argmax (:func:`unpool_grad`);
- the driver: the entry points below allocate the outputs, run one algorithm's core and reduce
  the per-sample sums in batch order, so results do not depend on the thread count.

An algorithm's core is a pair of functions (the rows of :data:`.ALGORITHMS`) with these
arguments, all positional, x and dx unpadded (each core pads as it needs):

``forward(x, padding, w2, b, kh, kw, oh, ow, relu, scale, shift, stats, pool_size, pool_stride,
y, argmax, sums)`` fills y, argmax and sums:

    x (N, C, H, W); padding (zeros each side); w2 (F, C*KH*KW) the weights; b (F,) the bias;
    kh, kw the kernel; oh, ow the output size; relu (bool); scale, shift (F,) the affine after
    the ReLU; stats (bool) whether to fill sums; pool_size, pool_stride (0, 0 when not pooled);
    y (N, F, OH, OW), or (N, F, PH, PW) when pooled; argmax (N, F, PH, PW) int64 when pooled,
    else unused; sums (N, F, 2) float64 with stats, else unused (N, 1, 2).

``backward(dy, x, padding, w2, kh, kw, oh, ow, need_dx, mask, masked, k1, k2, k3, y, argmax,
pooled, db_per)`` returns (dx (N, C, H, W) or None, dw (F, C*KH*KW)) and fills db_per:

    dy (N, F, OH, OW), or (N, F, PH, PW) when pooled; x, padding, w2, kh, kw, oh, ow as above;
    need_dx (bool); mask (N, F, OH, OW) a fused ReLU's output (dy when not masked); masked
    (bool); k1, k2, k3 (F,) the prologue's coefficients; y, argmax (N, F, PH, PW) the pooled
    output and its argmax when pooled, else unused; pooled (bool); db_per (N, F) float64, each
    sample's bias gradient.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ...geometry import crop, out_hw, pad
from .._common import FASTMATH, sum_batch
from ..pool import _takes  # a NaN wins a max, as in NumPy and the pool kernels


@njit(cache=True, inline="always")
def taps8(xf, t, kh, kw, width, length):
    """The slices of taps t..t+7, see tap."""
    return (tap(xf, t, kh, kw, width, length), tap(xf, t + 1, kh, kw, width, length),
            tap(xf, t + 2, kh, kw, width, length), tap(xf, t + 3, kh, kw, width, length),
            tap(xf, t + 4, kh, kw, width, length), tap(xf, t + 5, kh, kw, width, length),
            tap(xf, t + 6, kh, kw, width, length), tap(xf, t + 7, kh, kw, width, length))


@njit(cache=True, inline="always")
def tap(xf, t, kh, kw, width, length):
    """xf[c, off : off + length] for tap t = (c*KH + ky)*KW + kx, off = ky*W + kx."""
    c, r = divmod(t, kh * kw)
    off = (r // kw) * width + r % kw
    return xf[c, off : off + length]


@njit(cache=True)
def bias_epilogue(acc, b, width, ow, relu, scale, shift, stats, pool_size, pool_stride, y,
                   argmax, sums):
    """One sample's wide output acc of the GEMM-based kernels: plus the bias, then ReLU +
    max-pool into y and argmax (:func:`relu_pool`), or :func:`unwiden` into y and sums.

    Arguments (positional):
    acc : (F, >= (OH-1)*width + OW) the wide output (changed: the bias is added in place)
    b : (F,) the bias
    width : the wide rows' stride (the padded input's width)
    ow : the output's width
    relu, scale, shift, stats, pool_size, pool_stride : as in the core's forward
    y : (F, OH, OW) output, or (F, PH, PW) when pooled
    argmax : (F, PH, PW) int64 output when pooled, else unused
    sums : (F, 2) float64 output with stats, else unused
    """
    for fi in range(acc.shape[0]):
        acc[fi] += b[fi]
    if pool_size:
        relu_pool(acc, width, ow, pool_size, pool_stride, y, argmax)
    else:
        unwiden(acc, width, relu, scale, shift, stats, y, sums)


@njit(cache=True, fastmath=FASTMATH)
def unwiden(acc, width, relu, scale, shift, stats, y, sums):
    """y = scale * (the wide rows of acc, or their ReLU) + shift; ReLU turns NaN into 0 as
    _relu does. With stats, sums[f] = (sum, sum of squares) of the values before the affine.

    Arguments (positional):
    acc : (F, >= (OH-1)*width + OW) one sample's wide output
    width : the wide rows' stride
    relu : bool
    scale, shift : (F,) the affine
    stats : bool, fill sums
    y : (F, OH, OW) output
    sums : (F, 2) float64 output with stats, else unused
    """
    for fi in range(y.shape[0]):
        s, ss = 0.0, 0.0
        a, c = scale[fi], shift[fi]
        for oy in range(y.shape[1]):
            row = acc[fi, oy * width : oy * width + y.shape[2]]
            out = y[fi, oy]
            for ox in range(y.shape[2]):
                v = 0 if relu and row[ox] <= 0 else row[ox]  # as _relu: a NaN passes
                out[ox] = a * v + c
                s += v
                ss += v * v
        if stats:
            sums[fi, 0] = s
            sums[fi, 1] = ss


@njit(cache=True)
def relu_pool(acc, width, ow, size, stride, y, argmax):
    """y (F, PH, PW) = windowed max of relu(conv output); row oy of filter f's output is at
    acc[f, oy*width:] (wide layout). argmax indexes the (OH, OW) planes; ties keep the first
    maximum. (A function of its own: inlined into the prange loop, it made the convolution
    before it 20% slower.)"""
    for fi in range(y.shape[0]):
        relu_pool_plane(acc[fi], width, ow, size, stride, y[fi], argmax[fi])


@njit(cache=True, inline="always")
def relu_pool_plane(acc, width, ow, size, stride, y, argmax):
    zero = acc.dtype.type(0)
    if size == 2 and stride == 2:  # the common case, unrolled
        for py in range(y.shape[0]):
            r0, o0 = 2 * py * width, 2 * py * ow
            for px in range(y.shape[1]):
                j, r1 = r0 + 2 * px, r0 + width + 2 * px
                a, b, c, d = acc[j], acc[j + 1], acc[r1], acc[r1 + 1]
                best, k = (zero if a <= 0 else a), 0  # relu, then the pool's max: a NaN wins
                best, k = (b, 1) if _takes(b, best) else (best, k)
                best, k = (c, ow) if _takes(c, best) else (best, k)
                best, k = (d, ow + 1) if _takes(d, best) else (best, k)
                y[py, px] = best
                argmax[py, px] = o0 + 2 * px + k
        return
    for py in range(y.shape[0]):
        y0 = py * stride
        for px in range(y.shape[1]):
            x0 = px * stride
            first = acc[y0 * width + x0]
            best, where = (zero if first <= 0 else first), y0 * ow + x0  # relu: NaN passes
            for dy_ in range(size):
                base = (y0 + dy_) * width + x0
                for dx_ in range(size):
                    v = acc[base + dx_]
                    take = _takes(v, best)
                    best = v if take else best
                    where = (y0 + dy_) * ow + x0 + dx_ if take else where
            y[py, px] = best
            argmax[py, px] = where


@njit(cache=True, fastmath=FASTMATH)
def unpool_grad(dy, y, argmax, ow, width, g, db):
    """One sample: dy where y > 0, routed to argmax in the wide rows of g; db gets its sums
    per filter.

    Arguments (positional):
    dy : (F, PH, PW) the pooled output's gradient
    y : (F, PH, PW) the pooled output (relu'd: > 0 where the gradient passes)
    argmax : (F, PH, PW) int64, indices into the (OH, OW) planes
    ow : the conv output's width
    width : the wide rows' stride
    g : (F, >= (OH-1)*width + OW) output, zeros on entry: the wide output gradient
    db : (F,) float64 output, the bias gradient
    """
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
def widen_grad(dy, mask, masked, k1, k2, k3, width, g, db):
    """One sample: v = k1*dy + k2*mask + k3 per channel, zero where masked and mask <= 0, into
    the wide rows of g; db gets its sums per filter.

    Arguments (positional):
    dy : (F, OH, OW) the output gradient
    mask : (F, OH, OW) a fused ReLU's output (or dy, unused, when not masked)
    masked : bool
    k1, k2, k3 : (F,) the coefficients
    width : the wide rows' stride
    g : (F, >= (OH-1)*width + OW) output, zeros on entry: the wide output gradient
    db : (F,) float64 output, the bias gradient
    """
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


# --- a core's helper ----------------------------------------------------------------------------

def padded_backward(kernel, dy, x, padding, w2, kh, kw, oh, ow, need_dx, mask, masked, k1, k2,
                    k3, y, argmax, pooled, db_per, *extra):
    """A core's backward (see the module's docstring) by an njit ``kernel`` on x padded that
    fills dx (padded) and dw_per (N, F, K), each sample's weight gradient: ``kernel(dy, xp, w2,
    kh, kw, oh, ow, need_dx, mask, masked, k1, k2, k3, y, argmax, pooled, dx, dw_per, db_per,
    *extra)``. Returns dx cropped (or None) and dw, the sum of dw_per in batch order."""
    n, ch, h, wd = x.shape
    xp = pad(x, padding)
    dx = np.empty_like(xp) if need_dx else np.empty((n, ch, 1, 1), dtype=x.dtype)
    dw_per = np.empty((n, *w2.shape), dtype=x.dtype)
    kernel(dy, xp, w2, kh, kw, oh, ow, need_dx, mask, masked, k1, k2, k3, y, argmax, pooled, dx,
           dw_per, db_per, *extra)
    return (crop(dx, padding, h, wd) if need_dx else None), sum_batch(dw_per)


# --- entry points (arguments checked by the caller; x unpadded, w (F, C, KH, KW)) -------------
# ``core`` is one algorithm's (forward, backward) pair, a row of the table in .__init__.

_NONE4 = np.zeros((1, 1, 1, 1), dtype=np.int64)  # an unused argmax


def _run_forward(core, x, w, b, padding, relu, scale, shift, stats, pool_size, pool_stride):
    n, _, h, wd = x.shape
    f, _, kh, kw = w.shape
    oh, ow = out_hw(h, wd, kh, kw, 1, padding)
    if pool_size:
        shape = (n, f, *out_hw(oh, ow, pool_size, pool_size, pool_stride))
    else:
        shape = (n, f, oh, ow)
    y = np.empty(shape, dtype=x.dtype)
    argmax = np.empty(shape if pool_size else (n, 1, 1, 1), dtype=np.int64)
    sums = np.empty((n, f if stats else 1, 2))  # sums[i] of every sample is a valid view
    one, zero = np.ones(f, dtype=x.dtype), np.zeros(f, dtype=x.dtype)
    scale = one if scale is None else scale
    shift = zero if shift is None else shift
    core[0](x, padding, w.reshape(f, -1), b, kh, kw, oh, ow, relu, scale, shift, stats,
            pool_size, pool_stride, y, argmax, sums)
    return y, argmax, sums


def conv_forward(core, x, w, b, padding, relu, scale=None, shift=None):
    """y (N, F, OH, OW) = scale * conv(x) (or its ReLU) + shift, per channel when given."""
    return _run_forward(core, x, w, b, padding, relu, scale, shift, False, 0, 0)[0]


def conv_relu_stats_forward(core, x, w, b, padding):
    """y = relu(conv(x)) (N, F, OH, OW) and its per-channel mean and (biased) variance, summed
    in float64 in batch order."""
    y, _, sums = _run_forward(core, x, w, b, padding, True, None, None, True, 0, 0)
    count = y.shape[0] * y.shape[2] * y.shape[3]
    total = sum_batch(sums)
    mean = total[:, 0] / count
    var = np.maximum(total[:, 1] / count - mean * mean, 0.0)
    return y, mean.astype(x.dtype), var.astype(x.dtype)


def conv_relu_pool_forward(core, x, w, b, padding, pool_size, pool_stride):
    """relu(conv(x)) max-pooled: y (N, F, PH, PW) and argmax into the (OH, OW) planes."""
    y, argmax, _ = _run_forward(core, x, w, b, padding, True, None, None, False, pool_size,
                                pool_stride)
    return y, argmax


def _run_backward(core, dy, x, w, padding, oh, ow, input_grad, mask, masked, k, y, argmax,
                  pooled):
    n = x.shape[0]
    f, _, kh, kw = w.shape
    db_per = np.empty((n, f), dtype=np.float64)
    if k is None:
        k = np.ones(f, dtype=x.dtype), np.zeros(f, dtype=x.dtype), np.zeros(f, dtype=x.dtype)
    dx, dw = core[1](dy, x, padding, w.reshape(f, -1), kh, kw, oh, ow, input_grad, mask, masked,
                     *k, y, argmax, pooled, db_per)
    return dx, dw.reshape(w.shape), sum_batch(db_per).astype(x.dtype)


def conv_backward(core, dy, x, w, padding, input_grad, mask=None, k=None):
    """dx (or None), dw, db for dy (N, F, OH, OW) on the conv output, first turned into
    k1*dy + k2*mask + k3 per channel (k = (k1, k2, k3), default (1, 0, 0)) and gated by
    mask > 0 when a mask (a fused ReLU's output) is given."""
    masked = mask is not None
    return _run_backward(core, dy, x, w, padding, dy.shape[2], dy.shape[3], input_grad,
                         mask if masked else dy, masked, k, dy, _NONE4, False)


def conv_relu_pool_backward(core, dy, y, argmax, x, w, padding, oh, ow, input_grad):
    """dx (or None), dw, db for dy (N, F, PH, PW) on conv_relu_pool_forward's output y."""
    return _run_backward(core, dy, x, w, padding, oh, ow, input_grad, dy, False, None, y, argmax,
                         True)
