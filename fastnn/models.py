"""Ready-made networks: the classic MNIST CNN, LeNet-5, a CIFAR-style CNN, the Keras
tutorial's SimpleVGGNet, and multilayer perceptrons."""

from __future__ import annotations

from collections.abc import Sequence

from .kernels.geometry import out_size
from .layers import (
    BatchNorm1D,
    BatchNorm2D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    MaxPool2D,
    ReLU,
    Sigmoid,
    Tanh,
)
from .model import Sequential


def mnist_cnn(seed: int = 0) -> Sequential:
    """The classic MNIST CNN: conv 8@5x5, ReLU, conv 8@5x5, ReLU, max-pool 2, dense 128, 10."""
    return Sequential([
        Conv2D(1, 8, 5), ReLU(), Conv2D(8, 8, 5), ReLU(), MaxPool2D(2), Flatten(),
        Dense(800, 128), ReLU(), Dense(128, 10),
    ], seed=seed, class_names=[str(d) for d in range(10)])


def mnist_bn_cnn(seed: int = 0) -> Sequential:
    """A small VGG-style CNN with BatchNorm and dropout for 1x28x28 digits: (conv 3x3 same,
    ReLU, BatchNorm, max-pool 2, dropout 0.25) with 16 then 32 filters, dense 128, ReLU,
    BatchNorm, dropout 0.5, dense 10."""
    return Sequential([
        Conv2D(1, 16, 3, padding="same"), ReLU(), BatchNorm2D(16), MaxPool2D(2), Dropout(0.25),
        Conv2D(16, 32, 3, padding="same"), ReLU(), BatchNorm2D(32), MaxPool2D(2), Dropout(0.25),
        Flatten(), Dense(32 * 7 * 7, 128), ReLU(), BatchNorm1D(128), Dropout(0.5),
        Dense(128, 10),
    ], seed=seed, class_names=[str(d) for d in range(10)])


def lenet5(seed: int = 0, classes: int = 10) -> Sequential:
    """LeNet-5 on 1x28x28: conv 6@5x5 pad 2, ReLU, pool, conv 16@5x5, ReLU, pool, dense 120,
    84, classes (ReLU and max-pooling, as it is usually trained today)."""
    return Sequential([
        Conv2D(1, 6, 5, padding=2), ReLU(), MaxPool2D(2), Conv2D(6, 16, 5), ReLU(),
        MaxPool2D(2), Flatten(), Dense(400, 120), ReLU(), Dense(120, 84), ReLU(),
        Dense(84, classes),
    ], seed=seed)


def cifar_cnn(seed: int = 0, classes: int = 10) -> Sequential:
    """A CIFAR-style CNN on 3x32x32: conv 32, 32, pool, 64, 64, pool (all 3x3 pad 1, ReLU),
    dense 256, classes."""
    return Sequential([
        Conv2D(3, 32, 3, padding=1), ReLU(), Conv2D(32, 32, 3, padding=1), ReLU(), MaxPool2D(2),
        Conv2D(32, 64, 3, padding=1), ReLU(), Conv2D(64, 64, 3, padding=1), ReLU(), MaxPool2D(2),
        Flatten(), Dense(64 * 8 * 8, 256), ReLU(), Dense(256, classes),
    ], seed=seed)


def simple_vgg(classes: int = 3, input_shape: Sequence[int] = (3, 64, 64), seed: int = 0,
               batchnorm: bool = True, class_names: Sequence[str] | None = None) -> Sequential:
    """SimpleVGGNet of the Keras tutorial (cats, dogs, pandas at 64x64 RGB), layer for layer:

    conv 32 3x3 same, ReLU, BatchNorm, max-pool 2, dropout 0.25; (conv 64, ReLU, BatchNorm) x 2,
    pool, dropout 0.25; (conv 128, ReLU, BatchNorm) x 3, pool, dropout 0.25; dense 512, ReLU,
    BatchNorm, dropout 0.5, dense to the classes. ``batchnorm=False`` leaves the BatchNorm
    layers out (and the dropout stays).
    """
    channels, h, w = (int(d) for d in input_shape)
    layers: list = []

    def block(widths: list[int], c_in: int) -> int:
        for c_out in widths:
            layers.extend([Conv2D(c_in, c_out, 3, padding="same"), ReLU()])
            if batchnorm:
                layers.append(BatchNorm2D(c_out))
            c_in = c_out
        layers.extend([MaxPool2D(2), Dropout(0.25)])
        return c_in

    c = block([64, 64], block([32], channels))
    c = block([128, 128, 128], c)
    for _ in range(3):
        h, w = out_size(h, 2, 2), out_size(w, 2, 2)
    if min(h, w) < 1:
        raise ValueError(f"simple_vgg needs images of at least 8x8, got {tuple(input_shape)}")
    layers.extend([Flatten(), Dense(c * h * w, 512), ReLU()])
    if batchnorm:
        layers.append(BatchNorm1D(512))
    layers.extend([Dropout(0.5), Dense(512, classes)])
    return Sequential(layers, seed=seed, class_names=class_names)


ACTIVATIONS = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh}


def mlp(inputs: int, hidden: list[int], outputs: int, activation: str = "relu",
        init: str = "scaled_normal", dropout: float = 0.0, seed: int = 0, loss="cross_entropy",
        class_names=None) -> Sequential:
    """Flatten, then dense layers of the given widths, each followed by the activation (and
    dropout), then the output layer (logits)."""
    layers: list = [Flatten()]
    sizes = [inputs, *hidden]
    for a, b in zip(sizes, sizes[1:]):
        layers += [Dense(a, b, init=init), ACTIVATIONS[activation]()]
        if dropout:
            layers.append(Dropout(dropout))
    layers.append(Dense(sizes[-1], outputs, init=init))
    return Sequential(layers, seed=seed, loss=loss, class_names=class_names)
