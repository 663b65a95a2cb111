"""Saving and loading models and training checkpoints, as ``.npz`` files.

A model file holds the architecture as JSON (``architecture``) and every parameter and buffer
(BatchNorm's running statistics) as an array (``layer{i}.{name}``). A checkpoint is a model file
plus the optimizer's state (``optimizer/{parameter}/{slot}``) and where training stands
(``training``: epochs done, history, callback state), so ``fit(initial_epoch=...)`` carries on
where it stopped; ``fastnn.load`` reads a checkpoint as a model too.

Files are untrusted input. Before anything is allocated, the reader checks the zip (every
member a ``.npy``, the declared sizes within ``max_bytes``, so a zip bomb cannot expand past
them); the JSON (its structure and every type, each layer built from its configuration, which
checks the values, without allocating its arrays); and every array's header against the shapes
the architecture implies, so a small file that declares ``Dense(20000, 20000)`` fails there, not
after allocating 1.6 GB. After reading, every weight must be finite. Nothing is unpickled
(``allow_pickle=False``), so loading never runs code. Any problem is a
:class:`ModelFileError` that names the file and what is wrong.

Files are written to a temporary file that is then renamed (:func:`fastnn._io.atomic_open`),
so an interrupted save never breaks the previous file.
"""

from __future__ import annotations

import inspect
import json
import math
import numbers
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import losses as losses_mod
from . import optim
from ._io import atomic_open
from .layers import LAYERS, Layer
from .model import Sequential

FORMAT = "fastnn-model"
FORMAT_VERSION = 1
MAX_BYTES = 2 << 30
"""Default cap on the decompressed size of a file's arrays (``load(..., max_bytes=)``)."""
MAX_ARCHITECTURE_BYTES = 1 << 20


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


# --- loading: the file is untrusted input -------------------------------------------------

def _npy_headers(zf: zipfile.ZipFile, max_bytes: int) -> dict[str, tuple[tuple, np.dtype]]:
    """(shape, dtype) of every member, read from the .npy headers alone."""
    total = sum(info.file_size for info in zf.infolist())
    if total > max_bytes:
        raise ValueError(f"its arrays would take {total:,} bytes unpacked, more than the "
                         f"limit of {max_bytes:,} (load(..., max_bytes=) raises it)")
    headers = {}
    for info in zf.infolist():
        if not info.filename.endswith(".npy"):
            raise ValueError(f"member {info.filename!r} is not a .npy array")
        with zf.open(info) as f:
            version = np.lib.format.read_magic(f)
            read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                    else np.lib.format.read_array_header_2_0)
            shape, _, dtype = read(f)
        if dtype.hasobject:
            raise ValueError(f"member {info.filename!r} holds Python objects")
        if math.prod(shape) * dtype.itemsize > info.file_size:
            raise ValueError(f"member {info.filename!r} declares {shape} but holds fewer bytes")
        headers[info.filename[: -len(".npy")]] = (shape, dtype)
    return headers


def _read_architecture(zf: zipfile.ZipFile, headers: dict) -> dict:
    if "architecture" not in headers:
        raise ValueError("no fastnn architecture in the file")
    shape, dtype = headers["architecture"]
    if shape != () or dtype.kind != "U":
        raise ValueError(f"the architecture is {dtype}{shape}, not a JSON string")
    if zf.getinfo("architecture.npy").file_size > MAX_ARCHITECTURE_BYTES:
        raise ValueError(f"the architecture is larger than {MAX_ARCHITECTURE_BYTES:,} bytes")
    with zf.open("architecture.npy") as f:
        text = str(np.lib.format.read_array(f, allow_pickle=False))
    arch = json.loads(text)
    _expect(arch, dict, "the architecture")
    if arch.get("format") != FORMAT:
        raise ValueError("no fastnn architecture in the file")
    version = arch.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValueError(f"the format version is {version!r}, not an integer")
    if version > FORMAT_VERSION:
        raise ValueError(f"written by a newer fastnn (format {version})")
    if arch.get("dtype") not in ("float32", "float64"):
        raise ValueError(f"dtype is {arch.get('dtype')!r}, not float32 or float64")
    _expect(arch.get("loss"), dict, "loss")
    _expect(arch.get("layers"), list, "layers")
    names = arch.setdefault("class_names", None)
    if names is not None and not (isinstance(names, list)
                                  and all(isinstance(n, str) for n in names)):
        raise ValueError("class_names is not a list of strings")
    _expect(arch.setdefault("metadata", {}), dict, "metadata")
    return arch


def _expect(value: object, kind: type, what: str) -> None:
    if not isinstance(value, kind):
        raise ValueError(f"{what} is a {type(value).__name__}, not a {kind.__name__}")


def build_layer(i: int, spec: object) -> Layer:
    """Layer ``i`` from its saved {"type", "config"}, checked; its arrays not yet allocated."""
    _expect(spec, dict, f"layer {i}")
    kind, config = spec.get("type"), spec.get("config", {})
    if kind not in LAYERS:
        raise ValueError(f"layer {i} has unknown type {kind!r}")
    _expect(config, dict, f"layer {i} ({kind}) config")
    cls = LAYERS[kind]
    allowed = set(inspect.signature(cls).parameters)
    for key, value in config.items():
        if key not in allowed:
            raise ValueError(f"layer {i} ({kind}) has no option {key!r}")
        if not isinstance(value, numbers.Real | str):
            raise ValueError(f"layer {i} ({kind}) {key} is a {type(value).__name__}")
    try:
        return cls(**config)
    except (TypeError, ValueError) as e:
        raise ValueError(f"layer {i}: {e}") from None


def _read(path: str | os.PathLike, max_bytes: int,
          training: bool = False) -> tuple[dict, list[Layer], dict[str, np.ndarray], dict]:
    """(architecture, layers, layer arrays, other arrays) of a model or checkpoint file, every
    part checked (see the module's docstring); the other arrays, read only with ``training``,
    are a checkpoint's ``training`` and ``optimizer/...``. Raises ModelFileError, or
    FileNotFoundError."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    try:
        with zipfile.ZipFile(path) as zf:
            headers = _npy_headers(zf, max_bytes)
            arch = _read_architecture(zf, headers)
            layers = [build_layer(i, spec) for i, spec in enumerate(arch["layers"])]
            expected = {f"layer{i}.{name}": shape for i, layer in enumerate(layers)
                        for name, shape in layer.shapes().items()}
            dtype = np.dtype(arch["dtype"])
            for key, shape in expected.items():
                if key not in headers:
                    raise ValueError(f"{key} is missing")
                if headers[key] != (shape, dtype):
                    got_shape, got_dtype = headers[key]
                    raise ValueError(f"{key} is {got_dtype}{got_shape}, expected {dtype}{shape}")
            extra = sorted(k for k in set(headers) - set(expected) - {"architecture"}
                           if k != "training" and not k.startswith("optimizer/"))
            if extra:
                raise ValueError(f"unexpected arrays {extra}")
            if "training" in headers and (headers["training"][1].kind != "U" or zf.getinfo(
                    "training.npy").file_size > MAX_ARCHITECTURE_BYTES * 16):
                raise ValueError("the training state is not a JSON string of at most 16 MiB")
            others = {}  # a checkpoint's training state, read only to resume
            for key in (set(headers) - set(expected) - {"architecture"}) if training else ():
                with zf.open(f"{key}.npy") as f:
                    others[key] = np.lib.format.read_array(f, allow_pickle=False)
            arrays = {}
            for key in expected:
                with zf.open(f"{key}.npy") as f:
                    arrays[key] = np.lib.format.read_array(f, allow_pickle=False)
                bad = int(np.size(arrays[key]) - np.count_nonzero(np.isfinite(arrays[key])))
                if bad:
                    raise ValueError(f"{key} has {bad} non-finite values (NaN or inf)")
    except (zipfile.BadZipFile, OSError, EOFError, KeyError, TypeError, ValueError,
            json.JSONDecodeError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        problem = str(e) if isinstance(e, ValueError) else f"{type(e).__name__}: {e}"
        raise ModelFileError(f"{path}: not a valid fastnn model ({problem})") from None
    return arch, layers, arrays, others


def _build(path: Path, arch: dict, layers: list[Layer], arrays: dict) -> Sequential:
    try:
        loss = losses_mod.from_config(arch["loss"])
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFileError(f"{path}: not a valid fastnn model (loss {arch['loss']}: "
                             f"{type(e).__name__}: {e})") from None
    model = Sequential(layers, dtype=arch["dtype"], loss=loss, class_names=arch["class_names"])
    for i, layer in enumerate(layers):
        for store in (layer.params, layer.buffers):
            for name in store:
                store[name] = arrays[f"layer{i}.{name}"]
    model.metadata = arch["metadata"]
    return model


def load_model(path: str | os.PathLike, max_bytes: int = MAX_BYTES) -> Sequential:
    """Reads a model (or a checkpoint's model) written by :func:`save_model`, checked as
    untrusted input before anything is allocated; never unpickles or runs code."""
    arch, layers, arrays, _ = _read(path, max_bytes)
    return _build(Path(path), arch, layers, arrays)


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
    arch, layers, layer_arrays, arrays = _read(path, max_bytes, training=True)
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
    model = _build(path, arch, layers, layer_arrays)
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
