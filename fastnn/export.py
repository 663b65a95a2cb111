"""Export a model to ONNX, for onnxruntime, OpenCV, TensorRT, browsers and phones.

    fastnn export runs/mnist/1/mnist_cnn.npz mnist_cnn.onnx     # or, in Python:
    fn.export.to_onnx(model, "mnist_cnn.onnx", input_shape=(1, 28, 28))

Needs the ``onnx`` package (``pip install 'fastnn[onnx]'``). The graph takes ``input`` (N, ...)
with any batch size and gives ``logits`` (N, K), and, with ``probabilities=True``, also
``probabilities``: what ``model.predict`` returns (softmax; the sigmoid of a binary
cross-entropy model, with P(class 0) and P(class 1) for one output). Each layer type writes its
own nodes (:meth:`fastnn.layers.Layer.onnx_nodes`, into a :class:`Graph`): Dense to Gemm,
Conv2D to Conv, the pools to MaxPool/AveragePool/GlobalAveragePool (+ Flatten), BatchNorm1D/2D
to BatchNormalization with the running statistics, ReLU/Sigmoid/Tanh to Relu/Sigmoid/Tanh,
Flatten to Flatten; Dropout is the identity at inference and is left out. A layer type without
``onnx_nodes`` is refused, by name, before anything is written. The class names and the
model's metadata travel in the file's ``metadata_props``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ._io import atomic_open
from ._version import __version__
from .layers import LAYERS, BatchNorm1D, BatchNorm2D, Conv2D, Dense, Flatten, declares
from .model import Sequential

OPSET = 17
SUPPORTED = tuple(cls for cls in LAYERS.values() if declares(cls, "onnx_nodes"))
"""fastnn's own layer types that export (all of them); any other Layer subclass exports
when it defines ``onnx_nodes``."""


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("ONNX export needs the onnx package: pip install 'fastnn[onnx]'"
                          ) from None
    return onnx


class Graph:
    """The ONNX graph being built, as a layer's :meth:`~fastnn.layers.Layer.onnx_nodes` sees
    it: :meth:`node` and :meth:`const` name what they add after the layer (``layer3.Conv``,
    ``layer3.w``, output ``layer3.out``). ``helper`` and ``numpy_helper`` are onnx's, for
    what these two do not cover; ``dtype`` is the exported dtype."""

    def __init__(self, helper, numpy_helper, dtype: np.dtype) -> None:
        self.helper, self.numpy_helper, self.dtype = helper, numpy_helper, dtype
        self.nodes: list = []
        self.initializers: list = []
        self.index = 0  # the layer being exported

    def const(self, name: str, array: np.ndarray) -> str:
        """Adds ``array`` (in the exported dtype) as an initializer; returns its name."""
        name = f"layer{self.index}.{name}"
        self.initializers.append(
            self.numpy_helper.from_array(np.ascontiguousarray(array, self.dtype), name))
        return name

    def node(self, op: str, inputs: list[str], out: str = "out", **attributes) -> str:
        """Adds an ``op`` node named ``layer{i}.{op}`` (so a layer adds at most one node of
        each op) with the output ``layer{i}.{out}``; returns the output's name."""
        i = self.index
        out = f"layer{i}.{out}"
        self.nodes.append(self.helper.make_node(op, inputs, [out], name=f"layer{i}.{op}",
                                                **attributes))
        return out


def _refuse_unsupported(model: Sequential) -> None:
    for i, layer in enumerate(model.layers):
        if not declares(layer, "onnx_nodes"):
            names = ", ".join(cls.__name__ for cls in SUPPORTED)
            name = type(layer).__name__
            raise ValueError(f"layer {i} {name} cannot be exported to ONNX; supported layers: "
                             f"{names} (a layer type of your own exports when it defines "
                             f"onnx_nodes(graph, x))")


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
    _refuse_unsupported(model)
    if input_shape is None:
        input_shape = input_shape_of(model)
    input_shape = tuple(input_shape)
    if all(isinstance(d, (int, np.integer)) for d in input_shape):
        model.check_shape(input_shape)  # a mismatch names the layer
    dtype = model.dtype if dtype is None else np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    elem = TensorProto.FLOAT if dtype == np.float32 else TensorProto.DOUBLE
    graph = Graph(helper, numpy_helper, dtype)
    x = "input"
    for i, layer in enumerate(model.layers):
        graph.index = i
        x = layer.onnx_nodes(graph, x)
    nodes, inits = graph.nodes, graph.initializers
    nodes.append(helper.make_node("Identity", [x], ["logits"], name="logits"))
    outputs = [helper.make_tensor_value_info("logits", elem, ["N", None])]
    if probabilities:
        _probability_nodes(model, dtype, nodes, inits, helper, numpy_helper)
        outputs.append(helper.make_tensor_value_info("probabilities", elem, ["N", None]))
    onnx_graph = helper.make_graph(
        nodes, "fastnn", [helper.make_tensor_value_info("input", elem, ["N", *input_shape])],
        outputs, inits)
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(onnx_graph, opset_imports=opsets, producer_name="fastnn",
                              producer_version=__version__,
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


__all__ = ["OPSET", "SUPPORTED", "Graph", "input_shape_of", "to_onnx", "to_onnx_model"]
