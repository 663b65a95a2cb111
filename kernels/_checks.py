"""The per-kernel argument checks in front of both kernel implementations.

Every public kernel calls one of the ``*_args`` functions below before doing any math, so bad
input raises a ``ValueError`` that names the argument and its shape, never a NumPy or Numba
error from inside a loop. They return the arguments normalized: C-contiguous arrays of one
floating dtype and plain ``int`` hyper-parameters.

The validators they are built from are in :mod:`._validate`; the checks that read a family's
catalogue live beside it (the convolution algorithms in :mod:`.numba.conv`, the fill modes in
:mod:`._augment`). ``integer`` and ``FILL_MODES`` are also imported from here by
:mod:`fastnn.inputs` and :mod:`fastnn.augment`.
"""

from __future__ import annotations

import numbers

import numpy as np

from ._augment import FILL_MODES  # noqa: F401  (fastnn.augment imports it from here)
from ._validate import (
    FLOAT_DTYPES,
    channel_vectors,
    floats,
    integer,
    positive_eps,
    same_dtype,
    same_shape,
    shape4,
    shape_of,
    window_args,
)


def dense_args(x, w, b):
    x = floats("x", x, 2)
    w = floats("w", w, 2)
    b = floats("b", b, 1)
    same_dtype(x=x, w=w, b=b)
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"x has {x.shape[1]} features (shape {x.shape}) but w expects "
                         f"{w.shape[1]} (shape {w.shape})")
    if b.shape[0] != w.shape[0]:
        raise ValueError(f"b shape {b.shape} does not match w's {w.shape[0]} outputs")
    return x, w, b


def dense_backward_args(dy, x, w):
    x = floats("x", x, 2)
    w = floats("w", w, 2)
    dy = floats("dy", dy, 2)
    same_dtype(dy=dy, x=x, w=w)
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"x shape {x.shape} does not match w shape {w.shape}")
    if dy.shape != (x.shape[0], w.shape[0]):
        raise ValueError(f"dy shape {dy.shape} should be {(x.shape[0], w.shape[0])} "
                         f"for x {x.shape} and w {w.shape}")
    return dy, x, w


def im2col_args(x, kh, kw, stride, padding):
    x = floats("x", x, 4)
    kh, kw, stride, padding, _, _ = window_args(x.shape, kh, kw, stride, padding)
    return x, kh, kw, stride, padding


def col2im_args(cols, x_shape, kh, kw, stride, padding):
    cols = floats("cols", cols, 3)
    x_shape = shape4("x_shape", x_shape)
    kh, kw, stride, padding, oh, ow = window_args(x_shape, kh, kw, stride, padding)
    n, c = x_shape[:2]
    want = (n, c * kh * kw, oh * ow)
    if cols.shape != want:
        raise ValueError(f"cols shape {cols.shape} should be {want} for x_shape {x_shape}, "
                         f"kernel {kh}x{kw}, stride {stride}, padding {padding}")
    return cols, x_shape, kh, kw, stride, padding


def conv2d_args(x, w, b, stride, padding):
    x = floats("x", x, 4)
    w = floats("w", w, 4)
    b = floats("b", b, 1)
    same_dtype(x=x, w=w, b=b)
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"x has {x.shape[1]} channels (shape {x.shape}) but w expects "
                         f"{w.shape[1]} (shape {w.shape})")
    if b.shape[0] != w.shape[0]:
        raise ValueError(f"b shape {b.shape} does not match w's {w.shape[0]} filters")
    _, _, stride, padding, _, _ = window_args(x.shape, w.shape[2], w.shape[3], stride, padding)
    return x, w, b, stride, padding


def conv2d_backward_args(dy, x, w, stride, padding):
    x = floats("x", x, 4)
    w = floats("w", w, 4)
    dy = floats("dy", dy, 4)
    same_dtype(dy=dy, x=x, w=w)
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"x shape {x.shape} and w shape {w.shape} differ in channels")
    _, _, stride, padding, oh, ow = window_args(x.shape, w.shape[2], w.shape[3], stride,
                                                padding)
    want = (x.shape[0], w.shape[0], oh, ow)
    if dy.shape != want:
        raise ValueError(f"dy shape {dy.shape} should be {want} for x {x.shape}, w {w.shape}, "
                         f"stride {stride}, padding {padding}")
    return dy, x, w, stride, padding


def relu_output_arg(relu_output, dy):
    """The output of a ReLU fused into the layer (its mask gates dy), or None."""
    if relu_output is None:
        return None
    relu_output = floats("relu_output", relu_output)
    same_dtype(dy=dy, relu_output=relu_output)
    same_shape("relu_output", relu_output, "dy", dy)
    return relu_output


def pool_args(x, size, stride):
    x = floats("x", x, 4)
    size = integer("size", size, 1)
    stride = size if stride is None else integer("stride", stride, 1)
    window_args(x.shape, size, size, stride, 0, what="pool size")
    return x, size, stride


def pool_backward_args(dy, argmax, x_shape):
    dy = floats("dy", dy, 4)
    x_shape = shape4("x_shape", x_shape)
    if not isinstance(argmax, np.ndarray) or argmax.dtype != np.int64:
        raise ValueError(f"argmax must be an int64 array from maxpool2d_forward, got "
                         f"{getattr(argmax, 'dtype', type(argmax).__name__)}")
    same_shape("argmax", argmax, "dy", dy)
    if dy.shape[:2] != x_shape[:2]:
        raise ValueError(f"dy shape {dy.shape} does not match x_shape {x_shape} in (N, C)")
    plane = x_shape[2] * x_shape[3]
    if argmax.size and (argmax.min() < 0 or argmax.max() >= plane):
        raise ValueError(f"argmax holds indices outside the {x_shape[2]}x{x_shape[3]} input")
    return dy, np.ascontiguousarray(argmax), x_shape


def conv_pool_args(x, w, b, stride, padding, pool_size, pool_stride):
    """Conv2D + ReLU + MaxPool2D: the conv checks, then the pool window on the conv output."""
    x, w, b, stride, padding = conv2d_args(x, w, b, stride, padding)
    _, _, _, _, oh, ow = window_args(x.shape, w.shape[2], w.shape[3], stride, padding)
    pool_size = integer("pool_size", pool_size, 1)
    pool_stride = pool_size if pool_stride is None else integer("pool_stride", pool_stride, 1)
    window_args((0, 0, oh, ow), pool_size, pool_size, pool_stride, 0, what="pool size")
    return x, w, b, stride, padding, pool_size, pool_stride


def conv_pool_backward_args(dy, y, argmax, x, w, stride, padding):
    """dy, y (the pooled output) and argmax of conv_relu_maxpool_forward on x and w; returns
    them normalized with the conv output shape (N, F, OH, OW)."""
    x = floats("x", x, 4)
    w = floats("w", w, 4)
    y = floats("y", y, 4)
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"x shape {x.shape} and w shape {w.shape} differ in channels")
    _, _, stride, padding, oh, ow = window_args(x.shape, w.shape[2], w.shape[3], stride,
                                                padding)
    conv_shape = (x.shape[0], w.shape[0], oh, ow)
    dy, argmax, _ = pool_backward_args(dy, argmax, conv_shape)
    same_dtype(dy=dy, y=y, x=x, w=w)
    same_shape("y", y, "dy", dy)
    return dy, y, argmax, x, w, stride, padding, conv_shape


def avgpool_backward_args(dy, x_shape, size, stride):
    dy = floats("dy", dy, 4)
    x_shape = shape4("x_shape", x_shape)
    size = integer("size", size, 1)
    stride = size if stride is None else integer("stride", stride, 1)
    *_, oh, ow = window_args(x_shape, size, size, stride, 0, what="pool size")
    if dy.shape != x_shape[:2] + (oh, ow):
        raise ValueError(f"dy shape {dy.shape} should be {x_shape[:2] + (oh, ow)} for x_shape "
                         f"{x_shape}, pool size {size}, stride {stride}")
    return dy, x_shape, size, stride


def global_pool_backward_args(dy, x_shape):
    dy = floats("dy", dy, 2)
    x_shape = shape4("x_shape", x_shape)
    if dy.shape != x_shape[:2]:
        raise ValueError(f"dy shape {dy.shape} should be {x_shape[:2]} for x_shape {x_shape}")
    return dy, x_shape


def norm_input(name, x):
    """A batch-norm input: (N, C) or (N, C, H, W), with at least one value per channel."""
    x = floats(name, x, (2, 4))
    if x.size == 0:
        raise ValueError(f"{name} must hold at least one value per channel, got shape {x.shape}")
    return x


def batchnorm_args(x, gamma, beta, mean, var, eps):
    x = norm_input("x", x)
    gamma, beta, mean, var = channel_vectors(x.shape[1], x.dtype, gamma=gamma, beta=beta,
                                              mean=mean, var=var)
    return x, gamma, beta, mean, var, positive_eps(eps)


def batchnorm_backward_args(dy, x, gamma, mean, var, eps):
    x = norm_input("x", x)
    dy = floats("dy", dy)
    same_shape("dy", dy, "x", x)
    same_dtype(dy=dy, x=x)
    gamma, mean, var = channel_vectors(x.shape[1], x.dtype, gamma=gamma, mean=mean, var=var)
    return dy, x, gamma, mean, var, positive_eps(eps)


def conv_bn_args(x, w, b, gamma, beta, stride, padding, eps, mean, var):
    """Conv2D + ReLU + BatchNorm2D: the conv checks, then one gamma, beta (and, for inference,
    mean and var) entry per filter."""
    x, w, b, stride, padding = conv2d_args(x, w, b, stride, padding)
    if (mean is None) != (var is None):
        raise ValueError("mean and var must be given together (inference) or not at all")
    vectors = {"gamma": gamma, "beta": beta}
    if mean is not None:
        vectors |= {"mean": mean, "var": var}
    checked = channel_vectors(w.shape[0], x.dtype, **vectors) + [None, None]
    return (x, w, b, checked[0], checked[1], stride, padding, positive_eps(eps), checked[2],
            checked[3])


def conv_bn_backward_args(dout, y, x, w, gamma, mean, var, stride, padding, eps):
    dout, x, w, stride, padding = conv2d_backward_args(dout, x, w, stride, padding)
    y = floats("y", y)
    same_shape("y", y, "dout", dout)
    gamma, mean, var = channel_vectors(w.shape[0], x.dtype, gamma=gamma, mean=mean, var=var)
    same_dtype(dout=dout, y=y, x=x)
    return dout, y, x, w, gamma, mean, var, stride, padding, positive_eps(eps)


def unary_args(x, name="x"):
    return floats(name, x)


def unary_backward_args(dy, x, name="x"):
    dy = floats("dy", dy)
    x = floats(name, x)
    same_dtype(dy=dy, **{name: x})
    same_shape("dy", dy, name, x)
    return dy, x


def dropout_args(x, u, p, name="x"):
    """x and u (float32 uniform draws in [0, 1), x's shape) and the drop probability p."""
    x = floats(name, x)
    u = floats("u", u)
    if u.dtype != np.float32:
        raise ValueError(f"u must be float32 uniform draws, got dtype {u.dtype}")
    same_shape(name, x, "u", u)
    if not (isinstance(p, numbers.Real) and 0 <= p < 1):
        raise ValueError(f"p must be in [0, 1), got {p!r}")
    return x, u, float(p)


def labels_args(logits, labels):
    logits = floats("logits", logits, 2)
    if not isinstance(labels, np.ndarray) or labels.ndim != 1:
        raise ValueError(f"labels must be a 1-D integer array, got shape {shape_of(labels)}")
    if labels.dtype.kind not in "iu":
        raise ValueError(f"labels must be integers (class indices), got dtype {labels.dtype}")
    n, k = logits.shape
    if labels.shape[0] != n:
        raise ValueError(f"labels shape {labels.shape} does not match logits shape "
                         f"{logits.shape} (one label per row)")
    if n == 0:
        raise ValueError("logits must hold at least one row, got shape " f"{logits.shape}")
    lo, hi = int(labels.min()), int(labels.max())
    if lo < 0 or hi >= k:
        bad = lo if lo < 0 else hi
        raise ValueError(f"labels must be in [0, {k - 1}] for {k} classes, got {bad}")
    return logits, labels.astype(np.int64, copy=False)


def binary_args(logits, targets):
    logits = floats("logits", logits)
    targets = floats("targets", targets)
    same_dtype(logits=logits, targets=targets)
    same_shape("logits", logits, "targets", targets)
    if logits.size == 0:
        raise ValueError("logits must not be empty")
    return logits, targets


def update_args(param, grad, *states):
    """Optimizer updates work in place, so ``param`` and the states are never copied."""
    for name, a in (("param", param), ("grad", grad)) + states:
        if a is None:
            continue
        floats(name, a)
        if name != "grad" and not a.flags.c_contiguous:
            raise ValueError(f"{name} must be C-contiguous to be updated in place")
        if name != "param":
            same_shape(name, a, "param", param)
    same_dtype(param=param, grad=grad, **{n: a for n, a in states if a is not None})
    return np.ascontiguousarray(grad)


def update_many_args(params, grads, *states):
    """An update over lists of arrays: one (param, grad, states...) per entry, checked as in
    update_args, and one dtype for all. Returns the grads, contiguous."""
    count = len(params)
    for name, arrays in (("grads", grads),) + states:
        if arrays is not None and len(arrays) != count:
            raise ValueError(f"{name} has {len(arrays)} arrays but params has {count}")
    checked = list(grads)
    if not count:
        return checked
    dtype = params[0].dtype
    state_lists = [arrays for _, arrays in states if arrays is not None]
    for i, p in enumerate(params):
        group = [p, grads[i]] + [arrays[i] for arrays in state_lists]
        if all(type(a) is np.ndarray and a.dtype == dtype and a.shape == p.shape
               and a.flags.c_contiguous for a in group):
            continue  # the usual case, checked cheaply: this runs on every training step
        entry = [(name, None if arrays is None else arrays[i]) for name, arrays in states]
        try:
            checked[i] = update_args(p, grads[i], *entry)
        except ValueError as e:
            raise ValueError(f"params[{i}]: {e}") from None
    dtypes = {p.dtype for p in params}
    if len(dtypes) > 1 or dtype not in FLOAT_DTYPES:
        listed = ", ".join(sorted(str(d) for d in dtypes))
        raise ValueError(f"params must share one float dtype, got {listed}")
    return checked
