"""Which runs of layers one kernel call does: a pattern table, turned into a plan per model.

The table maps layer-type sequences to steps. The built-in patterns are registered below like
any other; a user adds one with :func:`register` (and takes it back with :func:`unregister`)::

    class ConvTanh(fusion.Step): ...            # forward(x, training), backward(dy)
    fusion.register((fn.Conv2D, fn.Tanh), ConvTanh)

At each layer the longest registered pattern that matches wins (two patterns of one length
cannot both match). A model reads the table when it builds its plan, on first use and again
when its layers change: register a pattern before the models that should use it run.

A fused step computes exactly what its layers compute one after another (the tests check
this), in fewer passes over the activations: a ReLU after a Conv2D or Dense runs in that
layer's output loop, a max-pool reads the convolution's output from a per-sample scratch
buffer, and batch norm gathers its statistics (or, in inference, applies its running ones)
while each sample's convolution output is in cache; in inference a max-pool after the batch
norm pools before it (:class:`ConvReLUBatchNormMaxPool`).

Layers know nothing of this. A step reads its layers' parameters, calls the fused kernel and
writes the layers' gradients; :class:`Single` runs any other layer on its own.

Every convolution runs in a :class:`ConvStep`, which asks the backend once per per-sample input
shape (so ``predict`` on any batch size reuses it) which algorithm the forward and the backward
pass use (``conv2d_algorithm``: direct, winograd, gemm or im2col, see
``fastnn.kernels.numba.conv``), passes it to every kernel call and shows it in the plan.

    >>> print(model.plan)        # one line per kernel call
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .backend import get_backend, kernels
from .layers import BatchNorm2D, Conv2D, Dense, Layer, MaxPool2D, ReLU


class Step:
    """One kernel call (or a few) doing the work of ``layers``."""

    kernel = ""

    def __init__(self, *layers: Layer) -> None:
        self.layers = layers

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        raise NotImplementedError

    def describe(self) -> str:
        return " + ".join(type(layer).__name__ for layer in self.layers)

    @property
    def label(self) -> str:
        """The kernel call as the plan shows it."""
        return self.kernel


class Single(Step):
    """A layer that runs alone, through its own forward and backward."""

    def forward(self, x, training):
        return self.layers[0].forward(x, training)

    def backward(self, dy):
        return self.layers[0].backward(dy)

    @property
    def kernel(self) -> str:
        return type(self.layers[0]).__name__


class DenseReLU(Step):
    kernel = "dense_forward(relu=True)"

    def forward(self, x, training):
        dense = self.layers[0]
        self.x = x
        self.y = kernels().dense_forward(x, dense.params["w"], dense.params["b"], relu=True)
        return self.y

    def backward(self, dy):
        dense = self.layers[0]
        dx, dense.grads["w"], dense.grads["b"] = kernels().dense_backward(
            dy, self.x, dense.params["w"], relu_output=self.y)
        return dx


class ConvStep(Step):
    """A step that starts with a Conv2D: it chooses the convolution algorithm per input shape."""

    def __init__(self, *layers: Layer) -> None:
        super().__init__(*layers)
        self.chosen: dict[tuple, tuple[str, str]] = {}
        self.algorithm: tuple[str, str] | None = None

    def lookup(self, sample_shape: tuple[int, ...]) -> tuple[str, str]:
        """The (forward, backward) algorithms for inputs of this per-sample shape (C, H, W):
        chosen on the first sight of the shape with the current backend, then kept."""
        conv = self.layers[0]
        key = (get_backend(), tuple(sample_shape), conv.params["w"].shape, conv.stride,
               conv.padding)
        if key not in self.chosen:
            self.chosen[key] = kernels().conv2d_algorithm((1, *sample_shape),
                                                          conv.params["w"].shape, conv.stride,
                                                          conv.padding)
        return self.chosen[key]

    def choose(self, sample_shape: tuple[int, ...]) -> tuple[str, str]:
        """:meth:`lookup`, remembered as the algorithm the plan shows (the last one run)."""
        self.algorithm = self.lookup(sample_shape)
        return self.algorithm

    @property
    def label(self) -> str:
        """The kernel and its forward/backward algorithms ("?" until it first runs)."""
        return self.label_for(self.algorithm or ("?", "?"))

    def label_for(self, algorithm: tuple[str, str]) -> str:
        return f"{self.kernel}: {algorithm[0]}/{algorithm[1]}"


class Conv(ConvStep):
    kernel = "conv2d_forward"

    def forward(self, x, training):
        conv = self.layers[0]
        self.x = x
        return kernels().conv2d_forward(x, conv.params["w"], conv.params["b"], conv.stride,
                                  conv.padding, algorithm=self.choose(x.shape[1:]))

    def backward(self, dy):
        conv = self.layers[0]
        dx, conv.grads["w"], conv.grads["b"] = kernels().conv2d_backward(
            dy, self.x, conv.params["w"], conv.stride, conv.padding, conv.input_grad,
            algorithm=self.choose(self.x.shape[1:]))
        return dx


class ConvReLU(ConvStep):
    kernel = "conv2d_forward(relu=True)"

    def forward(self, x, training):
        conv = self.layers[0]
        self.x = x
        self.y = kernels().conv2d_forward(x, conv.params["w"], conv.params["b"], conv.stride,
                                    conv.padding, relu=True, algorithm=self.choose(x.shape[1:]))
        return self.y

    def backward(self, dy):
        conv = self.layers[0]
        dx, conv.grads["w"], conv.grads["b"] = kernels().conv2d_backward(
            dy, self.x, conv.params["w"], conv.stride, conv.padding, conv.input_grad, self.y,
            algorithm=self.choose(self.x.shape[1:]))
        return dx


class ConvReLUMaxPool(ConvStep):
    kernel = "conv2d_relu_maxpool"

    def forward(self, x, training):
        conv, _, pool = self.layers
        self.x = x
        self.y, self.argmax = kernels().conv2d_relu_maxpool_forward(
            x, conv.params["w"], conv.params["b"], conv.stride, conv.padding, pool.size,
            pool.stride, algorithm=self.choose(x.shape[1:]))
        return self.y

    def backward(self, dy):
        conv = self.layers[0]
        dx, conv.grads["w"], conv.grads["b"] = kernels().conv2d_relu_maxpool_backward(
            dy, self.y, self.argmax, self.x, conv.params["w"], conv.stride, conv.padding,
            conv.input_grad, algorithm=self.choose(self.x.shape[1:]))
        return dx


class ConvReLUBatchNorm(ConvStep):
    kernel = "conv2d_relu_batchnorm"

    def forward(self, x, training):
        conv, _, bn = self.layers[:3]
        running = {}
        if not training:
            running = {"mean": bn.buffers["running_mean"], "var": bn.buffers["running_var"]}
        self.x = x
        out, self.y, self.mean, self.var = kernels().conv2d_relu_batchnorm_forward(
            x, conv.params["w"], conv.params["b"], bn.params["gamma"], bn.params["beta"],
            conv.stride, conv.padding, bn.eps, **running, algorithm=self.choose(x.shape[1:]))
        if training:
            bn.update_running(self.mean, self.var, self.y.size // self.y.shape[1])
        return out

    def backward(self, dy):
        conv, _, bn = self.layers[:3]
        if self.y is None:
            raise RuntimeError(f"{bn!r}: backward needs a forward pass in training mode")
        dx, conv.grads["w"], conv.grads["b"], bn.grads["gamma"], bn.grads["beta"] = (
            kernels().conv2d_relu_batchnorm_backward(
                dy, self.y, self.x, conv.params["w"], bn.params["gamma"], self.mean, self.var,
                conv.stride, conv.padding, bn.eps, conv.input_grad,
                algorithm=self.choose(self.x.shape[1:])))
        return dx


class ConvReLUBatchNormMaxPool(ConvReLUBatchNorm):
    """A VGG block's tail. Training needs the batch statistics of the whole batch before any
    sample can be normalized, so the pool runs after the Conv + ReLU + BatchNorm kernel. In
    inference batch norm is ``a * y + b`` per channel, and where every ``a`` is positive it
    commutes with the max (same winner, same value: the affine map runs on the same element),
    so the convolution pools from its in-cache output (``conv2d_relu_maxpool``) and only the
    pooled values are normalized: no full-size output is written and read back."""

    kernel = "conv2d_relu_batchnorm_maxpool"

    def forward(self, x, training):
        conv, _, bn, pool = self.layers
        var, eps = bn.buffers["running_var"], bn.eps
        if not training and np.all(bn.params["gamma"] / np.sqrt(var + eps) > 0):
            self.y = None  # as ConvReLUBatchNorm in inference: no backward pass
            pooled, _ = kernels().conv2d_relu_maxpool_forward(
                x, conv.params["w"], conv.params["b"], conv.stride, conv.padding, pool.size,
                pool.stride, algorithm=self.choose(x.shape[1:]))
            return kernels().batchnorm_forward(pooled, bn.params["gamma"], bn.params["beta"],
                                         bn.buffers["running_mean"], var, eps)
        return pool.forward(super().forward(x, training), training)

    def backward(self, dy):
        if self.y is None:  # the inference path ran no pool either
            raise RuntimeError(f"{self.layers[2]!r}: backward needs a forward pass in training "
                               "mode")
        return super().backward(self.layers[3].backward(dy))


Pattern = tuple[type[Layer], ...]
StepFactory = Callable[..., Step]

_table: dict[Pattern, StepFactory] = {}


def _pattern(pattern: object) -> Pattern:
    """``pattern`` as a tuple of Layer subclasses, or a ValueError that says what is wrong."""
    if not isinstance(pattern, Sequence) or isinstance(pattern, str):
        raise ValueError(f"a fusion pattern is a sequence of layer types, got {pattern!r}")
    pattern = tuple(pattern)
    if not pattern:
        raise ValueError("a fusion pattern needs at least one layer type, got ()")
    for kind in pattern:
        if not (isinstance(kind, type) and issubclass(kind, Layer)):
            raise ValueError(f"fusion pattern {_names(pattern)}: {_name(kind)} is not a Layer "
                             "subclass")
    return pattern


def _name(kind: object) -> str:
    return kind.__name__ if isinstance(kind, type) else repr(kind)


def _names(pattern: Pattern) -> str:
    return " + ".join(map(_name, pattern))


def register(pattern: Sequence[type[Layer]], step_factory: StepFactory) -> StepFactory:
    """Adds ``pattern`` (a sequence of layer types, matched by exact type) to the table:
    ``step_factory(*layers)`` (a :class:`Step` subclass, typically) makes the step that runs
    the matched layers. Returns ``step_factory``. A pattern already in the table, a pattern
    that is not a non-empty sequence of Layer subclasses, or a factory that cannot be called
    is a ValueError."""
    pattern = _pattern(pattern)
    if not callable(step_factory):
        raise ValueError(f"fusion pattern {_names(pattern)}: the step factory must be callable "
                         f"(a Step subclass), got {step_factory!r}")
    if pattern in _table:
        raise ValueError(f"fusion pattern {_names(pattern)} is already registered (to "
                         f"{getattr(_table[pattern], '__name__', _table[pattern])!r}); "
                         "unregister it first")
    _table[pattern] = step_factory
    return step_factory


def unregister(pattern: Sequence[type[Layer]]) -> StepFactory:
    """Takes ``pattern`` out of the table; returns its step factory (a KeyError if absent)."""
    pattern = _pattern(pattern)
    if pattern not in _table:
        raise KeyError(f"fusion pattern {_names(pattern)} is not registered")
    return _table.pop(pattern)


def patterns() -> list[tuple[Pattern, StepFactory]]:
    """The table as (pattern, step factory) pairs, longest pattern first: the order in which
    :func:`build_plan` tries them."""
    return sorted(_table.items(), key=lambda item: -len(item[0]))


register((Conv2D, ReLU, BatchNorm2D, MaxPool2D), ConvReLUBatchNormMaxPool)
register((Conv2D, ReLU, MaxPool2D), ConvReLUMaxPool)
register((Conv2D, ReLU, BatchNorm2D), ConvReLUBatchNorm)
register((Conv2D, ReLU), ConvReLU)
register((Dense, ReLU), DenseReLU)
register((Conv2D,), Conv)


class Plan(list):
    """The steps of a model, in order; ``print(plan)`` shows which layers each one runs."""

    def __init__(self, steps: Sequence[Step], first_index: Sequence[int]) -> None:
        super().__init__(steps)
        self.first_index = list(first_index)

    def __str__(self) -> str:
        lines = []
        for start, step in zip(self.first_index, self):
            end = start + len(step.layers) - 1
            where = f"{start}" if end == start else f"{start}-{end}"
            lines.append(f"{where:>7}  {step.describe():<32} {step.label}")
        return "\n".join(["layers   step                             kernel", *lines])


def build_plan(layers: Sequence[Layer], fuse: bool = True) -> Plan:
    """Groups ``layers`` into steps by the registered patterns (or one step per layer)."""
    table = patterns() if fuse else []
    steps, starts, i = [], [], 0
    while i < len(layers):
        step = Single(layers[i])
        for pattern, step_factory in table:
            kinds = tuple(type(layer) for layer in layers[i : i + len(pattern)])
            if kinds == pattern:
                step = step_factory(*layers[i : i + len(pattern)])
                break
        steps.append(step)
        starts.append(i)
        i += len(step.layers)
    return Plan(steps, starts)
