"""Callbacks: code that runs at the edges of training, with Keras's hooks and names.

    model.fit(x, y, validation_split=0.1, epochs=20, callbacks=[
        fn.callbacks.EarlyStopping("val_loss", patience=3, restore_best=True),
        fn.callbacks.ModelCheckpoint("runs/best.npz", monitor="val_accuracy", save_best_only=True),
        fn.callbacks.HistoryLogger("runs/history.csv"),
        fn.callbacks.CosineDecay(warmup=0.02),
    ])

A callback's ``trainer`` (set before ``on_train_begin``) has ``model``, ``optimizer``,
``epochs``, ``initial_epoch``, ``steps`` (batches per epoch, or None if unknown), ``epoch``,
``history`` (lists per metric), ``metric_names`` and ``stop_training``. ``logs`` are dicts of
floats: after a batch, ``loss`` (the epoch's running mean) and ``size``; after an epoch, every
metric of the epoch (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``, ``lr``, ``seconds``).

:class:`Callback` and :class:`MonitorCallback` (the base of the callbacks that watch a metric)
live in :mod:`fastnn.callback_base`, the learning-rate schedules (``CosineDecay``, ``OneCycle``,
``ReduceLROnPlateau``...) in :mod:`fastnn.schedules`; all are importable from here.
"""

from __future__ import annotations

import csv
import io
import json
import math
import numbers
import os
import time
from pathlib import Path

import numpy as np

from ._io import atomic_write_text
from .callback_base import Callback, MonitorCallback, check_count
from .model_file import save_checkpoint
from .progress import Progress, stderr_is_terminal
from .schedules import (  # noqa: F401  (fn.callbacks.OneCycle and the rest)
    CosineDecay,
    ExponentialDecay,
    LearningRateSchedule,
    OneCycle,
    ProgressSchedule,
    ReduceLROnPlateau,
    StepDecay,
)


class LambdaCallback(Callback):
    """Hooks from functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    def __init__(self, **hooks) -> None:
        names = {"on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
                 "on_batch_begin", "on_batch_end"}
        for name, fn in hooks.items():
            if name not in names:
                raise ValueError(f"LambdaCallback: unknown hook {name!r}; hooks are "
                                 f"{', '.join(sorted(names))}")
            setattr(self, name, fn)


class EarlyStopping(MonitorCallback):
    """Keras's early stopping: stops when ``monitor`` has not improved (by more than
    ``min_delta``) for ``patience`` epochs, ignoring the epochs before ``start_from_epoch``.
    ``restore_best`` (Keras's ``restore_best_weights``) puts back the best epoch's weights at
    the end of training. With a ``baseline``, the wait restarts only on epochs that also beat
    it. One line says when it stopped and which weights it restored (``verbose=0``: none).

    The rule is Keras 3's (``keras/src/callbacks/early_stopping.py``): after each epoch the
    wait grows by one and drops to 0 on an improvement; training stops once ``wait >=
    patience`` (never after the first epoch). ``tests/test_early_stopping.py`` compares it
    with a transcription of Keras's on fixed loss sequences. Its state (best value and epoch,
    wait, best weights) goes into checkpoints, so a resumed run ends as the one that never
    stopped.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 0, restore_best: bool = False,
                 min_delta: float = 0.0, mode: str = "auto", *,
                 restore_best_weights: bool | None = None, start_from_epoch: int = 0,
                 baseline: float | None = None, verbose: int = 1) -> None:
        super().__init__(monitor, mode, abs(min_delta) if isinstance(min_delta, numbers.Real)
                         else min_delta)
        self.patience = check_count("EarlyStopping", "patience", patience)
        self.start_from_epoch = check_count("EarlyStopping", "start_from_epoch",
                                            start_from_epoch)
        if restore_best_weights is not None:
            if restore_best and not restore_best_weights:
                raise ValueError("EarlyStopping: give restore_best or restore_best_weights "
                                 "(the same option, Keras's name), not both")
            restore_best = restore_best_weights
        self.restore_best = bool(restore_best)
        if baseline is not None and not (isinstance(baseline, numbers.Real)
                                         and math.isfinite(baseline)):
            raise ValueError(f"EarlyStopping baseline must be a finite number, got {baseline!r}")
        self.baseline = None if baseline is None else float(baseline)
        self.verbose = verbose
        self._reset()

    @property
    def restore_best_weights(self) -> bool:
        """Keras's name for ``restore_best``."""
        return self.restore_best

    def _reset(self) -> None:
        self.best = None
        self.wait = 0
        self.best_weights: list[dict[str, np.ndarray]] | None = None
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self._weights_epoch: int | None = None

    def on_train_begin(self, logs):
        super().on_train_begin(logs)
        if self.trainer.initial_epoch == 0:  # a resumed run keeps its saved state
            self._reset()
        elif self.best_weights is not None:  # a resumed run's: they must fit this model
            shapes = [{k: np.shape(a) for k, a in saved.items()} if isinstance(saved, dict)
                      else None for saved in self.best_weights]
            if shapes != [{k: a.shape for k, a in (layer.params | layer.buffers).items()}
                          for layer in self.model.layers]:
                raise ValueError("EarlyStopping: the saved best weights do not fit this "
                                 "model's layers")

    def _beats(self, value: float, reference: float | None) -> bool:
        if not math.isfinite(value):
            return False
        if reference is None:
            return True
        if self.mode == "min":
            return value < reference - self.min_delta
        return value > reference + self.min_delta

    def on_epoch_end(self, epoch, logs):
        value = logs.get(self.monitor)
        if value is None or epoch < self.start_from_epoch:
            return
        if self.restore_best and self.best_weights is None:
            self._keep_weights(epoch)  # the first epoch watched is the best until beaten
        self.wait += 1
        if self._beats(float(value), self.best):
            self.best, self.best_epoch = float(value), epoch
            if self.restore_best:
                self._keep_weights(epoch)
            if self.baseline is None or self._beats(float(value), self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.trainer.stop_training = True

    def _keep_weights(self, epoch: int) -> None:
        self.best_weights = [{k: a.copy() for k, a in (layer.params | layer.buffers).items()}
                             for layer in self.model.layers]
        self._weights_epoch = epoch

    def on_train_end(self, logs):
        restored = None
        if self.restore_best and self.best_weights is not None:
            for layer, saved in zip(self.model.layers, self.best_weights):
                for k, a in saved.items():
                    store = layer.params if k in layer.params else layer.buffers
                    store[k][...] = a
            restored = self._weights_epoch
        line = self.message(restored)
        if line and self.verbose:
            print(line, flush=True)

    def message(self, restored: int | None) -> str:
        """The line said at the end: the stop, and the weights restored (epochs 1-based)."""
        parts = []
        if self.stopped_epoch is not None:
            best = "" if self.best is None else (f" (best {self.best:.4g} at epoch "
                                                  f"{self.best_epoch + 1})")
            parts.append(f"early stopping after epoch {self.stopped_epoch + 1}: {self.monitor} "
                         f"has not improved for {self.wait} epochs{best}")
        last = self.trainer.completed_epochs - 1 if self.trainer is not None else None
        if restored is not None and restored != last:
            parts.append(f"restored the weights of epoch {restored + 1}")
        return "; ".join(parts)

    def state(self):
        return super().state() | {"wait": self.wait, "best_epoch": self.best_epoch,
                                  "best_weights": self.best_weights,
                                  "weights_epoch": self._weights_epoch}

    def load_state(self, state):
        super().load_state(state)
        self.wait, self.best_epoch = state.get("wait", 0), state.get("best_epoch")
        self.best_weights = state.get("best_weights")
        self._weights_epoch = state.get("weights_epoch", self.best_epoch)


def _check_writable_path(owner: str, path: Path) -> None:
    """The folder ``path`` goes in can be created and written, and ``path`` is not a folder."""
    parent = path.parent
    for p in (parent, *parent.parents):
        if p.exists():
            if not p.is_dir():
                raise ValueError(f"{owner}: {p} is a file, not a folder, so {path} cannot be "
                                 f"written")
            if not os.access(p, os.W_OK | os.X_OK):
                raise ValueError(f"{owner}: cannot write in {p} (permission denied)")
            break
    if path.is_dir():
        raise ValueError(f"{owner}: {path} is a folder; give a file name such as "
                         f"{path / 'best.npz'}")


class ModelCheckpoint(MonitorCallback):
    """Saves a checkpoint (the model, the optimizer state and where training stands, see
    :func:`fastnn.save_checkpoint`) after each epoch, or only when ``monitor``
    improves (``save_best_only``). ``path`` may hold ``{epoch}`` (1-based), e.g.
    ``"ckpt/epoch{epoch:03d}.npz"``; a run carries on from a checkpoint with
    ``model.fit(..., resume=fn.load_checkpoint(path))`` or ``fastnn train --resume``."""

    def __init__(self, path: str | os.PathLike, monitor: str = "val_loss",
                 save_best_only: bool = False, mode: str = "auto", min_delta: float = 0.0,
                 metadata: dict | None = None) -> None:
        super().__init__(monitor, mode, min_delta)
        self.path_template = str(path)
        if not self.path_template.endswith(".npz"):
            raise ValueError(f"ModelCheckpoint path must end in .npz, got {self.path_template!r}")
        try:
            self.path_template.format(epoch=1)
        except (KeyError, IndexError, ValueError) as e:
            raise ValueError(f"ModelCheckpoint path {self.path_template!r}: only {{epoch}} may "
                             f"be filled in ({e})") from None
        self.save_best_only = bool(save_best_only)
        self.metadata = metadata or {}
        self.saved: list[Path] = []

    def on_train_begin(self, logs):
        if self.save_best_only:
            super().on_train_begin(logs)
        _check_writable_path("ModelCheckpoint", Path(self.path_template.format(epoch=1)))

    def on_epoch_end(self, epoch, logs):
        if self.save_best_only:
            if not self.improved(logs):
                return
            self.best = float(logs[self.monitor])
        path = Path(self.path_template.format(epoch=epoch + 1))
        save_checkpoint(path, self.trainer, metadata=self.metadata)
        self.saved.append(path)


class HistoryLogger(Callback):
    """Writes the per-epoch metrics to ``path`` after every epoch: CSV (``.csv``, one row an
    epoch) or JSON (``.json``, a list of objects). A resumed run keeps the rows of the epochs
    before ``initial_epoch``."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if self.path.suffix not in (".csv", ".json"):
            raise ValueError(f"HistoryLogger writes .csv or .json files, got {str(path)!r}")
        self.rows: list[dict] = []

    def on_train_begin(self, logs):
        _check_writable_path("HistoryLogger", self.path)
        self.rows = []
        if self.trainer.initial_epoch > 0 and self.path.is_file():
            self.rows = [r for r in self._read() if int(r["epoch"]) <= self.trainer.initial_epoch]

    def _read(self) -> list[dict]:
        text = self.path.read_text()
        if self.path.suffix == ".json":
            return json.loads(text)
        return [{k: float(v) if k != "epoch" else int(v) for k, v in row.items() if v != ""}
                for row in csv.DictReader(io.StringIO(text))]

    def on_epoch_end(self, epoch, logs):
        self.rows.append({"epoch": epoch + 1} | {k: float(v) for k, v in logs.items()})
        if self.path.suffix == ".json":
            text = json.dumps(self.rows, indent=1)
        else:
            fields = list(dict.fromkeys(k for row in self.rows for k in row))
            out = io.StringIO()
            writer = csv.DictWriter(out, fields, lineterminator="\n")
            writer.writeheader()
            writer.writerows(self.rows)
            text = out.getvalue()
        atomic_write_text(self.path, text)


CSVLogger = HistoryLogger
"""Keras's name for :class:`HistoryLogger` (give it a ``.csv`` path)."""


# --- the progress bar ----------------------------------------------------------------------------


class ProgressBar(Callback):
    """A tqdm bar per epoch (images, rate, time left, running loss), then one line of the
    epoch's metrics. Drawn only when stderr is a terminal (or in a notebook) unless
    ``force``; ``lines=True`` draws no bar and prints the epoch's line (to stdout: logs,
    pipes, CI), as Keras's ``verbose=2``. ``every`` prints every n-th epoch's line only. While
    the run's first batch runs the bar says the kernels are compiling, and the rate and time
    left leave that time out."""

    def __init__(self, force: bool = False, every: int = 1, lines: bool = False) -> None:
        self.force, self.lines = bool(force), bool(lines)
        self.every = check_count("ProgressBar", "every", every, 1)
        self.enabled = not self.lines and (self.force or stderr_is_terminal())
        self.bar = None
        self.first = True

    def on_epoch_begin(self, epoch, logs):
        epochs = self.trainer.epochs
        total = self.trainer.samples
        self.bar = Progress(total, f"epoch {epoch + 1}/{epochs}", unit="img",
                            enabled=self.enabled, force=self.force, leave=False)
        self.enabled = self.bar.enabled or self.force
        if self.first:
            self.bar.note("compiling kernels (first batch)...")
        self.start = time.perf_counter()

    def on_batch_end(self, batch, logs):
        self.bar.update(int(logs.get("size", 1)), loss=logs["loss"])
        if self.first:
            self.first = False
            self.bar.restart_clock()

    def on_epoch_end(self, epoch, logs):
        self.bar.close()
        if not ((epoch + 1) % self.every == 0 or epoch + 1 == self.trainer.epochs
                or self.trainer.stop_training):
            return
        if self.bar.enabled:
            self.bar.write(format_epoch(epoch, self.trainer.epochs, logs))
        elif self.lines:
            print(format_epoch(epoch, self.trainer.epochs, logs), flush=True)

    def on_train_end(self, logs):
        if self.bar is not None:
            self.bar.close()


def format_epoch(epoch: int, epochs: int, logs: dict) -> str:
    """``epoch 1/2: loss 0.2315, acc 93.07%, val_loss 0.0712, val_acc 97.86%, 5.3s``"""
    parts = []
    for k in logs:  # the scores: loss, accuracy, the metrics, then their val_ twins
        if k not in ("lr", "seconds"):
            short = k.replace("accuracy", "acc")
            parts.append(f"{short} {logs[k]:.2%}" if "acc" in short else f"{k} {logs[k]:.4f}")
    return f"epoch {epoch + 1}/{epochs}: " + ", ".join(parts) + f", {logs['seconds']:.1f}s"

