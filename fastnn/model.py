"""``Sequential``: a list of layers, its forward and backward passes, evaluation, prediction.

``fit`` and the training loop are :mod:`fastnn.training`, ``save`` writes through
:mod:`fastnn.model_file` (loading is :mod:`fastnn.serialization`, above this module), the
summary table is :mod:`fastnn.summary`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import backend, inputs
from . import losses as losses_mod
from . import training as training_mod
from .fusion import Plan, build_plan
from .layers import Layer, ShapeError, declares
from .model_file import key, save_model
from .summary import summary_table


class Sequential:
    """Layers applied in order. ``model(x)`` returns the last layer's output (logits).

    Parameters are initialized from ``seed`` in ``dtype`` (float32 by default; float64 for
    gradient checks), so the same seed gives the same model on every backend. ``plan`` says
    which layers run as one kernel call (:mod:`fastnn.fusion`); ``fuse=False`` runs each layer
    on its own (the same numbers, more passes).
    """

    def __init__(self, layers: Sequence[Layer], seed: int = 0, dtype="float32",
                 loss: str | losses_mod.Loss = "cross_entropy",
                 class_names: Sequence[str] | None = None, fuse: bool = True) -> None:
        self.layers = list(layers)
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layer {i} is {type(layer).__name__}, not a fastnn layer")
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype}")
        self.loss = losses_mod.get(loss)
        self.class_names = list(class_names) if class_names is not None else None
        self.metadata: dict = {}
        # (layers, input) -> output shape and forward FLOPs per sample
        self._checked: dict[tuple, tuple[tuple[int, ...], int]] = {}
        self.input_shape: tuple[int, ...] | None = None  # the last per-sample shape checked
        self.fuse = fuse
        self._plan: tuple[tuple[int, ...], Plan] | None = None
        self.lock = threading.RLock()  # held for each training step and inference batch
        self.fitting = threading.Lock()  # held by a running fit: a second one is refused
        self.reset(seed)

    @property
    def plan(self) -> Plan:
        """The kernel calls that run the layers (see :mod:`fastnn.fusion`), built once and
        again only if ``layers`` is changed."""
        key = self._layers_key()
        if self._plan is None or self._plan[0] != key:
            self._plan = key, build_plan(self.layers, self.fuse)
        return self._plan[1]

    # --- parameters ----------------------------------------------------------------------------

    def reset(self, seed: int = 0) -> None:
        """Re-initializes every parameter from ``seed``."""
        rng = np.random.default_rng(seed)
        for i, layer in enumerate(self.layers):
            layer.reset(rng, self.dtype)
            layer.input_grad = i > 0

    def parameters(self) -> list[tuple[str, np.ndarray, np.ndarray | None]]:
        """(key, parameter, gradient) for every parameter, keys like ``"layer0.w"`` (the keys
        of files and of the optimizer's state too)."""
        return [(key(i, name), p, layer.grads.get(name))
                for i, layer in enumerate(self.layers) for name, p in layer.params.items()]

    def num_parameters(self) -> int:
        return sum(p.size for _, p, _ in self.parameters())

    # --- forward and backward ------------------------------------------------------------------

    def _input(self, x: np.ndarray, name: str = "x") -> np.ndarray:
        """x as the model's dtype, finite, of a shape the layers take (see fastnn.inputs)."""
        x = inputs.float_array(x, self.dtype, name)
        if x.ndim < 2:
            raise ValueError(f"{name} must be a batch (N, ...), got shape {x.shape}")
        self.check_shape(x.shape[1:])
        return x

    def check_shape(self, sample_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Walks a per-sample input shape through the layers; a mismatch names the layer."""
        sample_shape = tuple(int(d) for d in sample_shape)
        self.input_shape = sample_shape
        key = (self._layers_key(), sample_shape)
        if key not in self._checked:
            shape, flops = sample_shape, 0
            for i, layer in enumerate(self.layers):
                try:
                    out = layer.output_shape(shape)
                except ShapeError as e:
                    raise ShapeError(f"layer {i} {e}") from None
                flops += layer.flops(shape, out) if declares(layer, "flops") else 0
                shape = out
            self._checked[key] = shape, flops
        return self._checked[key][0]

    def forward_flops(self, batch_shape: tuple[int, ...]) -> int:
        """FLOPs of a forward pass over a batch of ``batch_shape`` (N, ...), as the layers
        declare them (a layer that declares none counts 0)."""
        sample_shape = tuple(int(d) for d in batch_shape[1:])
        self.check_shape(sample_shape)
        return self._checked[(self._layers_key(), sample_shape)][1] * int(batch_shape[0])

    def _layers_key(self) -> tuple:
        """What the plan and the checked shapes depend on: the layers (and whether to fuse)."""
        return (self.fuse, *map(id, self.layers))

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Runs the plan's steps: logits (N, K) for inputs x (N, ...)."""
        for step in self.plan:
            x = step.forward(x, training)
        return x

    def backward(self, dy: np.ndarray) -> None:
        """Gradients of every layer for dy = dloss/doutput, step by step in reverse."""
        for step in reversed(self.plan):
            dy = step.backward(dy)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Logits (N, K) for inputs (N, ...), in evaluation mode."""
        return self._infer(self._input(x))

    def _infer(self, x: np.ndarray) -> np.ndarray:
        """Logits in evaluation mode, under the model's lock: a layer keeps what its backward
        pass needs, so a forward pass from another thread in the middle of a training step
        would spoil it. With the lock, predict from one thread while another runs fit is safe:
        it waits for the step to end and sees the weights between two steps. A small batch runs
        on one thread (:func:`fastnn.backend.threads_for`)."""
        with self.lock, backend.threads_for(self.forward_flops(x.shape)):
            return self.forward(x)

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("lock", "fitting")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.lock = threading.RLock()
        self.fitting = threading.Lock()

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray,
                       training: bool = True) -> tuple[float, np.ndarray]:
        """One forward and backward pass: fills every layer's grads; returns (loss, logits).

        The loss includes the L2 penalty lambda/(2m) * sum(w**2) when the loss has ``l2``.
        """
        logits = self.forward(x, training)
        loss, dlogits = self.loss(logits, y)
        self.backward(dlogits)
        if self.loss.l2:
            lam_m = self.loss.l2 / x.shape[0]
            for w, layer in self._weights():
                layer.grads["w"] = layer.grads["w"] + w.dtype.type(lam_m) * w
        return float(loss) + self._l2_penalty(x.shape[0]), logits

    def objective(self, x: np.ndarray, y: np.ndarray, training: bool = False) -> float:
        """The loss that training minimizes (L2 penalty included), in evaluation mode unless
        ``training`` (batch statistics; dropout too, if any)."""
        x = self._input(x)
        return (float(self.loss(self.forward(x, training), y)[0])
                + self._l2_penalty(x.shape[0]))

    def _weights(self):
        return [(layer.params["w"], layer) for layer in self.layers if "w" in layer.params]

    def _l2_penalty(self, m: int) -> float:
        """lambda/(2m) * sum of squared weights (biases excluded)."""
        if not self.loss.l2:
            return 0.0
        total = sum(float(np.sum(w.astype(np.float64) ** 2)) for w, _ in self._weights())
        return 0.5 * self.loss.l2 / m * total

    # --- training ------------------------------------------------------------------------------

    fit = training_mod.fit  # written once, with the loop, in fastnn/training.py

    def _labels(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        y = np.asarray(y)
        if y.ndim != 1 or y.shape[0] != x.shape[0]:
            raise ValueError(f"labels must have shape ({x.shape[0]},) to match x {x.shape}, "
                             f"got {y.shape}")
        if y.dtype.kind not in "iub":
            if not np.all(np.mod(y, 1) == 0):
                raise ValueError(f"labels must be integer class indices, got dtype {y.dtype}")
        return y.astype(np.int64)

    # --- evaluation ----------------------------------------------------------------------------

    def evaluate(self, x: np.ndarray, y: np.ndarray, batch_size: int = 1000) -> tuple[float, float]:
        """(mean loss, accuracy) over (x, y), in evaluation mode (dropout off)."""
        batch_size = inputs.integer("batch_size", batch_size)
        x = self._input(x)
        inputs.not_empty(x, "evaluate")
        y = self._labels(y, x)
        total_loss = correct = 0.0
        for i in range(0, x.shape[0], batch_size):
            logits = self._infer(x[i : i + batch_size])
            loss, _ = self.loss(logits, y[i : i + batch_size])
            total_loss += float(loss) * logits.shape[0]
            correct += float(np.sum(self.loss.labels(logits) == y[i : i + batch_size]))
        return total_loss / x.shape[0], correct / x.shape[0]

    def predict(self, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """Class probabilities (N, K), in evaluation mode; (0, K) for no samples."""
        return self._batched(x, batch_size, self.loss.probabilities)

    def predict_labels(self, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """Predicted class indices (N,)."""
        return self._batched(x, batch_size, self.loss.labels)

    def _batched(self, x: np.ndarray, batch_size: int, head) -> np.ndarray:
        batch_size = inputs.integer("batch_size", batch_size)
        x = self._input(x)
        if x.shape[0] == 0:
            return head(self._infer(np.zeros((1,) + x.shape[1:], self.dtype)))[:0]
        return np.concatenate([head(self._infer(x[i : i + batch_size]))
                               for i in range(0, x.shape[0], batch_size)])

    def summary(self, input_shape: Sequence[int] | None = None) -> str:
        """A table of the layers: output shape, parameters, forward FLOPs per sample and the
        kernel step that runs each layer (:attr:`plan`), with totals. ``input_shape`` is one
        sample's shape (default: the last one the model saw, or the first Dense's)."""
        return summary_table(self, input_shape)

    def __repr__(self) -> str:
        return "Sequential([" + ", ".join(repr(layer) for layer in self.layers) + "])"

    # --- saving --------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike, metadata: dict | None = None) -> Path:
        """Writes the model to ``path`` (a ``.npz`` file) atomically; returns the path.
        See :mod:`fastnn.model_file`; ``fn.load`` reads it back. It holds the model's lock
        while it copies the weights, so a save during ``fit`` in another thread writes the
        weights between two steps."""
        with self.lock:
            return save_model(self, path, metadata)

