"""Element-wise activations and their gradients."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .. import _checks as c


@njit(cache=True)
def _relu(x, y):
    for i in range(x.size):
        y[i] = 0 if x[i] <= 0 else x[i]  # a NaN passes, as in PyTorch: never hidden


@njit(cache=True)
def _relu_backward(dy, x, dx):
    for i in range(x.size):
        dx[i] = dy[i] if x[i] > 0 else 0


@njit(cache=True)
def _sigmoid(x, y):
    for i in range(x.size):
        v = x[i]
        if v >= 0:
            y[i] = 1 / (1 + np.exp(-v))
        else:
            e = np.exp(v)
            y[i] = e / (1 + e)


@njit(cache=True)
def _sigmoid_backward(dy, y, dx):
    for i in range(y.size):
        dx[i] = dy[i] * y[i] * (1 - y[i])


@njit(cache=True)
def _tanh(x, y):
    for i in range(x.size):
        y[i] = np.tanh(x[i])


@njit(cache=True)
def _tanh_backward(dy, y, dx):
    for i in range(y.size):
        dx[i] = dy[i] * (1 - y[i] * y[i])


def _unary(kernel, x: np.ndarray) -> np.ndarray:
    x = c.unary_args(x)
    y = np.empty_like(x)
    kernel(x.reshape(-1), y.reshape(-1))
    return y


def _unary_backward(kernel, dy: np.ndarray, x: np.ndarray, name: str) -> np.ndarray:
    dy, x = c.unary_backward_args(dy, x, name)
    dx = np.empty_like(dy)
    kernel(dy.reshape(-1), x.reshape(-1), dx.reshape(-1))
    return dx


def relu_forward(x: np.ndarray) -> np.ndarray:
    return _unary(_relu, x)


def relu_backward(dy: np.ndarray, x: np.ndarray) -> np.ndarray:
    """dx = dy where x > 0, else 0 (x is the ReLU's input)."""
    return _unary_backward(_relu_backward, dy, x, "x")


def sigmoid_forward(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)), computed without overflow for inputs of any size."""
    return _unary(_sigmoid, x)


def sigmoid_backward(dy: np.ndarray, y: np.ndarray) -> np.ndarray:
    """dx = dy * y * (1 - y), where y is the sigmoid's output."""
    return _unary_backward(_sigmoid_backward, dy, y, "y")


def tanh_forward(x: np.ndarray) -> np.ndarray:
    return _unary(_tanh, x)


def tanh_backward(dy: np.ndarray, y: np.ndarray) -> np.ndarray:
    """dx = dy * (1 - y**2), where y is the tanh's output."""
    return _unary_backward(_tanh_backward, dy, y, "y")


@njit(cache=True, parallel=True)
def _dropout(x, u, p, scale, y):
    """y = x * scale where u >= p, else x * 0; 16 blocks (fixed, results are per element)."""
    blocks = 16
    for blk in prange(blocks):
        for i in range(blk * x.size // blocks, (blk + 1) * x.size // blocks):
            y[i] = x[i] * (scale if u[i] >= p else x.dtype.type(0))


def _apply_dropout(x: np.ndarray, u: np.ndarray, p: float) -> np.ndarray:
    y = np.empty_like(x)
    _dropout(x.reshape(-1), u.reshape(-1), np.float32(p), x.dtype.type(1) / x.dtype.type(1 - p),
             y.reshape(-1))
    return y


def dropout_forward(x: np.ndarray, u: np.ndarray, p: float) -> np.ndarray:
    """Inverted dropout: x scaled by 1/(1-p) where the uniform draw u (float32, x's shape)
    is >= p, zero elsewhere. u is the mask: keep it for the backward pass."""
    return _apply_dropout(*c.dropout_args(x, u, p))


def dropout_backward(dy: np.ndarray, u: np.ndarray, p: float) -> np.ndarray:
    """dx = dy scaled by 1/(1-p) where u >= p, zero elsewhere (u as in the forward pass)."""
    return _apply_dropout(*c.dropout_args(dy, u, p, "dy"))
