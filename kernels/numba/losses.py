"""Softmax and the losses on logits, each returning (mean loss, dloss/dlogits)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .. import _checks as c
from .. import _validate as val


@njit(cache=True)
def _softmax(logits, p):
    n, k = logits.shape
    for i in range(n):
        m = logits[i, 0]
        for j in range(1, k):
            m = max(m, logits[i, j])
        s = 0.0
        for j in range(k):
            e = math.exp(logits[i, j] - m)
            p[i, j] = e
            s += e
        for j in range(k):
            p[i, j] /= s


@njit(cache=True)
def _softmax_cross_entropy(logits, labels, dlogits):
    n, k = logits.shape
    loss = 0.0
    for i in range(n):
        m = logits[i, 0]
        for j in range(1, k):
            m = max(m, logits[i, j])
        s = 0.0
        for j in range(k):
            s += math.exp(logits[i, j] - m)
        log_s = math.log(s)
        loss += log_s - (logits[i, labels[i]] - m)
        for j in range(k):
            dlogits[i, j] = math.exp(logits[i, j] - m - log_s) / n
        dlogits[i, labels[i]] -= 1.0 / n
    return loss / n


@njit(cache=True)
def _bce_with_logits(z, t, dz):
    n = z.size
    loss = 0.0
    for i in range(n):
        zi = float(z[i])
        ti = float(t[i])
        e = math.exp(-abs(zi))
        loss += max(zi, 0.0) - zi * ti + math.log1p(e)
        sig = 1.0 / (1.0 + e) if zi >= 0 else e / (1.0 + e)
        dz[i] = (sig - ti) / n
    return loss / n


@njit(cache=True)
def _multiclass_hinge(logits, labels, margin, dlogits):
    """Row by row, in closed form: the margins m_j = z_j - z_y + margin of the other classes;
    the loss adds the positive ones, dlogits[j] = [m_j > 0] / n and dlogits[y] = -(their
    count) / n. (The reference loops over (row, class) pairs and adds +-1/n per violation.)

    Arguments (positional):
    logits : (N, K) float
    labels : (N,) int64 in [0, K)
    margin : float
    dlogits : (N, K) output, in logits' dtype
    """
    n, k = logits.shape
    inv_n = 1.0 / n
    total = 0.0
    for i in range(n):
        y = labels[i]
        row = logits[i].astype(np.float64) - np.float64(logits[i, y]) + margin
        row[y] = 0.0  # the label's own term is not a margin
        violated = row > 0
        total += np.sum(np.where(violated, row, 0.0))
        dlogits[i] = np.where(violated, inv_n, 0.0)
        dlogits[i, y] = -np.count_nonzero(violated) * inv_n
    return total * inv_n


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of logits (N, K), stable for logits of any size."""
    logits = val.floats("logits", logits, 2)
    p = np.empty_like(logits)
    _softmax(logits, p)
    return p


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray):
    """Mean cross-entropy of softmax(logits) (N, K) against int labels (N,) -> (loss, dlogits)."""
    logits, labels = c.labels_args(logits, labels)
    dlogits = np.empty_like(logits)
    loss = _softmax_cross_entropy(logits, labels, dlogits)
    return logits.dtype.type(loss), dlogits


def binary_cross_entropy_with_logits(logits: np.ndarray, targets: np.ndarray):
    """Mean binary cross-entropy of sigmoid(logits) against targets, same shape."""
    logits, targets = c.binary_args(logits, targets)
    dlogits = np.empty_like(logits)
    loss = _bce_with_logits(logits.reshape(-1), targets.reshape(-1), dlogits.reshape(-1))
    return logits.dtype.type(loss), dlogits


def multiclass_hinge(logits: np.ndarray, labels: np.ndarray, margin: float = 1.0):
    """Mean over rows of sum_{j != y} max(0, z_j - z_y + margin); returns (loss, dlogits)."""
    logits, labels = c.labels_args(logits, labels)
    margin = val.number("margin", margin)
    dlogits = np.empty_like(logits)
    loss = _multiclass_hinge(logits, labels, margin, dlogits)
    return logits.dtype.type(loss), dlogits

