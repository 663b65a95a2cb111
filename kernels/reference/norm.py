"""Batch normalization over the channels of (N, C) or (N, C, H, W) inputs, plain NumPy in
float64, one channel at a time."""

from __future__ import annotations

import numpy as np

from .. import _checks as c


def _channel(a: np.ndarray, k: int) -> np.ndarray:
    """Every value of channel k, as float64."""
    return a[:, k].astype(np.float64)


def batchnorm_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and biased variance (C,) of x (N, C) or (N, C, H, W)."""
    x = c.norm_input("x", x)
    mean = np.array([_channel(x, k).mean() for k in range(x.shape[1])])
    var = np.array([_channel(x, k).var() for k in range(x.shape[1])])
    return mean.astype(x.dtype), var.astype(x.dtype)


def batchnorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, mean: np.ndarray,
                      var: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """y = gamma * (x - mean) / sqrt(var + eps) + beta per channel; x (N, C) or (N, C, H, W),
    the others (C,)."""
    x, gamma, beta, mean, var, eps = c.batchnorm_args(x, gamma, beta, mean, var, eps)
    y = np.empty_like(x)
    for k in range(x.shape[1]):
        xhat = (_channel(x, k) - float(mean[k])) / np.sqrt(float(var[k]) + eps)
        y[:, k] = float(gamma[k]) * xhat + float(beta[k])
    return y


def batchnorm_backward(dy: np.ndarray, x: np.ndarray, gamma: np.ndarray, mean: np.ndarray,
                       var: np.ndarray, eps: float = 1e-5):
    """Backward of batchnorm_forward in training, where mean and var are x's batch statistics:
    dy -> dx (x's shape), dgamma (C,), dbeta (C,)."""
    dy, x, gamma, mean, var, eps = c.batchnorm_backward_args(dy, x, gamma, mean, var, eps)
    dx = np.empty_like(x)
    dgamma = np.empty(x.shape[1], dtype=x.dtype)
    dbeta = np.empty(x.shape[1], dtype=x.dtype)
    for k in range(x.shape[1]):
        g = _channel(dy, k)
        xhat = (_channel(x, k) - float(mean[k])) / np.sqrt(float(var[k]) + eps)
        dbeta[k] = g.sum()
        dgamma[k] = (g * xhat).sum()
        # the textbook formula: dx = gamma / sqrt(var + eps)
        #     * (dy - mean(dy) - xhat * mean(dy * xhat))
        dx[:, k] = (float(gamma[k]) / np.sqrt(float(var[k]) + eps)
                    * (g - g.mean() - xhat * (g * xhat).mean()))
    return dx, dgamma, dbeta
