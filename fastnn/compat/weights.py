"""Weights as the classic dense-network tutorials keep them, in and out of a ``Sequential``.

- **Theta matrices** (the sigmoid BP network, MATLAB style): ``Theta_l`` is (out, 1 + in) with
  the bias as column 0; the tutorial's forward pass is ``a = sigmoid([1, a] @ Theta.T)`` on
  every layer, samples as rows.
- **Parameter dicts** (the L-layer classifier): ``parameters["w1"], ["b1"], ...`` with ``w_l``
  (n_l, n_{l-1}) and ``b_l`` (n_l, 1); samples are columns, ``A = g(w @ A + b)``.

The model's last layer is a Dense that gives logits and its loss applies the output function
(sigmoid: ``BinaryCrossEntropy``, softmax: ``SoftmaxCrossEntropy``), so ``model.predict(x)``
is the tutorial's output layer and ``model.fit`` trains the same network. With one sigmoid
output, ``predict`` gives (1 - p, p): the tutorial's value is column 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..inputs import integer
from ..layers import Dense, Flatten, Layer, ReLU, Sigmoid, Tanh
from ..losses import BinaryCrossEntropy, SoftmaxCrossEntropy
from ..model import Sequential

HIDDEN = {"sigmoid": Sigmoid, "relu": ReLU, "tanh": Tanh}
OUTPUT = {"sigmoid": BinaryCrossEntropy, "softmax": SoftmaxCrossEntropy}


def _matrix(a, name: str) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind not in "iuf" or a.ndim != 2 or 0 in a.shape:
        raise ValueError(f"{name} must be a non-empty 2-D numeric matrix, got "
                         f"{a.dtype} {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} holds NaN or infinite values")
    return a.astype(np.float64)


def _pixel_order(input_shape: Sequence[int] | None, order: str, features: int) -> np.ndarray:
    """perm such that w[:, perm] takes C-order flattened inputs when w took ``order``-order."""
    if order not in ("C", "F"):
        raise ValueError(f"order must be 'C' or 'F', got {order!r}")
    if input_shape is None:
        if order == "F":
            raise ValueError("order='F' needs input_shape (the image shape the weights saw)")
        return np.arange(features)
    if isinstance(input_shape, str) or not isinstance(input_shape, Sequence | np.ndarray):
        raise ValueError(f"input_shape must be a sequence of sizes, got {input_shape!r}")
    shape = tuple(integer("input_shape", d) for d in input_shape)
    if int(np.prod(shape)) != features:
        raise ValueError(f"input_shape {shape} has {int(np.prod(shape))} values, but the first "
                         f"layer takes {features} inputs")
    return np.arange(features).reshape(shape, order=order).ravel()


def _build(weights: list[tuple[np.ndarray, np.ndarray]], hidden: str, output: str,
           input_shape, order: str, dtype, class_names) -> Sequential:
    if hidden not in HIDDEN:
        raise ValueError(f"unknown hidden activation {hidden!r}; choose one of "
                         f"{', '.join(HIDDEN)}")
    if output not in OUTPUT:
        raise ValueError(f"unknown output {output!r}; choose one of {', '.join(OUTPUT)}")
    perm = _pixel_order(input_shape, order, weights[0][0].shape[1])
    layers: list[Layer] = [Flatten()] if input_shape is not None else []
    for i, (w, _) in enumerate(weights):
        layers.append(Dense(w.shape[1], w.shape[0]))
        if i < len(weights) - 1:
            layers.append(HIDDEN[hidden]())
    model = Sequential(layers, dtype=dtype, loss=OUTPUT[output](), class_names=class_names)
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    for i, (layer, (w, b)) in enumerate(zip(dense, weights)):
        if i == 0:
            w = w[:, perm]
        layer.params["w"] = np.ascontiguousarray(w, dtype=model.dtype)
        layer.params["b"] = np.ascontiguousarray(b, dtype=model.dtype)
    return model


def _dense_stack(model: Sequential, what: str) -> tuple[list[Dense], str, str]:
    """The Dense layers of [Flatten] Dense act Dense act ... Dense, the hidden activation
    name and the output name; anything else is an error naming the layer."""
    layers = model.layers[1:] if model.layers and isinstance(model.layers[0], Flatten) \
        else model.layers
    offset = len(model.layers) - len(layers)
    names = {cls: name for name, cls in HIDDEN.items()}
    dense, acts = [], set()
    for j, layer in enumerate(layers):
        want_dense = j % 2 == 0
        ok = isinstance(layer, Dense) if want_dense else type(layer) in names
        if not ok:
            raise ValueError(f"{what} needs Dense layers with an activation between them; "
                             f"layer {j + offset} is {layer!r}")
        (dense.append(layer) if want_dense else acts.add(names[type(layer)]))
    if not dense or len(layers) % 2 == 0:
        raise ValueError(f"{what} needs a model that ends with a Dense layer (logits)")
    if len(acts) > 1:
        raise ValueError(f"{what}: the hidden layers mix activations {sorted(acts)}")
    outputs = {cls: name for name, cls in OUTPUT.items()}
    if type(model.loss) not in outputs:
        raise ValueError(f"{what} needs a sigmoid (binary_cross_entropy) or softmax "
                         f"(cross_entropy) output, the model's loss is {model.loss.name}")
    return dense, (acts.pop() if acts else "sigmoid"), outputs[type(model.loss)]


# --- Theta matrices ----------------------------------------------------------------------------


def from_thetas(thetas: Sequence[np.ndarray], activation: str = "sigmoid",
                output: str = "sigmoid", input_shape: Sequence[int] | None = None,
                order: str = "C", dtype="float64",
                class_names: Sequence[str] | None = None) -> Sequential:
    """``[Theta1, Theta2, ...]`` -> the equivalent ``Sequential`` (Dense, activation, ...,
    Dense; the output function, sigmoid or softmax, is the loss).

    Theta_l is (out, 1 + in), bias in column 0. ``model.predict(x)`` for x (N, in) equals the
    tutorial's ``h``. With ``input_shape`` (e.g. (64, 64)) the model starts with a Flatten and
    takes images (N, 1, 64, 64) or (N, 64, 64); ``order="F"`` says the Thetas were trained on
    images unrolled in Fortran order (MATLAB, ``np.ravel(img, order="F")``).
    """
    if isinstance(thetas, np.ndarray) or not len(thetas):
        raise ValueError("thetas must be a non-empty list of matrices [Theta1, Theta2, ...]")
    mats = [_matrix(t, f"Theta{i + 1}") for i, t in enumerate(thetas)]
    for i, t in enumerate(mats):
        if t.shape[1] < 2:
            raise ValueError(f"Theta{i + 1} is {t.shape[0]}x{t.shape[1]}: it needs a bias "
                             f"column and at least one input column")
        if i and t.shape[1] != mats[i - 1].shape[0] + 1:
            raise ValueError(f"Theta{i + 1} is {t.shape[0]}x{t.shape[1]}, but Theta{i} has "
                             f"{mats[i - 1].shape[0]} outputs: Theta{i + 1} needs "
                             f"{mats[i - 1].shape[0] + 1} columns (bias + {mats[i - 1].shape[0]})")
    weights = [(t[:, 1:], t[:, 0]) for t in mats]
    return _build(weights, activation, output, input_shape, order, dtype, class_names)


def to_thetas(model: Sequential, input_shape: Sequence[int] | None = None,
              order: str = "C") -> list[np.ndarray]:
    """The model's dense layers as float64 Theta matrices (out, 1 + in), bias in column 0
    (the inverse of :func:`from_thetas`, with the same ``input_shape`` and ``order``)."""
    dense, _, _ = _dense_stack(model, "to_thetas")
    thetas = [np.hstack([layer.params["b"].astype(np.float64)[:, None],
                         layer.params["w"].astype(np.float64)]) for layer in dense]
    perm = _pixel_order(input_shape, order, thetas[0].shape[1] - 1)
    thetas[0][:, 1 + perm] = thetas[0][:, 1:].copy()
    return thetas


def thetas_from_vector(nn_params: np.ndarray, sizes: Sequence[int]) -> list[np.ndarray]:
    """Unrolled parameters (all Thetas raveled in Fortran order, one after the other, as the
    tutorials' ``nn_params``) -> [Theta1, ...] for layer sizes like (4096, 256, 15)."""
    v = np.asarray(nn_params, dtype=np.float64).reshape(-1)
    if isinstance(sizes, str) or not isinstance(sizes, Sequence | np.ndarray):
        raise ValueError(f"sizes must be a sequence of layer sizes, got {sizes!r}")
    sizes = [integer("sizes", s) for s in sizes]
    if len(sizes) < 2:
        raise ValueError(f"sizes must list at least two positive layer sizes, got {sizes}")
    need = sum(b * (a + 1) for a, b in zip(sizes, sizes[1:]))
    if v.size != need:
        raise ValueError(f"nn_params has {v.size} values; layer sizes {sizes} need {need}")
    out, start = [], 0
    for a, b in zip(sizes, sizes[1:]):
        out.append(v[start : start + b * (a + 1)].reshape((b, a + 1), order="F"))
        start += b * (a + 1)
    return out


def thetas_to_vector(thetas: Sequence[np.ndarray]) -> np.ndarray:
    """[Theta1, ...] -> one vector, each raveled in Fortran order (the tutorials' unrolling)."""
    return np.concatenate([np.ravel(_matrix(t, f"Theta{i + 1}"), order="F")
                           for i, t in enumerate(thetas)])


# --- parameter dicts ---------------------------------------------------------------------------


def _param(parameters: Mapping, kind: str, layer: int):
    for key in (f"{kind}{layer}", f"{kind.upper()}{layer}"):
        if key in parameters:
            return key, parameters[key]
    return None, None


def from_parameters(parameters: Mapping[str, np.ndarray], hidden: str = "relu",
                    output: str = "sigmoid", input_shape: Sequence[int] | None = None,
                    order: str = "C", dtype="float64",
                    class_names: Sequence[str] | None = None) -> Sequential:
    """The L-layer tutorial's ``parameters`` (``w1``/``W1`` (n1, n0), ``b1`` (n1, 1), ...) ->
    the equivalent ``Sequential`` (Dense, hidden activation, ..., Dense; the output function is
    the loss). The tutorial takes X as features x samples; the model takes ``X.T`` (samples x
    features), or images (N, ...) with ``input_shape`` as in :func:`from_thetas`."""
    if not isinstance(parameters, Mapping):
        raise ValueError(f"parameters must be a dict of w1, b1, ..., got {type(parameters)}")
    weights, layer = [], 1
    while True:
        wk, w = _param(parameters, "w", layer)
        bk, b = _param(parameters, "b", layer)
        if w is None and b is None:
            break
        if w is None or b is None:
            raise ValueError(f"parameters has {wk or bk} but no "
                             f"{'w' if w is None else 'b'}{layer}")
        w = _matrix(w, wk)
        b = np.asarray(b)
        if b.dtype.kind not in "iuf" or b.shape not in ((w.shape[0], 1), (w.shape[0],)):
            raise ValueError(f"{bk} is {b.dtype} {b.shape}; with {wk} {w.shape} it must be "
                             f"({w.shape[0]}, 1)")
        if not np.all(np.isfinite(b)):
            raise ValueError(f"{bk} holds NaN or infinite values")
        if weights and w.shape[1] != weights[-1][0].shape[0]:
            raise ValueError(f"{wk} is {w.shape}, but layer {layer - 1} has "
                             f"{weights[-1][0].shape[0]} outputs: {wk} needs "
                             f"{weights[-1][0].shape[0]} columns")
        weights.append((w, b.reshape(-1).astype(np.float64)))
        layer += 1
    if not weights:
        raise ValueError(f"parameters has no w1/b1 (keys: {', '.join(map(str, parameters))})")
    extra = sorted(set(map(str, parameters)) - {f"{k}{i}" for i in range(1, layer)
                                                for k in "wWbB"})
    if extra:
        raise ValueError(f"parameters has keys {', '.join(extra)} that do not continue "
                         f"w1, b1, ..., w{layer - 1}, b{layer - 1}")
    return _build(weights, hidden, output, input_shape, order, dtype, class_names)


def to_parameters(model: Sequential, input_shape: Sequence[int] | None = None,
                  order: str = "C") -> dict[str, np.ndarray]:
    """The model's dense layers as ``{"w1": (n1, n0), "b1": (n1, 1), ...}`` in float64 (the
    inverse of :func:`from_parameters`)."""
    dense, _, _ = _dense_stack(model, "to_parameters")
    out = {}
    for i, layer in enumerate(dense, 1):
        out[f"w{i}"] = layer.params["w"].astype(np.float64)
        out[f"b{i}"] = layer.params["b"].astype(np.float64)[:, None]
    perm = _pixel_order(input_shape, order, out["w1"].shape[1])
    w1 = np.empty_like(out["w1"])
    w1[:, perm] = out["w1"]
    out["w1"] = w1
    return out
