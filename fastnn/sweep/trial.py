"""One trial: a plain function of plain data, :func:`run_trial`, that a Dask worker imports by
reference. It trains the way ``fastnn train`` does (its options, data loading and set-up come
from :mod:`fastnn.cli.train`) and returns a dict: the metrics per epoch, the times, where it
ran, and the trained model's bytes (the client keeps the best; workers write no files)."""

from __future__ import annotations

import os
import socket
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

from .. import backend, data
from .._malloc import retain_freed_memory
from ..callbacks import EarlyStopping
from ..cli.train import _load_data, _set_up
from .spec import parse_options

_DATA: dict = {}  # this process's data set, by the options that load it (one at a time)
_WARM: dict = {}  # model and input shape -> the seconds the first (warm-up) fit took
DATA_OPTIONS = ("dataset", "dir", "data", "limit", "size", "mode", "label_pattern",
                "test_fraction", "class_names", "keys", "shape", "order", "seed")


def _data(args) -> data.Splits:
    """The data set of these options, loaded once per process."""
    key = tuple(str(getattr(args, k, None)) for k in DATA_OPTIONS)
    if key not in _DATA:
        _DATA.clear()
        _DATA[key] = _load_data(args)
    return _DATA[key]


def _warm_up(args, loaded: data.Splits) -> float:
    """A tiny fit (16 images, batch 8, one epoch with validation) of a model like the trial's,
    the first time this process sees its model and input shape: it compiles (or loads from
    Numba's cache) every kernel the trial calls. Returns its seconds, 0.0 when already warm."""
    x, y = loaded.train
    key = (args.model, args.hidden, args.activation, args.backend, x.shape[1:], args.augment,
           args.optimizer)
    if key in _WARM:
        return 0.0
    start = time.perf_counter()
    training = _set_up(args, loaded)
    n = min(16, len(x))
    training.model.fit(x[:n], y[:n], optimizer=training.optimizer, epochs=1, batch_size=8,
                       validation_data=(x[:n], y[:n]), progress=False,
                       augment=training.augment)
    _WARM[key] = time.perf_counter() - start
    return _WARM[key]


def run_trial(config: dict) -> dict:
    """Trains one trial. ``config``: ``number``, ``params`` (its searched values), ``options``
    (every fastnn train option of the trial), ``metric``, ``direction`` and ``threads`` (Numba
    threads for it; None keeps the process's). Returns the trial's record: ``values`` (the
    metric per epoch), ``value`` (the best epoch's, whose weights the model keeps),
    ``history``, ``seconds`` (training), ``compile_seconds`` (the warm-up fit, 0 when warm),
    ``host``, ``pid``, ``threads`` (Numba's, in the trial), ``numba_threads`` (its pool, from
    NUMBA_NUM_THREADS or the cores), and ``model`` (the .npz file's bytes). Raises what
    training raises (e.g. FloatingPointError when it diverges)."""
    entered = time.perf_counter()
    retain_freed_memory()  # as fastnn train does (Dask's workers trim freed memory at 64 KiB)
    previous = numba.get_num_threads()
    if config.get("threads"):
        numba.set_num_threads(min(int(config["threads"]), numba.config.NUMBA_NUM_THREADS))
    try:
        args = parse_options(config["options"])
        with backend.use_backend(args.backend):
            loaded = _data(args)
            compile_seconds = _warm_up(args, loaded)
            result = _train(args, loaded, config)
    finally:
        numba.set_num_threads(previous)
    return result | {
        "number": config["number"], "params": config["params"],
        "compile_seconds": compile_seconds, "host": socket.gethostname(), "pid": os.getpid(),
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
        "numba_num_threads_env": os.environ.get("NUMBA_NUM_THREADS"),
        "total_seconds": time.perf_counter() - entered}


def _train(args, loaded: data.Splits, config: dict) -> dict:
    """The fit of :func:`fastnn.cli.train._fit` without its printing, with early stopping on
    the metric (patience: the spec's, else never) keeping the best epoch's weights."""
    training = _set_up(args, loaded)
    metric = config["metric"]
    patience = args.patience if args.patience is not None else args.epochs
    stop = EarlyStopping(metric, patience, restore_best=True)
    threads = numba.get_num_threads()
    start = time.perf_counter()
    history = training.model.fit(
        *loaded.train, optimizer=training.optimizer, epochs=args.epochs,
        batch_size=training.batch_size, validation_data=loaded.test, seed=args.seed,
        progress=False, schedule=training.schedule, callbacks=[stop],
        augment=training.augment)
    seconds = time.perf_counter() - start
    values = [float(v) for v in history[metric]]
    pick = np.argmax if config["direction"] == "maximize" else np.argmin
    best = int(pick(values))
    metadata = {"data": loaded.description,
                "sweep": {"trial": config["number"], "params": config["params"],
                          metric: values[best], "epoch": best + 1}}
    with tempfile.TemporaryDirectory(prefix="fastnn-trial-") as tmp:
        path = training.model.save(Path(tmp) / "model.npz", metadata=metadata)
        model = path.read_bytes()
    return {"values": values, "value": values[best], "best_epoch": best + 1,
            "epochs": len(values), "threads": threads, "seconds": seconds, "model": model,
            "history": {k: [float(x) for x in v] for k, v in history.items()
                        if isinstance(v, list)}}
