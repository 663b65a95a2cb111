"""What every callback builds on: :class:`Callback` (the hooks) and :class:`MonitorCallback`
(the best value of one metric), with the checks of their settings.

This module imports nothing else from fastnn, so the schedules (:mod:`fastnn.schedules`), the
callbacks (:mod:`fastnn.callbacks`) and the training loop (:mod:`fastnn.training`) can all
build on it. Users find all of it in :mod:`fastnn.callbacks`.
"""

from __future__ import annotations

import math
import numbers


class Callback:
    """Override any of the hooks; ``state``/``load_state`` are saved in checkpoints."""

    trainer = None

    def set_trainer(self, trainer) -> None:
        self.trainer = trainer

    @property
    def model(self):
        return self.trainer.model

    @property
    def optimizer(self):
        return self.trainer.optimizer

    def on_train_begin(self, logs: dict) -> None: ...
    def on_train_end(self, logs: dict) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: dict) -> None: ...
    def on_epoch_end(self, epoch: int, logs: dict) -> None: ...
    def on_batch_begin(self, batch: int, logs: dict) -> None: ...
    def on_batch_end(self, batch: int, logs: dict) -> None: ...

    def state(self) -> dict:
        """What a resumed run needs to carry on (JSON-able)."""
        return {}

    def load_state(self, state: dict) -> None:
        pass


def check_count(owner: str, name: str, value: object, minimum: int = 0) -> int:
    """``value`` as an int, if it is an integer >= ``minimum`` (bools are not counts)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{owner} {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _monitor_mode(owner: str, monitor: object, mode: str) -> str:
    """'min' or 'max': ``mode``, or for 'auto' 'max' for accuracies and 'min' for the rest."""
    if not isinstance(monitor, str) or not monitor:
        raise ValueError(f"{owner} monitor must be a metric name such as 'val_loss', "
                         f"got {monitor!r}")
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{owner} mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        return "max" if "acc" in monitor else "min"
    return mode


class MonitorCallback(Callback):
    """Tracks the best value of one metric (``monitor``); the base of EarlyStopping,
    ModelCheckpoint and ReduceLROnPlateau."""

    def __init__(self, monitor: str, mode: str, min_delta: float) -> None:
        owner = type(self).__name__
        self.monitor = monitor
        self.mode = _monitor_mode(owner, monitor, mode)
        if not (isinstance(min_delta, numbers.Real) and min_delta >= 0):
            raise ValueError(f"{owner} min_delta must be >= 0, got {min_delta!r}")
        self.min_delta = float(min_delta)
        self.best: float | None = None

    def on_train_begin(self, logs):
        names = self.trainer.metric_names
        if self.monitor not in names:
            hint = (" (val_ metrics need validation_data or validation_split)"
                    if self.monitor.startswith("val_") else "")
            raise ValueError(f"{type(self).__name__} monitor {self.monitor!r} is not a metric "
                             f"of this run; choose one of {', '.join(names)}{hint}")

    def improved(self, logs: dict) -> bool:
        value = logs[self.monitor]
        if not math.isfinite(value):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def state(self):
        return {"best": self.best}

    def load_state(self, state):
        self.best = state.get("best")
