"""The public convolution kernels: each picks its algorithm and applies fused epilogues.

Stride 1 runs the direct "wide" kernels (:mod:`.direct`); other strides go through per-sample
im2col (:mod:`.im2col`). The fused variants do the work of the layers after the convolution
in the same pass over its output: Conv2D + ReLU + MaxPool2D and Conv2D + ReLU + BatchNorm2D.
"""

from __future__ import annotations

import numpy as np

from .. import _checks as c
from . import direct
from .activations import relu_backward
from .im2col import im2col_conv_backward, im2col_conv_forward
from .norm import batchnorm_backward, batchnorm_backward_coefs, batchnorm_forward, batchnorm_stats
from .pool import maxpool2d_backward, maxpool2d_forward


def conv2d_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1,
                   padding: int = 0, relu: bool = False) -> np.ndarray:
    """Cross-correlation (as in PyTorch) with zero padding: x (N, C, H, W), w (F, C, KH, KW),
    b (F,) -> y (N, F, OH, OW), or its ReLU."""
    x, w, b, stride, padding = c.conv2d_args(x, w, b, stride, padding)
    if stride == 1:
        return direct.conv_forward(x, w, b, padding, bool(relu))
    return im2col_conv_forward(x, w, b, stride, padding, bool(relu))


def conv2d_backward(dy: np.ndarray, x: np.ndarray, w: np.ndarray, stride: int = 1,
                    padding: int = 0, input_grad: bool = True,
                    relu_output: np.ndarray | None = None):
    """dy (N, F, OH, OW) -> dx (N, C, H, W) or None without input_grad, dw, db.

    With ``relu_output`` (the output of a ReLU fused into this layer), dy is first gated by
    relu_output > 0: the ReLU's backward pass done here.
    """
    dy, x, w, stride, padding = c.conv2d_backward_args(dy, x, w, stride, padding)
    relu_output = c.relu_output_arg(relu_output, dy)
    if stride == 1:
        return direct.conv_backward(dy, x, w, padding, input_grad, relu_output)
    if relu_output is not None:
        dy = relu_backward(dy, relu_output)
    return im2col_conv_backward(dy, x, w, stride, padding, input_grad)


def conv2d_relu_maxpool_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1,
                                padding: int = 0, pool_size: int = 2,
                                pool_stride: int | None = None):
    """Conv2D, ReLU and MaxPool2D in one call: y (N, F, PH, PW) and argmax into the conv
    output's (OH, OW) planes, as maxpool2d_forward on relu(conv2d_forward(x, w, b)).

    The convolution's output stays in a per-sample scratch buffer and is pooled straight from
    it; only the pooled values and their argmax reach memory.
    """
    x, w, b, stride, padding, pool_size, pool_stride = c.conv_pool_args(
        x, w, b, stride, padding, pool_size, pool_stride)
    if stride != 1:
        return maxpool2d_forward(conv2d_forward(x, w, b, stride, padding, relu=True), pool_size,
                                 pool_stride)
    return direct.conv_relu_pool_forward(x, w, b, padding, pool_size, pool_stride)


def conv2d_relu_maxpool_backward(dy: np.ndarray, y: np.ndarray, argmax: np.ndarray,
                                 x: np.ndarray, w: np.ndarray, stride: int = 1, padding: int = 0,
                                 input_grad: bool = True):
    """dy (N, F, PH, PW) on the pooled output y -> dx (or None), dw, db.

    The ReLU passes a window's gradient where its maximum y is > 0; the pool routes it to the
    argmax; the convolution's backward does the rest.
    """
    dy, y, argmax, x, w, stride, padding, conv_shape = c.conv_pool_backward_args(
        dy, y, argmax, x, w, stride, padding)
    if stride != 1:
        dconv = maxpool2d_backward(np.where(y > 0, dy, 0).astype(dy.dtype), argmax, conv_shape)
        return conv2d_backward(dconv, x, w, stride, padding, input_grad)
    return direct.conv_relu_pool_backward(dy, y, argmax, x, w, padding, conv_shape[2],
                                          conv_shape[3], input_grad)


def conv2d_relu_batchnorm_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray,
                                  gamma: np.ndarray, beta: np.ndarray, stride: int = 1,
                                  padding: int = 0, eps: float = 1e-5,
                                  mean: np.ndarray | None = None, var: np.ndarray | None = None):
    """Conv2D, ReLU and BatchNorm2D: out (N, F, OH, OW), the ReLU's output y, and the mean and
    variance (F,) used. Without mean and var (training) they are y's batch statistics, with
    them (inference) the running statistics, and y is None.

    Stride 1 gathers the statistics while each sample's output is in cache (training), or
    applies the normalization there (inference), saving a pass over the activations.
    """
    x, w, b, gamma, beta, stride, padding, eps, mean, var = c.conv_bn_args(
        x, w, b, gamma, beta, stride, padding, eps, mean, var)
    if mean is not None:
        if stride == 1:
            a = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)
            shift = beta - a * mean
            out = direct.conv_forward(x, w, b, padding, True, a.astype(x.dtype),
                                      shift.astype(x.dtype))
        else:
            out = batchnorm_forward(conv2d_forward(x, w, b, stride, padding, True), gamma, beta,
                                    mean, var, eps)
        return out, None, mean, var
    if stride == 1:
        y, mean, var = direct.conv_relu_stats_forward(x, w, b, padding)
    else:
        y = conv2d_forward(x, w, b, stride, padding, True)
        mean, var = batchnorm_stats(y)
    return batchnorm_forward(y, gamma, beta, mean, var, eps), y, mean, var


def conv2d_relu_batchnorm_backward(dout: np.ndarray, y: np.ndarray, x: np.ndarray,
                                   w: np.ndarray, gamma: np.ndarray, mean: np.ndarray,
                                   var: np.ndarray, stride: int = 1, padding: int = 0,
                                   eps: float = 1e-5, input_grad: bool = True):
    """Backward of conv2d_relu_batchnorm_forward in training: dout (N, F, OH, OW) -> dx (or
    None), dw, db, dgamma, dbeta. y is the ReLU's output that the forward pass returned."""
    dout, y, x, w, gamma, mean, var, stride, padding, eps = c.conv_bn_backward_args(
        dout, y, x, w, gamma, mean, var, stride, padding, eps)
    if stride != 1:
        dy, dgamma, dbeta = batchnorm_backward(dout, y, gamma, mean, var, eps)
        return (*conv2d_backward(dy, x, w, stride, padding, input_grad, y), dgamma, dbeta)
    k, dgamma, dbeta = batchnorm_backward_coefs(dout, y, gamma, mean, var, eps)
    return (*direct.conv_backward(dout, x, w, padding, input_grad, y, k), dgamma, dbeta)
