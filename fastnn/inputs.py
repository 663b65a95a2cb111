"""Checks of what users hand to ``fit``, ``evaluate`` and ``predict``: numbers that can be
trained on and counts that make sense. (That a training step stays finite is checked by the
training loop's :class:`fastnn.training.DivergenceGuard`.)

Integer arrays are refused, not scaled: uint8 pixels may mean 0..255 or class indices, and a
guess would be silently wrong half the time. Convert them with ``x.astype(np.float32) / 255``.
"""

from __future__ import annotations

import numpy as np

from .kernels._checks import integer  # noqa: F401  (one integer check for kernels and API)


def float_array(x: object, dtype: np.dtype, name: str = "x") -> np.ndarray:
    """x as an array of ``dtype``: floating input only, every value finite."""
    x = np.asarray(x)
    if x.dtype.kind in "iub":
        hint = " (pixels 0..255? use x.astype(np.float32) / 255)" if x.dtype == np.uint8 else ""
        raise ValueError(f"{name} is {x.dtype}: fastnn trains on floats and does not guess a "
                         f"scale; convert it first{hint}")
    if x.dtype.kind != "f":
        raise ValueError(f"{name} must hold floating-point numbers, got dtype {x.dtype}")
    x = x.astype(dtype, copy=False)
    finite = np.isfinite(x)
    if not finite.all():
        bad = x.size - int(np.count_nonzero(finite))
        first = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise ValueError(f"{name} has {bad} non-finite values (NaN or inf); the first at index "
                         f"{first}: {x[first]}")
    return x


def not_empty(x: np.ndarray, what: str) -> None:
    if x.shape[0] == 0:
        raise ValueError(f"{what} needs at least one sample, got x of shape {x.shape}")

