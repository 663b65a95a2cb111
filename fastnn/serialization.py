"""Saving and loading models and training checkpoints, as ``.npz`` files: ``fn.load``,
``fn.load_checkpoint``, ``fn.save_checkpoint`` and ``model.save``.

The files' layout, their writing and the checks of what is read (a file is untrusted input)
are :mod:`fastnn.model_file`, below :mod:`fastnn.model`; this module, above it, builds a
:class:`fastnn.Sequential` and a :class:`Checkpoint` from what it reads.
"""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import losses as losses_mod
from . import optim
from .layers import Layer
from .model import Sequential
from .model_file import (  # noqa: F401  (saving is model_file's: fn.serialization.save_model works)
    FORMAT,
    FORMAT_VERSION,
    MAX_ARCHITECTURE_BYTES,
    MAX_BYTES,
    ModelFileError,
    build_layer,
    from_json,
    join_arrays,
    key,
    optimizer_state,
    read,
    save_checkpoint,
    save_model,
)


def build_model(path: Path, arch: dict, layers: list[Layer], arrays: dict) -> Sequential:
    """The model of what :func:`fastnn.model_file.read` read from ``path``."""
    try:
        loss = losses_mod.from_config(arch["loss"])
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFileError(f"{path}: not a valid fastnn model (loss {arch['loss']}: "
                             f"{type(e).__name__}: {e})") from None
    model = Sequential(layers, dtype=arch["dtype"], loss=loss, class_names=arch["class_names"])
    for i, layer in enumerate(layers):
        for store in (layer.params, layer.buffers):
            for name in store:
                store[name] = arrays[key(i, name)]
    model.metadata = arch["metadata"]
    model.input_stats = arch["input_stats"]
    return model


def load_model(path: str | os.PathLike, max_bytes: int = MAX_BYTES) -> Sequential:
    """Reads a model (or a checkpoint's model) written by :func:`save_model`, checked as
    untrusted input before anything is allocated; never unpickles or runs code."""
    arch, layers, arrays, _ = read(path, max_bytes)
    return build_model(Path(path), arch, layers, arrays)


# --- a checkpoint's training state: each field's check ----------------------------------------

def _count(v: object) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 0


def _number(v: object) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _finite(v: object) -> bool:
    return _number(v) and math.isfinite(v)


def _rate(v: object) -> bool:
    return _finite(v) and v > 0


def _fraction(v: object) -> bool:  # in [0, 1)
    return _finite(v) and 0 <= v < 1


Rule = tuple  # (check: value -> bool, what the value must be)
TRAINING_FIELDS: dict[str, Rule] = {
    "epoch": (_count, "an integer >= 0"),
    "interrupted": (lambda v: isinstance(v, bool), "true or false"),
    "history": (lambda v: isinstance(v, dict), "an object (each entry checked below)"),
    "optimizer": (lambda v: isinstance(v, dict), "an object"),
    "callbacks": (lambda v: isinstance(v, list) and all(
        isinstance(c, dict) and isinstance(c.get("type"), str) and isinstance(c.get("state"),
                                                                              dict) for c in v),
                  "a list of {type, state} objects"),
}
"""A checkpoint's ``training`` fields: each may be absent (its default) but never wrong; fields
not listed are left to their readers."""
OPTIMIZER_FIELDS: dict[str, dict[str, Rule]] = {
    "SGD": {"lr": (_rate, "a finite number > 0"), "momentum": (_fraction, "in [0, 1)")},
    "Adam": {"lr": (_rate, "a finite number > 0"),
             "betas": (lambda v: isinstance(v, list) and len(v) == 2 and all(map(_fraction, v)),
                       "two numbers in [0, 1)"),
             "eps": (_rate, "a finite number > 0"), "t": (_count, "an integer >= 0")},
}
CALLBACK_FIELDS: dict[str, dict[str, Rule]] = {
    "EarlyStopping": {"best": (lambda v: v is None or _number(v), "a number or null"),
                      "wait": (_count, "an integer >= 0"),
                      "best_epoch": (lambda v: v is None or _count(v), "an integer >= 0 or null"),
                      "weights_epoch": (lambda v: v is None or _count(v),
                                        "an integer >= 0 or null")},
    "ReduceLROnPlateau": {"best": (lambda v: v is None or _number(v), "a number or null"),
                          "wait": (_count, "an integer >= 0"),
                          "scale": (lambda v: _finite(v) and 0 < v <= 1, "in (0, 1]")},
    "ModelCheckpoint": {"best": (lambda v: v is None or _number(v), "a number or null")},
}
"""Each optimizer's and callback's saved fields (matched by the saved type name)."""
STATE_RULES: dict[tuple[str, str], Rule] = {
    ("Adam", "1"): (lambda a: a >= 0, "negative"),  # v, the second moment: sqrt(v) divides
}
"""(optimizer, slot) -> what that slot's arrays may not hold, beyond non-finite values."""


def _check_fields(values: dict, rules: dict[str, Rule], where: str) -> None:
    for name, (check, what) in rules.items():
        if name in values and not check(values[name]):
            raise ValueError(f"{where}{name} is {values[name]!r:.60}, it must be {what}")


def check_training(training: object) -> dict:
    """A checkpoint's parsed ``training`` state, every field checked by the tables above; a
    ValueError names the first wrong field (``optimizer.betas is [2, 0.999], ...``)."""
    if not isinstance(training, dict):
        raise ValueError("'training' must be an object")
    if "epoch" not in training:
        raise ValueError("epoch is missing")
    _check_fields(training, TRAINING_FIELDS, "")
    for name, values in training.get("history", {}).items():
        if not (_number(values) or isinstance(values, list) and all(map(_number, values))):
            raise ValueError(f"history[{name!r}] is {values!r:.60}, it must be a number or a "
                             f"list of numbers")
    config = training.get("optimizer", {})
    _check_fields(config, OPTIMIZER_FIELDS.get(config.get("name"), {}), "optimizer.")
    for i, entry in enumerate(training.get("callbacks", [])):
        _check_fields(entry["state"], CALLBACK_FIELDS.get(entry["type"], {}),
                      f"callbacks[{i}] ({entry['type']}).")
    return training


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns: train on with ``ckpt.model.fit(..., resume=ckpt)``
    (its optimizer, epoch, history and callbacks' state)."""

    model: Sequential
    optimizer: optim.Optimizer
    epoch: int
    history: dict = field(default_factory=dict)
    callbacks: list = field(default_factory=list)
    interrupted: bool = False
    run: dict = field(default_factory=dict)
    """The options that decided the run's numbers (seed, epochs, batch_size, shuffle); empty
    for checkpoints written before they were recorded."""

    def check(self, trainer) -> None:
        """Refuses to carry on with other settings than the run's: another seed, batch size or
        shuffle would not continue the same run, and with a schedule that depends on the total
        (cosine, OneCycle, a function of progress) neither would another number of epochs."""
        now = trainer.options
        for name in ("seed", "batch_size", "shuffle"):
            if self.run.get(name) is not None and now.get(name) != self.run[name]:
                raise ValueError(f"resume: the run was trained with {name}={self.run[name]!r}, "
                                 f"not {now.get(name)!r}; a resumed run keeps its settings")
        planned = self.run.get("epochs")
        if planned is not None and now["epochs"] != planned:
            fixed = [type(cb).__name__ for cb in trainer.callbacks
                     if getattr(cb, "needs_steps", False)]  # uses progress
            if fixed:
                raise ValueError(f"resume: the run was planned for {planned} epochs, not "
                                 f"{now['epochs']}, and its {fixed[0]} schedule depends on the "
                                 f"total; keep epochs={planned}, or start a new run from "
                                 f"the model")

    def restore(self, callbacks) -> None:
        """Gives callbacks (EarlyStopping, ReduceLROnPlateau...) their saved state, matched by
        type in order."""
        saved = list(self.callbacks)
        for cb in callbacks:
            for j, entry in enumerate(saved):
                if entry["type"] == type(cb).__name__:
                    cb.load_state(entry["state"])
                    del saved[j]
                    break


def load_checkpoint(path: str | os.PathLike, optimizer: optim.Optimizer | None = None,
                    max_bytes: int = MAX_BYTES) -> Checkpoint:
    """Reads a checkpoint; its optimizer state goes into ``optimizer`` if given (it must be
    the same kind), else into a new optimizer of the saved kind and settings."""
    path = Path(path)
    arch, layers, layer_arrays, arrays = read(path, max_bytes, training=True)
    if "training" not in arrays:
        raise ModelFileError(f"{path} is a model without training state (not a checkpoint); "
                             f"checkpoints come from ModelCheckpoint or fastnn train")
    try:
        training = check_training(from_json(str(arrays.pop("training")), "the training state"))
        callbacks = [c | {"state": join_arrays(c["state"], arrays)}
                     for c in training.get("callbacks", [])]
        run = training.get("run", {})
        if not isinstance(run, dict) or not all(
                v is None or isinstance(v, bool | int) for v in run.values()):
            raise ValueError(f"run settings {run!r} are not integers")
    except (TypeError, ValueError) as e:
        raise ModelFileError(f"{path}: bad training state ({e})") from None
    epoch, history = int(training["epoch"]), training.get("history", {})
    model = build_model(path, arch, layers, layer_arrays)
    config = training.get("optimizer")
    try:
        state = optimizer_state(arrays)
        for name, a in state.items():
            kind = config.get("name") if isinstance(config, dict) else None
            check, what = STATE_RULES.get((kind, name.rpartition("/")[2]), (None, ""))
            if check is not None and not np.all(check(a)):
                raise ValueError(f"optimizer state {name} holds "
                                 f"{a.size - np.count_nonzero(check(a))} {what} values")
        if optimizer is None:
            optimizer = optim.from_config(config)
        optimizer.load_state(config if isinstance(config, dict) else {}, state,
                             model.parameters())
    except (KeyError, TypeError, ValueError) as e:  # OptimizerStateError is a ValueError
        raise ModelFileError(f"{path}: cannot resume: {e}") from None
    return Checkpoint(model, optimizer, epoch, history, callbacks,
                      bool(training.get("interrupted", False)), run)
