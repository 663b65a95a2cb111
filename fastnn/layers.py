"""Layers: each holds its parameters and gradients and calls kernels through ``ops``.

A layer works on batches: ``forward(x, training)`` keeps what ``backward(dy)`` needs and
``backward`` fills ``grads`` (same keys as ``params``) and returns the gradient for its input.
Shapes in docstrings leave out the batch axis N that comes first.
"""

from __future__ import annotations

import numpy as np

from . import init as initializers
from .backend import ops


class Layer:
    """Base class. Subclasses set ``params`` in :meth:`reset` and say their shapes."""

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.input_grad = True  # the model turns this off for its first layer

    def reset(self, rng: np.random.Generator, dtype: np.dtype) -> None:
        """(Re)initializes the parameters; layers without parameters have nothing to do."""

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        raise NotImplementedError

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """Per-sample output shape for a per-sample input shape; raises on a mismatch."""
        return shape

    def config(self) -> dict:
        """Constructor arguments, saved as JSON with the model."""
        return {}

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x, training=False)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


class ShapeError(ValueError):
    """A layer was given an input of the wrong shape."""


def _want(layer: Layer, expected: str, shape: tuple[int, ...]) -> ShapeError:
    got = "(N, " + ", ".join(str(d) for d in shape) + ")"
    return ShapeError(f"{layer!r} expects input of shape {expected}, got {got}")


class Dense(Layer):
    """Fully connected: (in_features,) -> (out_features,), y = x @ w.T + b."""

    def __init__(self, in_features: int, out_features: int, init="he") -> None:
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        if self.in_features < 1 or self.out_features < 1:
            raise ValueError(f"Dense sizes must be positive, got {in_features}, {out_features}")
        self.init = init
        self.reset(np.random.default_rng(0), np.float32)

    def reset(self, rng, dtype):
        shape = (self.out_features, self.in_features)
        w = initializers.get(self.init)(rng, shape, self.in_features, self.out_features, dtype)
        self.params = {"w": w, "b": np.zeros(self.out_features, dtype)}

    def forward(self, x, training=False, relu=False):
        """relu=True applies a ReLU in the same pass (Sequential fuses Dense + ReLU)."""
        self.x = x
        return ops.dense_forward(x, self.params["w"], self.params["b"], relu)

    def backward(self, dy, relu_output=None):
        """relu_output: the output of a ReLU fused into this layer, whose mask gates dy."""
        dx, self.grads["w"], self.grads["b"] = ops.dense_backward(dy, self.x, self.params["w"],
                                                                  relu_output)
        return dx

    def output_shape(self, shape):
        if shape != (self.in_features,):
            raise _want(self, f"(N, {self.in_features})", shape)
        return (self.out_features,)

    def config(self):
        cfg = {"in_features": self.in_features, "out_features": self.out_features}
        return cfg | ({"init": self.init} if isinstance(self.init, str) else {})


class Conv2D(Layer):
    """2-D convolution: (C, H, W) -> (F, OH, OW), square kernels, zero padding."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, init="he") -> None:
        super().__init__()
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size, self.stride, self.padding = int(kernel_size), int(stride), int(padding)
        if min(self.in_channels, self.out_channels, self.kernel_size, self.stride) < 1:
            raise ValueError(f"Conv2D sizes and stride must be positive: {self!r}")
        if self.padding < 0:
            raise ValueError(f"Conv2D padding must be >= 0, got {padding}")
        self.init = init
        self.reset(np.random.default_rng(0), np.float32)

    def reset(self, rng, dtype):
        k = self.kernel_size
        shape = (self.out_channels, self.in_channels, k, k)
        fan_in, fan_out = self.in_channels * k * k, self.out_channels * k * k
        self.params = {"w": initializers.get(self.init)(rng, shape, fan_in, fan_out, dtype),
                       "b": np.zeros(self.out_channels, dtype)}

    def forward(self, x, training=False, relu=False, pool=None):
        """relu=True applies a ReLU in the same pass; ``pool`` (a MaxPool2D) applies a ReLU
        and then that max-pooling (Sequential fuses Conv2D + ReLU [+ MaxPool2D])."""
        self.x = x
        w, b = self.params["w"], self.params["b"]
        if pool is not None:
            self.pooled = ops.conv2d_relu_maxpool_forward(x, w, b, self.stride, self.padding,
                                                          pool.size, pool.stride)
            return self.pooled[0]
        return ops.conv2d_forward(x, w, b, self.stride, self.padding, relu)

    def backward(self, dy, relu_output=None, pooled=False):
        """relu_output: the output of a ReLU fused into this layer, whose mask gates dy.
        pooled=True: dy is the gradient of the fused forward's pooled output."""
        w = self.params["w"]
        if pooled:
            y, argmax = self.pooled
            grads = ops.conv2d_relu_maxpool_backward(dy, y, argmax, self.x, w, self.stride,
                                                     self.padding, self.input_grad)
        else:
            grads = ops.conv2d_backward(dy, self.x, w, self.stride, self.padding,
                                        self.input_grad, relu_output)
        dx, self.grads["w"], self.grads["b"] = grads
        return dx

    def output_shape(self, shape):
        k, p, s = self.kernel_size, self.padding, self.stride
        if len(shape) != 3 or shape[0] != self.in_channels:
            raise _want(self, f"(N, {self.in_channels}, H, W)", shape)
        if min(shape[1:]) + 2 * p < k:
            raise _want(self, f"(N, {self.in_channels}, H, W) with H, W >= {k - 2 * p}", shape)
        return (self.out_channels, (shape[1] + 2 * p - k) // s + 1, (shape[2] + 2 * p - k) // s + 1)

    def config(self):
        cfg = {"in_channels": self.in_channels, "out_channels": self.out_channels,
               "kernel_size": self.kernel_size, "stride": self.stride, "padding": self.padding}
        return cfg | ({"init": self.init} if isinstance(self.init, str) else {})


class MaxPool2D(Layer):
    """Max-pooling over size x size windows: (C, H, W) -> (C, OH, OW); stride defaults to size."""

    def __init__(self, size: int = 2, stride: int | None = None) -> None:
        super().__init__()
        self.size = int(size)
        self.stride = self.size if stride is None else int(stride)
        if self.size < 1 or self.stride < 1:
            raise ValueError(f"MaxPool2D size and stride must be positive, got {size}, {stride}")

    def forward(self, x, training=False):
        self.x_shape = x.shape
        y, self.argmax = ops.maxpool2d_forward(x, self.size, self.stride)
        return y

    def backward(self, dy):
        return ops.maxpool2d_backward(dy, self.argmax, self.x_shape)

    def output_shape(self, shape):
        if len(shape) != 3 or min(shape[1:]) < self.size:
            raise _want(self, f"(N, C, H, W) with H, W >= {self.size}", shape)
        return (shape[0],) + tuple((d - self.size) // self.stride + 1 for d in shape[1:])

    def config(self):
        return {"size": self.size, "stride": self.stride}


class ReLU(Layer):
    def forward(self, x, training=False):
        self.x = x
        return ops.relu_forward(x)

    def fused(self, y):
        """The previous layer already applied the ReLU: keep its output for the backward mask
        (y > 0 exactly where the input was > 0)."""
        self.x = y
        return y

    def backward(self, dy):
        return ops.relu_backward(dy, self.x)


class Sigmoid(Layer):
    def forward(self, x, training=False):
        self.y = ops.sigmoid_forward(x)
        return self.y

    def backward(self, dy):
        return ops.sigmoid_backward(dy, self.y)


class Tanh(Layer):
    def forward(self, x, training=False):
        self.y = ops.tanh_forward(x)
        return self.y

    def backward(self, dy):
        return ops.tanh_backward(dy, self.y)


class Flatten(Layer):
    """(C, H, W) or any shape -> (C*H*W,)."""

    def forward(self, x, training=False):
        self.x_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        return dy.reshape(self.x_shape)

    def output_shape(self, shape):
        return (int(np.prod(shape)),)


class Dropout(Layer):
    """Inverted dropout: in training, zeroes each input with probability p and scales the rest
    by 1/(1-p); the identity in evaluation and prediction."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"Dropout p must be in [0, 1), got {p}")
        self.p = float(p)
        self.rng = np.random.default_rng(0)  # the model hands it the run's generator

    def forward(self, x, training=False):
        if not training or self.p == 0:
            self.mask = None
            return x
        keep = self.rng.random(x.shape, dtype=np.float32) >= self.p
        self.mask = keep.astype(x.dtype) / x.dtype.type(1 - self.p)
        return x * self.mask

    def backward(self, dy):
        return dy if self.mask is None else dy * self.mask

    def config(self):
        return {"p": self.p}


LAYERS = {cls.__name__: cls for cls in (Dense, Conv2D, MaxPool2D, ReLU, Sigmoid, Tanh, Flatten,
                                         Dropout)}
