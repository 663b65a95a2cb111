"""3x3 stride-1 convolution by Winograd's minimal filtering F(2x2, 3x3) (Lavin and Gray, 2016).

Each 2x2 block of outputs ("tile") comes from a 4x4 patch d of the padded input:

    y = A^T [ (G g G^T) * (B^T d B) ] A        (* elementwise, g the 3x3 filter)

so for each of the 16 positions xi of the 4x4 transformed tile the whole layer is one GEMM:

    M[xi] (F, T) = U[xi] (F, C) @ V[xi] (C, T),    U = G g G^T,  V = B^T d B,

over the T tiles of a chunk of samples: 16 * F * C * T multiply-adds where direct convolution
needs 36 * F * C * T, 2.25 times fewer. The backward pass runs the adjoints of the same steps:
dM[xi] = the gradient tiles transformed by A, then dU[xi] = dM[xi] @ V[xi].T (the weight
gradient, G^T dU G) and dV[xi] = U[xi].T @ dM[xi] (the input gradient, B dV B^T added onto
the overlapping input patches). The gradients are those of this computation, so they match the
forward pass exactly; in exact arithmetic both equal the convolution's.

The transforms work row-wise: the row combinations of B^T (or of A, or their adjoints) run over
whole image rows (contiguous, vectorized), and only the column step goes tile by tile. The
output lands in the direct kernels' "wide" layout, so every epilogue (bias, ReLU, batch-norm
statistics or affine, ReLU + max-pool) and every gradient prologue is theirs.

Samples are cut into fixed chunks of about CHUNK_TILES tiles, so the GEMMs are large enough
for BLAS even on 8x8 images; each thread takes whole chunks and reuses its scratch, and each
chunk's weight gradient goes to its first sample's slot of dw_per (the rest are zero), summed
in batch order by the caller: results do not depend on the thread count. The GEMMs are
``np.dot`` on SciPy's single-threaded BLAS, as in :mod:`.gemm`.
"""

from __future__ import annotations

import numpy as np
from numba import get_num_threads, njit, prange

from .direct import _relu_pool, _unpool_grad, _unwiden, _widen_grad
from .gemm import single_threaded_blas

CHUNK_TILES = 256  # tiles per GEMM at least (when the batch has that many)


@njit(cache=True)
def _filter_transform(w2):
    """U (16, F, C) = G g G^T for each 3x3 filter g of w2 (F, C*9)."""
    f_count, ch = w2.shape[0], w2.shape[1] // 9
    u = np.empty((16, f_count, ch), dtype=w2.dtype)
    t = np.empty((4, 3), dtype=w2.dtype)
    for f in range(f_count):
        for c in range(ch):
            g = w2[f, 9 * c : 9 * c + 9]
            for k in range(3):  # t = G g
                g0, g1, g2 = g[k], g[3 + k], g[6 + k]
                t[0, k], t[1, k] = g0, 0.5 * (g0 + g1 + g2)
                t[2, k], t[3, k] = 0.5 * (g0 - g1 + g2), g2
            for r in range(4):  # u = t G^T
                a0, a1, a2 = t[r, 0], t[r, 1], t[r, 2]
                u[4 * r, f, c], u[4 * r + 1, f, c] = a0, 0.5 * (a0 + a1 + a2)
                u[4 * r + 2, f, c], u[4 * r + 3, f, c] = 0.5 * (a0 - a1 + a2), a2
    return u


@njit(cache=True)
def _filter_grad(du, dw):
    """dw (F, C*9) = G^T dU G for each (f, c): the adjoint of _filter_transform."""
    f_count, ch = du.shape[1], du.shape[2]
    t = np.empty((3, 4), dtype=du.dtype)
    for f in range(f_count):
        for c in range(ch):
            for k in range(4):  # t = G^T dU
                d0, d1 = du[k, f, c], du[4 + k, f, c]
                d2, d3 = du[8 + k, f, c], du[12 + k, f, c]
                t[0, k], t[1, k] = d0 + 0.5 * (d1 + d2), 0.5 * (d1 - d2)
                t[2, k] = 0.5 * (d1 + d2) + d3
            for r in range(3):  # dw = t G
                d0, d1, d2, d3 = t[r, 0], t[r, 1], t[r, 2], t[r, 3]
                dw[f, 9 * c + 3 * r] = d0 + 0.5 * (d1 + d2)
                dw[f, 9 * c + 3 * r + 1] = 0.5 * (d1 - d2)
                dw[f, 9 * c + 3 * r + 2] = 0.5 * (d1 + d2) + d3


@njit(cache=True)
def _input_transform(xs, th, tw, v, count, t0, rows):
    """V[:, c, t0 + i*tw + j] = B^T d B for the 4x4 patch d at (2i, 2j) of xs (C, H, W), zero
    past its edges, in the slabs v (see _slab). rows (4, 2*tw + 2) is scratch."""
    ch, h, width = xs.shape
    cols = min(width, rows.shape[1])
    rows[:, cols:] = 0
    for c in range(ch):
        for i in range(th):
            r, t = 2 * i, t0 + i * tw
            x0, x1, x2 = xs[c, r], xs[c, r + 1], xs[c, r + 2]  # r + 2 <= OH + 1 < H
            inside = r + 3 < h  # the last patch row is past odd-sized images
            x3 = xs[c, r + 3] if inside else x2
            for q in range(cols):  # B^T on the rows
                a, b, e, d = x0[q], x1[q], x2[q], x3[q]
                rows[0, q], rows[1, q], rows[2, q], rows[3, q] = a - e, b + e, e - b, b - d
            if not inside:
                rows[3, :cols] = x1[:cols]
            o = c * count + t
            for a in range(4):  # and on the columns, tile by tile
                p = rows[a]
                v0, v1 = v[4 * a, o : o + tw], v[4 * a + 1, o : o + tw]
                v2, v3 = v[4 * a + 2, o : o + tw], v[4 * a + 3, o : o + tw]
                for j in range(tw):
                    p0, p1, p2, p3 = p[2 * j], p[2 * j + 1], p[2 * j + 2], p[2 * j + 3]
                    v0[j], v1[j], v2[j], v3[j] = p0 - p2, p1 + p2, p2 - p1, p1 - p3


@njit(cache=True)
def _input_grad(dv, count, th, tw, t0, rows, dxs):
    """dxs (C, H, W) += B dV B^T of each tile on its patch: the adjoint of _input_transform.
    Tiles overlap by two rows and columns; each column of rows gathers its (up to) two tiles'
    terms, so the inner loop has no conflicting writes."""
    ch, h, width = dxs.shape
    cols = min(width, rows.shape[1])
    for c in range(ch):
        for i in range(th):
            r, o = 2 * i, c * count + t0 + i * tw
            for a in range(4):  # B on the columns: e[2j] = dp0(j) + dp2(j-1), and so on
                e = rows[a]
                v0, v1 = dv[4 * a, o : o + tw], dv[4 * a + 1, o : o + tw]
                v2, v3 = dv[4 * a + 2, o : o + tw], dv[4 * a + 3, o : o + tw]
                e[0], e[1] = v0[0], v1[0] - v2[0] + v3[0]
                for j in range(1, tw):
                    e[2 * j] = v0[j] - v0[j - 1] + v1[j - 1] + v2[j - 1]
                    e[2 * j + 1] = v1[j] - v2[j] + v3[j] - v3[j - 1]
                k = tw - 1
                e[2 * tw], e[2 * tw + 1] = -v0[k] + v1[k] + v2[k], -v3[k]
            d0, d1, d2 = dxs[c, r], dxs[c, r + 1], dxs[c, r + 2]
            for q in range(cols):  # and on the rows
                e0, e1, e2, e3 = rows[0, q], rows[1, q], rows[2, q], rows[3, q]
                d0[q] += e0
                d1[q] += e1 - e2 + e3
                d2[q] += e1 + e2 - e0
            if r + 3 < h:
                d3 = dxs[c, r + 3]
                for q in range(cols):
                    d3[q] -= rows[3, q]


@njit(cache=True, inline="always")
def _tile_row(m, o, tw):
    """The 16 contiguous rows m[xi, o : o + tw] of one row of tiles."""
    return (m[0, o : o + tw], m[1, o : o + tw], m[2, o : o + tw], m[3, o : o + tw],
            m[4, o : o + tw], m[5, o : o + tw], m[6, o : o + tw], m[7, o : o + tw],
            m[8, o : o + tw], m[9, o : o + tw], m[10, o : o + tw], m[11, o : o + tw],
            m[12, o : o + tw], m[13, o : o + tw], m[14, o : o + tw], m[15, o : o + tw])


@njit(cache=True)
def _output_transform(m, count, t0, th, tw, width, acc):
    """acc[f] (wide rows of length width) = A^T M A of each tile t0 + i*tw + j at (2i, 2j)."""
    for f in range(acc.shape[0]):
        for i in range(th):
            top = acc[f, 2 * i * width : 2 * i * width + 2 * tw]
            bottom = acc[f, (2 * i + 1) * width : (2 * i + 1) * width + 2 * tw]
            m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11, m12, m13, m14, m15 = _tile_row(
                m, f * count + t0 + i * tw, tw)
            for j in range(tw):
                s00, s01 = m0[j] + m1[j] + m2[j], m1[j] - m2[j] - m3[j]  # A on the columns
                s10, s11 = m4[j] + m5[j] + m6[j], m5[j] - m6[j] - m7[j]
                s20, s21 = m8[j] + m9[j] + m10[j], m9[j] - m10[j] - m11[j]
                s30, s31 = m12[j] + m13[j] + m14[j], m13[j] - m14[j] - m15[j]
                top[2 * j], top[2 * j + 1] = s00 + s10 + s20, s01 + s11 + s21  # and rows
                bottom[2 * j], bottom[2 * j + 1] = s10 - s20 - s30, s11 - s21 - s31


@njit(cache=True)
def _output_grad(g, count, t0, th, tw, width, dm):
    """dM[:, f, t0 + i*tw + j] = A G A^T for the 2x2 block G at (2i, 2j) of g[f]'s wide rows:
    the adjoint of _output_transform."""
    for f in range(g.shape[0]):
        for i in range(th):
            top = g[f, 2 * i * width : 2 * i * width + 2 * tw]
            bottom = g[f, (2 * i + 1) * width : (2 * i + 1) * width + 2 * tw]
            d0, d1, d2, d3, d4, d5, d6, d7, d8, d9, d10, d11, d12, d13, d14, d15 = _tile_row(
                dm, f * count + t0 + i * tw, tw)
            for j in range(tw):
                a0, a1, b0, b1 = top[2 * j], top[2 * j + 1], bottom[2 * j], bottom[2 * j + 1]
                c0, c1, e0, e1 = a0 + b0, a1 + b1, a0 - b0, a1 - b1  # A on the rows
                d0[j], d1[j], d2[j], d3[j] = a0, a0 + a1, a0 - a1, -a1  # and on the columns
                d4[j], d5[j], d6[j], d7[j] = c0, c0 + c1, c0 - c1, -c1
                d8[j], d9[j], d10[j], d11[j] = e0, e0 + e1, e0 - e1, -e1
                d12[j], d13[j], d14[j], d15[j] = -b0, -b0 - b1, b1 - b0, b1


@njit(cache=True, inline="always")
def _slabs(rows, count, dtype):
    """Scratch for 16 matrices of (rows, count): slab xi is _slab(buf, xi, rows, count). The
    slabs are 64 bytes more than a multiple of 4 KiB apart, or the transforms' 16 streams
    would all fall in one set of the L1 cache."""
    return np.empty((16, rows * count + 16), dtype=dtype)


@njit(cache=True, inline="always")
def _slab(buf, xi, rows, count):
    """Slab xi of buf as a contiguous (rows, count) matrix for the GEMMs."""
    return buf[xi, : rows * count].reshape(rows, count)


def _geometry(n, oh, ow):
    """(tile rows, tile columns, samples per chunk, chunks) for n samples of OH x OW outputs."""
    th, tw = (oh + 1) // 2, (ow + 1) // 2
    per = max(1, min(n, -(-CHUNK_TILES // (th * tw))))
    return th, tw, per, -(-n // per)


@njit(cache=True, parallel=True)
def _forward(x, u, b, oh, ow, th, tw, per, chunks, relu, scale, shift, stats, pool_size,
             pool_stride, y, argmax, sums, parts):
    """As direct._forward, from U (16, F, C); samples in chunks of ``per``, ``parts`` blocks of
    chunks (one per thread)."""
    n, ch, h, width = x.shape
    f_count, tiles = u.shape[1], th * tw
    for part in prange(parts):
        v = _slabs(ch, per * tiles, x.dtype)
        m = _slabs(f_count, per * tiles, x.dtype)
        acc = np.empty((f_count, 2 * th * width), dtype=x.dtype)
        rows = np.empty((4, 2 * tw + 2), dtype=x.dtype)
        for chunk in range(part * chunks // parts, (part + 1) * chunks // parts):
            first, stop = chunk * per, min(n, chunk * per + per)
            count = (stop - first) * tiles  # the GEMMs' columns
            for s in range(first, stop):
                _input_transform(x[s], th, tw, v, count, (s - first) * tiles, rows)
            for xi in range(16):
                np.dot(u[xi], _slab(v, xi, ch, count), _slab(m, xi, f_count, count))
            for s in range(first, stop):
                _output_transform(m, count, (s - first) * tiles, th, tw, width, acc)
                for fi in range(f_count):
                    acc[fi] += b[fi]
                if pool_size:
                    _relu_pool(acc, width, ow, pool_size, pool_stride, y[s], argmax[s])
                else:
                    _unwiden(acc, width, relu, scale, shift, stats, y[s], sums[s])


@njit(cache=True, parallel=True)
def _backward(dy, x, u, oh, ow, th, tw, per, chunks, need_dx, mask, masked, k1, k2, k3, y,
              argmax, pooled, dx, dw_per, db_per, parts):
    """As direct._backward, from U (16, F, C): chunk k's weight gradient in dw_per[k * per]."""
    n, ch, h, width = x.shape
    f_count, tiles = u.shape[1], th * tw
    for part in prange(parts):
        v = _slabs(ch, per * tiles, x.dtype)
        dm = _slabs(f_count, per * tiles, x.dtype)
        dv = _slabs(ch if need_dx else 0, per * tiles, x.dtype)
        du = np.empty((16, f_count, ch), dtype=x.dtype)
        g = np.empty((f_count, 2 * th * width), dtype=x.dtype)
        rows = np.empty((4, 2 * tw + 2), dtype=x.dtype)
        for chunk in range(part * chunks // parts, (part + 1) * chunks // parts):
            first, stop = chunk * per, min(n, chunk * per + per)
            count = (stop - first) * tiles
            for s in range(first, stop):
                g[:] = 0
                if pooled:
                    _unpool_grad(dy[s], y[s], argmax[s], ow, width, g, db_per[s])
                else:
                    _widen_grad(dy[s], mask[s], masked, k1, k2, k3, width, g, db_per[s])
                _output_grad(g, count, (s - first) * tiles, th, tw, width, dm)
                _input_transform(x[s], th, tw, v, count, (s - first) * tiles, rows)
            for xi in range(16):
                dm_xi = _slab(dm, xi, f_count, count)
                np.dot(dm_xi, _slab(v, xi, ch, count).T, du[xi])
                if need_dx:
                    np.dot(u[xi].T, dm_xi, _slab(dv, xi, ch, count))
            _filter_grad(du, dw_per[first])
            for s in range(first + 1, stop):
                dw_per[s] = 0
            if need_dx:
                for s in range(first, stop):
                    dx[s] = 0
                    _input_grad(dv, count, th, tw, (s - first) * tiles, rows, dx[s])


def forward(x, w2, b, kh, kw, oh, ow, relu, scale, shift, stats, pool_size, pool_stride, y,
            argmax, sums) -> None:
    """direct._forward's arguments and outputs (x padded, w2 (F, C*9))."""
    assert (kh, kw) == (3, 3), (kh, kw)  # conv_algorithm_arg and the rule see to it
    th, tw, per, chunks = _geometry(x.shape[0], oh, ow)
    with single_threaded_blas():
        _forward(x, _filter_transform(w2), b, oh, ow, th, tw, per, chunks, relu, scale, shift,
                 stats, pool_size, pool_stride, y, argmax, sums, min(chunks, get_num_threads()))


def backward(dy, x, w2, kh, kw, oh, ow, need_dx, mask, masked, k1, k2, k3, y, argmax, pooled,
             dx, dw_per, db_per) -> None:
    """direct._backward's arguments and outputs (x and dx padded, w2 (F, C*9))."""
    assert (kh, kw) == (3, 3), (kh, kw)  # conv_algorithm_arg and the rule see to it
    th, tw, per, chunks = _geometry(x.shape[0], oh, ow)
    with single_threaded_blas():
        _backward(dy, x, _filter_transform(w2), oh, ow, th, tw, per, chunks, need_dx, mask,
                  masked, k1, k2, k3, y, argmax, pooled, dx, dw_per, db_per,
                  min(chunks, get_num_threads()))
