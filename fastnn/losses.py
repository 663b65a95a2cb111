"""Losses on a model's raw outputs (logits). Each returns (mean loss, dloss/dlogits).

``l2`` adds the classic penalty lambda/(2m) * sum(w**2) over every weight matrix (biases are
excluded), m being the number of examples in the batch; the model applies it, since it needs
the parameters.
"""

from __future__ import annotations

import numpy as np

from .backend import kernels


class Loss:
    name = ""

    def __init__(self, l2: float = 0.0) -> None:
        if not l2 >= 0:
            raise ValueError(f"l2 must be >= 0, got {l2}")
        self.l2 = float(l2)

    def __call__(self, logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        raise NotImplementedError

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """Class probabilities (N, K) from logits."""
        return kernels().softmax(logits)

    def labels(self, logits: np.ndarray) -> np.ndarray:
        """Predicted class indices (N,)."""
        return np.argmax(logits, axis=1)

    def config(self) -> dict:
        return {"name": self.name, "l2": self.l2}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(l2={self.l2})"


class SoftmaxCrossEntropy(Loss):
    """Softmax over K classes, cross-entropy against integer labels (N,)."""

    name = "cross_entropy"

    def __call__(self, logits, y):
        return kernels().softmax_cross_entropy(logits, y)


class MulticlassHinge(Loss):
    """Multiclass SVM loss: sum over wrong classes of max(0, z_j - z_y + margin)."""

    name = "hinge"

    def __init__(self, margin: float = 1.0, l2: float = 0.0) -> None:
        super().__init__(l2)
        self.margin = float(margin)

    def __call__(self, logits, y):
        return kernels().multiclass_hinge(logits, y, self.margin)

    def config(self):
        return super().config() | {"margin": self.margin}


class BinaryCrossEntropy(Loss):
    """Sigmoid on each output, binary cross-entropy, summed over outputs, mean over examples.

    With one output (N, 1) the targets are 0/1 labels (N,); with K outputs, integer labels
    (N,) become one-hot targets (per-class sigmoid cross-entropy).
    """

    name = "binary_cross_entropy"

    def _targets(self, logits, y):
        y = np.asarray(y)
        k = logits.shape[1] if logits.ndim == 2 else 1
        if k == 1:
            if y.ndim != 1 or y.shape[0] != logits.shape[0]:
                raise ValueError(f"binary targets must have shape ({logits.shape[0]},), "
                                 f"got {y.shape}")
            return y.reshape(logits.shape).astype(logits.dtype)
        if y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= k:
            raise ValueError(f"labels must be integers in [0, {k - 1}] for {k} sigmoid outputs")
        return np.eye(k, dtype=logits.dtype)[y]

    def __call__(self, logits, y):
        loss, d = kernels().binary_cross_entropy_with_logits(logits, self._targets(logits, y))
        k = logits.size // logits.shape[0]
        return loss * k, d * logits.dtype.type(k)

    def probabilities(self, logits):
        p = kernels().sigmoid_forward(logits)
        if p.shape[1] == 1:  # P(class 0), P(class 1)
            return np.concatenate([1 - p, p], axis=1)
        return p

    def labels(self, logits):
        if logits.shape[1] == 1:
            return (logits[:, 0] > 0).astype(np.int64)
        return np.argmax(logits, axis=1)


LOSSES = {cls.name: cls for cls in (SoftmaxCrossEntropy, MulticlassHinge, BinaryCrossEntropy)}
LOSSES["softmax_cross_entropy"] = SoftmaxCrossEntropy
KERAS_NAMES = {"sparse_categorical_crossentropy": SoftmaxCrossEntropy,
               "categorical_crossentropy": SoftmaxCrossEntropy,
               "binary_crossentropy": BinaryCrossEntropy,
               "categorical_hinge": MulticlassHinge}
"""Keras's loss names, on logits as fastnn's are (one-hot labels become class indices in
``fit``); a model saves the fastnn name."""


def get(loss: str | Loss) -> Loss:
    if isinstance(loss, Loss):
        return loss
    if loss in KERAS_NAMES:
        return KERAS_NAMES[loss]()
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)} (or "
                         f"Keras's {', '.join(KERAS_NAMES)})")
    return LOSSES[loss]()


def from_config(cfg: dict) -> Loss:
    cfg = dict(cfg)
    return LOSSES[cfg.pop("name")](**cfg)
