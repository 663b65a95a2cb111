"""fastnn: neural networks from scratch, with Numba kernels behind a thin layer API.

    import fastnn as fn
    model = fn.Sequential([fn.Conv2D(1, 8, 5), fn.ReLU(), fn.MaxPool2D(2), fn.Flatten(),
                           fn.Dense(8 * 12 * 12, 10)])
    model.fit(x, y, optimizer=fn.Adam(1e-3), epochs=2)
"""

# First, before any kernel module: gives Numba a writable cache on read-only installs.
from . import _numba_cache  # noqa: F401

# isort: split
from . import (
    augment,
    callbacks,
    compat,
    data,
    datasets,
    export,
    init,
    losses,
    metrics,
    models,
    optim,
)
from ._malloc import retain_freed_memory
from ._version import __version__ as __version__
from .augment import Augment
from .backend import get_backend, set_backend, use_backend
from .gradcheck import gradcheck, numeric_gradient
from .layers import (
    Activation,
    AvgPool2D,
    BatchNorm1D,
    BatchNorm2D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAvgPool2D,
    Layer,
    MaxPool2D,
    ReLU,
    ShapeError,
    Sigmoid,
    Tanh,
)
from .losses import BinaryCrossEntropy, MulticlassHinge, SoftmaxCrossEntropy
from .model import InputWarning, Sequential
from .optim import SGD, Adam
from .schedules import cosine
from .serialization import Checkpoint, ModelFileError, load_checkpoint, save_checkpoint
from .serialization import load_model as load
from .training import TrainingInterrupted

# isort: split
from . import sweep  # last: its trials train the way fastnn.cli.train does

__all__ = [
    "Activation", "Adam", "Augment", "AvgPool2D", "BatchNorm1D", "BatchNorm2D",
    "BinaryCrossEntropy", "Checkpoint", "Conv2D", "Dense", "Dropout", "Flatten",
    "GlobalAvgPool2D", "InputWarning", "Layer", "MaxPool2D",
    "ModelFileError", "MulticlassHinge", "ReLU", "SGD", "Sequential", "ShapeError", "Sigmoid",
    "SoftmaxCrossEntropy", "Tanh", "TrainingInterrupted", "augment", "callbacks", "compat",
    "cosine", "data", "datasets", "export", "get_backend", "gradcheck", "init", "load",
    "load_checkpoint", "losses", "metrics", "models", "numeric_gradient", "optim",
    "retain_freed_memory", "save_checkpoint", "set_backend", "sweep", "use_backend",
]
