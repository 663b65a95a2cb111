"""Element-wise activations and their gradients, plain NumPy."""

from __future__ import annotations

import numpy as np

from .. import _checks as c


def relu_forward(x: np.ndarray) -> np.ndarray:
    x = c.unary_args(x)
    return np.where(x <= 0, np.zeros_like(x), x)  # a NaN passes (x <= 0 is False)


def relu_backward(dy: np.ndarray, x: np.ndarray) -> np.ndarray:
    """dx = dy where x > 0, else 0 (x is the ReLU's input)."""
    dy, x = c.unary_backward_args(dy, x)
    return np.where(x > 0, dy, np.zeros_like(dy))


def sigmoid_forward(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)), computed without overflow for inputs of any size."""
    x = c.unary_args(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)


def sigmoid_backward(dy: np.ndarray, y: np.ndarray) -> np.ndarray:
    """dx = dy * y * (1 - y), where y is the sigmoid's output."""
    dy, y = c.unary_backward_args(dy, y, "y")
    return dy * y * (1 - y)


def tanh_forward(x: np.ndarray) -> np.ndarray:
    return np.tanh(c.unary_args(x))


def tanh_backward(dy: np.ndarray, y: np.ndarray) -> np.ndarray:
    """dx = dy * (1 - y**2), where y is the tanh's output."""
    dy, y = c.unary_backward_args(dy, y, "y")
    return dy * (1 - y * y)


def _apply_dropout(x: np.ndarray, u: np.ndarray, p: float) -> np.ndarray:
    return x * ((u >= np.float32(p)).astype(x.dtype) / x.dtype.type(1 - p))


def dropout_forward(x: np.ndarray, u: np.ndarray, p: float) -> np.ndarray:
    """Inverted dropout: x scaled by 1/(1-p) where the uniform draw u (float32, x's shape)
    is >= p, zero elsewhere. u is the mask: keep it for the backward pass."""
    return _apply_dropout(*c.dropout_args(x, u, p))


def dropout_backward(dy: np.ndarray, u: np.ndarray, p: float) -> np.ndarray:
    """dx = dy scaled by 1/(1-p) where u >= p, zero elsewhere (u as in the forward pass)."""
    return _apply_dropout(*c.dropout_args(dy, u, p, "dy"))
