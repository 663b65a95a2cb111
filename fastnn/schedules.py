"""Learning-rate schedules, callbacks that scale the optimizer's rate (all re-exported by
:mod:`fastnn.callbacks`, so ``fn.callbacks.OneCycle()`` works), and ``fn.cosine``.

Learning-rate schedules multiply the optimizer's rate: before each batch the trainer sets
``optimizer.scale = 1`` and each schedule multiplies it by its factor, so schedules combine
(cosine decay with reduce-on-plateau, for instance).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

from .callback_base import Callback, MonitorCallback, check_count

Schedule = Callable[[float], float]
"""Maps training progress in [0, 1] to a multiplier of the base learning rate
(``fit(schedule=...)``)."""


class LearningRateSchedule(Callback):
    """Multiplies the optimizer's rate by :meth:`factor` before each batch."""

    needs_steps = False

    def on_train_begin(self, logs):
        if self.needs_steps and self.trainer.steps is None:
            raise ValueError(f"{type(self).__name__} needs the number of batches per epoch: "
                             f"give fit(steps_per_epoch=...) or batches with a len()")

    def on_batch_begin(self, batch, logs):
        self.optimizer.scale *= self.factor(self.trainer.epoch, batch)

    def factor(self, epoch: int, batch: int) -> float:
        raise NotImplementedError

    def progress(self, epoch: int, batch: int) -> float:
        """Fraction of the whole training done, in [0, 1)."""
        steps = self.trainer.steps
        return (epoch * steps + batch) / (self.trainer.epochs * steps)


class ProgressSchedule(LearningRateSchedule):
    """Any function of the training progress in [0, 1] (``fit(schedule=fn)``)."""

    needs_steps = True

    def __init__(self, fn) -> None:
        if not callable(fn):
            raise ValueError(f"schedule must be a function of progress in [0, 1], got {fn!r}")
        self.fn = fn

    def factor(self, epoch, batch):
        return float(self.fn(self.progress(epoch, batch)))


class CosineDecay(LearningRateSchedule):
    """Linear warm-up over the first ``warmup`` fraction of training, then cosine decay to
    ``final`` times the rate. Also a function of progress (what ``fn.cosine`` returns)."""

    needs_steps = True

    def __init__(self, warmup: float = 0.0, final: float = 0.0) -> None:
        if not 0 <= warmup < 1:
            raise ValueError(f"CosineDecay warmup must be a fraction in [0, 1), got {warmup!r}")
        if not 0 <= final <= 1:
            raise ValueError(f"CosineDecay final must be in [0, 1], got {final!r}")
        self.warmup, self.final = float(warmup), float(final)

    def __call__(self, progress: float) -> float:
        if progress < self.warmup:
            return (progress + 1e-3) / self.warmup
        t = (progress - self.warmup) / max(1.0 - self.warmup, 1e-12)
        return self.final + (1 - self.final) * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))

    def factor(self, epoch, batch):
        return self(self.progress(epoch, batch))


def cosine(warmup: float = 0.0, final: float = 0.0) -> CosineDecay:
    """Linear warm-up over the first ``warmup`` fraction, then cosine decay to ``final``
    (a :class:`CosineDecay`: a callback, and a function of progress)."""
    return CosineDecay(warmup=warmup, final=final)


class StepDecay(LearningRateSchedule):
    """The rate times ``gamma`` every ``every`` epochs (PyTorch's StepLR)."""

    def __init__(self, every: int, gamma: float = 0.1) -> None:
        self.every = check_count("StepDecay", "every", every, 1)
        if not 0 < gamma <= 1:
            raise ValueError(f"StepDecay gamma must be in (0, 1], got {gamma!r}")
        self.gamma = float(gamma)

    def factor(self, epoch, batch):
        return self.gamma ** (epoch // self.every)


class ExponentialDecay(LearningRateSchedule):
    """The rate times ``gamma`` each epoch (PyTorch's ExponentialLR)."""

    def __init__(self, gamma: float) -> None:
        if not 0 < gamma <= 1:
            raise ValueError(f"ExponentialDecay gamma must be in (0, 1], got {gamma!r}")
        self.gamma = float(gamma)

    def factor(self, epoch, batch):
        return self.gamma ** epoch


class OneCycle(LearningRateSchedule):
    """The one-cycle policy (Smith; PyTorch's OneCycleLR with cosine annealing): from
    rate/``div`` up to the optimizer's rate over the first ``warmup`` fraction, then down to
    rate/(``div`` * ``final_div``)."""

    needs_steps = True

    def __init__(self, warmup: float = 0.3, div: float = 25.0, final_div: float = 1e4) -> None:
        if not 0 < warmup < 1:
            raise ValueError(f"OneCycle warmup must be in (0, 1), got {warmup!r}")
        if not (div >= 1 and final_div >= 1):
            raise ValueError(f"OneCycle div and final_div must be >= 1, got {div!r}, "
                             f"{final_div!r}")
        self.warmup, self.div, self.final_div = float(warmup), float(div), float(final_div)

    def factor(self, epoch, batch):
        p = self.progress(epoch, batch)
        start, end = 1 / self.div, 1 / (self.div * self.final_div)
        if p < self.warmup:
            t, a, b = p / self.warmup, start, 1.0
        else:
            t, a, b = (p - self.warmup) / (1 - self.warmup), 1.0, end
        return b + (a - b) * 0.5 * (1 + math.cos(math.pi * t))


class ReduceLROnPlateau(MonitorCallback, LearningRateSchedule):
    """Multiplies the rate by ``factor`` when ``monitor`` has not improved for ``patience``
    epochs, down to ``min_scale`` (in [0, 1]) times the optimizer's rate: it never raises it."""

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10,
                 min_delta: float = 1e-4, min_scale: float = 0.0, mode: str = "auto") -> None:
        MonitorCallback.__init__(self, monitor, mode, min_delta)
        if not 0 < factor < 1:
            raise ValueError(f"ReduceLROnPlateau factor must be in (0, 1), got {factor!r}")
        self.plateau_factor = float(factor)  # the name ``factor`` is the schedules' method
        self.patience = check_count("ReduceLROnPlateau", "patience", patience)
        if isinstance(min_scale, bool) or not (isinstance(min_scale, numbers.Real)
                                               and 0 <= min_scale <= 1):
            raise ValueError(f"ReduceLROnPlateau min_scale must be in [0, 1] (a floor on the "
                             f"rate's scale; 0 for none), got {min_scale!r}")
        self.min_scale, self.scale, self.wait = float(min_scale), 1.0, 0

    def on_train_begin(self, logs):
        MonitorCallback.on_train_begin(self, logs)

    def factor(self, epoch, batch):
        return self.scale

    def on_epoch_end(self, epoch, logs):
        if self.improved(logs):
            self.best, self.wait = float(logs[self.monitor]), 0
            return
        self.wait += 1
        if self.wait > self.patience:
            self.scale, self.wait = max(self.scale * self.plateau_factor, self.min_scale), 0

    def state(self):
        return super().state() | {"scale": self.scale, "wait": self.wait}

    def load_state(self, state):
        super().load_state(state)
        self.scale, self.wait = state.get("scale", 1.0), state.get("wait", 0)
