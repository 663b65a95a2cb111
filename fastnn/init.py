"""Weight initializers: ``init(rng, shape, fan_in, fan_out, dtype) -> array``.

Layers take an initializer by name (``"he"``, ``"glorot"``, ``"scaled_normal"``,
``"truncated_normal"``, ``"uniform"``) or as a callable of that signature.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Initializer = Callable[[np.random.Generator, tuple, int, int, np.dtype], np.ndarray]


def he(rng, shape, fan_in, fan_out, dtype):
    """Normal with std sqrt(2 / fan_in): keeps ReLU activations at unit scale."""
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(dtype)


def glorot(rng, shape, fan_in, fan_out, dtype):
    """Uniform in +-sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio), for tanh and sigmoid."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape).astype(dtype)


def scaled_normal(scale: float = 1.0) -> Initializer:
    """Normal with std scale / sqrt(fan_in), the classic 1/sqrt(n) scaling."""

    def init(rng, shape, fan_in, fan_out, dtype):
        return (rng.standard_normal(shape) * (scale / np.sqrt(fan_in))).astype(dtype)

    return init


def truncated_normal(std: float = 0.05) -> Initializer:
    """Normal with the given std, redrawn wherever it falls beyond two std."""

    def init(rng, shape, fan_in, fan_out, dtype):
        w = rng.standard_normal(shape)
        while np.any(bad := np.abs(w) > 2):
            w[bad] = rng.standard_normal(int(bad.sum()))
        return (w * std).astype(dtype)

    return init


def uniform(limit: float = 0.12) -> Initializer:
    """Uniform in [-limit, limit]."""

    def init(rng, shape, fan_in, fan_out, dtype):
        return rng.uniform(-limit, limit, shape).astype(dtype)

    return init


INITIALIZERS: dict[str, Initializer] = {
    "he": he,
    "glorot": glorot,
    "scaled_normal": scaled_normal(),
    "truncated_normal": truncated_normal(),
    "uniform": uniform(),
}


def get(init: str | Initializer) -> Initializer:
    if callable(init):
        return init
    if init not in INITIALIZERS:
        raise ValueError(f"unknown initializer {init!r}; choose one of {', '.join(INITIALIZERS)}")
    return INITIALIZERS[init]
