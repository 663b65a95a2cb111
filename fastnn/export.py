"""Export a model to ONNX, for onnxruntime, OpenCV, TensorRT, browsers and phones.

    fastnn export runs/mnist/1/mnist_cnn.npz mnist_cnn.onnx     # or, in Python:
    fn.export.to_onnx(model, "mnist_cnn.onnx", input_shape=(1, 28, 28))

Needs the ``onnx`` package (``pip install 'fastnn[onnx]'``). The graph takes ``input`` (N, ...)
with any batch size and gives ``logits`` (N, K), and, with ``probabilities=True``, also
``probabilities``: what ``model.predict`` returns (softmax; the sigmoid of a binary
cross-entropy model, with P(class 0) and P(class 1) for one output). Layers map one to one:
Dense to Gemm, Conv2D to Conv, the pools to MaxPool/AveragePool/GlobalAveragePool (+ Flatten),
BatchNorm1D/2D to BatchNormalization with the running statistics, ReLU/Sigmoid/Tanh to
Relu/Sigmoid/Tanh, Flatten to Flatten; Dropout is the identity at inference and is left out.
The class names and the model's metadata travel in the file's ``metadata_props``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ._io import atomic_open
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

OPSET = 17
SUPPORTED = (Dense, Conv2D, MaxPool2D, AvgPool2D, GlobalAvgPool2D, BatchNorm1D, BatchNorm2D,
             ReLU, Sigmoid, Tanh, Flatten, Dropout)


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("ONNX export needs the onnx package: pip install 'fastnn[onnx]'"
                          ) from None
    return onnx


def input_shape_of(model: Sequential) -> tuple[int | str, ...]:
    """The per-sample input shape: from the saved data description (image size and colour
    mode) when the model has one, else what the first layers say; H and W stay named
    dimensions ("H", "W") for a convolutional model that does not record them."""
    spec = model.metadata.get("data", {}).get("input")
    if spec and spec.get("size"):
        h, w = spec["size"]
        shape = (3 if spec.get("mode") == "rgb" else 1, int(h), int(w))
        try:
            model.check_shape(shape)
            return shape
        except ValueError:
            pass
    layers = [layer for layer in model.layers if not isinstance(layer, Flatten)]
    first = layers[0] if layers else None
    if isinstance(first, Dense):
        return (first.in_features,)
    if isinstance(first, Conv2D):
        return (first.in_channels, "H", "W")
    raise ValueError("cannot tell this model's input shape: give input_shape (fastnn export "
                     "--input-shape C,H,W)")


def to_onnx_model(model: Sequential, input_shape: tuple[int | str, ...] | None = None,
                  probabilities: bool = False, opset: int = OPSET, dtype=None):
    """The model as an ``onnx.ModelProto`` (checked with ``onnx.checker``), in ``dtype``
    (default the model's; onnxruntime's CPU has no float64 convolution, so a float64 CNN
    for it is exported with ``dtype="float32"``)."""
    onnx = _onnx()
    from onnx import TensorProto, helper, numpy_helper

    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not 13 <= opset <= newest:
        raise ValueError(f"opset must be an integer from 13 to {newest} (this onnx), "
                         f"got {opset!r}")
    for i, layer in enumerate(model.layers):
        if type(layer) not in SUPPORTED:
            names = ", ".join(cls.__name__ for cls in SUPPORTED)
            raise ValueError(f"layer {i} {type(layer).__name__} cannot be exported to ONNX; "
                             f"supported layers: {names}")
    if input_shape is None:
        input_shape = input_shape_of(model)
    input_shape = tuple(input_shape)
    if all(isinstance(d, (int, np.integer)) for d in input_shape):
        model.check_shape(input_shape)  # a mismatch names the layer
    dtype = model.dtype if dtype is None else np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    elem = TensorProto.FLOAT if dtype == np.float32 else TensorProto.DOUBLE
    nodes, inits = [], []
    x = "input"

    def const(name: str, a: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(a, dtype), name))
        return name

    def node(op: str, inputs: list[str], i: int, out: str | None = None, **attrs) -> str:
        out = out or f"layer{i}.out"
        nodes.append(helper.make_node(op, inputs, [out], name=f"layer{i}.{op}", **attrs))
        return out

    for i, layer in enumerate(model.layers):
        p = {**layer.params, **layer.buffers}
        if isinstance(layer, Dense):
            x = node("Gemm", [x, const(f"layer{i}.w", p["w"]), const(f"layer{i}.b", p["b"])],
                     i, transB=1)
        elif isinstance(layer, Conv2D):
            k, s, pad = layer.kernel_size, layer.stride, layer.padding
            x = node("Conv", [x, const(f"layer{i}.w", p["w"]), const(f"layer{i}.b", p["b"])],
                     i, kernel_shape=[k, k], strides=[s, s], pads=[pad] * 4)
        elif isinstance(layer, (MaxPool2D, AvgPool2D)):
            op = "MaxPool" if isinstance(layer, MaxPool2D) else "AveragePool"
            x = node(op, [x], i, kernel_shape=[layer.size] * 2, strides=[layer.stride] * 2)
        elif isinstance(layer, GlobalAvgPool2D):
            x = node("GlobalAveragePool", [x], i, out=f"layer{i}.pooled")
            x = node("Flatten", [x], i, axis=1)
        elif isinstance(layer, (BatchNorm1D, BatchNorm2D)):
            names = [const(f"layer{i}.{n}", p[n])
                     for n in ("gamma", "beta", "running_mean", "running_var")]
            x = node("BatchNormalization", [x, *names], i, epsilon=layer.eps)
        elif isinstance(layer, (ReLU, Sigmoid, Tanh)):
            x = node({ReLU: "Relu", Sigmoid: "Sigmoid", Tanh: "Tanh"}[type(layer)], [x], i)
        elif isinstance(layer, Flatten):
            x = node("Flatten", [x], i, axis=1)
        # Dropout: the identity at inference
    nodes.append(helper.make_node("Identity", [x], ["logits"], name="logits"))
    outputs = [helper.make_tensor_value_info("logits", elem, ["N", None])]
    if probabilities:
        _probability_nodes(model, dtype, nodes, inits, helper, numpy_helper)
        outputs.append(helper.make_tensor_value_info("probabilities", elem, ["N", None]))
    graph = helper.make_graph(
        nodes, "fastnn", [helper.make_tensor_value_info("input", elem, ["N", *input_shape])],
        outputs, inits)
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(graph, opset_imports=opsets, producer_name="fastnn",
                              producer_version=_version(),
                              ir_version=helper.find_min_ir_version_for(opsets))
    proto.doc_string = repr(model)
    meta = {"class_names": json.dumps(model.class_names), "loss": json.dumps(model.loss.config()),
            "fastnn_metadata": json.dumps(model.metadata)}
    helper.set_model_props(proto, meta)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def _probability_nodes(model, dtype, nodes, inits, helper, numpy_helper) -> None:
    """What Sequential.predict gives: softmax, or the sigmoid of a binary cross-entropy model
    (one output becomes the columns 1 - p, p)."""
    if model.loss.name != "binary_cross_entropy":
        nodes.append(helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1,
                                      name="probabilities"))
        return
    nodes.append(helper.make_node("Sigmoid", ["logits"], ["sigmoid"], name="sigmoid"))
    if _output_width(model) == 1:
        one = numpy_helper.from_array(np.ones(1, dtype), "one")
        inits.append(one)
        nodes.append(helper.make_node("Sub", ["one", "sigmoid"], ["p0"], name="p0"))
        nodes.append(helper.make_node("Concat", ["p0", "sigmoid"], ["probabilities"], axis=1,
                                      name="probabilities"))
    else:
        nodes.append(helper.make_node("Identity", ["sigmoid"], ["probabilities"],
                                      name="probabilities"))


def _output_width(model: Sequential) -> int | None:
    """K of the logits (N, K), from the last layer that sets a width."""
    for layer in reversed(model.layers):
        if isinstance(layer, Dense):
            return layer.out_features
        if isinstance(layer, Conv2D):
            return layer.out_channels
        if isinstance(layer, (BatchNorm1D, BatchNorm2D)):
            return layer.channels
    return None


def _version() -> str:
    from . import __version__

    return __version__


def to_onnx(model: Sequential, path: str | os.PathLike,
            input_shape: tuple[int | str, ...] | None = None, probabilities: bool = False,
            opset: int = OPSET, dtype=None) -> Path:
    """Writes the model to ``path`` as ONNX (atomically: a failed export leaves no file);
    returns the path. ``input_shape`` is per sample, e.g. (1, 28, 28); by default it comes
    from the model (see :func:`input_shape_of`)."""
    proto = to_onnx_model(model, input_shape, probabilities, opset, dtype)
    path = Path(path)
    with atomic_open(path) as f:
        f.write(proto.SerializeToString())
    return path


__all__ = ["OPSET", "SUPPORTED", "input_shape_of", "to_onnx", "to_onnx_model"]
