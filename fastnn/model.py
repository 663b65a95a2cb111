"""``Sequential``: a list of layers, its forward and backward passes, evaluation, prediction.

``fit`` and the training loop are :mod:`fastnn.training`, ``save`` writes through
:mod:`fastnn.model_file` (loading is :mod:`fastnn.serialization`, above this module), the
summary table is :mod:`fastnn.summary`.
"""

from __future__ import annotations

import os
import sys
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import backend, inputs
from . import losses as losses_mod
from . import metrics as metrics_mod
from . import optim as optim_mod
from . import training as training_mod
from .fusion import Plan, build_plan
from .layers import KERAS_ACTIVATIONS, Layer, NotBuiltError, OutputSoftmax, ShapeError, declares
from .model_file import key, save_model
from .summary import summary_table


class Sequential:
    """Layers applied in order. ``model(x)`` returns the last layer's output (logits).

    Parameters are initialized from ``seed`` in ``dtype`` (float32 by default; float64 for
    gradient checks), so the same seed gives the same model on every backend. ``plan`` says
    which layers run as one kernel call (:mod:`fastnn.fusion`); ``fuse=False`` runs each layer
    on its own (the same numbers, more passes).

    Keras's habits work too: ``Sequential()`` then ``model.add(layer)``; layers whose input size
    is inferred (``Dense(128)``, ``Conv2D(32, 3)``) are built on the first batch the model sees,
    or from the first layer's ``input_shape=`` (then every parameter is initialized from
    ``seed``, as if the sizes had been written out). Images come as (N, C, H, W);
    ``data_format="channels_last"`` takes (N, H, W, C) and converts them at the model's edge
    (so does a (N, H, W, C) batch that cannot be channels-first, with a one-time note).
    """

    def __init__(self, layers: Sequence[Layer] | None = None, seed: int = 0, dtype="float32",
                 loss: str | losses_mod.Loss = "cross_entropy",
                 class_names: Sequence[str] | None = None, fuse: bool = True,
                 data_format: str = "channels_first") -> None:
        self.layers: list[Layer] = []
        self.output_softmax = False  # Keras's softmax output, left out (see OutputSoftmax)
        for i, layer in enumerate(layers or []):
            if not isinstance(layer, Layer):
                raise TypeError(f"layer {i} is {type(layer).__name__}, not a fastnn layer")
            self._append(layer)
        if data_format not in ("channels_first", "channels_last"):
            raise ValueError(f'data_format must be "channels_first" or "channels_last", got '
                             f'{data_format!r}')
        self.data_format = data_format
        self.training = False  # model(x) in training mode after model.train() (PyTorch's)
        self.optimizer: optim_mod.Optimizer | None = None  # set by compile()
        self.metrics: list = []  # set by compile()
        self._noted = False  # the channels-last note is said once
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype}")
        self.loss = losses_mod.get(loss)
        self.class_names = list(class_names) if class_names is not None else None
        self.metadata: dict = {}
        self.input_stats: dict | None = None  # the training inputs' (fastnn.inputs.statistics)
        self._warned_inputs = False  # predict's warning about unfamiliar inputs, said once
        # (layers, input) -> output shape and forward FLOPs per sample
        self._checked: dict[tuple, tuple[tuple[int, ...], int]] = {}
        self.input_shape: tuple[int, ...] | None = None  # the last per-sample shape checked
        self.fuse = fuse
        self._plan: tuple[tuple[int, ...], Plan] | None = None
        self.lock = threading.RLock()  # held for each training step and inference batch
        self.fitting = threading.Lock()  # held by a running fit: a second one is refused
        self.reset(seed)
        self._declared_input()

    def add(self, layer: Layer) -> None:
        """Appends a layer (Keras's ``model.add``); every parameter is initialized again from
        the seed, so the model equals one built from the whole list."""
        if not isinstance(layer, Layer):
            raise TypeError(f"add takes a fastnn layer, got {type(layer).__name__}")
        self._append(layer)
        self.reset(self.seed)
        self._declared_input()

    def _append(self, layer: Layer) -> None:
        """Appends a layer and the one its ``activation=`` names; a softmax output is left out
        and must come last."""
        if self.output_softmax:
            raise ValueError("a softmax output (Activation('softmax') or activation="
                             "'softmax') must be the model's last layer")
        if isinstance(layer, OutputSoftmax):
            self.output_softmax = True
            return
        self.layers.append(layer)
        if layer.activation is not None:
            self._append(KERAS_ACTIVATIONS[layer.activation]())

    def _declared_input(self) -> None:
        """Builds the layers from the first layer's ``input_shape=``, if it has one."""
        declared = self.layers[0].input_shape if self.layers else None
        if declared is not None:
            self.check_shape(self._channels_first_shape(declared, "input_shape"))

    @property
    def built(self) -> bool:
        """Whether every layer's sizes are known (see :meth:`check_shape`)."""
        return all(layer.built for layer in self.layers)

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
        self.seed = seed
        rng = np.random.default_rng(seed)
        for i, layer in enumerate(self.layers):
            if layer.built:  # the others are initialized when built, all from the seed again
                layer.reset(rng, self.dtype)
            layer.input_grad = i > 0

    def parameters(self) -> list[tuple[str, np.ndarray, np.ndarray | None]]:
        """(key, parameter, gradient) for every parameter, keys like ``"layer0.w"`` (the keys
        of files and of the optimizer's state too)."""
        return [(key(i, name), p, layer.grads.get(name))
                for i, layer in enumerate(self.layers) for name, p in layer.params.items()]

    def num_parameters(self) -> int:
        return sum(p.size for _, p, _ in self.parameters())

    def get_weights(self) -> list[np.ndarray]:
        """Copies of every parameter and buffer (BatchNorm's running statistics), layer by
        layer: Keras's ``get_weights``."""
        return [a.copy() for layer in self.layers for a in (layer.params | layer.buffers)
                .values()]

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        """Sets every parameter and buffer from a list like :meth:`get_weights`'s; a wrong
        count or shape names the array and changes nothing."""
        slots = [(key(i, name), a) for i, layer in enumerate(self.layers)
                 for name, a in (layer.params | layer.buffers).items()]
        weights = list(weights)
        if len(weights) != len(slots):
            raise ValueError(f"set_weights got {len(weights)} arrays; the model has "
                             f"{len(slots)} ({', '.join(k for k, _ in slots)})")
        new = []
        for (name, a), w in zip(slots, weights):
            w = inputs.float_array(w, self.dtype, f"set_weights {name}")
            if w.shape != a.shape:
                raise ValueError(f"set_weights: {name} is {a.shape}, got an array of {w.shape}")
            new.append(w)
        for (_, a), w in zip(slots, new):
            a[...] = w

    def train(self, mode: bool = True) -> Sequential:
        """PyTorch's ``model.train()``: ``model(x)`` then runs in training mode (dropout on,
        batch norm with the batch's statistics, moving its running ones). ``fit`` trains in
        any mode; ``predict`` and ``evaluate`` always run in evaluation mode."""
        self.training = bool(mode)
        return self

    def eval(self) -> Sequential:
        """PyTorch's ``model.eval()``: ``model(x)`` in evaluation mode (the default)."""
        return self.train(False)

    def compile(self, optimizer: str | optim_mod.Optimizer | None = None,
                loss: str | losses_mod.Loss | None = None, metrics=None, **kwargs) -> None:
        """Keras's ``compile``, a setter: the optimizer, loss and metrics ``fit`` uses when it
        is not given them (``fit(loss=, optimizer=, metrics=)`` does the same)."""
        if kwargs:
            raise TypeError(f"compile takes optimizer, loss and metrics; fastnn has no "
                            f"{', '.join(sorted(kwargs))}")
        if optimizer is not None:
            self.optimizer = optim_mod.get(optimizer)
        if loss is not None:
            self.loss = losses_mod.get(loss)
        if metrics is not None:
            self.metrics = metrics_mod.get_all(metrics)

    # --- forward and backward ------------------------------------------------------------------

    def _input(self, x: np.ndarray, name: str = "x") -> np.ndarray:
        """x as the model's dtype, finite, of a shape the layers take (see fastnn.inputs)."""
        x = inputs.float_array(x, self.dtype, name)
        if x.ndim < 2:
            raise ValueError(f"{name} must be a batch (N, ...), got shape {x.shape}")
        if x.ndim == 4 and x.shape[1:] != self._channels_first_shape(x.shape[1:], name):
            x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        self.check_shape(x.shape[1:])
        return x

    def _channels_first_shape(self, shape: Sequence[int], name: str) -> tuple[int, ...]:
        """One image's shape as the layers take it, (C, H, W): (H, W, C) is turned round with
        ``data_format="channels_last"``, or when it cannot be channels-first for this model
        (with a note, once)."""
        shape = tuple(int(d) for d in shape)
        if len(shape) != 3:
            return shape
        if self.data_format == "channels_last":
            return (shape[2], shape[0], shape[1])
        first = next((layer for layer in self.layers if hasattr(layer, "in_channels")
                      or hasattr(layer, "channels")), None)
        channels = getattr(first, "in_channels", getattr(first, "channels", None))
        if channels is not None:
            last = shape[0] != channels and shape[2] == channels
        else:  # unbuilt: images have 1, 3 or 4 channels
            last = shape[2] in (1, 3, 4) and shape[0] not in (1, 3, 4)
        if not last:
            return shape
        if not self._noted:
            self._noted = True
            print(f"fastnn: note: {name} is channels-last (N, H, W, C) = (N, "
                  f"{', '.join(map(str, shape))}); converted to (N, C, H, W), the layers' "
                  f"order (Sequential(data_format=\"channels_last\") says so and drops this "
                  f"note)", file=sys.stderr)
        return (shape[2], shape[0], shape[1])

    def check_shape(self, sample_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Walks a per-sample input shape through the layers; a mismatch names the layer. A
        layer whose input size is inferred is built here (then every parameter is initialized
        from the seed)."""
        sample_shape = tuple(int(d) for d in sample_shape)
        key = (self._layers_key(), sample_shape)
        if key not in self._checked:
            shape, flops, built = sample_shape, 0, []
            for i, layer in enumerate(self.layers):
                try:
                    if not layer.built:
                        layer.build(shape)
                        built.append(layer)
                    out = layer.output_shape(shape)
                except ShapeError as e:
                    for b in built:  # unbuilt again: the next input may fit
                        setattr(b, b.inferred, None)
                    raise ShapeError(f"layer {i} {e}") from None
                flops += layer.flops(shape, out) if declares(layer, "flops") else 0
                shape = out
            if built:
                self.reset(self.seed)
                self._checked.clear()
            self._checked[key] = shape, flops
        self.input_shape = sample_shape
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
        """Logits (N, K) for inputs (N, ...), in evaluation mode (training mode after
        :meth:`train`)."""
        x = self._input(x)
        if self.training:
            with self.lock:
                return self.forward(x, training=True)
        return self._infer(x)

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
        """Class indices (N,): integer labels, or one-hot rows (N, K) as Keras's
        categorical_crossentropy takes them (a (N, 1) column of 0/1 is one label a row)."""
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[0] == x.shape[0] and y.shape[1] >= 1:
            y = _one_hot_labels(y)
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
        scores = self._scores(x, self._labels(y, x), [], batch_size)
        return scores["loss"], scores["accuracy"]

    def _scores(self, x: np.ndarray, y: np.ndarray, metrics: Sequence,
                batch_size: int = 1000) -> dict[str, float]:
        """Mean loss, accuracy and each metric's mean over checked arrays (x, labels)."""
        totals = dict.fromkeys(["loss", "accuracy", *(m.name for m in metrics)], 0.0)
        for i in range(0, x.shape[0], batch_size):
            logits, yb = self._infer(x[i : i + batch_size]), y[i : i + batch_size]
            totals["loss"] += float(self.loss(logits, yb)[0]) * logits.shape[0]
            predicted = self.loss.labels(logits)
            totals["accuracy"] += float(np.sum(predicted == yb))
            for m in metrics:
                totals[m.name] += m.count(logits, yb, predicted)
        return {k: v / x.shape[0] for k, v in totals.items()}

    def predict(self, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """Class probabilities (N, K), in evaluation mode; (0, K) for no samples. Inputs far
        from the training inputs (inverted, or 0-255 pixels) get one warning per model."""
        return self._batched(x, batch_size, self.loss.probabilities)

    def predict_labels(self, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """Predicted class indices (N,)."""
        return self._batched(x, batch_size, self.loss.labels)

    def _batched(self, x: np.ndarray, batch_size: int, head) -> np.ndarray:
        batch_size = inputs.integer("batch_size", batch_size)
        x = self._input(x)
        if not self._warned_inputs:
            problem = inputs.unfamiliar(x, self.input_stats)
            if problem:
                self._warned_inputs = True
                warnings.warn(InputWarning(problem), stacklevel=3)
        if x.shape[0] == 0:
            return head(self._infer(np.zeros((1,) + x.shape[1:], self.dtype)))[:0]
        return np.concatenate([head(self._infer(x[i : i + batch_size]))
                               for i in range(0, x.shape[0], batch_size)])

    def summary(self, input_shape: Sequence[int] | None = None) -> str:
        """A table of the layers: output shape, parameters, forward FLOPs per sample and the
        kernel step that runs each layer (:attr:`plan`), with totals. ``input_shape`` is one
        sample's shape (default: the last one the model saw, or the first Dense's)."""
        if input_shape is not None:
            input_shape = self._channels_first_shape(input_shape, "input_shape")
            self.check_shape(input_shape)
        elif not self.built:
            raise NotBuiltError("the model is not built yet (a layer's input size is inferred): "
                                "give summary(input_shape), the first layer input_shape=, or "
                                "let it see a batch (fit, predict)")
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


def _one_hot_labels(y: np.ndarray) -> np.ndarray:
    """Class indices from one-hot rows (N, K) (or a (N, 1) column of 0/1 labels)."""
    if y.shape[1] == 1:
        return y[:, 0]
    if not (np.all((y == 0) | (y == 1)) and np.all(y.sum(axis=1) == 1)):
        raise ValueError(f"labels of shape {y.shape} must be one-hot rows (a single 1 in "
                         f"each) or class indices (N,); fastnn does not train on soft labels")
    return np.argmax(y, axis=1)


class InputWarning(UserWarning):
    """Inputs to ``predict`` far from those the model was trained on (said once per model)."""
