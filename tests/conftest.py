import os
from pathlib import Path

import numpy as np
import pytest

import fastnn as fn

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def data_root() -> Path:
    """Where the real MNIST files are: $FASTNN_DATA (set by .ci/run) or ../shared/data."""
    root = Path(os.environ.get("FASTNN_DATA", ROOT.parent / "shared" / "data"))
    assert (root / "mnist").is_dir(), f"MNIST files not found under {root}; set FASTNN_DATA"
    return root


@pytest.fixture(scope="session")
def mnist_data(data_root):
    return fn.datasets.mnist(data_root / "mnist", download=False)


@pytest.fixture(params=["numba", "reference"])
def backend(request):
    with fn.use_backend(request.param):
        yield request.param


def blobs(n: int = 200, k: int = 3, d: int = 4, seed: int = 0):
    """k well separated Gaussian clusters in d dimensions: (x float32 (n, d), y int64 (n,))."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((k, d)) * 4
    y = rng.integers(0, k, n)
    return (centers[y] + rng.standard_normal((n, d))).astype(np.float32), y
