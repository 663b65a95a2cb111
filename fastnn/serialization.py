"""Saving and loading models and training checkpoints, as ``.npz`` files: ``fn.load``,
``fn.load_checkpoint``, ``fn.save_checkpoint`` and ``model.save``.

The files' layout, their writing and the checks of what is read (a file is untrusted input)
are :mod:`fastnn.model_file`, below :mod:`fastnn.model`; this module, above it, builds a
:class:`fastnn.Sequential` and a :class:`Checkpoint` from what it reads.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

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
        training = json.loads(str(arrays.pop("training")))
        if not isinstance(training, dict):
            raise ValueError("'training' must be an object")
        epoch = training.get("epoch")
        if not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"epoch {epoch!r} is not a non-negative integer")
        history, callbacks = training.get("history", {}), training.get("callbacks", [])
        if not isinstance(history, dict) or not isinstance(callbacks, list) or not all(
                isinstance(c, dict) and isinstance(c.get("type"), str)
                and isinstance(c.get("state"), dict) for c in callbacks):
            raise ValueError("malformed history or callback state")
    except (TypeError, ValueError, json.JSONDecodeError) as e:
        raise ModelFileError(f"{path}: bad training state ({e})") from None
    model = build_model(path, arch, layers, layer_arrays)
    config = training.get("optimizer")
    try:
        state = optimizer_state(arrays)
        if optimizer is None:
            optimizer = optim.from_config(config)
        optimizer.load_state(config if isinstance(config, dict) else {}, state,
                             model.parameters())
    except (KeyError, TypeError, ValueError) as e:  # OptimizerStateError is a ValueError
        raise ModelFileError(f"{path}: cannot resume: {e}") from None
    return Checkpoint(model, optimizer, epoch, history, callbacks,
                      bool(training.get("interrupted", False)))
