"""The ``.npz`` layout of model files and checkpoints: writing them, and reading them back as
checked parts (the architecture, the layers, the arrays). It knows no ``Sequential``: it sits
below :mod:`fastnn.model` (``model.save`` writes through it) and :mod:`fastnn.callbacks`
(``ModelCheckpoint`` does), and :mod:`fastnn.serialization` builds models and checkpoints from
what it reads.

A model file holds the architecture as JSON (``architecture``) and every parameter and buffer
(BatchNorm's running statistics) as an array named by its key (:func:`key`, ``"layer0.w"``, the
key ``model.parameters()`` and the optimizer's state use too); the architecture may also hold
``input_stats``, the training inputs' mean, std, min and max per channel (files written before
it have none). A checkpoint is a model file plus
the optimizer's state (``optimizer/{key}/{slot}``) and where training stands (``training``:
epochs done, history, callback state with its arrays in ``callback/...``, and ``run``, the
options that decide the run's numbers: seed, epochs, batch size, shuffle), so
``fit(resume=...)`` carries on where it stopped; ``fastnn.load`` reads a checkpoint as a model
too. Checkpoints written before the keys were one (their optimizer state named
``optimizer/0.w/0``) still load: :func:`optimizer_state`.

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
import re
import zipfile
from pathlib import Path

import numpy as np

from ._io import atomic_open
from .inputs import check_statistics
from .layers import LAYERS, Layer
from .optim import Optimizer

FORMAT = "fastnn-model"
FORMAT_VERSION = 1
MAX_BYTES = 2 << 30
"""Default cap on the decompressed size of a file's arrays (``load(..., max_bytes=)``)."""
MAX_ARCHITECTURE_BYTES = 1 << 20
MAX_JSON_DEPTH = 64
"""The deepest nesting of lists and objects the JSON parts may have (metadata included)."""
VALUE_RULES = {  # a parameter or buffer name -> (the values it may hold, what they must be)
    "running_var": (lambda a: a >= 0, "a variance, so >= 0"),
}
"""Checks of what arrays hold (beyond being finite), at save and at load alike."""


class ModelFileError(ValueError):
    """A file is not a readable fastnn model."""


def key(layer_index: int, name: str) -> str:
    """The one key of a layer's parameter or buffer, e.g. ``"layer0.w"``: in
    ``model.parameters()``, in the optimizer's state and in files."""
    return f"layer{layer_index}.{name}"


def _arrays(model) -> dict[str, np.ndarray]:
    arrays = {}
    for i, layer in enumerate(model.layers):
        for name, p in (layer.params | layer.buffers).items():
            if not np.all(np.isfinite(p)):
                raise ValueError(f"layer {i} {type(layer).__name__} {name} holds "
                                 f"{int(np.sum(~np.isfinite(p)))} non-finite values: not saving "
                                 f"a broken model")
            problem = bad_values(key(i, name), p)
            if problem:
                raise ValueError(f"layer {i} {type(layer).__name__}: {problem}: not saving a "
                                 f"broken model")
            arrays[key(i, name)] = p
    return arrays


def bad_values(name: str, a: np.ndarray) -> str | None:
    """What is wrong with the values of array ``name`` by :data:`VALUE_RULES`, or None."""
    rule = VALUE_RULES.get(name.rpartition(".")[2])
    if rule is None:
        return None
    ok = rule[0](a)
    if np.all(ok):
        return None
    first = int(np.flatnonzero(~ok)[0])
    return (f"{name} holds {int(np.size(ok) - np.count_nonzero(ok))} values that are not "
            f"{rule[1]} (the first, [{first}], is {a.flat[first]:g})")


def outputs(layers: list[Layer]) -> int | None:
    """How many numbers the model outputs per sample: the width of its last Dense (or Conv2D)
    layer; None when it has neither."""
    for layer in reversed(layers):
        for attribute in ("out_features", "out_channels"):
            if hasattr(layer, attribute):
                return getattr(layer, attribute)
    return None


def check_class_names(names: object, layers: list[Layer]) -> None:
    """``names`` (None, or one string per class) fits the model's outputs: one name per output,
    or two for one sigmoid output. A ValueError says what does not."""
    if names is None:
        return
    if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        raise ValueError("class_names is not a list of strings")
    k = outputs(layers)
    if k is not None and len(names) != k and not (k == 1 and len(names) == 2):
        raise ValueError(f"class_names has {len(names)} names, but the model has {k} outputs")


def json_depth(value: object) -> int:
    """How deeply lists and objects nest in ``value`` (0 for a number or a string)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, dict | list | tuple):
            deepest = max(deepest, depth + 1)
            if depth + 1 > MAX_JSON_DEPTH:
                break
            stack += [(item, depth + 1) for item in (v.values() if isinstance(v, dict) else v)]
    return deepest


def to_json(value: object, what: str, depth: int = MAX_JSON_DEPTH) -> str:
    """``value`` as JSON that :func:`from_json` will read back (nested at most ``depth``
    levels); else a ValueError naming ``what``."""
    if json_depth(value) > depth:
        raise ValueError(f"{what} nests deeper than {depth} levels")
    try:
        return json.dumps(value)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{what} cannot be saved as JSON ({e})") from None


def from_json(text: str, what: str) -> object:
    """Parses a file's JSON part; deep nesting is a ValueError naming ``what``, never a
    RecursionError."""
    try:
        value = json.loads(text)
    except RecursionError:
        value = None
        deep = True
    else:
        deep = json_depth(value) > MAX_JSON_DEPTH
    if deep:
        raise ValueError(f"{what} nests deeper than {MAX_JSON_DEPTH} levels")
    return value


def _architecture(model, metadata: dict | None) -> dict:
    """The architecture to save, checked for everything :func:`read` will require."""
    if metadata is not None and not isinstance(metadata, dict):
        raise ValueError(f"metadata must be a dict (or None), got a {type(metadata).__name__}")
    check_class_names(model.class_names, model.layers)
    arch = {
        "format": FORMAT, "version": FORMAT_VERSION, "dtype": model.dtype.name,
        "loss": model.loss.config(), "class_names": model.class_names,
        "layers": [{"type": type(layer).__name__, "config": layer.config()}
                   for layer in model.layers],
        "metadata": metadata or {},
    } | ({"input_stats": model.input_stats} if model.input_stats is not None else {})
    to_json(metadata or {}, "metadata", MAX_JSON_DEPTH - 1)  # the architecture holds it
    return arch


def _write(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    with atomic_open(path) as f:
        np.savez(f, **arrays)
    return path


def save_model(model, path: str | os.PathLike, metadata: dict | None = None) -> Path:
    """Writes ``model`` (a :class:`fastnn.Sequential`) to ``path`` (``.npz``) atomically;
    refuses non-finite weights."""
    arrays = _arrays(model)
    arrays["architecture"] = np.array(to_json(_architecture(model, metadata), "the architecture"))
    return _write(Path(path), arrays)


def save_checkpoint(path: str | os.PathLike, trainer=None, *, model=None,
                    optimizer: Optimizer | None = None, epoch: int | None = None,
                    history: dict | None = None, callbacks=(), metadata: dict | None = None,
                    interrupted: bool = False) -> Path:
    """Writes the model, the optimizer's state and the training position to ``path``.

    Give a running :class:`fastnn.training.Trainer` (as ModelCheckpoint does) or the parts:
    ``model`` (a :class:`fastnn.Sequential`), ``optimizer`` and ``epoch`` (epochs finished).
    """
    run = None
    if trainer is not None:
        model, optimizer = trainer.model, trainer.optimizer
        epoch, history = trainer.completed_epochs, trainer.history
        callbacks, interrupted = trainer.callbacks, trainer.interrupted or trainer._sigint
        run = trainer.options
    if model is None or optimizer is None or epoch is None:
        raise ValueError("save_checkpoint needs a trainer, or model, optimizer and epoch")
    arrays = _arrays(model)
    config, state = optimizer.state_dict()
    arrays |= {f"optimizer/{k}": a for k, a in state.items()}
    arrays["architecture"] = np.array(to_json(_architecture(model, metadata), "the architecture"))
    states = []
    for cb in callbacks:
        state = cb.state()
        if state:
            state = _split_arrays(state, f"{CALLBACK_ARRAYS}{len(states)}", arrays)
            states.append({"type": type(cb).__name__, "state": state})
    training = {"epoch": int(epoch), "optimizer": config, "interrupted": bool(interrupted),
                "history": _jsonable(history or {}), "callbacks": states}
    if run is not None:
        training["run"] = run
    arrays["training"] = np.array(to_json(training, "the training state"))
    return _write(Path(path), arrays)


CALLBACK_ARRAYS = "callback/"
"""The prefix of the arrays in callbacks' states (EarlyStopping's best weights):
``callback/{n}/{i}``, referred to in the state's JSON as ``{"array": "callback/{n}/{i}"}``."""


def _split_arrays(state, prefix: str, arrays: dict):
    """``state`` with each NumPy array (in dicts and lists, at any depth) moved to ``arrays``
    and replaced by ``{"array": name}``."""
    if isinstance(state, np.ndarray):
        name = f"{prefix}/{sum(k.startswith(prefix + '/') for k in arrays)}"
        arrays[name] = state
        return {"array": name}
    if isinstance(state, dict):
        return {k: _split_arrays(v, prefix, arrays) for k, v in state.items()}
    if isinstance(state, list | tuple):
        return [_split_arrays(v, prefix, arrays) for v in state]
    return state


def join_arrays(state, arrays: dict):
    """The inverse of :func:`_split_arrays`: each ``{"array": name}`` in ``state`` replaced by
    ``arrays[name]`` (taken out of ``arrays``); a missing array is a ValueError."""
    if isinstance(state, dict):
        if set(state) == {"array"} and isinstance(state["array"], str):
            if state["array"] not in arrays or not state["array"].startswith(CALLBACK_ARRAYS):
                raise ValueError(f"callback state refers to a missing array {state['array']!r}")
            return arrays.pop(state["array"])
        return {k: join_arrays(v, arrays) for k, v in state.items()}
    if isinstance(state, list):
        return [join_arrays(v, arrays) for v in state]
    return state


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
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, _, dtype = read_header(f)
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
    arch = from_json(text, "the architecture")
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
        raise ValueError("class_names is not a list of strings")  # counted once layers are built
    _expect(arch.setdefault("metadata", {}), dict, "metadata")
    if arch.setdefault("input_stats", None) is not None:  # files before it have none
        check_statistics(arch["input_stats"])
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
    allowed = set(inspect.signature(cls).parameters) - {"activation"}  # saved as layers
    for option, value in config.items():
        if option not in allowed:
            raise ValueError(f"layer {i} ({kind}) has no option {option!r}")
        if not isinstance(value, numbers.Real | str):
            raise ValueError(f"layer {i} ({kind}) {option} is a {type(value).__name__}")
    try:
        layer = cls(**config)
    except (TypeError, ValueError) as e:
        raise ValueError(f"layer {i}: {e}") from None
    if not layer.built:
        raise ValueError(f"layer {i} ({kind}) lacks its {layer.inferred}")
    return layer


def read(path: str | os.PathLike, max_bytes: int,
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
            check_class_names(arch["class_names"], layers)
            expected = {key(i, name): shape for i, layer in enumerate(layers)
                        for name, shape in layer.shapes().items()}
            dtype = np.dtype(arch["dtype"])
            for name, shape in expected.items():
                if name not in headers:
                    raise ValueError(f"{name} is missing")
                if headers[name] != (shape, dtype):
                    got_shape, got_dtype = headers[name]
                    raise ValueError(f"{name} is {got_dtype}{got_shape}, expected {dtype}{shape}")
            extra = sorted(k for k in set(headers) - set(expected) - {"architecture"}
                           if k != "training" and not k.startswith(("optimizer/",
                                                                    CALLBACK_ARRAYS)))
            if extra:
                raise ValueError(f"unexpected arrays {extra}")
            if "training" in headers and (headers["training"][1].kind != "U" or zf.getinfo(
                    "training.npy").file_size > MAX_ARCHITECTURE_BYTES * 16):
                raise ValueError("the training state is not a JSON string of at most 16 MiB")
            others = {}  # a checkpoint's training state, read only to resume
            for name in (set(headers) - set(expected) - {"architecture"}) if training else ():
                with zf.open(f"{name}.npy") as f:
                    others[name] = np.lib.format.read_array(f, allow_pickle=False)
            arrays = {}
            for name in expected:
                with zf.open(f"{name}.npy") as f:
                    arrays[name] = np.lib.format.read_array(f, allow_pickle=False)
                bad = int(np.size(arrays[name]) - np.count_nonzero(np.isfinite(arrays[name])))
                if bad:
                    raise ValueError(f"{name} has {bad} non-finite values (NaN or inf)")
                problem = bad_values(name, arrays[name])
                if problem:
                    raise ValueError(problem)
    except (zipfile.BadZipFile, OSError, EOFError, KeyError, TypeError, ValueError,
            json.JSONDecodeError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        problem = str(e) if isinstance(e, ValueError) else f"{type(e).__name__}: {e}"
        raise ModelFileError(f"{path}: not a valid fastnn model ({problem})") from None
    return arch, layers, arrays, others


_FORMAT1_STATE = re.compile(r"(\d+)\.([^/]+)/(\d+)")
"""An optimizer state array as checkpoints named it before parameters had one key:
``{layer}.{name}/{slot}`` (now ``layer{layer}.{name}/{slot}``)."""


def optimizer_state(others: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Takes a checkpoint's ``optimizer/...`` arrays out of ``others`` (from :func:`read`), as
    ``{"{key}/{slot}": array}`` for :meth:`fastnn.optim.Optimizer.load_state`; older names
    (``optimizer/0.w/0``) are given their key (``layer0.w/0``)."""
    state = {}
    for name in [n for n in others if n.startswith("optimizer/")]:
        short = name.removeprefix("optimizer/")
        old = _FORMAT1_STATE.fullmatch(short)
        if old:
            short = f"{key(int(old[1]), old[2])}/{old[3]}"
        if short in state:
            raise ValueError(f"optimizer state {short!r} is in the file twice, under the old "
                             f"name and the new one")
        state[short] = others.pop(name)
    return state
