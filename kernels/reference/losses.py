"""Softmax and the losses on logits, loop-style reference: (mean loss, dloss/dlogits)."""

from __future__ import annotations

import numpy as np

from .. import _checks as c
from .. import _validate as val
from .activations import sigmoid_forward


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of logits (N, K), stable for logits of any size."""
    logits = val.floats("logits", logits, 2)
    p = np.empty_like(logits)
    for i in range(logits.shape[0]):
        e = np.exp(logits[i].astype(np.float64) - logits[i].max())
        p[i] = e / e.sum()
    return p


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray):
    """Mean cross-entropy of softmax(logits) (N, K) against int labels (N,).

    Returns (loss, dlogits), loss a scalar of the logits' dtype, dlogits (N, K).
    """
    logits, labels = c.labels_args(logits, labels)
    n = logits.shape[0]
    loss = 0.0
    dlogits = np.empty_like(logits)
    for i in range(n):
        z = logits[i].astype(np.float64) - logits[i].max()
        log_sum = np.log(np.exp(z).sum())
        loss += log_sum - z[labels[i]]
        p = np.exp(z - log_sum)
        p[labels[i]] -= 1.0
        dlogits[i] = p / n
    return logits.dtype.type(loss / n), dlogits


def binary_cross_entropy_with_logits(logits: np.ndarray, targets: np.ndarray):
    """Mean binary cross-entropy of sigmoid(logits) against targets in [0, 1], same shape.

    Uses max(z, 0) - z*t + log(1 + exp(-|z|)), finite for logits of any magnitude.
    Returns (loss, dlogits) with dlogits = (sigmoid(z) - t) / size.
    """
    logits, targets = c.binary_args(logits, targets)
    z = logits.astype(np.float64)
    t = targets.astype(np.float64)
    loss = np.mean(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z))))
    dlogits = (sigmoid_forward(z) - t) / z.size
    return logits.dtype.type(loss), dlogits.astype(logits.dtype)


def multiclass_hinge(logits: np.ndarray, labels: np.ndarray, margin: float = 1.0):
    """Mean over rows of sum_{j != y} max(0, z_j - z_y + margin); returns (loss, dlogits)."""
    logits, labels = c.labels_args(logits, labels)
    margin = val.number("margin", margin)
    n = logits.shape[0]
    loss = 0.0
    dlogits = np.zeros_like(logits)
    for i in range(n):
        y = labels[i]
        for j in range(logits.shape[1]):
            if j == y:
                continue
            m = logits[i, j] - logits[i, y] + margin
            if m > 0:
                loss += m
                dlogits[i, j] += 1.0 / n
                dlogits[i, y] -= 1.0 / n
    return logits.dtype.type(loss / n), dlogits

