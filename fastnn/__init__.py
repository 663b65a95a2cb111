"""fastnn: neural networks from scratch, with Numba kernels behind a thin layer API.

    import fastnn as fn
    model = fn.Sequential([fn.Conv2D(1, 8, 5), fn.ReLU(), fn.MaxPool2D(2), fn.Flatten(),
                           fn.Dense(8 * 12 * 12, 10)])
    model.fit(x, y, optimizer=fn.Adam(1e-3), epochs=2)
"""

from . import augment, compat, datasets, export, init, losses, metrics, models, optim
from .augment import Augment
from .backend import get_backend, set_backend, use_backend
from .gradcheck import gradcheck, numeric_gradient
from .layers import (
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
from .model import ModelFileError, Sequential, load
from .optim import SGD, Adam, cosine

__version__ = "0.1.0"

__all__ = [
    "SGD", "Adam", "AvgPool2D", "BatchNorm1D", "BatchNorm2D", "BinaryCrossEntropy", "Conv2D",
    "Dense", "Dropout", "Flatten", "GlobalAvgPool2D", "Layer", "MaxPool2D", "ModelFileError",
    "MulticlassHinge", "ReLU", "Sequential", "ShapeError", "Sigmoid", "SoftmaxCrossEntropy",
    "Tanh", "compat", "cosine", "datasets", "get_backend", "gradcheck", "init", "load",
    "losses", "metrics", "models", "numeric_gradient", "optim", "set_backend", "use_backend",
    "Augment", "augment", "export",
]
