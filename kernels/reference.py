"""Pure-NumPy reference kernels: plain, loop-based and obviously right.

They are written the way from-scratch CNN code is written (loops over filters and output
positions, NumPy inside) and serve as the ground truth for :mod:`fastnn.kernels.numba`, which
has the same functions with the same signatures. Layout is batch-first, channel-first.

Shapes used throughout: ``x (N, C, H, W)``, ``w (F, C, KH, KW)``, ``b (F,)``, output
``(N, F, OH, OW)`` with ``OH = (H + 2*padding - KH) // stride + 1``. ``im2col`` returns
``cols (N, C*KH*KW, OH*OW)``: one column per output position, rows ordered (c, ky, kx) like
``w.reshape(F, -1)``, so that ``y[n] = w.reshape(F, -1) @ cols[n] + b[:, None]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import _checks as c

# --- dense -------------------------------------------------------------------------------------


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


# --- convolution -------------------------------------------------------------------------------


def _pad(x: np.ndarray, padding: int) -> np.ndarray:
    return np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))


def im2col(x: np.ndarray, kh: int, kw: int, stride: int = 1, padding: int = 0) -> np.ndarray:
    """x (N, C, H, W) -> cols (N, C*KH*KW, OH*OW): the patch under each output position."""
    x, kh, kw, stride, padding = c.im2col_args(x, kh, kw, stride, padding)
    n, ch, h, w = x.shape
    oh = (h + 2 * padding - kh) // stride + 1
    ow = (w + 2 * padding - kw) // stride + 1
    xp = _pad(x, padding)
    cols = np.empty((n, ch * kh * kw, oh * ow), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
            cols[:, :, i * ow + j] = patch.reshape(n, -1)
    return cols


def col2im(cols: np.ndarray, x_shape, kh: int, kw: int, stride: int = 1,
           padding: int = 0) -> np.ndarray:
    """The adjoint of :func:`im2col`: cols (N, C*KH*KW, OH*OW) -> dx (N, C, H, W).

    Where windows overlap, their contributions add up.
    """
    cols, x_shape, kh, kw, stride, padding = c.col2im_args(cols, x_shape, kh, kw, stride,
                                                           padding)
    n, ch, h, w = x_shape
    oh = (h + 2 * padding - kh) // stride + 1
    ow = (w + 2 * padding - kw) // stride + 1
    dxp = np.zeros((n, ch, h + 2 * padding, w + 2 * padding), dtype=cols.dtype)
    for i in range(oh):
        for j in range(ow):
            patch = cols[:, :, i * ow + j].reshape(n, ch, kh, kw)
            dxp[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw] += patch
    return dxp[:, :, padding : padding + h, padding : padding + w].copy()


def conv2d_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1,
                   padding: int = 0, relu: bool = False) -> np.ndarray:
    """Cross-correlation (as in PyTorch) with zero padding: y (N, F, OH, OW), or its ReLU.

    One dot product per filter and output position, the batch handled by NumPy.
    """
    x, w, b, stride, padding = c.conv2d_args(x, w, b, stride, padding)
    n, _, h, wd = x.shape
    f, _, kh, kw = w.shape
    oh = (h + 2 * padding - kh) // stride + 1
    ow = (wd + 2 * padding - kw) // stride + 1
    xp = _pad(x, padding)
    y = np.empty((n, f, oh, ow), dtype=x.dtype)
    for k in range(f):
        for i in range(oh):
            for j in range(ow):
                patch = xp[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
                y[:, k, i, j] = np.sum(patch * w[k], axis=(1, 2, 3)) + b[k]
    return relu_forward(y) if relu else y


def conv2d_backward(dy: np.ndarray, x: np.ndarray, w: np.ndarray, stride: int = 1,
                    padding: int = 0, input_grad: bool = True,
                    relu_output: np.ndarray | None = None):
    """dy (N, F, OH, OW) -> dx (N, C, H, W), dw (F, C, KH, KW), db (F,).

    With ``input_grad=False`` dx is not computed and returned as None (a first layer). With
    ``relu_output`` (the output of a ReLU fused into this layer), dy is first gated by
    relu_output > 0.
    """
    dy, x, w, stride, padding = c.conv2d_backward_args(dy, x, w, stride, padding)
    if c.relu_output_arg(relu_output, dy) is not None:
        dy = relu_backward(dy, relu_output)
    n, _, h, wd = x.shape
    f, _, kh, kw = w.shape
    _, _, oh, ow = dy.shape
    xp = _pad(x, padding)
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


# --- max-pooling -------------------------------------------------------------------------------


def maxpool2d_forward(x: np.ndarray, size: int = 2, stride: int | None = 2):
    """x (N, C, H, W) -> y (N, C, OH, OW) and argmax (N, C, OH, OW) int64.

    argmax holds the winner's flat index ``h * W + w`` within its (H, W) plane; ties go to the
    first maximum in row-major order (NumPy's argmax, which also lets a NaN win).
    """
    x, size, stride = c.pool_args(x, size, stride)
    n, ch, h, w = x.shape
    oh = (h - size) // stride + 1
    ow = (w - size) // stride + 1
    y = np.empty((n, ch, oh, ow), dtype=x.dtype)
    argmax = np.empty((n, ch, oh, ow), dtype=np.int64)
    for b in range(n):
        for k in range(ch):
            for i in range(oh):
                for j in range(ow):
                    window = x[b, k, i * stride : i * stride + size, j * stride : j * stride + size]
                    wi, wj = np.unravel_index(np.argmax(window), window.shape)
                    y[b, k, i, j] = window[wi, wj]
                    argmax[b, k, i, j] = (i * stride + wi) * w + (j * stride + wj)
    return y, argmax


def maxpool2d_backward(dy: np.ndarray, argmax: np.ndarray, x_shape) -> np.ndarray:
    """Routes dy (N, C, OH, OW) to each window's winner; overlapping windows accumulate."""
    dy, argmax, x_shape = c.pool_backward_args(dy, argmax, x_shape)
    n, ch, h, w = x_shape
    dx = np.zeros((n, ch, h * w), dtype=dy.dtype)
    for b in range(n):
        for k in range(ch):
            for g, idx in zip(dy[b, k].ravel(), argmax[b, k].ravel()):
                dx[b, k, idx] += g
    return dx.reshape(x_shape)


def conv2d_relu_maxpool_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1,
                                padding: int = 0, pool_size: int = 2,
                                pool_stride: int | None = None):
    """Conv2D, ReLU and MaxPool2D in one call: y (N, F, PH, PW) and argmax into the conv
    output's (OH, OW) planes, as maxpool2d_forward on relu(conv2d_forward(x, w, b))."""
    x, w, b, stride, padding, pool_size, pool_stride = c.conv_pool_args(
        x, w, b, stride, padding, pool_size, pool_stride)
    return maxpool2d_forward(conv2d_forward(x, w, b, stride, padding, relu=True), pool_size,
                             pool_stride)


def conv2d_relu_maxpool_backward(dy: np.ndarray, y: np.ndarray, argmax: np.ndarray,
                                 x: np.ndarray, w: np.ndarray, stride: int = 1, padding: int = 0,
                                 input_grad: bool = True):
    """dy (N, F, PH, PW) on the pooled output y -> dx (or None), dw, db.

    The ReLU passes a window's gradient where its maximum y is > 0; the pool routes it to the
    argmax; the convolution's backward does the rest.
    """
    dy, y, argmax, x, w, stride, padding, conv_shape = c.conv_pool_backward_args(
        dy, y, argmax, x, w, stride, padding)
    dconv = maxpool2d_backward(np.where(y > 0, dy, 0).astype(dy.dtype), argmax, conv_shape)
    return conv2d_backward(dconv, x, w, stride, padding, input_grad)


# --- activations -------------------------------------------------------------------------------


def relu_forward(x: np.ndarray) -> np.ndarray:
    x = c.unary_args(x)
    return np.where(x > 0, x, np.zeros_like(x))


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


# --- losses ------------------------------------------------------------------------------------


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of logits (N, K), stable for logits of any size."""
    logits = c.floats("logits", logits, 2)
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
    margin = c.number("margin", margin)
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


# --- optimizer updates (in place) --------------------------------------------------------------


def sgd_update(param: np.ndarray, grad: np.ndarray, velocity: np.ndarray | None, lr: float,
               momentum: float = 0.0, weight_decay: float = 0.0) -> None:
    """param -= lr * v with v = momentum * v + (grad + weight_decay * param), in place.

    velocity may be None when momentum is 0 (plain SGD).
    """
    grad = c.update_args(param, grad, ("velocity", velocity))
    lr, momentum = c.number("lr", lr), c.number("momentum", momentum)
    weight_decay = c.number("weight_decay", weight_decay)
    if momentum and velocity is None:
        raise ValueError("sgd_update with momentum needs a velocity array")
    g = grad + param.dtype.type(weight_decay) * param
    if velocity is not None:
        velocity *= param.dtype.type(momentum)
        velocity += g
        g = velocity
    param -= param.dtype.type(lr) * g


def adam_update(param: np.ndarray, grad: np.ndarray, m: np.ndarray, v: np.ndarray, t: int,
                lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                weight_decay: float = 0.0) -> None:
    """One Adam step with bias correction, in place on param, m and v; t counts from 1.

    weight_decay adds weight_decay * param to the gradient (L2, as in PyTorch's Adam).
    """
    grad = c.update_args(param, grad, ("m", m), ("v", v))
    t = c.integer("t", t, 1)
    lr, eps = c.number("lr", lr), c.number("eps", eps)
    beta1, beta2 = c.number("beta1", beta1), c.number("beta2", beta2)
    weight_decay = c.number("weight_decay", weight_decay)
    dt = param.dtype.type
    g = grad + dt(weight_decay) * param
    m *= dt(beta1)
    m += dt(1 - beta1) * g
    v *= dt(beta2)
    v += dt(1 - beta2) * g * g
    # PyTorch's arrangement of the bias corrections: lr/c1 * m / (sqrt(v)/sqrt(c2) + eps)
    step = dt(lr / (1 - beta1**t))
    param -= step * m / (np.sqrt(v) / dt(np.sqrt(1 - beta2**t)) + dt(eps))


def sgd_update_many(params: Sequence[np.ndarray], grads: Sequence[np.ndarray],
                    velocities: Sequence[np.ndarray] | None, lr: float, momentum: float = 0.0,
                    weight_decay: float = 0.0) -> None:
    """sgd_update on every (param, grad, velocity); velocities may be None without momentum."""
    c.update_many_args(params, grads, ("velocities", velocities))
    if momentum and velocities is None:
        raise ValueError("sgd_update_many with momentum needs velocity arrays")
    for i, (p, g) in enumerate(zip(params, grads)):
        sgd_update(p, g, None if velocities is None else velocities[i], lr, momentum,
                   weight_decay)


def adam_update_many(params: Sequence[np.ndarray], grads: Sequence[np.ndarray],
                     ms: Sequence[np.ndarray], vs: Sequence[np.ndarray], t: int,
                     lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                     eps: float = 1e-8, weight_decay: float = 0.0) -> None:
    """adam_update on every (param, grad, m, v): one optimizer step for a whole model."""
    c.update_many_args(params, grads, ("ms", ms), ("vs", vs))
    for p, g, m, v in zip(params, grads, ms, vs):
        adam_update(p, g, m, v, t, lr, beta1, beta2, eps, weight_decay)
