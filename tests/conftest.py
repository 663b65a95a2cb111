import os
from pathlib import Path

import numpy as np
import pytest

import fastnn as fn

ROOT = Path(__file__).resolve().parents[1]


GET_MNIST = ("download it once with `python -c 'import fastnn; fastnn.datasets.mnist()'` "
             "(into ~/.cache/fastnn/mnist), or set FASTNN_DATA to the folder that holds mnist/ "
             "with the four IDX files")


def has_mnist(root: Path) -> bool:
    """root/mnist holds the four MNIST files (gzip or raw)."""
    try:
        fn.datasets.locate(fn.datasets.MNIST, root / "mnist", download_ok=False)
    except (fn.datasets.DataError, OSError):
        return False
    return True


def find_data_root(env: dict | None = None) -> Path:
    """Where users keep MNIST: $FASTNN_DATA, else ../shared/data next to the checkout, else the
    download cache (~/.cache/fastnn, or $XDG_CACHE_HOME/fastnn). FASTNN_DATA set means "the
    data is here": it is then an error when MNIST is not, never a skip. Otherwise the tests
    that need MNIST skip, and the message says how to get it."""
    env = os.environ if env is None else env
    if env.get("FASTNN_DATA"):
        root = Path(env["FASTNN_DATA"]).resolve()  # tests may change directory
        if not has_mnist(root):
            pytest.fail(f"FASTNN_DATA={root}, but {root / 'mnist'} does not hold the four MNIST "
                        f"files; {GET_MNIST}", pytrace=False)
        return root
    tried = [ROOT.parent / "shared" / "data", fn.datasets.cache_dir("mnist").parent]
    for root in tried:
        if has_mnist(root):
            return root
    places = ", ".join(str(r / "mnist") for r in tried)
    pytest.skip(f"MNIST not found in {places}: {GET_MNIST}")


CACHES = {".benchmarks", ".hypothesis", ".pytest_cache", ".ruff_cache", "__pycache__"}


@pytest.fixture(scope="session", autouse=True)
def checkout_stays_clean():
    """Tests write only in their tmp_path: a file or folder that appears in the checkout (an
    empty runs/folder/N of a failed `fastnn train`) fails the session."""
    before = {p.name for p in ROOT.iterdir()}
    yield
    new = sorted({p.name for p in ROOT.iterdir()} - before - CACHES)
    assert not new, f"the tests left {new} in {ROOT}; write in tmp_path"


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The folder that holds mnist/ (see find_data_root)."""
    return find_data_root()


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
