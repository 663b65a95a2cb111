"""The thin checking layer in front of both kernel implementations.

Every public kernel calls one of the ``*_args`` functions below before doing any math, so bad
input raises a ``ValueError`` that names the argument and its shape, never a NumPy or Numba
error from inside a loop. The functions return the arguments normalized: C-contiguous arrays
of one floating dtype and plain ``int`` hyper-parameters.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import geometry

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _shape(a: object) -> str:
    return str(getattr(a, "shape", type(a).__name__))


def floats(name: str, a: object, ndim: int | tuple[int, ...] | None = None) -> np.ndarray:
    """``a`` as a C-contiguous float32/float64 array of the given rank(s)."""
    if not isinstance(a, np.ndarray):
        raise ValueError(f"{name} must be a NumPy array, got {type(a).__name__}")
    if a.dtype not in FLOAT_DTYPES:
        raise ValueError(f"{name} must be float32 or float64, got dtype {a.dtype}")
    if ndim is not None:
        ranks = (ndim,) if isinstance(ndim, int) else ndim
        if a.ndim not in ranks:
            want = " or ".join(str(r) for r in ranks)
            raise ValueError(f"{name} must have {want} dimensions, got shape {a.shape}")
    return np.ascontiguousarray(a)


def same_dtype(**arrays: np.ndarray) -> None:
    """All arrays share one dtype (kernels never mix float32 and float64 silently)."""
    dtypes = {name: a.dtype for name, a in arrays.items() if a is not None}
    if len(set(dtypes.values())) > 1:
        listed = ", ".join(f"{name} {dt}" for name, dt in dtypes.items())
        raise ValueError(f"arrays must share one dtype, got {listed}")


def integer(name: str, v: object, minimum: int = 1) -> int:
    """An integer (Python or NumPy) >= minimum, as a Python int; 2.7 is an error, not a
    truncation. (fastnn.inputs uses it too: one integer check for the kernels and the API.)"""
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {v!r}")
    if v < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v}")
    return int(v)


def number(name: str, v: object, minimum: float = 0.0) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not np.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {v!r}")
    if v < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v}")
    return float(v)


def same_shape(name_a: str, a: np.ndarray, name_b: str, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{name_a} shape {a.shape} does not match {name_b} shape {b.shape}")


def out_size(size: int, k: int, stride: int, padding: int, what: str) -> int:
    """Output length of a sliding window; the window must fit in the padded input."""
    if k > size + 2 * padding:
        raise ValueError(
            f"{what} {k} is larger than the padded input ({size} + 2*{padding} = "
            f"{size + 2 * padding})"
        )
    return geometry.out_size(size, k, stride, padding)


# --- per-kernel argument checks ---------------------------------------------------------------


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


def window_args(x_shape, kh, kw, stride, padding, what="kernel"):
    """Checks a 4-D input shape against a window; returns ints and (OH, OW)."""
    kh = integer("kh", kh, 1)
    kw = integer("kw", kw, 1)
    stride = integer("stride", stride, 1)
    padding = integer("padding", padding, 0)
    _, _, h, w_ = x_shape
    oh = out_size(h, kh, stride, padding, f"{what} height")
    ow = out_size(w_, kw, stride, padding, f"{what} width")
    return kh, kw, stride, padding, oh, ow


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


def shape4(name, shape) -> tuple[int, int, int, int]:
    try:
        dims = tuple(int(d) for d in shape)
    except TypeError:
        raise ValueError(f"{name} must be a shape tuple, got {shape!r}") from None
    if len(dims) != 4 or min(dims) < 1:
        raise ValueError(f"{name} must be 4 positive sizes (N, C, H, W), got {shape!r}")
    return dims


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


def _channel_vectors(channels, dtype, **vectors):
    """Per-channel vectors: 1-D, one entry per channel, in the input's dtype."""
    out = []
    for name, v in vectors.items():
        v = floats(name, v, 1)
        if v.shape[0] != channels:
            raise ValueError(f"{name} has {v.shape[0]} entries but the input has {channels} "
                             f"channels")
        out.append(v)
    same_dtype(x=np.empty(0, dtype), **dict(zip(vectors, out)))
    return out


def batchnorm_args(x, gamma, beta, mean, var, eps):
    x = norm_input("x", x)
    gamma, beta, mean, var = _channel_vectors(x.shape[1], x.dtype, gamma=gamma, beta=beta,
                                              mean=mean, var=var)
    return x, gamma, beta, mean, var, _eps(eps)


def batchnorm_backward_args(dy, x, gamma, mean, var, eps):
    x = norm_input("x", x)
    dy = floats("dy", dy)
    same_shape("dy", dy, "x", x)
    same_dtype(dy=dy, x=x)
    gamma, mean, var = _channel_vectors(x.shape[1], x.dtype, gamma=gamma, mean=mean, var=var)
    return dy, x, gamma, mean, var, _eps(eps)


def _eps(eps):
    eps = number("eps", eps)
    if eps <= 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    return eps


def conv_bn_args(x, w, b, gamma, beta, stride, padding, eps, mean, var):
    """Conv2D + ReLU + BatchNorm2D: the conv checks, then one gamma, beta (and, for inference,
    mean and var) entry per filter."""
    x, w, b, stride, padding = conv2d_args(x, w, b, stride, padding)
    if (mean is None) != (var is None):
        raise ValueError("mean and var must be given together (inference) or not at all")
    vectors = {"gamma": gamma, "beta": beta}
    if mean is not None:
        vectors |= {"mean": mean, "var": var}
    checked = _channel_vectors(w.shape[0], x.dtype, **vectors) + [None, None]
    return x, w, b, checked[0], checked[1], stride, padding, _eps(eps), checked[2], checked[3]


def conv_bn_backward_args(dout, y, x, w, gamma, mean, var, stride, padding, eps):
    dout, x, w, stride, padding = conv2d_backward_args(dout, x, w, stride, padding)
    y = floats("y", y)
    same_shape("y", y, "dout", dout)
    gamma, mean, var = _channel_vectors(w.shape[0], x.dtype, gamma=gamma, mean=mean, var=var)
    same_dtype(dout=dout, y=y, x=x)
    return dout, y, x, w, gamma, mean, var, stride, padding, _eps(eps)


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
        raise ValueError(f"labels must be a 1-D integer array, got shape {_shape(labels)}")
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


# --- augmentation ------------------------------------------------------------------------------

FILL_MODES = ("nearest", "constant")


def affine_warp_args(x, theta, fill, cval):
    """x (N, C, H, W) float; theta (N, 2, 3) finite floats, returned as float64; a fill mode of
    FILL_MODES and a finite cval."""
    x = floats("x", x, 4)
    if not isinstance(theta, np.ndarray) or theta.dtype.kind not in "fiu":
        raise ValueError(f"theta must be a NumPy array of numbers, got "
                         f"{getattr(theta, 'dtype', type(theta).__name__)}")
    if theta.shape != (x.shape[0], 2, 3):
        raise ValueError(f"theta must have shape ({x.shape[0]}, 2, 3) (one 2x3 matrix per image "
                         f"of x {x.shape}), got {theta.shape}")
    theta = np.ascontiguousarray(theta, dtype=np.float64)
    if not np.all(np.abs(theta) <= 1e12):  # also refuses NaN and infinity
        bad = theta.ravel()[np.argmax(~(np.abs(theta.ravel()) <= 1e12))]
        raise ValueError(f"theta entries must be finite and at most 1e12 in size, got {bad:g}")
    if fill not in FILL_MODES:
        raise ValueError(f"fill must be one of {', '.join(FILL_MODES)}, got {fill!r}")
    return x, theta, FILL_MODES.index(fill), number("cval", cval, -np.inf)


CONV_ALGORITHMS = ("direct", "gemm", "winograd", "im2col")
"""The Numba backend's convolution algorithms (kernels/numba/conv.py says when each is used)."""


def conv_algorithm_arg(algorithm, stride, kernel, allowed=CONV_ALGORITHMS):
    """None (the kernel chooses) or a (forward, backward) pair of algorithm names that can run
    a convolution of this stride and kernel size (KH, KW)."""
    if algorithm is None:
        return None
    if (not isinstance(algorithm, tuple) or len(algorithm) != 2
            or not all(isinstance(a, str) for a in algorithm)):
        raise ValueError(f"algorithm must be None or a (forward, backward) pair of names, got "
                         f"{algorithm!r}")
    for part, name in zip(("forward", "backward"), algorithm):
        if name not in allowed:
            raise ValueError(f"algorithm: {part} {name!r} is not one of {', '.join(allowed)}")
        if name in ("direct", "gemm", "winograd") and stride != 1:
            raise ValueError(f"algorithm: {part} {name!r} needs stride 1, got stride {stride}")
        if name == "winograd" and tuple(kernel) != (3, 3):
            raise ValueError(f"algorithm: {part} 'winograd' needs a 3x3 kernel, got "
                             f"{kernel[0]}x{kernel[1]}")
    return algorithm
