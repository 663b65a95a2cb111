"""Splitting a labelled data set into training and test parts, class by class."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .idx import DataError


def stratified_split(x: np.ndarray, y: np.ndarray, names: list[str], test_fraction: float,
                     seed: int, where: str | os.PathLike = ""):
    """Splits each class on its own, then shuffles both parts: ``(x_train, y_train), (x_test,
    y_test)``. Every class must keep a training sample (and a test sample when
    ``test_fraction > 0``); ``names`` (one per class index) and ``where`` go in the error."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list] = {"xtr": [], "ytr": [], "xte": [], "yte": []}
    for c, name in enumerate(names):
        idx = np.flatnonzero(y == c)
        n, n_test = len(idx), int(round(len(idx) * test_fraction))
        if n - n_test < 1 or (test_fraction > 0 and n_test < 1):
            raise DataError(f"{Path(where) / name if where else name}: {n} image(s) split with "
                            f"test_fraction {test_fraction:g} leave {n - n_test} for training "
                            f"and {n_test} for testing; every class needs at least one of each "
                            "(add images or change the test fraction)")
        idx = idx[rng.permutation(n)]
        parts["xte"].append(x[idx[:n_test]])
        parts["xtr"].append(x[idx[n_test:]])
        parts["yte"].append(y[idx[:n_test]])
        parts["ytr"].append(y[idx[n_test:]])
    out = {key: np.concatenate(v) for key, v in parts.items()}
    for a, b in (("xtr", "ytr"), ("xte", "yte")):
        order = rng.permutation(len(out[a]))
        out[a], out[b] = out[a][order], out[b][order]
    return (out["xtr"], out["ytr"]), (out["xte"], out["yte"])
