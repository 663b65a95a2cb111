"""A sweep's tiny data (a .mat file of 240 vectors of 16 features, 3 classes) and spec: each
trial trains a 16-8-3 MLP for one or two epochs in a fraction of a second."""

import numpy as np
import scipy.io


def write_mat(path):
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 80)
    x = rng.normal(size=(240, 16)).astype(np.float32)
    x[np.arange(240), y] += 2.0  # separable enough for the metric to move
    scipy.io.savemat(path, {"X": x, "y": y[:, None].astype(np.float64)})
    return path


def tiny_spec(mat, **search) -> dict:
    return {"train": {"dataset": "mat", "dir": str(mat), "keys": "X,y", "model": "mlp",
                      "hidden": [8], "epochs": 2, "batch_size": 32, "optimizer": "adam",
                      "seed": 0},
            "search": {"method": "grid", "metric": "val_accuracy"} | search,
            "space": {"lr": [0.003, 0.03], "dropout": [0.0, 0.2]}}
