"""Argument validators: the building blocks of every kernel's argument checks.

Each takes an argument (and its name, for the message) and returns it normalized, or raises a
``ValueError`` that names it: C-contiguous arrays of one floating dtype, plain ``int`` and
``float`` hyper-parameters. The per-kernel checks built from them are in :mod:`._checks`.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import geometry

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def shape_of(a: object) -> str:
    return str(getattr(a, "shape", type(a).__name__))


def floats(name: str, a: object, ndim: int | tuple[int, ...] | None = None) -> np.ndarray:
    """``a`` as a C-contiguous float32/float64 array of the given rank(s)."""
    if not isinstance(a, np.ndarray):
        raise ValueError(f"{name} must be a NumPy array, got {type(a).__name__}")
    if a.dtype not in FLOAT_DTYPES:
        raise ValueError(f"{name} must be float32 or float64, got dtype {a.dtype}")
    if ndim is not None:
        ranks = (ndim,) if isinstance(ndim, int) else ndim
        if a.ndim not in ranks:
            want = " or ".join(str(r) for r in ranks)
            raise ValueError(f"{name} must have {want} dimensions, got shape {a.shape}")
    return np.ascontiguousarray(a)


def same_dtype(**arrays: np.ndarray) -> None:
    """All arrays share one dtype (kernels never mix float32 and float64 silently)."""
    dtypes = {name: a.dtype for name, a in arrays.items() if a is not None}
    if len(set(dtypes.values())) > 1:
        listed = ", ".join(f"{name} {dt}" for name, dt in dtypes.items())
        raise ValueError(f"arrays must share one dtype, got {listed}")


def integer(name: str, v: object, minimum: int = 1) -> int:
    """An integer (Python or NumPy) >= minimum, as a Python int; 2.7 is an error, not a
    truncation. (fastnn.inputs uses it too: one integer check for the kernels and the API.)"""
    if type(v) is not int and (isinstance(v, bool) or not isinstance(v, numbers.Integral)):
        raise ValueError(f"{name} must be an integer, got {v!r}")  # (int: no ABC check)
    if v < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v}")
    return int(v)


def number(name: str, v: object, minimum: float = 0.0) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not np.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {v!r}")
    if v < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v}")
    return float(v)


def same_shape(name_a: str, a: np.ndarray, name_b: str, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{name_a} shape {a.shape} does not match {name_b} shape {b.shape}")


def out_size(size: int, k: int, stride: int, padding: int, what: str) -> int:
    """Output length of a sliding window; the window must fit in the padded input."""
    if k > size + 2 * padding:
        raise ValueError(
            f"{what} {k} is larger than the padded input ({size} + 2*{padding} = "
            f"{size + 2 * padding})"
        )
    return geometry.out_size(size, k, stride, padding)


def window_args(x_shape, kh, kw, stride, padding, what="kernel"):
    """Checks a 4-D input shape against a window; returns ints and (OH, OW)."""
    kh = integer("kh", kh, 1)
    kw = integer("kw", kw, 1)
    stride = integer("stride", stride, 1)
    padding = integer("padding", padding, 0)
    _, _, h, w_ = x_shape
    oh = out_size(h, kh, stride, padding, f"{what} height")
    ow = out_size(w_, kw, stride, padding, f"{what} width")
    return kh, kw, stride, padding, oh, ow


def shape4(name, shape) -> tuple[int, int, int, int]:
    try:
        dims = tuple(int(d) for d in shape)
    except TypeError:
        raise ValueError(f"{name} must be a shape tuple, got {shape!r}") from None
    if len(dims) != 4 or min(dims) < 1:
        raise ValueError(f"{name} must be 4 positive sizes (N, C, H, W), got {shape!r}")
    return dims


def channel_vectors(channels, dtype, **vectors):
    """Per-channel vectors: 1-D, one entry per channel, in the input's dtype."""
    out = []
    for name, v in vectors.items():
        v = floats(name, v, 1)
        if v.shape[0] != channels:
            raise ValueError(f"{name} has {v.shape[0]} entries but the input has {channels} "
                             f"channels")
        out.append(v)
    same_dtype(x=np.empty(0, dtype), **dict(zip(vectors, out)))
    return out


def positive_eps(eps):
    eps = number("eps", eps)
    if eps <= 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    return eps

