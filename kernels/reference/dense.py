"""Dense layers, loop-style reference: y = x @ w.T + b and its gradients."""

from __future__ import annotations

import numpy as np

from .. import _checks as c
from .activations import relu_backward, relu_forward


def dense_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, relu: bool = False) -> np.ndarray:
    """x (N, in), w (out, in), b (out,) -> y (N, out) = x @ w.T + b, or its ReLU."""
    x, w, b = c.dense_args(x, w, b)
    y = np.empty((x.shape[0], w.shape[0]), dtype=x.dtype)
    for i in range(x.shape[0]):
        y[i] = w @ x[i] + b
    return relu_forward(y) if relu else y


def dense_backward(dy: np.ndarray, x: np.ndarray, w: np.ndarray,
                   relu_output: np.ndarray | None = None):
    """dy (N, out) -> dx (N, in), dw (out, in), db (out,).

    With ``relu_output`` (the output of a ReLU fused into this layer), dy is first gated by
    relu_output > 0: the ReLU's backward pass done here.
    """
    dy, x, w = c.dense_backward_args(dy, x, w)
    if c.relu_output_arg(relu_output, dy) is not None:
        dy = relu_backward(dy, relu_output)
    dx = np.zeros_like(x)
    dw = np.zeros_like(w)
    db = np.zeros(w.shape[0], dtype=x.dtype)
    for i in range(x.shape[0]):
        dx[i] = w.T @ dy[i]
        dw += np.outer(dy[i], x[i])
        db += dy[i]
    return dx, dw, db

