"""3x3 stride-1 convolution by Winograd's minimal filtering F(4x4, 3x3) (Lavin and Gray, 2016).

Each 4x4 block of outputs ("tile") comes from a 6x6 patch d of the padded input:

    y = A^T [ (G g G^T) * (B^T d B) ] A        (* elementwise, g the 3x3 filter)

so for each of the 36 positions xi of the 6x6 transformed tile the whole layer is one GEMM:

    M[xi] (F, T) = U[xi] (F, C) @ V[xi] (C, T),    U = G g G^T,  V = B^T d B,

over the T tiles of a chunk of samples: 36 * F * C * T multiply-adds where direct convolution
needs 144 * F * C * T, 4 times fewer. The backward pass runs the adjoints of the same steps:
dM[xi] = the gradient tiles transformed by A, then dU[xi] = dM[xi] @ V[xi].T (the weight
gradient, G^T dU G) and dV[xi] = U[xi].T @ dM[xi] (the input gradient, B dV B^T added onto
the overlapping input patches). The gradients are those of this computation, so they match the
forward pass exactly; in exact arithmetic both equal the convolution's.

The interpolation points are 0, +-1, +-2 and infinity; the transforms' coefficients (up to 8
and 1/24) make float32 results somewhat less exact than direct convolution's (the tests hold
the error to a bound), and a non-finite or huge input spreads through its whole tile (NaN
where direct convolution gives inf; the models refuse non-finite inputs before any kernel).

Each sample is first copied into a per-thread scratch image, zero-padded to whole tiles, so the
transforms have no edge cases and the caller pads nothing. Each transform is two passes of
6-point (or 4-point) combinations, written so the long one vectorizes: B^T over whole scratch
rows, then tile by tile along a row of tiles; A^T (and the adjoint A) over all of a sample's
tiles at once, then into each tile's rows. The data lives in "slabs" (:func:`_slabs`). The
output lands in the "wide" layout of :mod:`.wide` (rows of the scratch width), so every
epilogue (bias, ReLU, batch-norm statistics or affine, ReLU + max-pool) and every gradient
prologue is that module's.

Samples are cut into fixed chunks of about CHUNK_TILES tiles, so the GEMMs are large enough
for BLAS even on 8x8 images; each thread takes whole chunks and reuses its scratch. Each
chunk's dU has its own slot, and the slots are summed in batch order before the filter
gradient's transform: results do not depend on the thread count. The GEMMs are
``np.dot`` on SciPy's single-threaded BLAS, as in :mod:`.gemm`
(:func:`.._common.single_threaded_blas`).

Its epilogues are :mod:`.wide`'s, compiled into this module's cached kernels: a fused ReLU
or max-pool passes a NaN (it is never hidden as a 0).
"""

from __future__ import annotations

import numpy as np
from numba import get_num_threads, njit, prange

from .._common import single_threaded_blas, sum_batch
from .wide import bias_epilogue, unpool_grad, widen_grad

CHUNK_TILES = 128
"""Tiles per GEMM at least (when the batch has that many). Fixed, not per thread count: the
chunks set the order of the weight gradient's sums. 128 was faster than 256 (VGG train step
134 against 145 ms, CIFAR-style inference 6.3 against 6.7 ms at batch 32: more chunks share
out evenly on two threads, and a chunk's transformed input stays in L2) and even with 64."""


# --- the transforms of one 6-vector (or 4-vector), and their adjoints ------------------------
# Their coefficients are float32 constants (exact), so float32 data stays float32 (a Python
# int would make Numba compute in float64) and float64 data float64.

_2, _4, _5, _8 = np.float32(2), np.float32(4), np.float32(5), np.float32(8)


@njit(cache=True, inline="always")
def _bt(x0, x1, x2, x3, x4, x5):
    """B^T x: the input transform."""
    return (_4 * x0 - _5 * x2 + x4, x3 + x4 - _4 * (x1 + x2), _4 * (x1 - x2) + x4 - x3,
            _2 * (x3 - x1) + x4 - x2, _2 * (x1 - x3) + x4 - x2, _4 * x1 - _5 * x3 + x5)


@njit(cache=True, inline="always")
def _b(v0, v1, v2, v3, v4, v5):
    """B v: the adjoint of _bt."""
    return (_4 * v0, _4 * (v2 - v1) + _2 * (v4 - v3) + _4 * v5,
            -_5 * v0 - _4 * (v1 + v2) - v3 - v4, v1 - v2 + _2 * (v3 - v4) - _5 * v5,
            v0 + v1 + v2 + v3 + v4, v5)


@njit(cache=True, inline="always")
def _at(m0, m1, m2, m3, m4, m5):
    """A^T m: the output transform."""
    s, d = m1 + m2, m1 - m2
    p, q = m3 + m4, m3 - m4
    return m0 + s + p, d + _2 * q, s + _4 * p, d + _8 * q + m5


@njit(cache=True, inline="always")
def _a(y0, y1, y2, y3):
    """A y: the adjoint of _at."""
    e, o = y0 + y2, y1 + y3
    e4, o2 = y0 + _4 * y2, _2 * y1 + _8 * y3
    return y0, e + o, e - o, e4 + o2, e4 - o2, y3


# --- filters (in float64: G has sixths) ----------------------------------------------------

_6TH, _12TH, _24TH = 1 / 6, 1 / 12, 1 / 24


@njit(cache=True, inline="always")
def _g(a, b, e):
    """G (a, b, e): the filter transform of three taps."""
    p, q = (a + e) * _6TH, b * _6TH
    r, s = a * _24TH + e * _6TH, b * _12TH
    return 0.25 * a, -p - q, q - p, r + s, r - s, e


@njit(cache=True, inline="always")
def _gt(u0, u1, u2, u3, u4, u5):
    """G^T u: the adjoint of _g."""
    return (0.25 * u0 - (u1 + u2) * _6TH + (u3 + u4) * _24TH,
            (u2 - u1) * _6TH + (u3 - u4) * _12TH, (u3 + u4 - u1 - u2) * _6TH + u5)


@njit(cache=True, parallel=True)
def _filter_transform(w2):
    """U = G g G^T for each 3x3 filter g of w2 (F, C*9): 36 slabs of (F, C), see _slab."""
    f_count, ch = w2.shape[0], w2.shape[1] // 9
    u = _slabs(f_count, ch, w2.dtype)
    for f in prange(f_count):
        t = np.empty((6, 3))
        for c in range(ch):
            g = w2[f, 9 * c : 9 * c + 9]
            for k in range(3):  # t = G g, column by column
                t[0, k], t[1, k], t[2, k], t[3, k], t[4, k], t[5, k] = _g(
                    np.float64(g[k]), np.float64(g[3 + k]), np.float64(g[6 + k]))
            o = f * ch + c
            for r in range(6):  # u = t G^T, row by row
                (u[6 * r, o], u[6 * r + 1, o], u[6 * r + 2, o], u[6 * r + 3, o], u[6 * r + 4, o],
                 u[6 * r + 5, o]) = _g(t[r, 0], t[r, 1], t[r, 2])
    return u


@njit(cache=True)
def _filter_grad(du, dw):
    """dw (F, C*9) = G^T dU G for each (f, c) of the slabs du: the adjoint of
    _filter_transform (run by each thread on its chunk's dU, so not parallel itself)."""
    f_count, ch = dw.shape[0], dw.shape[1] // 9
    t = np.empty((3, 6))
    for f in range(f_count):
        for c in range(ch):
            o = f * ch + c
            for k in range(6):  # t = G^T dU, column by column
                t[0, k], t[1, k], t[2, k] = _gt(
                    np.float64(du[k, o]), np.float64(du[6 + k, o]), np.float64(du[12 + k, o]),
                    np.float64(du[18 + k, o]), np.float64(du[24 + k, o]),
                    np.float64(du[30 + k, o]))
            for r in range(3):  # dw = t G
                dw[f, 9 * c + 3 * r], dw[f, 9 * c + 3 * r + 1], dw[f, 9 * c + 3 * r + 2] = _gt(
                    t[r, 0], t[r, 1], t[r, 2], t[r, 3], t[r, 4], t[r, 5])


# --- inputs ---------------------------------------------------------------------------------

@njit(cache=True)
def _input_transform(xs, th, tw, v, count, t0, rows):
    """V[:, c, t0 + i*tw + j] = B^T d B for the 6x6 patch d at (4i, 4j) of the scratch image
    xs (C, 4*th + 2, 4*tw + 2), into the slabs v (see _slab). rows (6, 4*tw + 2) is scratch."""
    for c in range(xs.shape[0]):
        for i in range(th):
            r = 4 * i
            x0, x1, x2 = xs[c, r], xs[c, r + 1], xs[c, r + 2]
            x3, x4, x5 = xs[c, r + 3], xs[c, r + 4], xs[c, r + 5]
            for q in range(rows.shape[1]):  # B^T on the rows
                (rows[0, q], rows[1, q], rows[2, q], rows[3, q], rows[4, q],
                 rows[5, q]) = _bt(x0[q], x1[q], x2[q], x3[q], x4[q], x5[q])
            o = c * count + t0 + i * tw
            for a in range(6):  # and on the columns, tile by tile
                p = rows[a]
                v0, v1, v2, v3, v4, v5 = _six(v, 6 * a, o, tw)
                for j in range(tw):
                    q = 4 * j
                    v0[j], v1[j], v2[j], v3[j], v4[j], v5[j] = _bt(
                        p[q], p[q + 1], p[q + 2], p[q + 3], p[q + 4], p[q + 5])


@njit(cache=True)
def _input_grad(dv, count, th, tw, t0, rows, dxs):
    """dxs (C, 4*th + 2, 4*tw + 2) = the sum of B dV B^T of each tile on its patch: the adjoint
    of _input_transform. Patches overlap by two rows and columns."""
    dxs[:] = 0
    for c in range(dxs.shape[0]):
        for i in range(th):
            rows[:] = 0
            o = c * count + t0 + i * tw
            for a in range(6):  # B on the columns, tile by tile
                e = rows[a]
                v0, v1, v2, v3, v4, v5 = _six(dv, 6 * a, o, tw)
                for j in range(tw):
                    q = 4 * j
                    b0, b1, b2, b3, b4, b5 = _b(v0[j], v1[j], v2[j], v3[j], v4[j], v5[j])
                    e[q] += b0
                    e[q + 1] += b1
                    e[q + 2] += b2
                    e[q + 3] += b3
                    e[q + 4] = b4  # the next tile adds its first two columns here
                    e[q + 5] = b5
            r = 4 * i
            d0, d1, d2 = dxs[c, r], dxs[c, r + 1], dxs[c, r + 2]
            d3, d4, d5 = dxs[c, r + 3], dxs[c, r + 4], dxs[c, r + 5]
            for q in range(rows.shape[1]):  # and on the rows
                b0, b1, b2, b3, b4, b5 = _b(rows[0, q], rows[1, q], rows[2, q], rows[3, q],
                                            rows[4, q], rows[5, q])
                d0[q] += b0
                d1[q] += b1
                d2[q] += b2
                d3[q] += b3
                d4[q] = b4  # the next row of tiles adds its first two rows here
                d5[q] = b5


# --- outputs --------------------------------------------------------------------------------

@njit(cache=True)
def _output_transform(m, count, t0, th, tw, width, cols, acc):
    """acc[f] (wide rows of length width) = A^T M A of each tile t0 + i*tw + j at (4i, 4j).
    cols (4, 6, th*tw) is scratch. The column step runs over all the sample's tiles at once:
    loops as long as a tile row (4 to 8 tiles) are too short for LLVM to vectorize."""
    tiles = th * tw
    for f in range(acc.shape[0]):
        o = f * count + t0
        for a in range(6):  # A^T on the columns of the tiles' rows a, over all the tiles
            m0, m1, m2, m3, m4, m5 = _six(m, 6 * a, o, tiles)
            for t in range(tiles):
                cols[0, a, t], cols[1, a, t], cols[2, a, t], cols[3, a, t] = _at(
                    m0[t], m1[t], m2[t], m3[t], m4[t], m5[t])
        for i in range(th):  # and on the rows, into the tiles' columns k
            base = 4 * i * width
            for k in range(4):
                c0, c1, c2, c3, c4, c5 = _six(cols[k], 0, i * tw, tw)
                for j in range(tw):
                    y0, y1, y2, y3 = _at(c0[j], c1[j], c2[j], c3[j], c4[j], c5[j])
                    q = base + 4 * j + k
                    acc[f, q] = y0
                    acc[f, q + width] = y1
                    acc[f, q + 2 * width] = y2
                    acc[f, q + 3 * width] = y3


@njit(cache=True)
def _output_grad(g, count, t0, th, tw, width, cols, dm):
    """dM[:, f, t0 + i*tw + j] = A G A^T for the 4x4 block G at (4i, 4j) of g[f]'s wide rows:
    the adjoint of _output_transform. cols (4, 6, th*tw) is scratch."""
    tiles = th * tw
    for f in range(g.shape[0]):
        for i in range(th):  # A on the rows, into the tiles' columns k
            base = 4 * i * width
            for k in range(4):
                c0, c1, c2, c3, c4, c5 = _six(cols[k], 0, i * tw, tw)
                for j in range(tw):
                    q = base + 4 * j + k
                    c0[j], c1[j], c2[j], c3[j], c4[j], c5[j] = _a(
                        g[f, q], g[f, q + width], g[f, q + 2 * width], g[f, q + 3 * width])
        o = f * count + t0
        for a in range(6):  # and on the columns, over all the tiles
            d0, d1, d2, d3, d4, d5 = _six(dm, 6 * a, o, tiles)
            for t in range(tiles):
                d0[t], d1[t], d2[t], d3[t], d4[t], d5[t] = _a(
                    cols[0, a, t], cols[1, a, t], cols[2, a, t], cols[3, a, t])


@njit(cache=True, inline="always")
def _six(buf, xi, o, tw):
    """Slabs xi..xi+5 (one row of the tiles' 6x6 positions) at columns o : o + tw."""
    return (buf[xi, o : o + tw], buf[xi + 1, o : o + tw], buf[xi + 2, o : o + tw],
            buf[xi + 3, o : o + tw], buf[xi + 4, o : o + tw], buf[xi + 5, o : o + tw])


# --- scratch and geometry -------------------------------------------------------------------

@njit(cache=True, inline="always")
def _slabs(rows, count, dtype):
    """Scratch for 36 matrices of (rows, count): slab xi is _slab(buf, xi, rows, count). The
    slabs are 64 bytes more than a multiple of 4 KiB apart, or the transforms' streams would
    fall in a few sets of the L1 cache."""
    return np.empty((36, rows * count + 16), dtype=dtype)


@njit(cache=True, inline="always")
def _slab(buf, xi, rows, count):
    """Slab xi of buf as a contiguous (rows, count) matrix for the GEMMs."""
    return buf[xi, : rows * count].reshape(rows, count)


def _geometry(n, oh, ow):
    """(tile rows, tile columns, samples per chunk, chunks) for n samples of OH x OW outputs."""
    th, tw = (oh + 3) // 4, (ow + 3) // 4
    per = max(1, min(n, -(-CHUNK_TILES // (th * tw))))
    return th, tw, per, -(-n // per)


# --- the passes -----------------------------------------------------------------------------

@njit(cache=True, parallel=True)
def _forward(x, padding, u, b, oh, ow, th, tw, per, chunks, relu, scale, shift, stats,
             pool_size, pool_stride, y, argmax, sums, parts):
    """The Winograd forward pass: per chunk of samples, the input transform, 36 GEMMs
    M[xi] = U[xi] @ V[xi], then per sample the output transform and the epilogue
    (:func:`.wide.bias_epilogue`). Each of ``parts`` blocks of chunks reuses one scratch.

    Arguments (positional):
    x : (N, C, H, W) the input, unpadded
    padding : zeros each side (the scratch image holds them)
    u : (36, F*C + 16) the filter slabs U = G g G^T (:func:`_filter_transform`)
    b : (F,) the bias
    oh, ow : the output's height and width
    th, tw : tile rows and columns per sample (:func:`_geometry`)
    per, chunks : samples per chunk, and chunks
    relu, scale, shift, stats, pool_size, pool_stride, y, argmax, sums : as in the core's
        forward (:mod:`.wide`)
    parts : the number of blocks the chunks are cut into (one per thread)
    """
    n, ch, h, w = x.shape
    f_count, tiles = b.shape[0], th * tw
    width = 4 * tw + 2
    for part in prange(parts):
        xs = np.zeros((ch, 4 * th + 2, width), dtype=x.dtype)
        v = _slabs(ch, per * tiles, x.dtype)
        m = _slabs(f_count, per * tiles, x.dtype)
        acc = np.empty((f_count, 4 * th * width), dtype=x.dtype)
        rows = np.empty((6, width), dtype=x.dtype)
        cols = np.empty((4, 6, tiles), dtype=x.dtype)
        for chunk in range(part * chunks // parts, (part + 1) * chunks // parts):
            first, stop = chunk * per, min(n, chunk * per + per)
            count = (stop - first) * tiles  # the GEMMs' columns
            for s in range(first, stop):
                xs[:, padding : padding + h, padding : padding + w] = x[s]
                _input_transform(xs, th, tw, v, count, (s - first) * tiles, rows)
            for xi in range(36):
                np.dot(_slab(u, xi, f_count, ch), _slab(v, xi, ch, count),
                       _slab(m, xi, f_count, count))
            for s in range(first, stop):
                _output_transform(m, count, (s - first) * tiles, th, tw, width, cols, acc)
                bias_epilogue(acc, b, width, ow, relu, scale, shift, stats, pool_size,
                               pool_stride, y[s], argmax[s], sums[s])


@njit(cache=True, parallel=True)
def _backward(dy, x, padding, u, oh, ow, th, tw, per, chunks, need_dx, mask, masked, k1, k2,
              k3, y, argmax, pooled, dx, du_per, db_per, parts):
    """The Winograd backward pass: per chunk of samples, the prologue and the output
    gradient's transform dM, the input transform V, then per position xi dU = dM @ V.T and
    (with need_dx) dV = U.T @ dM, whose adjoint input transform is added onto dx.

    Arguments (positional):
    dy : (N, F, OH, OW) the output gradient, or (N, F, PH, PW) that of the pooled output
    x : (N, C, H, W) the input, unpadded
    padding : zeros each side (the scratch image holds them)
    u : (36, F*C + 16) the filter slabs U = G g G^T (:func:`_filter_transform`)
    oh, ow : the output's height and width
    th, tw : tile rows and columns per sample (:func:`_geometry`)
    per, chunks : samples per chunk, and chunks
    need_dx, mask, masked, k1, k2, k3, y, argmax, pooled : as in the core's backward
        (:mod:`.wide`)
    dx : (N, C, H, W) output, the input gradient (unpadded); unused ((N, C, 1, 1)) without
        need_dx
    du_per : (chunks, 36, F*C + 16) output, each chunk's dU slabs (the weight gradient before
        G^T . G), summed in order by the caller
    db_per : (N, F) float64 output, each sample's bias gradient
    parts : the number of blocks the chunks are cut into (one per thread)
    """
    n, ch, h, w = x.shape
    f_count, tiles = k1.shape[0], th * tw
    width = 4 * tw + 2
    for part in prange(parts):
        xs = np.zeros((ch, 4 * th + 2, width), dtype=x.dtype)
        v = _slabs(ch, per * tiles, x.dtype)
        dm = _slabs(f_count, per * tiles, x.dtype)
        dv = _slabs(ch if need_dx else 0, per * tiles, x.dtype)
        dxs = np.empty((ch if need_dx else 0, 4 * th + 2, width), dtype=x.dtype)
        g = np.empty((f_count, 4 * th * width), dtype=x.dtype)
        rows = np.empty((6, width), dtype=x.dtype)
        cols = np.empty((4, 6, tiles), dtype=x.dtype)
        for chunk in range(part * chunks // parts, (part + 1) * chunks // parts):
            first, stop = chunk * per, min(n, chunk * per + per)
            count = (stop - first) * tiles
            du = du_per[chunk]
            for s in range(first, stop):
                g[:] = 0
                if pooled:
                    unpool_grad(dy[s], y[s], argmax[s], ow, width, g, db_per[s])
                else:
                    widen_grad(dy[s], mask[s], masked, k1, k2, k3, width, g, db_per[s])
                _output_grad(g, count, (s - first) * tiles, th, tw, width, cols, dm)
                xs[:, padding : padding + h, padding : padding + w] = x[s]
                _input_transform(xs, th, tw, v, count, (s - first) * tiles, rows)
            for xi in range(36):
                dm_xi = _slab(dm, xi, f_count, count)
                np.dot(dm_xi, _slab(v, xi, ch, count).T, _slab(du, xi, f_count, ch))
                if need_dx:
                    np.dot(_slab(u, xi, f_count, ch).T, dm_xi, _slab(dv, xi, ch, count))
            if need_dx:
                for s in range(first, stop):
                    _input_grad(dv, count, th, tw, (s - first) * tiles, rows, dxs)
                    dx[s] = dxs[:, padding : padding + h, padding : padding + w]


def forward(x, padding, w2, b, kh, kw, oh, ow, relu, scale, shift, stats, pool_size, pool_stride,
            y, argmax, sums) -> None:
    """The Winograd forward pass (see .wide for its arguments; kh = kw = 3): each sample padded
    in its thread's scratch."""
    th, tw, per, chunks = _geometry(x.shape[0], oh, ow)
    u = _filter_transform(w2)
    with single_threaded_blas():
        _forward(x, padding, u, b, oh, ow, th, tw, per, chunks, relu, scale, shift, stats,
                 pool_size, pool_stride, y, argmax, sums, min(chunks, get_num_threads()))


def backward(dy, x, padding, w2, kh, kw, oh, ow, need_dx, mask, masked, k1, k2, k3, y, argmax,
             pooled, db_per):
    """The Winograd backward pass (see .wide for its arguments; kh = kw = 3): each sample padded
    and cropped in its thread's scratch; returns dx (or None) and dw. The chunks' dU are summed
    in batch order before the one filter-gradient transform (it is linear)."""
    n, ch = x.shape[:2]
    th, tw, per, chunks = _geometry(n, oh, ow)
    u = _filter_transform(w2)
    du_per = np.empty((chunks, *u.shape), dtype=x.dtype)
    dx = np.empty_like(x) if need_dx else np.empty((n, ch, 1, 1), dtype=x.dtype)
    with single_threaded_blas():
        _backward(dy, x, padding, u, oh, ow, th, tw, per, chunks, need_dx, mask, masked, k1, k2,
                  k3, y, argmax, pooled, dx, du_per, db_per, min(chunks, get_num_threads()))
    dw = np.empty_like(w2)
    _filter_grad(sum_batch(du_per), dw)
    return (dx if need_dx else None), dw
