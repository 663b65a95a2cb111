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


# --- the training inputs' statistics, and inputs far from them ------------------------------

STATS_SAMPLES = 10_000
"""Mean and std are computed on at most this many samples (evenly spaced); min and max on all."""


def statistics(x: np.ndarray) -> dict[str, list[float]]:
    """Per channel (axis 1 of images (N, C, H, W); one "channel" for other inputs): ``mean``,
    ``std``, ``min``, ``max`` of the training inputs, as saved in a model file."""
    axes = (0, 2, 3) if x.ndim == 4 else tuple(range(x.ndim))
    sample = x[:: max(1, x.shape[0] // STATS_SAMPLES)]
    mean = np.mean(sample, axis=axes, dtype=np.float64)
    centred = sample.astype(np.float64) - (mean.reshape(1, -1, 1, 1) if x.ndim == 4 else mean)
    std = np.sqrt(np.mean(centred ** 2, axis=axes))
    return {"mean": np.atleast_1d(mean).tolist(), "std": np.atleast_1d(std).tolist(),
            "min": np.atleast_1d(np.min(x, axis=axes)).astype(float).tolist(),
            "max": np.atleast_1d(np.max(x, axis=axes)).astype(float).tolist()}


def check_statistics(stats: object) -> None:
    """A ValueError unless ``stats`` is what :func:`statistics` gives: four lists of one
    finite number per channel (a model file's ``input_stats`` is untrusted)."""
    if not isinstance(stats, dict) or set(stats) != {"mean", "std", "min", "max"}:
        raise ValueError("input_stats must hold exactly mean, std, min and max")
    sizes = set()
    for name, values in stats.items():
        if not (isinstance(values, list) and 0 < len(values) <= 4096 and all(
                isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v)
                for v in values)):
            raise ValueError(f"input_stats {name} is not a list of finite numbers")
        sizes.add(len(values))
    if len(sizes) != 1 or any(s < 0 for s in stats["std"]) or any(
            lo > hi for lo, hi in zip(stats["min"], stats["max"])):
        raise ValueError("input_stats: one mean, std >= 0 and min <= max per channel")


def _per_channel(stats: dict, name: str, x: np.ndarray) -> np.ndarray:
    values = np.asarray(stats[name], np.float64)
    if x.ndim == 4 and values.size == x.shape[1]:
        return values.reshape(1, -1)
    return values[:1].reshape(1, 1)


def unfamiliar(x: np.ndarray, stats: dict | None) -> str | None:
    """What is likely wrong when inputs ``x`` are far from the training inputs' ``stats``:
    pixels scaled 0-255 where training saw 0-1, or inverted images (light on dark turned dark
    on light); None when they look like the training inputs (or nothing is known)."""
    if stats is None or x.size == 0:
        return None
    lo, hi = _per_channel(stats, "min", x), _per_channel(stats, "max", x)
    top = float(np.max(x))
    if float(np.max(hi)) <= 1.5 and top > 2.0:
        return (f"inputs reach {top:g}, but the model was trained on values in "
                f"[{float(np.min(lo)):g}, {float(np.max(hi)):g}]: pixels scaled 0-255 instead "
                f"of 0-1? Divide them by 255")
    mean, std = _per_channel(stats, "mean", x), _per_channel(stats, "std", x)
    axes = (2, 3) if x.ndim == 4 else tuple(range(1, x.ndim))
    means = np.mean(x, axis=axes, dtype=np.float64).reshape(x.shape[0], -1)
    if mean.shape[1] != means.shape[1]:
        means = means.mean(axis=1, keepdims=True)
    spread = np.maximum(std, 1e-6)
    far = np.abs(means - mean) / spread
    inverted_far = np.abs((lo + hi - means) - mean) / spread
    odd = np.all((far > 1.5) & (inverted_far < far / 3), axis=1)
    if np.any(odd):
        i = int(np.argmax(odd))
        return (f"{int(odd.sum())} of {x.shape[0]} input(s) look inverted (input {i}: mean "
                f"{float(means[i].mean()):.3g}, the training inputs' {float(mean.mean()):.3g}; "
                f"inverted it would be {float((lo + hi - means[i]).mean()):.3g}): dark on light "
                f"where training saw light on dark? Invert them (fastnn predict --invert)")
    return None


def invert(x: np.ndarray, stats: dict | None) -> np.ndarray:
    """``x`` mirrored within the training range, per channel: ``min + max - x`` (``1 - x`` for
    pixels in [0, 1], and when nothing is known)."""
    if stats is None:
        return (1 - x).astype(x.dtype)
    lo, hi = _per_channel(stats, "min", x), _per_channel(stats, "max", x)
    shape = (1, -1, 1, 1) if x.ndim == 4 and lo.size == x.shape[1] else (1,) * x.ndim
    return ((lo + hi).reshape(shape) - x).astype(x.dtype)
