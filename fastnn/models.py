"""Ready-made networks: the classic MNIST CNN and multilayer perceptrons."""

from __future__ import annotations

from .layers import Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU, Sigmoid, Tanh
from .model import Sequential


def mnist_cnn(seed: int = 0) -> Sequential:
    """The classic MNIST CNN: conv 8@5x5, ReLU, conv 8@5x5, ReLU, max-pool 2, dense 128, 10."""
    return Sequential([
        Conv2D(1, 8, 5), ReLU(), Conv2D(8, 8, 5), ReLU(), MaxPool2D(2), Flatten(),
        Dense(800, 128), ReLU(), Dense(128, 10),
    ], seed=seed, class_names=[str(d) for d in range(10)])


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
