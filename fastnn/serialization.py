"""Saving and loading models and training checkpoints, as ``.npz`` files.

A model file holds the architecture as JSON (``architecture``) and every parameter and buffer
(BatchNorm's running statistics) as an array (``layer{i}.{name}``). A checkpoint is a model file
plus the optimizer's state (``optimizer/{parameter}/{slot}``) and where training stands
(``training``: epochs done, history, callback state), so ``fit(initial_epoch=...)`` carries on
where it stopped; ``fastnn.load`` reads a checkpoint as a model too.

Files are untrusted input: they are read with ``allow_pickle=False`` (loading never runs code),
the architecture is checked against the stored arrays' headers before anything is allocated,
and every JSON field is type-checked; any problem is a :class:`ModelFileError` that names the
file. Files are written to a temporary file that is then renamed (:func:`fastnn._io.atomic_open`),
so an interrupted save never breaks the previous file.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import losses as losses_mod
from . import optim
from ._io import atomic_open
from .layers import LAYERS
from .model import Sequential

FORMAT = "fastnn-model"
FORMAT_VERSION = 1
MAX_BYTES = 2 << 30
"""Default cap on the decompressed size of a file's arrays (``load(..., max_bytes=)``)."""


class ModelFileError(ValueError):
    """A file is not a readable fastnn model."""


def _arrays(model: Sequential) -> dict[str, np.ndarray]:
    arrays = {}
    for i, layer in enumerate(model.layers):
        for name, p in (layer.params | layer.buffers).items():
            if not np.all(np.isfinite(p)):
                raise ValueError(f"layer {i} {type(layer).__name__} {name} holds "
                                 f"{int(np.sum(~np.isfinite(p)))} non-finite values: not saving "
                                 f"a broken model")
            arrays[f"layer{i}.{name}"] = p
    return arrays


def _architecture(model: Sequential, metadata: dict | None) -> dict:
    return {
        "format": FORMAT, "version": FORMAT_VERSION, "dtype": model.dtype.name,
        "loss": model.loss.config(), "class_names": model.class_names,
        "layers": [{"type": type(layer).__name__, "config": layer.config()}
                   for layer in model.layers],
        "metadata": metadata or {},
    }


def _write(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    with atomic_open(path) as f:
        np.savez(f, **arrays)
    return path


def save_model(model: Sequential, path: str | os.PathLike, metadata: dict | None = None) -> Path:
    """Writes ``model`` to ``path`` (``.npz``) atomically; refuses non-finite weights."""
    arrays = _arrays(model)
    arrays["architecture"] = np.array(json.dumps(_architecture(model, metadata)))
    return _write(Path(path), arrays)


def save_checkpoint(path: str | os.PathLike, trainer=None, *, model: Sequential | None = None,
                    optimizer: optim.Optimizer | None = None, epoch: int | None = None,
                    history: dict | None = None, callbacks=(), metadata: dict | None = None,
                    interrupted: bool = False) -> Path:
    """Writes the model, the optimizer's state and the training position to ``path``.

    Give a running :class:`fastnn.training.Trainer` (as ModelCheckpoint does) or the parts:
    ``model``, ``optimizer`` and ``epoch`` (epochs finished).
    """
    if trainer is not None:
        model, optimizer = trainer.model, trainer.optimizer
        epoch, history = trainer.completed_epochs, trainer.history
        callbacks, interrupted = trainer.callbacks, trainer.interrupted or trainer._sigint
    if model is None or optimizer is None or epoch is None:
        raise ValueError("save_checkpoint needs a trainer, or model, optimizer and epoch")
    arrays = _arrays(model)
    config, state = optimizer.state_dict()
    arrays |= {f"optimizer/{k}": a for k, a in state.items()}
    arrays["architecture"] = np.array(json.dumps(_architecture(model, metadata)))
    training = {"epoch": int(epoch), "optimizer": config, "interrupted": bool(interrupted),
                "history": _jsonable(history or {}),
                "callbacks": [{"type": type(cb).__name__, "state": cb.state()}
                              for cb in callbacks if cb.state()]}
    arrays["training"] = np.array(json.dumps(training))
    return _write(Path(path), arrays)


def _jsonable(history: dict) -> dict:
    return {k: (v if not isinstance(v, list) else [float(a) for a in v])
            for k, v in history.items()}


# --- loading -------------------------------------------------------------------------------------


def _expected_values(spec: dict) -> int:
    """Parameters and buffers a layer config declares, from its numbers alone (no allocation)."""
    c = spec["config"]

    def num(key: str) -> int:
        v = c.get(key)
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"layer {spec['type']} {key} is {v!r}, not a positive integer")
        return v

    kind = spec["type"]
    if kind == "Dense":
        return num("in_features") * num("out_features") + num("out_features")
    if kind == "Conv2D":
        k = num("kernel_size")
        return num("out_channels") * (num("in_channels") * k * k + 1)
    if kind.startswith("BatchNorm"):
        return 4 * num("channels")
    return 0


def _headers(path: Path, max_bytes: int) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Shape and dtype of every array in the archive, from the headers only."""
    headers = {}
    with zipfile.ZipFile(path) as z:
        total = sum(info.file_size for info in z.infolist())
        if total > max_bytes:
            raise ValueError(f"its arrays would take {total:,} bytes, over the limit of "
                             f"{max_bytes:,} (load(..., max_bytes=) raises it)")
        for info in z.infolist():
            with z.open(info) as f:
                major, _ = np.lib.format.read_magic(f)
                read = (np.lib.format.read_array_header_1_0 if major == 1
                        else np.lib.format.read_array_header_2_0)
                shape, _, dtype = read(f, max_header_size=10000)
            if dtype.hasobject:
                raise ValueError(f"{info.filename} holds Python objects (a pickle)")
            if math.prod(shape) * dtype.itemsize > info.file_size:
                raise ValueError(f"{info.filename} declares {shape} but holds fewer bytes")
            headers[info.filename.removesuffix(".npy")] = (shape, dtype)
    return headers


def _check_architecture(arch: object, headers: dict) -> dict:
    if not isinstance(arch, dict) or arch.get("format") != FORMAT:
        raise ValueError("no fastnn architecture in the file")
    version = arch.get("version", 0)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(f"written by a newer fastnn (format {version!r})")
    layers, loss = arch.get("layers"), arch.get("loss")
    if not isinstance(layers, list) or not all(
            isinstance(s, dict) and isinstance(s.get("type"), str)
            and isinstance(s.get("config"), dict) for s in layers):
        raise ValueError("'layers' must be a list of {type, config} objects")
    for i, spec in enumerate(layers):
        if spec["type"] not in LAYERS:
            raise ValueError(f"layer {i} has unknown type {spec['type']!r}")
    if not isinstance(loss, dict) or loss.get("name") not in losses_mod.LOSSES:
        raise ValueError(f"unknown loss {loss!r:.80}")
    names = arch.get("class_names")
    if names is not None and not (isinstance(names, list)
                                  and all(isinstance(n, str) for n in names)):
        raise ValueError("'class_names' must be a list of strings")
    if not isinstance(arch.get("metadata", {}), dict):
        raise ValueError("'metadata' must be an object")
    if arch.get("dtype") not in ("float32", "float64"):
        raise ValueError(f"dtype {arch.get('dtype')!r} is not float32 or float64")
    stored = sum(math.prod(shape) for key, (shape, _) in headers.items()
                 if key.startswith("layer"))
    declared = sum(_expected_values(spec) for spec in layers)
    if declared != stored:
        raise ValueError(f"the architecture declares {declared:,} parameter values, the file "
                         f"holds {stored:,}")
    return arch


def _read(path: Path, max_bytes: int) -> tuple[dict, dict[str, np.ndarray]]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    try:
        headers = _headers(path, max_bytes)
        if "architecture" not in headers:
            raise ValueError("no fastnn architecture in the file")
        with np.load(path, allow_pickle=False) as data:
            arch = json.loads(str(data["architecture"]))
            _check_architecture(arch, headers)
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise ModelFileError(f"{path}: not a readable fastnn model ({e})") from None
    except (KeyError, TypeError, ValueError, json.JSONDecodeError) as e:
        raise ModelFileError(f"{path}: not a valid fastnn model ({type(e).__name__}: {e})"
                             ) from None
    arrays.pop("architecture")
    return arch, arrays


def _build(path: Path, arch: dict, arrays: dict[str, np.ndarray]) -> Sequential:
    try:
        layers = [LAYERS[spec["type"]](**spec["config"]) for spec in arch["layers"]]
        model = Sequential(layers, dtype=arch["dtype"],
                           loss=losses_mod.from_config(arch["loss"]),
                           class_names=arch.get("class_names"))
        for i, layer in enumerate(layers):
            for store in (layer.params, layer.buffers):
                for name, p in store.items():
                    key = f"layer{i}.{name}"
                    if key not in arrays:
                        raise ValueError(f"layer {i} {name} is missing")
                    saved = arrays.pop(key)
                    if saved.shape != p.shape or saved.dtype != p.dtype:
                        raise ValueError(f"layer {i} {name} is {saved.dtype}{saved.shape}, "
                                         f"expected {p.dtype}{p.shape}")
                    if not np.all(np.isfinite(saved)):
                        raise ValueError(f"layer {i} {type(layer).__name__} {name} holds "
                                         f"{int(np.sum(~np.isfinite(saved)))} non-finite values")
                    store[name] = saved.copy()
        if any(k.startswith("layer") for k in arrays):
            raise ValueError(f"unexpected arrays {sorted(k for k in arrays if k[:5] == 'layer')}")
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFileError(f"{path}: not a valid fastnn model ({type(e).__name__}: {e})"
                             ) from None
    model.metadata = arch.get("metadata", {})
    return model


def load_model(path: str | os.PathLike, max_bytes: int = MAX_BYTES) -> Sequential:
    """Reads a model (or a checkpoint's model) written by :func:`save_model`."""
    arch, arrays = _read(path, max_bytes)
    return _build(Path(path), arch, arrays)


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns: train on with
    ``ckpt.model.fit(..., optimizer=ckpt.optimizer, initial_epoch=ckpt.epoch)``."""

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
    arch, arrays = _read(path, max_bytes)
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
    state = {k.removeprefix("optimizer/"): arrays.pop(k) for k in list(arrays)
             if k.startswith("optimizer/")}
    model = _build(path, arch, arrays)
    config = training.get("optimizer")
    try:
        if optimizer is None:
            optimizer = optim.from_config(config)
        optimizer.load_state(config if isinstance(config, dict) else {}, state,
                             model.parameters())
    except (KeyError, TypeError, ValueError) as e:  # OptimizerStateError is a ValueError
        raise ModelFileError(f"{path}: cannot resume: {e}") from None
    return Checkpoint(model, optimizer, epoch, history, callbacks,
                      bool(training.get("interrupted", False)))
