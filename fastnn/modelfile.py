"""Reading a model file as untrusted input.

A saved model is one ``.npz`` (a zip of ``.npy`` arrays): ``architecture`` holds JSON, every
other member is ``layer{i}.{name}``. Before anything is allocated, the reader checks

- the zip: every member a ``.npy``, the declared sizes within ``max_bytes`` (a zip bomb
  cannot expand past them), the architecture within 1 MiB;
- the JSON: its structure and every type, each layer built from its configuration (which
  checks the values) without allocating its arrays;
- every array's header (shape and dtype) against the shapes the architecture implies: a small
  file that declares ``Dense(20000, 20000)`` fails here, not after allocating 1.6 GB;

and after reading, that every weight is finite. Nothing is unpickled, so loading never runs
code. Every problem is a :class:`ModelFileError` that names the file and what is wrong.
"""

from __future__ import annotations

import inspect
import json
import numbers
import os
import zipfile
from pathlib import Path

import numpy as np

from .layers import LAYERS, Layer

FORMAT = "fastnn-model"
FORMAT_VERSION = 1
MAX_BYTES = 2 * 1024**3
"""The default bound on the decompressed size of a model file's arrays (2 GiB)."""
MAX_ARCHITECTURE_BYTES = 1024**2


class ModelFileError(ValueError):
    """A file is not a readable fastnn model."""


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
        headers[info.filename[: -len(".npy")]] = (shape, dtype)
    return headers


def _architecture(zf: zipfile.ZipFile, headers: dict) -> dict:
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


def read(path: str | os.PathLike, max_bytes: int = MAX_BYTES) -> tuple[dict, list[Layer],
                                                                       dict[str, np.ndarray]]:
    """(architecture, layers, arrays) of a model file, every part checked (see the module's
    docstring); raises ModelFileError, or FileNotFoundError when there is no file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    try:
        with zipfile.ZipFile(path) as zf:
            headers = _npy_headers(zf, max_bytes)
            arch = _architecture(zf, headers)
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
            extra = sorted(set(headers) - set(expected) - {"architecture"})
            if extra:
                raise ValueError(f"unexpected arrays {extra}")
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
    return arch, layers, arrays
