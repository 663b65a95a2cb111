"""Checks of what users hand to ``fit``, ``evaluate`` and ``predict``: numbers that can be
trained on, counts that make sense, and a training step that stays finite.

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


def all_finite(arrays: list[np.ndarray]) -> bool:
    """Whether every array is free of NaN and inf (one sum each: NaN and inf propagate)."""
    with np.errstate(all="ignore"):
        return all(np.isfinite(np.sum(a)) for a in arrays)


def diverged(what: str, epoch: int, batch: int, lr: float, kept: str) -> FloatingPointError:
    return FloatingPointError(f"{what} at epoch {epoch}, batch {batch}: training diverged; try "
                              f"a smaller learning rate (now {lr:g}). The model keeps {kept}.")


class DivergenceGuard:
    """Keeps a model's weights finite through training. Before each step it checks the loss and
    the gradients: a step with non-finite ones is never taken, and the batch-norm running
    statistics that its forward pass moved go back, so the model keeps the last step's state.
    After each step it checks the weights, which an overflowing update can turn infinite: then
    they go back to those of the epoch's start, copied once per epoch."""

    def __init__(self, model) -> None:
        self.params = [p for _, p, _ in model.parameters()]
        self.buffers = [b for layer in model.layers for b in layer.buffers.values()]
        self.epoch_params: list[np.ndarray] = []
        self.epoch_buffers: list[np.ndarray] = []
        self.batch_buffers: list[np.ndarray] = []

    def start_epoch(self) -> None:
        self.epoch_params = [p.copy() for p in self.params]
        self.epoch_buffers = [b.copy() for b in self.buffers]

    def start_batch(self) -> None:
        self.batch_buffers = [b.copy() for b in self.buffers]  # a few KB of statistics

    def before_step(self, loss: float, grads: list[np.ndarray], epoch: int, batch: int,
                    lr: float) -> None:
        if np.isfinite(loss) and all_finite(grads):
            return
        _restore(self.buffers, self.batch_buffers)
        what = f"loss became {loss}" if not np.isfinite(loss) else "a gradient became non-finite"
        raise diverged(what, epoch, batch, lr, "the weights from before this batch")

    def after_step(self, epoch: int, batch: int, lr: float) -> None:
        if all_finite(self.params) and all_finite(self.buffers):
            return
        _restore(self.params, self.epoch_params)
        _restore(self.buffers, self.epoch_buffers)
        raise diverged("the weights overflowed", epoch, batch, lr,
                       f"the weights it had at the start of epoch {epoch}")


def _restore(arrays: list[np.ndarray], saved: list[np.ndarray]) -> None:
    for a, b in zip(arrays, saved):
        a[...] = b
