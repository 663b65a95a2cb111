"""The model zoo that the bench times (:mod:`fastnn.benchmark`), its arithmetic, and the same
network in PyTorch and in Keras.

Arithmetic is counted as the multiply-adds of the layers that declare ``multiply_adds``, the
convolutions and dense layers (their ``flops``, 2 a multiply-add, "direct" counting, whatever
algorithm runs them): forward once, backward twice (input and weight gradients; the first
layer has no input gradient).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import models
from .layers import declares
from .model import Sequential


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
    """Forward FLOPs per sample of each layer, counting only the layers whose FLOPs are
    multiply-adds with weights (``multiply_adds``: Conv2D and Dense, the arithmetic that
    dominates; the summary's count of the rest is left out)."""
    counts, shape = [], tuple(sample_shape)
    for layer in model.layers:
        out = layer.output_shape(shape)
        counts.append(layer.flops(shape, out) if layer.multiply_adds else 0)
        shape = out
    return counts


def train_flops(model: Sequential, sample_shape: tuple[int, ...]) -> int:
    """FLOPs per sample of a training step: forward, input gradients and weight gradients."""
    per_layer = layer_flops(model, sample_shape)
    first = next(i for i, f in enumerate(per_layer) if f)
    return 3 * sum(per_layer) - per_layer[first]


def to_torch(model: Sequential):
    """The same network in PyTorch, with the same weights (and running statistics): each
    layer's :meth:`~fastnn.layers.Layer.torch_module`. A layer type without one is a
    ValueError that names it."""
    import torch
    from torch import nn

    for i, layer in enumerate(model.layers):
        if not declares(layer, "torch_module"):
            name = type(layer).__name__
            raise ValueError(f"layer {i} {name} has no PyTorch twin: {name} declares no "
                             "torch_module(nn, params)")
    return nn.Sequential(*[
        layer.torch_module(nn, {k: torch.from_numpy(v.copy())
                                for k, v in (layer.params | layer.buffers).items()})
        for layer in model.layers])


def to_keras(model: Sequential, sample_shape: tuple[int, ...]):
    """The same network in Keras, channels last (input (N, H, W, C) for images), with the same
    weights (and running statistics): each layer's :meth:`~fastnn.layers.Layer.keras_layers`.
    Its output is the logits, as fastnn's. A layer type without a twin is a ValueError that
    names it."""
    import keras

    stack, shape = [], tuple(sample_shape)
    for i, layer in enumerate(model.layers):
        if not declares(layer, "keras_layers"):
            name = type(layer).__name__
            raise ValueError(f"layer {i} {name} has no Keras twin: {name} declares no "
                             "keras_layers(keras, params, in_shape)")
        params = {k: v.copy() for k, v in (layer.params | layer.buffers).items()}
        stack += layer.keras_layers(keras, params, shape)
        shape = layer.output_shape(shape)
    first = (*sample_shape[1:], sample_shape[0]) if len(sample_shape) == 3 else sample_shape
    return keras.Sequential([keras.Input(shape=first), *stack])
