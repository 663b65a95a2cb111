"""Element-wise activations and their gradients."""

from __future__ import annotations

import numpy as np
from numba import njit

from .. import _checks as c


@njit(cache=True)
def _relu(x, y):
    for i in range(x.size):
        y[i] = x[i] if x[i] > 0 else 0


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

