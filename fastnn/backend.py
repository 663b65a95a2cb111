"""The one place that picks the kernel implementation every layer calls.

    fn.set_backend("reference")   # plain NumPy, slow, obviously right
    fn.set_backend("numba")       # the default (or $FASTNN_BACKEND)

Layers call kernels as ``ops.conv2d_forward(...)``; ``ops`` forwards to the current module.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from .kernels import numba as _numba
from .kernels import reference as _reference

BACKENDS: dict[str, ModuleType] = {"numba": _numba, "reference": _reference}
_current = "numba"


def set_backend(name: str) -> None:
    """Switches every layer, loss and optimizer to the ``numba`` or ``reference`` kernels."""
    global _current
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    _current = name


def get_backend() -> str:
    return _current


@contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Runs a block on another backend, then restores the previous one."""
    previous = _current
    set_backend(name)
    try:
        yield
    finally:
        set_backend(previous)


class _Ops:
    """Attribute access goes to the current backend's kernel module."""

    def __getattr__(self, name: str):
        return getattr(BACKENDS[_current], name)


ops = _Ops()
set_backend(os.environ.get("FASTNN_BACKEND", "numba"))
