"""Convolution, loop-style reference: one dot product per filter and output position, the
batch handled by NumPy; and the fused kernels as what they are, the layers one after another.

Shapes: ``x (N, C, H, W)``, ``w (F, C, KH, KW)``, ``b (F,)``, output ``(N, F, OH, OW)`` with
``OH = (H + 2*padding - KH) // stride + 1`` (:mod:`fastnn.kernels.geometry`).
"""

from __future__ import annotations

import numpy as np

from .. import _checks as c
from .. import _validate as val
from ..geometry import out_hw, pad
from ..numba.conv import CONV_ALGORITHMS, conv_algorithm_arg
from .activations import relu_backward, relu_forward
from .norm import batchnorm_backward, batchnorm_forward, batchnorm_stats
from .pool import maxpool2d_backward, maxpool2d_forward

ALGORITHMS = (*CONV_ALGORITHMS, "reference")
"""Accepted for the Numba backend's signature; the reference has one algorithm, its loops."""


def conv2d_algorithm(x_shape: tuple[int, ...], w_shape: tuple[int, ...], stride: int = 1,
                     padding: int = 0) -> tuple[str, str]:
    """("reference", "reference"): these loops serve every shape."""
    x_shape, w_shape = val.shape4("x_shape", x_shape), val.shape4("w_shape", w_shape)
    val.window_args(x_shape, w_shape[2], w_shape[3], stride, padding)
    return "reference", "reference"


def conv2d_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1,
                   padding: int = 0, relu: bool = False,
                   algorithm: tuple[str, str] | None = None) -> np.ndarray:
    """Cross-correlation (as in PyTorch) with zero padding: y (N, F, OH, OW), or its ReLU.

    One dot product per filter and output position, the batch handled by NumPy.
    """
    x, w, b, stride, padding = c.conv2d_args(x, w, b, stride, padding)
    conv_algorithm_arg(algorithm, stride, w.shape[2:], ALGORITHMS)
    n, _, h, wd = x.shape
    f, _, kh, kw = w.shape
    oh, ow = out_hw(h, wd, kh, kw, stride, padding)
    xp = pad(x, padding)
    y = np.empty((n, f, oh, ow), dtype=x.dtype)
    for k in range(f):
        for i in range(oh):
            for j in range(ow):
                patch = xp[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
                y[:, k, i, j] = np.sum(patch * w[k], axis=(1, 2, 3)) + b[k]
    return relu_forward(y) if relu else y


def conv2d_backward(dy: np.ndarray, x: np.ndarray, w: np.ndarray, stride: int = 1,
                    padding: int = 0, input_grad: bool = True,
                    relu_output: np.ndarray | None = None,
                    algorithm: tuple[str, str] | None = None):
    """dy (N, F, OH, OW) -> dx (N, C, H, W), dw (F, C, KH, KW), db (F,).

    With ``input_grad=False`` dx is not computed and returned as None (a first layer). With
    ``relu_output`` (the output of a ReLU fused into this layer), dy is first gated by
    relu_output > 0.
    """
    dy, x, w, stride, padding = c.conv2d_backward_args(dy, x, w, stride, padding)
    conv_algorithm_arg(algorithm, stride, w.shape[2:], ALGORITHMS)
    if c.relu_output_arg(relu_output, dy) is not None:
        dy = relu_backward(dy, relu_output)
    n, _, h, wd = x.shape
    f, _, kh, kw = w.shape
    _, _, oh, ow = dy.shape
    xp = pad(x, padding)
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    db = np.zeros(f, dtype=x.dtype)
    for k in range(f):
        db[k] = dy[:, k].sum()
        for i in range(oh):
            for j in range(ow):
                rows = slice(i * stride, i * stride + kh)
                cols = slice(j * stride, j * stride + kw)
                g = dy[:, k, i, j][:, None, None, None]
                dw[k] += np.sum(g * xp[:, :, rows, cols], axis=0)
                if input_grad:
                    dxp[:, :, rows, cols] += g * w[k]
    if not input_grad:
        return None, dw, db
    dx = dxp[:, :, padding : padding + h, padding : padding + wd].copy()
    return dx, dw, db


def conv2d_relu_maxpool_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1,
                                padding: int = 0, pool_size: int = 2,
                                pool_stride: int | None = None,
                                algorithm: tuple[str, str] | None = None):
    """Conv2D, ReLU and MaxPool2D in one call: y (N, F, PH, PW) and argmax into the conv
    output's (OH, OW) planes, as maxpool2d_forward on relu(conv2d_forward(x, w, b))."""
    x, w, b, stride, padding, pool_size, pool_stride = c.conv_pool_args(
        x, w, b, stride, padding, pool_size, pool_stride)
    conv_algorithm_arg(algorithm, stride, w.shape[2:], ALGORITHMS)
    return maxpool2d_forward(conv2d_forward(x, w, b, stride, padding, relu=True), pool_size,
                             pool_stride)


def conv2d_relu_maxpool_backward(dy: np.ndarray, y: np.ndarray, argmax: np.ndarray,
                                 x: np.ndarray, w: np.ndarray, stride: int = 1, padding: int = 0,
                                 input_grad: bool = True,
                                 algorithm: tuple[str, str] | None = None):
    """dy (N, F, PH, PW) on the pooled output y -> dx (or None), dw, db.

    The ReLU passes a window's gradient where its maximum y is > 0; the pool routes it to the
    argmax; the convolution's backward does the rest.
    """
    dy, y, argmax, x, w, stride, padding, conv_shape = c.conv_pool_backward_args(
        dy, y, argmax, x, w, stride, padding)
    conv_algorithm_arg(algorithm, stride, w.shape[2:], ALGORITHMS)
    dconv = maxpool2d_backward(np.where(y > 0, dy, 0).astype(dy.dtype), argmax, conv_shape)
    return conv2d_backward(dconv, x, w, stride, padding, input_grad)


def conv2d_relu_batchnorm_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray,
                                  gamma: np.ndarray, beta: np.ndarray, stride: int = 1,
                                  padding: int = 0, eps: float = 1e-5,
                                  mean: np.ndarray | None = None, var: np.ndarray | None = None,
                                  algorithm: tuple[str, str] | None = None):
    """Conv2D, ReLU and BatchNorm2D: out (N, F, OH, OW), the ReLU's output y, and the mean and
    variance (F,) used. Without mean and var (training) they are y's batch statistics, with
    them (inference) the running statistics, and y is None."""
    x, w, b, gamma, beta, stride, padding, eps, mean, var = c.conv_bn_args(
        x, w, b, gamma, beta, stride, padding, eps, mean, var)
    conv_algorithm_arg(algorithm, stride, w.shape[2:], ALGORITHMS)
    y = conv2d_forward(x, w, b, stride, padding, relu=True)
    if mean is not None:
        return batchnorm_forward(y, gamma, beta, mean, var, eps), None, mean, var
    mean, var = batchnorm_stats(y)
    return batchnorm_forward(y, gamma, beta, mean, var, eps), y, mean, var


def conv2d_relu_batchnorm_backward(dout: np.ndarray, y: np.ndarray, x: np.ndarray,
                                   w: np.ndarray, gamma: np.ndarray, mean: np.ndarray,
                                   var: np.ndarray, stride: int = 1, padding: int = 0,
                                   eps: float = 1e-5, input_grad: bool = True,
                                   algorithm: tuple[str, str] | None = None):
    """Backward of conv2d_relu_batchnorm_forward in training: dout (N, F, OH, OW) -> dx (or
    None), dw, db, dgamma, dbeta. y is the ReLU's output that the forward pass returned."""
    dout, y, x, w, gamma, mean, var, stride, padding, eps = c.conv_bn_backward_args(
        dout, y, x, w, gamma, mean, var, stride, padding, eps)
    conv_algorithm_arg(algorithm, stride, w.shape[2:], ALGORITHMS)
    dy, dgamma, dbeta = batchnorm_backward(dout, y, gamma, mean, var, eps)
    return (*conv2d_backward(dy, x, w, stride, padding, input_grad, y), dgamma, dbeta)
