"""The model zoo that the bench times (:mod:`fastnn.benchmark`), its arithmetic, and the same
network in PyTorch.

Arithmetic is counted as the multiply-adds of the convolutions and dense layers (2 FLOPs each,
"direct" counting, whatever algorithm runs them): forward once, backward twice (input and
weight gradients; the first layer has no input gradient).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import models
from .layers import (
    AvgPool2D,
    BatchNorm1D,
    BatchNorm2D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAvgPool2D,
    MaxPool2D,
    ReLU,
    Sigmoid,
    Tanh,
)
from .model import Sequential
from .summary import flops


@dataclass(frozen=True)
class Net:
    """A network of the zoo: ``build(size)`` gives it (seed 0) for images of ``size`` pixels a
    side; ``sizes`` lists the sizes it is benchmarked at besides its own."""

    name: str
    build: Callable[[int], Sequential]
    channels: int
    size: int
    classes: int
    sizes: tuple[int, ...] = ()

    def input_shape(self, size: int | None = None) -> tuple[int, int, int]:
        return (self.channels, size or self.size, size or self.size)


def _vgg(batchnorm: bool) -> Callable[[int], Sequential]:
    return lambda size: models.simple_vgg(3, (3, size, size), seed=0, batchnorm=batchnorm)


ZOO = [
    Net("mnist-cnn", lambda size: models.mnist_cnn(0), 1, 28, 10),
    Net("lenet5", lambda size: models.lenet5(0), 1, 28, 10),
    Net("cifar-cnn", lambda size: models.cifar_cnn(0), 3, 32, 10),
    Net("simple-vgg", _vgg(batchnorm=False), 3, 64, 3, sizes=(32, 128)),
    Net("simple-vgg-bn", _vgg(batchnorm=True), 3, 64, 3, sizes=(32, 128)),
]


def get(name: str) -> Net:
    """The zoo network called ``name``; a ValueError lists the names."""
    for net in ZOO:
        if net.name == name:
            return net
    raise ValueError(f"no network {name!r} in the zoo; it has {', '.join(n.name for n in ZOO)}")


def layer_flops(model: Sequential, sample_shape: tuple[int, ...]) -> list[int]:
    """Forward FLOPs per sample of each layer, counting the multiply-adds of Conv2D and Dense
    only (the arithmetic that dominates; the summary's count of the rest is left out)."""
    counts, shape = [], tuple(sample_shape)
    for layer in model.layers:
        out = layer.output_shape(shape)
        counts.append(flops(layer, shape, out) if isinstance(layer, Conv2D | Dense) else 0)
        shape = out
    return counts


def train_flops(model: Sequential, sample_shape: tuple[int, ...]) -> int:
    """FLOPs per sample of a training step: forward, input gradients and weight gradients."""
    per_layer = layer_flops(model, sample_shape)
    first = next(i for i, f in enumerate(per_layer) if f)
    return 3 * sum(per_layer) - per_layer[first]


def to_torch(model: Sequential):
    """The same network in PyTorch, with the same weights (and running statistics)."""
    import torch
    from torch import nn

    def convert(layer):
        p = {k: torch.from_numpy(v.copy()) for k, v in (layer.params | layer.buffers).items()}
        if isinstance(layer, Conv2D):
            m = nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size,
                          layer.stride, layer.padding)
            m.weight.data, m.bias.data = p["w"], p["b"]
        elif isinstance(layer, Dense):
            m = nn.Linear(layer.in_features, layer.out_features)
            m.weight.data, m.bias.data = p["w"], p["b"]
        elif isinstance(layer, BatchNorm1D | BatchNorm2D):
            cls = nn.BatchNorm2d if isinstance(layer, BatchNorm2D) else nn.BatchNorm1d
            m = cls(layer.channels, eps=layer.eps, momentum=layer.momentum)
            m.weight.data, m.bias.data = p["gamma"], p["beta"]
            m.running_mean.data, m.running_var.data = p["running_mean"], p["running_var"]
        elif isinstance(layer, MaxPool2D | AvgPool2D):
            cls = nn.MaxPool2d if isinstance(layer, MaxPool2D) else nn.AvgPool2d
            m = cls(layer.size, layer.stride)
        elif isinstance(layer, GlobalAvgPool2D):
            m = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        elif isinstance(layer, Dropout):
            m = nn.Dropout(layer.p)
        else:
            m = {ReLU: nn.ReLU, Sigmoid: nn.Sigmoid, Tanh: nn.Tanh, Flatten: nn.Flatten}[
                type(layer)]()
        return m

    return nn.Sequential(*[convert(layer) for layer in model.layers])
