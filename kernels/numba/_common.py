"""Helpers shared by the Numba kernel modules: fastmath flags, the 8-row combination loop, the
batch-order sum that keeps reductions deterministic, and the single-threaded BLAS that the
GEMM-based kernels (dense, the gemm and winograd convolutions) run on."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from numba import njit

# Let LLVM reorder sums so dot products vectorize; keep NaN/inf semantics intact.
FASTMATH = {"reassoc", "contract", "nsz", "arcp"}


@njit(cache=True, inline="always", fastmath=FASTMATH)
def add_combination(dst, coefs, rows):
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


@njit(cache=True)
def _sum_batch_impl(a, out):
    out[:] = 0
    for i in range(a.shape[0]):
        out += a[i]


def sum_batch(a: np.ndarray) -> np.ndarray:
    """Sum over the first axis in batch order (deterministic, unlike a threaded reduction)."""
    out = np.empty(a.shape[1:], dtype=a.dtype)
    _sum_batch_impl(a, out)
    return out


_blas = {"libs": None, "users": 0, "limit": None}
_blas_lock = threading.Lock()


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """A context in which the BLAS libraries loaded (SciPy's, which Numba's np.dot calls, and
    NumPy's) run on one thread each. Nested or concurrent uses (models in several Python
    threads) share one limit: the first to enter sets it, the last to leave restores the
    thread counts."""
    with _blas_lock:
        if _blas["libs"] is None:
            import scipy.linalg.cython_blas  # noqa: F401  (loads the BLAS that Numba calls)
            from threadpoolctl import ThreadpoolController

            _blas["libs"] = ThreadpoolController().select(user_api="blas")
        if _blas["users"] == 0:
            _blas["limit"] = _blas["libs"].limit(limits=1)
        _blas["users"] += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas["users"] -= 1
            if _blas["users"] == 0:
                _blas["limit"].restore_original_limits()
