"""Layers: each holds its parameters and gradients and calls kernels through ``kernels()``.

A layer works on batches: ``forward(x, training)`` keeps what ``backward(dy)`` needs and
``backward`` fills ``grads`` (same keys as ``params``) and returns the gradient for its input.
Shapes in docstrings leave out the batch axis N that comes first. Layers know nothing of
fusion: :mod:`fastnn.fusion` decides which runs of layers one kernel call does.

Each layer type also declares, next to its definition, what the rest of fastnn reads about it
(the layer contract, see :class:`Layer`): :meth:`~Layer.output_shape`, :meth:`~Layer.flops`
(``model.summary()`` and the bench's arithmetic), :meth:`~Layer.onnx_nodes`
(:mod:`fastnn.export`), :meth:`~Layer.torch_module` and :meth:`~Layer.keras_layers`
(:func:`fastnn.zoo.to_torch` and :func:`~fastnn.zoo.to_keras`, the twins the bench compares
with). A new layer type is one class here, added to :data:`LAYERS` so that saved models can
name it. A contract method it does not define is never guessed: the summary shows "?" FLOPs
and names it, export, ``to_torch`` and ``to_keras`` refuse it by name.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import init as initializers
from . import inputs
from .backend import kernels
from .kernels import geometry


class Layer:
    """Base class. Subclasses say the shapes of their ``params`` (trained) and ``buffers``
    (saved, not trained, such as running statistics) and fill them in :meth:`reset`.

    Arrays are allocated when first used (as ``reset(default_rng(0), float32)``) or when a
    model resets its layers, so a layer can be built and checked against a saved file
    without allocating what its configuration claims.

    The contract, besides ``forward`` and ``backward``: :meth:`output_shape` (the default
    keeps the shape), :meth:`flops`, :meth:`onnx_nodes`, :meth:`torch_module` and
    :meth:`keras_layers`. The last four have no default: a layer type that leaves one out
    shows "?" FLOPs in the summary and cannot be exported or converted to PyTorch or Keras
    (the error names it).
    """

    multiply_adds = False
    """True when the layer's FLOPs are multiply-adds with its weights (Dense, Conv2D): the
    bench's arithmetic (:func:`fastnn.zoo.layer_flops`) counts only these layers."""

    def __init__(self) -> None:
        self._params: dict[str, np.ndarray] | None = None
        self._buffers: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.input_grad = True  # the model turns this off for its first layer

    @property
    def params(self) -> dict[str, np.ndarray]:
        if self._params is None:
            if not self.built:
                raise NotBuiltError(f"{self!r} is not built yet: its input size is inferred "
                                    f"from the first batch the model sees (fit, predict), or "
                                    f"give the first layer input_shape=")
            self.reset(np.random.default_rng(0), np.dtype(np.float32))
        return self._params

    @params.setter
    def params(self, value: dict[str, np.ndarray]) -> None:
        self._params = value

    @property
    def buffers(self) -> dict[str, np.ndarray]:
        self.params  # allocated together  # noqa: B018
        return self._buffers

    @buffers.setter
    def buffers(self, value: dict[str, np.ndarray]) -> None:
        self._buffers = value

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape of every parameter and buffer, computed from the configuration alone."""
        return {}

    inferred = ""
    """The attribute a Keras-style layer may leave None (``Dense(128)``: ``in_features``), to
    be set by :meth:`build` from the first input shape the model sees."""

    input_shape: tuple[int, ...] | None = None
    """Keras's ``input_shape=``: one sample's shape, declared on a model's first layer."""

    activation: str | None = None
    """Keras's ``activation=`` (Dense, Conv2D): the model adds that layer after this one."""

    @property
    def built(self) -> bool:
        """Whether every size is known (an inferred one is set by :meth:`build`)."""
        return not self.inferred or getattr(self, self.inferred) is not None

    def build(self, shape: tuple[int, ...]) -> None:
        """Sets the inferred size from one sample's input shape (channels first)."""
        if not self.built:
            if len(shape) != self.rank_in:
                dims = "(N, features)" if self.rank_in == 1 else "(N, C, H, W)"
                hint = "; add fn.Flatten() before it" if self.rank_in == 1 else ""
                raise _shape_error(self, dims, shape, hint)
            setattr(self, self.inferred, int(shape[0]))

    rank_in = 0  # the per-sample input rank that build() reads the size from

    def reset(self, rng: np.random.Generator, dtype: np.dtype) -> None:
        """(Re)initializes the parameters; layers without parameters have nothing to do."""
        self._params = {}

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        raise NotImplementedError

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """Per-sample output shape for a per-sample input shape; raises on a mismatch."""
        return shape

    def flops(self, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> int:
        """Floating-point operations of one sample's forward pass (a multiply-add counts 2),
        given the per-sample input shape and the output shape :meth:`output_shape` gave."""
        raise NotImplementedError(f"{type(self).__name__} declares no flops()")

    def onnx_nodes(self, graph, x: str) -> str:
        """Adds the layer's inference to an ONNX graph: ``graph`` is a
        :class:`fastnn.export.Graph` (``graph.node(op, inputs, **attributes)`` adds a node,
        ``graph.const(name, array)`` an initializer, both named after the layer), ``x`` the
        name of the input tensor. Returns the name of the output tensor."""
        raise NotImplementedError(f"{type(self).__name__} declares no onnx_nodes()")

    def torch_module(self, nn, params: dict):
        """The same layer in PyTorch: ``nn`` is the ``torch.nn`` module, ``params`` the
        layer's params and buffers as torch tensors (copies, by the same keys)."""
        raise NotImplementedError(f"{type(self).__name__} declares no torch_module()")

    def keras_layers(self, keras, params: dict, in_shape: tuple[int, ...]) -> list:
        """The same layer in Keras, channels last: ``keras`` is the ``keras`` module,
        ``params`` the layer's params and buffers (NumPy copies, by the same keys),
        ``in_shape`` the input's sample shape in fastnn's order ((C, H, W) or (features,)).
        A list: a layer may need two of Keras's."""
        raise NotImplementedError(f"{type(self).__name__} declares no keras_layers()")

    def config(self) -> dict:
        """Constructor arguments, saved as JSON with the model."""
        return {}

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x, training=False)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


def declares(layer: Layer | type[Layer], method: str) -> bool:
    """Whether a layer (or layer type) defines ``method`` of the contract (``"flops"``,
    ``"onnx_nodes"``, ``"torch_module"`` or ``"keras_layers"``), itself or through a parent
    other than Layer."""
    cls = layer if isinstance(layer, type) else type(layer)
    return getattr(cls, method) is not getattr(Layer, method)


class ShapeError(ValueError):
    """A layer was given an input of the wrong shape."""


class NotBuiltError(ValueError):
    """A layer whose input size is inferred was used before a model saw its input shape."""


def _shape_error(layer: Layer, expected: str, shape: tuple[int, ...],
                 hint: str = "") -> ShapeError:
    """The error for an input of ``shape`` where ``layer`` expects ``expected``."""
    got = "(N, " + ", ".join(str(d) for d in shape) + ")"
    return ShapeError(f"{layer!r} expects input of shape {expected}, got {got}{hint}")


def _square(layer: str, name: str, value: object) -> object:
    """Keras's (k, k) pairs as one k (fastnn's windows and strides are square)."""
    if isinstance(value, tuple | list):
        if len(value) != 2 or value[0] != value[1]:
            raise ValueError(f"{layer} {name} {tuple(value)!r}: fastnn takes square sizes, "
                             f"one integer or (k, k)")
        return value[0]
    return value


def _input_shape(layer: str, shape: object) -> tuple[int, ...] | None:
    if shape is None:
        return None
    if not (isinstance(shape, tuple | list) and shape and all(
            isinstance(d, numbers.Integral) and not isinstance(d, bool) and d > 0 for d in shape)):
        raise ValueError(f"{layer} input_shape must be one sample's shape, positive integers "
                         f"such as (28, 28, 1) or (784,), got {shape!r}")
    return tuple(int(d) for d in shape)


def _int(layer: str, name: str, value: object, minimum: int) -> int:
    return inputs.integer(f"{layer} {name}", value, minimum)


class Dense(Layer):
    """Fully connected: (in_features,) -> (out_features,), y = x @ w.T + b.

    ``Dense(128)`` (Keras's ``units``) leaves the input size to be inferred from the first
    batch or the first layer's ``input_shape=``.
    """

    multiply_adds = True
    inferred, rank_in = "in_features", 1

    def __init__(self, in_features: int | None = None, out_features: int | None = None,
                 init="he", *, units: int | None = None,
                 input_shape: tuple[int, ...] | None = None, activation: str | None = None
                 ) -> None:
        super().__init__()
        self.activation = _activation_name("Dense", activation)  # the model adds the layer
        if units is not None or out_features is None:  # Keras: Dense(units)
            if units is not None and out_features is not None:
                raise ValueError("Dense: give out_features or units (Keras's name), not both")
            in_features, out_features = None, units if units is not None else in_features
        if out_features is None:
            raise ValueError("Dense needs its number of outputs: Dense(128) or "
                             "Dense(in_features, out_features)")
        self.in_features = (None if in_features is None
                            else _int("Dense", "in_features", in_features, 1))
        self.out_features = _int("Dense", "out_features", out_features, 1)
        self.input_shape = _input_shape("Dense", input_shape)
        self.init = init
        initializers.get(init)  # an unknown name fails here, not at the first use

    def shapes(self):
        return {"w": (self.out_features, self.in_features), "b": (self.out_features,)}

    def reset(self, rng, dtype):
        shape = (self.out_features, self.in_features)
        w = initializers.get(self.init)(rng, shape, self.in_features, self.out_features, dtype)
        self.params = {"w": w, "b": np.zeros(self.out_features, dtype)}

    def forward(self, x, training=False):
        self.x = x
        return kernels().dense_forward(x, self.params["w"], self.params["b"])

    def backward(self, dy):
        dx, self.grads["w"], self.grads["b"] = kernels().dense_backward(dy, self.x,
                                                                        self.params["w"])
        return dx

    def output_shape(self, shape):
        if shape != (self.in_features,):
            raise _shape_error(self, f"(N, {self.in_features})", shape)
        return (self.out_features,)

    def flops(self, in_shape, out_shape):
        return 2 * self.in_features * self.out_features

    def onnx_nodes(self, graph, x):
        w, b = graph.const("w", self.params["w"]), graph.const("b", self.params["b"])
        return graph.node("Gemm", [x, w, b], transB=1)

    def torch_module(self, nn, params):
        m = nn.Linear(self.in_features, self.out_features)
        m.weight.data, m.bias.data = params["w"], params["b"]
        return m

    def keras_layers(self, keras, params, in_shape):
        const = keras.initializers.Constant
        return [keras.layers.Dense(self.out_features, kernel_initializer=const(params["w"].T),
                                   bias_initializer=const(params["b"]))]

    def config(self):
        cfg = {"in_features": self.in_features, "out_features": self.out_features}
        return cfg | ({"init": self.init} if isinstance(self.init, str) else {})


class Conv2D(Layer):
    """2-D convolution: (C, H, W) -> (F, OH, OW), square kernels, zero padding.

    ``padding="same"`` keeps H and W (odd kernels, stride 1, as in PyTorch).
    """

    multiply_adds = True
    inferred, rank_in = "in_channels", 3

    def __init__(self, in_channels: int | None = None, out_channels: int | None = None,
                 kernel_size: int | tuple[int, int] | None = None, stride: int = 1,
                 padding: int | str = 0, init="he", *, filters: int | None = None,
                 strides: int | tuple[int, int] | None = None,
                 input_shape: tuple[int, ...] | None = None, activation: str | None = None
                 ) -> None:
        super().__init__()
        self.activation = _activation_name("Conv2D", activation)  # the model adds the layer
        if filters is not None:  # Keras: Conv2D(filters=32, kernel_size=3)
            if out_channels is not None:
                raise ValueError("Conv2D: give out_channels or filters (Keras's name), not both")
            if in_channels is not None and kernel_size is None:
                kernel_size, in_channels = in_channels, None
            out_channels = filters
        elif kernel_size is None and out_channels is not None:  # Keras: Conv2D(32, 3)
            in_channels, out_channels, kernel_size = None, in_channels, out_channels
        elif out_channels is None and kernel_size is not None:  # Conv2D(32, kernel_size=3)
            in_channels, out_channels = None, in_channels
        if out_channels is None or kernel_size is None:
            raise ValueError("Conv2D needs its filters and kernel size: Conv2D(32, 3) or "
                             "Conv2D(in_channels, out_channels, kernel_size)")
        if strides is not None:
            stride = strides
        if padding == "valid":
            padding = 0
        self.in_channels = (None if in_channels is None
                            else _int("Conv2D", "in_channels", in_channels, 1))
        self.out_channels = _int("Conv2D", "out_channels", out_channels, 1)
        self.kernel_size = _int("Conv2D", "kernel_size",
                                _square("Conv2D", "kernel_size", kernel_size), 1)
        self.stride = _int("Conv2D", "stride", _square("Conv2D", "stride", stride), 1)
        self.input_shape = _input_shape("Conv2D", input_shape)
        if padding == "same":
            if self.stride != 1:
                raise ValueError(f'Conv2D padding="same" needs stride 1, got {self.stride}')
            try:
                self.padding = geometry.same_padding(self.kernel_size)
            except ValueError as e:
                raise ValueError(f"Conv2D {e}") from None
        elif isinstance(padding, str):
            raise ValueError(f'Conv2D padding must be an integer, "same" or "valid", got '
                             f'{padding!r}')
        else:
            self.padding = _int("Conv2D", "padding", padding, 0)
        self.padding_arg = padding if padding == "same" else self.padding
        self.init = init
        initializers.get(init)

    def shapes(self):
        k = self.kernel_size
        return {"w": (self.out_channels, self.in_channels, k, k), "b": (self.out_channels,)}

    def reset(self, rng, dtype):
        k = self.kernel_size
        shape = (self.out_channels, self.in_channels, k, k)
        fan_in, fan_out = self.in_channels * k * k, self.out_channels * k * k
        self.params = {"w": initializers.get(self.init)(rng, shape, fan_in, fan_out, dtype),
                       "b": np.zeros(self.out_channels, dtype)}

    def forward(self, x, training=False):
        self.x = x
        return kernels().conv2d_forward(x, self.params["w"], self.params["b"], self.stride,
                                  self.padding)

    def backward(self, dy):
        dx, self.grads["w"], self.grads["b"] = kernels().conv2d_backward(
            dy, self.x, self.params["w"], self.stride, self.padding, self.input_grad)
        return dx

    def output_shape(self, shape):
        k, p, s = self.kernel_size, self.padding, self.stride
        if len(shape) != 3 or shape[0] != self.in_channels:
            raise _shape_error(self, f"(N, {self.in_channels}, H, W)", shape)
        if min(shape[1:]) + 2 * p < k:
            raise _shape_error(self, f"(N, {self.in_channels}, H, W) with H, W >= {k - 2 * p}",
                               shape)
        return (self.out_channels,) + geometry.out_hw(shape[1], shape[2], k, k, s, p)

    def flops(self, in_shape, out_shape):
        return 2 * self.in_channels * self.kernel_size ** 2 * math.prod(out_shape)

    def onnx_nodes(self, graph, x):
        k, s, p = self.kernel_size, self.stride, self.padding
        w, b = graph.const("w", self.params["w"]), graph.const("b", self.params["b"])
        return graph.node("Conv", [x, w, b], kernel_shape=[k, k], strides=[s, s], pads=[p] * 4)

    def torch_module(self, nn, params):
        m = nn.Conv2d(self.in_channels, self.out_channels, self.kernel_size, self.stride,
                      self.padding)
        m.weight.data, m.bias.data = params["w"], params["b"]
        return m

    def keras_layers(self, keras, params, in_shape):
        k, p = self.kernel_size, self.padding
        same = self.stride == 1 and 2 * p == k - 1  # Keras's "same" is this padding
        conv = keras.layers.Conv2D(
            self.out_channels, k, self.stride, padding="same" if same else "valid",
            kernel_initializer=keras.initializers.Constant(params["w"].transpose(2, 3, 1, 0)),
            bias_initializer=keras.initializers.Constant(params["b"]))
        return [conv] if same or not p else [keras.layers.ZeroPadding2D(p), conv]

    def config(self):
        cfg = {"in_channels": self.in_channels, "out_channels": self.out_channels,
               "kernel_size": self.kernel_size, "stride": self.stride,
               "padding": self.padding_arg}
        return cfg | ({"init": self.init} if isinstance(self.init, str) else {})


class _Pool2D(Layer):
    """size x size windows over (C, H, W); stride defaults to size."""

    def __init__(self, size: int = 2, stride: int | None = None, *,
                 pool_size: int | tuple[int, int] | None = None,
                 strides: int | tuple[int, int] | None = None) -> None:
        super().__init__()
        name = type(self).__name__
        size = size if pool_size is None else _square(name, "pool_size", pool_size)
        stride = stride if strides is None else _square(name, "strides", strides)
        self.size = _int(name, "size", size, 1)
        self.stride = self.size if stride is None else _int(name, "stride", stride, 1)

    def output_shape(self, shape):
        if len(shape) != 3 or min(shape[1:]) < self.size:
            raise _shape_error(self, f"(N, C, H, W) with H, W >= {self.size}", shape)
        return (shape[0],) + geometry.out_hw(shape[1], shape[2], self.size, self.size,
                                             self.stride)

    def flops(self, in_shape, out_shape):
        return self.size ** 2 * math.prod(out_shape)

    def _onnx_pool(self, graph, x, op):
        return graph.node(op, [x], kernel_shape=[self.size] * 2, strides=[self.stride] * 2)

    def config(self):
        return {"size": self.size, "stride": self.stride}


class MaxPool2D(_Pool2D):
    """Max-pooling: (C, H, W) -> (C, OH, OW)."""

    def forward(self, x, training=False):
        self.x_shape = x.shape
        y, self.argmax = kernels().maxpool2d_forward(x, self.size, self.stride)
        return y

    def backward(self, dy):
        return kernels().maxpool2d_backward(dy, self.argmax, self.x_shape)

    def onnx_nodes(self, graph, x):
        return self._onnx_pool(graph, x, "MaxPool")

    def torch_module(self, nn, params):
        return nn.MaxPool2d(self.size, self.stride)

    def keras_layers(self, keras, params, in_shape):
        return [keras.layers.MaxPooling2D(self.size, self.stride)]


class AvgPool2D(_Pool2D):
    """Average pooling: (C, H, W) -> (C, OH, OW)."""

    def forward(self, x, training=False):
        self.x_shape = x.shape
        return kernels().avgpool2d_forward(x, self.size, self.stride)

    def backward(self, dy):
        return kernels().avgpool2d_backward(dy, self.x_shape, self.size, self.stride)

    def onnx_nodes(self, graph, x):
        return self._onnx_pool(graph, x, "AveragePool")

    def torch_module(self, nn, params):
        return nn.AvgPool2d(self.size, self.stride)

    def keras_layers(self, keras, params, in_shape):
        return [keras.layers.AveragePooling2D(self.size, self.stride)]


class GlobalAvgPool2D(Layer):
    """The mean of each channel's plane: (C, H, W) -> (C,)."""

    def forward(self, x, training=False):
        self.x_shape = x.shape
        return kernels().global_avgpool2d_forward(x)

    def backward(self, dy):
        return kernels().global_avgpool2d_backward(dy, self.x_shape)

    def output_shape(self, shape):
        if len(shape) != 3:
            raise _shape_error(self, "(N, C, H, W)", shape)
        return (shape[0],)

    def flops(self, in_shape, out_shape):
        return math.prod(in_shape)

    def onnx_nodes(self, graph, x):
        pooled = graph.node("GlobalAveragePool", [x], out="pooled")
        return graph.node("Flatten", [pooled], axis=1)

    def torch_module(self, nn, params):
        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())

    def keras_layers(self, keras, params, in_shape):
        return [keras.layers.GlobalAveragePooling2D()]


class _BatchNorm(Layer):
    """Batch normalization per channel, with a learned scale ``gamma`` and shift ``beta``.

    In training the batch's mean and (biased) variance normalize it, and the running
    statistics follow them with PyTorch's convention: ``running = (1 - momentum) * running +
    momentum * batch``, momentum 0.1 (Keras's momentum 0.99 is PyTorch's 0.01), the running
    variance unbiased. In evaluation and prediction the running statistics normalize, so one
    sample alone gets the same output as in a batch.
    """

    rank = 0  # per-sample input rank
    inferred = "channels"

    def __init__(self, channels: int | None = None, momentum: float = 0.1, eps: float = 1e-5,
                 *, axis: int | None = None) -> None:
        super().__init__()
        name = type(self).__name__
        if axis not in (None, 1, -1):
            raise ValueError(f"{name} axis must be 1 or -1 (the channels: fastnn's layers "
                             f"keep them first, and a channels-last model converts its input "
                             f"at the edge), got {axis!r}")
        self.rank_in = self.rank
        self.channels = None if channels is None else _int(name, "channels", channels, 1)
        if not (isinstance(momentum, numbers.Real) and 0 <= momentum <= 1):
            raise ValueError(f"{name} momentum must be in [0, 1], got {momentum!r}")
        if not (isinstance(eps, numbers.Real) and eps > 0):
            raise ValueError(f"{name} eps must be > 0, got {eps!r}")
        self.momentum, self.eps = float(momentum), float(eps)

    def shapes(self):
        return dict.fromkeys(("gamma", "beta", "running_mean", "running_var"), (self.channels,))

    def reset(self, rng, dtype):
        c = self.channels
        self.params = {"gamma": np.ones(c, dtype), "beta": np.zeros(c, dtype)}
        self.buffers = {"running_mean": np.zeros(c, dtype), "running_var": np.ones(c, dtype)}

    def update_running(self, mean: np.ndarray, var: np.ndarray, count: int) -> None:
        """Moves the running statistics towards a batch's mean and biased variance over
        ``count`` values per channel."""
        m = self.momentum
        unbiased = var * (count / max(count - 1, 1))
        for name, batch in (("running_mean", mean), ("running_var", unbiased)):
            running = self.buffers[name]
            running *= running.dtype.type(1 - m)
            running += (m * batch).astype(running.dtype)

    def forward(self, x, training=False):
        gamma, beta = self.params["gamma"], self.params["beta"]
        if training:
            if x.size == x.shape[1]:  # one value per channel: a variance of 0 (PyTorch refuses)
                raise ValueError(f"{type(self).__name__}({self.channels}) cannot train on one "
                                 f"value per channel (a batch of {x.shape[0]} of shape "
                                 f"{x.shape[1:]}): use a batch size of 2 or more")
            self.x = x
            self.mean, self.var = kernels().batchnorm_stats(x)
            self.update_running(self.mean, self.var, x.size // x.shape[1])
            return kernels().batchnorm_forward(x, gamma, beta, self.mean, self.var, self.eps)
        self.x = None
        return kernels().batchnorm_forward(x, gamma, beta, self.buffers["running_mean"],
                                     self.buffers["running_var"], self.eps)

    def backward(self, dy):
        if self.x is None:
            raise RuntimeError(f"{self!r}: backward needs a forward pass in training mode")
        dx, self.grads["gamma"], self.grads["beta"] = kernels().batchnorm_backward(
            dy, self.x, self.params["gamma"], self.mean, self.var, self.eps)
        return dx

    def output_shape(self, shape):
        if len(shape) != self.rank or shape[0] != self.channels:
            dims = "" if self.rank == 1 else ", H, W"
            raise _shape_error(self, f"(N, {self.channels}{dims})", shape)
        return shape

    def flops(self, in_shape, out_shape):
        return 2 * math.prod(out_shape)

    def onnx_nodes(self, graph, x):
        arrays = self.params | self.buffers
        names = [graph.const(n, arrays[n]) for n in ("gamma", "beta", "running_mean",
                                                     "running_var")]
        return graph.node("BatchNormalization", [x, *names], epsilon=self.eps)

    def _torch_batchnorm(self, cls, params):
        m = cls(self.channels, eps=self.eps, momentum=self.momentum)
        m.weight.data, m.bias.data = params["gamma"], params["beta"]
        m.running_mean.data, m.running_var.data = params["running_mean"], params["running_var"]
        return m

    def keras_layers(self, keras, params, in_shape):
        const = keras.initializers.Constant  # Keras's momentum is the running value's weight
        return [keras.layers.BatchNormalization(
            axis=-1, momentum=1 - self.momentum, epsilon=self.eps,
            gamma_initializer=const(params["gamma"]), beta_initializer=const(params["beta"]),
            moving_mean_initializer=const(params["running_mean"]),
            moving_variance_initializer=const(params["running_var"]))]

    def config(self):
        return {"channels": self.channels, "momentum": self.momentum, "eps": self.eps}


class BatchNorm2D(_BatchNorm):
    """Batch normalization of (C, H, W) inputs: statistics per channel over N, H and W."""

    rank = 3

    def torch_module(self, nn, params):
        return self._torch_batchnorm(nn.BatchNorm2d, params)


class BatchNorm1D(_BatchNorm):
    """Batch normalization of (features,) inputs: statistics per feature over the batch."""

    rank = 1

    def torch_module(self, nn, params):
        return self._torch_batchnorm(nn.BatchNorm1d, params)


class _Activation(Layer):
    """An elementwise function: one operation per value, one ONNX node (``onnx_op``)."""

    onnx_op = ""

    def flops(self, in_shape, out_shape):
        return math.prod(out_shape)

    def onnx_nodes(self, graph, x):
        return graph.node(self.onnx_op, [x])


class ReLU(_Activation):
    onnx_op = "Relu"

    def torch_module(self, nn, params):
        return nn.ReLU()

    def keras_layers(self, keras, params, in_shape):
        return [keras.layers.Activation("relu")]

    def forward(self, x, training=False):
        self.x = x
        return kernels().relu_forward(x)

    def backward(self, dy):
        return kernels().relu_backward(dy, self.x)


class Sigmoid(_Activation):
    onnx_op = "Sigmoid"

    def torch_module(self, nn, params):
        return nn.Sigmoid()

    def keras_layers(self, keras, params, in_shape):
        return [keras.layers.Activation("sigmoid")]

    def forward(self, x, training=False):
        self.y = kernels().sigmoid_forward(x)
        return self.y

    def backward(self, dy):
        return kernels().sigmoid_backward(dy, self.y)


class Tanh(_Activation):
    onnx_op = "Tanh"

    def torch_module(self, nn, params):
        return nn.Tanh()

    def keras_layers(self, keras, params, in_shape):
        return [keras.layers.Activation("tanh")]

    def forward(self, x, training=False):
        self.y = kernels().tanh_forward(x)
        return self.y

    def backward(self, dy):
        return kernels().tanh_backward(dy, self.y)


class Flatten(Layer):
    """(C, H, W) or any shape -> (C*H*W,)."""

    def forward(self, x, training=False):
        self.x_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        return dy.reshape(self.x_shape)

    def output_shape(self, shape):
        return (int(np.prod(shape)),)

    def flops(self, in_shape, out_shape):
        return 0

    def onnx_nodes(self, graph, x):
        return graph.node("Flatten", [x], axis=1)

    def torch_module(self, nn, params):
        return nn.Flatten()

    def keras_layers(self, keras, params, in_shape):
        if len(in_shape) == 3:  # back to (C, H, W) first: fastnn flattens in that order
            return [keras.layers.Permute((3, 1, 2)), keras.layers.Flatten()]
        return [keras.layers.Flatten()]


class Dropout(Layer):
    """Inverted dropout: in training, zeroes each input with probability p and scales the rest
    by 1/(1-p); the identity in evaluation and prediction."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not (isinstance(p, numbers.Real) and 0 <= p < 1):
            raise ValueError(f"Dropout p must be in [0, 1), got {p!r}")
        self.p = float(p)
        self.rng = np.random.default_rng(0)  # the model hands it the run's generator

    def forward(self, x, training=False):
        if not training or self.p == 0:
            self.u = None
            return x
        self.u = self.rng.random(x.shape, dtype=np.float32)  # kept where u >= p
        return kernels().dropout_forward(x, self.u, self.p)

    def backward(self, dy):
        return dy if self.u is None else kernels().dropout_backward(dy, self.u, self.p)

    def config(self):
        return {"p": self.p}

    def flops(self, in_shape, out_shape):
        return 0

    def onnx_nodes(self, graph, x):
        return x  # the identity at inference

    def torch_module(self, nn, params):
        return nn.Dropout(self.p)

    def keras_layers(self, keras, params, in_shape):
        return [keras.layers.Dropout(self.p)]


class OutputSoftmax(Layer):
    """Keras's softmax output (``Activation("softmax")``, ``Dense(10, activation="softmax")``)
    as the last layer: the model leaves it out, since its cross-entropy loss takes the logits
    and ``predict`` gives the softmax probabilities, as the Keras model did. Anywhere else it
    is an error (:class:`fastnn.Sequential` says so)."""

    def forward(self, x, training=False):
        raise RuntimeError("OutputSoftmax is a marker that Sequential leaves out")


KERAS_ACTIVATIONS = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh, "softmax": OutputSoftmax}


def _activation_name(owner: str, name: object) -> str | None:
    """Keras's ``activation=`` of Dense and Conv2D, checked (None or "linear": none)."""
    if name is None or name == "linear":
        return None
    if name not in KERAS_ACTIVATIONS:
        raise ValueError(f"{owner} activation {name!r}: unknown; choose one of "
                         f"{', '.join(KERAS_ACTIVATIONS)} (or add the layer, e.g. fn.ReLU())")
    return name


def Activation(name: str) -> Layer:  # noqa: N802  (Keras's name, a class there)
    """Keras's ``Activation("relu")``: the layer of that name (``"relu"``, ``"sigmoid"``,
    ``"tanh"``); ``"softmax"`` as a model's last layer is its output (see
    :class:`OutputSoftmax`)."""
    checked = _activation_name("Activation", name)
    if checked is None:
        raise ValueError(f"Activation({name!r}) does nothing: leave it out")
    return KERAS_ACTIVATIONS[checked]()


LAYERS = {cls.__name__: cls for cls in (Dense, Conv2D, MaxPool2D, AvgPool2D, GlobalAvgPool2D,
                                         BatchNorm1D, BatchNorm2D, ReLU, Sigmoid, Tanh, Flatten,
                                         Dropout)}
