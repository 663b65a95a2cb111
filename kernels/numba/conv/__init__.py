"""The public convolution kernels: the algorithms, the rule that picks one per layer shape, and
the fused epilogues.

:func:`conv2d_algorithm` picks, from the shapes alone, the algorithm of the forward pass and
that of the backward pass (the input and the weight gradient come from one pass per sample
that shares the unrolled input and the output gradient, so they are chosen together):

- ``direct`` (:mod:`.direct`), stride 1 with few channels: works on the image itself, no
  copies; it wins while F*C is small (the MNIST CNN, LeNet-5, a first layer on RGB).
- ``winograd`` (:mod:`.winograd`), 3x3 stride 1 from F*C = 256 on outputs of at least 64
  pixels (8x8): F(4x4, 3x3) needs 4x fewer multiplications than the others, as 36 BLAS GEMMs
  over a chunk of samples; it beats direct and gemm on every 3x3 layer of the zoo from 16
  channels on, forward and backward.
- ``gemm`` (:mod:`.gemm`), the other stride-1 kernels with many channels (5x5, 1x1, ...): the
  same wide layout unrolled into an im2col matrix, and one BLAS GEMM per sample per thread.
- ``im2col`` (:mod:`.im2col`), other strides: per-sample im2col and Numba loops.

The switch points were measured on the 2-core AVX-512 machine (``python bench/conv_layers.py``,
figures in the README). Winograd F(4x4, 3x3) runs 1.9-2.9x faster than the better of direct
and gemm on the zoo's 3x3 layers of 32-128 channels, and about 1.3-1.5x at F*C = 256 (16 x 16
channels on 32x32); on smaller outputs most of its 4x4 tiles are edges, and such layers
follow the rule of the other kernel sizes. (F(2x2, 3x3), with 1.78x the multiplications and a
smaller float32 error, was slower on every zoo layer; F(4x4)'s error, 2-9e-6 of the largest
output, does not matter to training.) For other kernel sizes, the GEMM backward pass is
faster than direct from F*C = 2048, its forward pass from F*C = 2048 on outputs of at most
16x16 (at 32x32 direct keeps pace up to 64 x 64 channels). The choice is a rule, not a
timing taken at run time, so that a seeded run gives the same bits every time.

Each kernel takes ``algorithm`` (forward, backward), or None to apply the rule here; a model
chooses once per layer shape and shows it in its plan (:mod:`fastnn.fusion`). The fused
variants (Conv2D + ReLU + MaxPool2D, Conv2D + ReLU + BatchNorm2D) run their epilogues inside
the stride-1 algorithms, which share the "wide" layout, its epilogues and prologues and one
driver (:mod:`.wide`); im2col composes the separate kernels.

Adding a stride-1 algorithm: a module beside :mod:`.direct` with a core ``forward`` and
``backward`` (their arguments are in :mod:`.wide`'s docstring), and a row in
:data:`ALGORITHMS`; then, if models should pick it without being told, a case in
:func:`conv2d_algorithm`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from ... import _checks as c
from ... import _validate as val
from ..activations import relu_backward
from ..norm import batchnorm_backward, batchnorm_backward_coefs, batchnorm_forward, batchnorm_stats
from ..pool import maxpool2d_backward, maxpool2d_forward
from . import direct, gemm, im2col, wide, winograd


class Algorithm(NamedTuple):
    """A stride-1 algorithm: its core ``forward`` and ``backward`` (:mod:`.wide`), and the one
    kernel size (KH, KW) it can run, or None for any."""

    forward: Callable[..., None]
    backward: Callable[..., tuple]
    kernel: tuple[int, int] | None = None


def _finite(*arrays: np.ndarray | None) -> bool:
    """Every value finite: a float64 sum is (NaN and inf survive it; float32 cannot overflow it)."""
    return all(a is None or np.isfinite(a.sum(dtype=np.float64)) for a in arrays)


def _winograd_forward(*args) -> None:
    """Winograd, but where its transformed tiles overflow (finite inputs near 1e37 in float32:
    the tiles sum up to 10 products) the direct kernel redoes the batch, so Winograd is never
    less finite than direct."""
    winograd.forward(*args)
    if not _finite(args[14]):  # y (a NaN or inf wins the fused pool's max too)
        direct.forward(*args)


def _winograd_backward(*args):
    """Winograd's backward pass, redone by direct where Winograd's tiles overflow."""
    dx, dw = winograd.backward(*args)
    if not _finite(dx, dw, args[-1]):  # args[-1] is db_per
        dx, dw = direct.backward(*args)
    return dx, dw


ALGORITHMS: dict[str, Algorithm] = {
    "direct": Algorithm(direct.forward, direct.backward),
    "gemm": Algorithm(gemm.forward, gemm.backward),
    "winograd": Algorithm(_winograd_forward, _winograd_backward, kernel=(3, 3)),
}
"""The algorithms on the wide layout, all stride 1, by name."""

CONV_ALGORITHMS = (*ALGORITHMS, "im2col")
"""The Numba backend's convolution algorithms: the table's, and im2col for any stride."""


def conv_algorithm_arg(algorithm, stride, kernel, allowed=CONV_ALGORITHMS):
    """None (the kernel chooses) or a (forward, backward) pair of algorithm names of
    ``allowed`` that can run a convolution of this stride and kernel size (KH, KW)."""
    if algorithm is None:
        return None
    if (not isinstance(algorithm, tuple) or len(algorithm) != 2
            or not all(isinstance(a, str) for a in algorithm)):
        raise ValueError(f"algorithm must be None or a (forward, backward) pair of names, got "
                         f"{algorithm!r}")
    for part, name in zip(("forward", "backward"), algorithm):
        if name not in allowed:
            raise ValueError(f"algorithm: {part} {name!r} is not one of {', '.join(allowed)}")
        row = ALGORITHMS.get(name)
        if row is not None and stride != 1:
            raise ValueError(f"algorithm: {part} {name!r} needs stride 1, got stride {stride}")
        if row is not None and row.kernel is not None and tuple(kernel) != row.kernel:
            raise ValueError(f"algorithm: {part} {name!r} needs a {row.kernel[0]}x{row.kernel[1]} "
                             f"kernel, got {kernel[0]}x{kernel[1]}")
    return algorithm


WINOGRAD_CHANNELS = 256
"""F*C from which a 3x3 stride-1 convolution runs by Winograd ..."""
WINOGRAD_PIXELS = 64
"""... on outputs of at least this many pixels."""
GEMM_CHANNELS = 2048
"""F*C (filters times input channels) from which another stride-1 convolution runs as GEMMs."""
GEMM_FORWARD_PIXELS = 256
"""... its forward pass only on outputs of at most this many pixels, or from 4x the F*C."""


def conv2d_algorithm(x_shape: tuple[int, ...], w_shape: tuple[int, ...], stride: int = 1,
                     padding: int = 0) -> tuple[str, str]:
    """The (forward, backward) algorithms for x (N, C, H, W) and w (F, C, KH, KW): "direct",
    "winograd" or "gemm" at stride 1, "im2col" otherwise (see the module's docstring)."""
    x_shape, w_shape = val.shape4("x_shape", x_shape), val.shape4("w_shape", w_shape)
    stride = val.integer("stride", stride, 1)
    padding = val.integer("padding", padding, 0)
    if stride != 1:
        return "im2col", "im2col"
    f, ch, kh, kw = w_shape
    oh, ow = val.window_args(x_shape, kh, kw, stride, padding)[4:]
    if (kh, kw) == (3, 3) and f * ch >= WINOGRAD_CHANNELS and oh * ow >= WINOGRAD_PIXELS:
        return "winograd", "winograd"
    wide = f * ch >= GEMM_CHANNELS
    forward = wide and (oh * ow <= GEMM_FORWARD_PIXELS or f * ch >= 4 * GEMM_CHANNELS)
    return ("gemm" if forward else "direct"), ("gemm" if wide else "direct")


def _choose(algorithm, x, w, stride, padding) -> tuple[str, str]:
    algorithm = conv_algorithm_arg(algorithm, stride, w.shape[2:])
    return conv2d_algorithm(x.shape, w.shape, stride, padding) if algorithm is None else algorithm


def conv2d_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1,
                   padding: int = 0, relu: bool = False,
                   algorithm: tuple[str, str] | None = None) -> np.ndarray:
    """Cross-correlation (as in PyTorch) with zero padding: x (N, C, H, W), w (F, C, KH, KW),
    b (F,) -> y (N, F, OH, OW), or its ReLU. ``algorithm``: see :func:`conv2d_algorithm`."""
    x, w, b, stride, padding = c.conv2d_args(x, w, b, stride, padding)
    alg = _choose(algorithm, x, w, stride, padding)[0]
    if alg == "im2col":
        return im2col.forward(x, w, b, stride, padding, bool(relu))
    return wide.conv_forward(ALGORITHMS[alg], x, w, b, padding, bool(relu))


def conv2d_backward(dy: np.ndarray, x: np.ndarray, w: np.ndarray, stride: int = 1,
                    padding: int = 0, input_grad: bool = True,
                    relu_output: np.ndarray | None = None,
                    algorithm: tuple[str, str] | None = None):
    """dy (N, F, OH, OW) -> dx (N, C, H, W) or None without input_grad, dw, db.

    With ``relu_output`` (the output of a ReLU fused into this layer), dy is first gated by
    relu_output > 0: the ReLU's backward pass done here.
    """
    dy, x, w, stride, padding = c.conv2d_backward_args(dy, x, w, stride, padding)
    relu_output = c.relu_output_arg(relu_output, dy)
    alg = _choose(algorithm, x, w, stride, padding)[1]
    if alg != "im2col":
        return wide.conv_backward(ALGORITHMS[alg], dy, x, w, padding, input_grad,
                                  relu_output)
    if relu_output is not None:
        dy = relu_backward(dy, relu_output)
    return im2col.backward(dy, x, w, stride, padding, input_grad)


def conv2d_relu_maxpool_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1,
                                padding: int = 0, pool_size: int = 2,
                                pool_stride: int | None = None,
                                algorithm: tuple[str, str] | None = None):
    """Conv2D, ReLU and MaxPool2D in one call: y (N, F, PH, PW) and argmax into the conv
    output's (OH, OW) planes, as maxpool2d_forward on relu(conv2d_forward(x, w, b)).

    The convolution's output stays in a per-sample scratch buffer and is pooled straight from
    it; only the pooled values and their argmax reach memory.
    """
    x, w, b, stride, padding, pool_size, pool_stride = c.conv_pool_args(
        x, w, b, stride, padding, pool_size, pool_stride)
    alg = _choose(algorithm, x, w, stride, padding)[0]
    if alg == "im2col":
        return maxpool2d_forward(im2col.forward(x, w, b, stride, padding, True), pool_size,
                                 pool_stride)
    return wide.conv_relu_pool_forward(ALGORITHMS[alg], x, w, b, padding, pool_size,
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
    alg = _choose(algorithm, x, w, stride, padding)[1]
    if alg == "im2col":
        dconv = maxpool2d_backward(np.where(y > 0, dy, 0).astype(dy.dtype), argmax, conv_shape)
        return im2col.backward(dconv, x, w, stride, padding, input_grad)
    return wide.conv_relu_pool_backward(ALGORITHMS[alg], dy, y, argmax, x, w, padding,
                                        conv_shape[2], conv_shape[3], input_grad)


def conv2d_relu_batchnorm_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray,
                                  gamma: np.ndarray, beta: np.ndarray, stride: int = 1,
                                  padding: int = 0, eps: float = 1e-5,
                                  mean: np.ndarray | None = None, var: np.ndarray | None = None,
                                  algorithm: tuple[str, str] | None = None):
    """Conv2D, ReLU and BatchNorm2D: out (N, F, OH, OW), the ReLU's output y, and the mean and
    variance (F,) used. Without mean and var (training) they are y's batch statistics, with
    them (inference) the running statistics, and y is None.

    Direct and GEMM gather the statistics while each sample's output is in cache (training),
    or apply the normalization there (inference), saving a pass over the activations.
    """
    x, w, b, gamma, beta, stride, padding, eps, mean, var = c.conv_bn_args(
        x, w, b, gamma, beta, stride, padding, eps, mean, var)
    alg = _choose(algorithm, x, w, stride, padding)[0]
    if mean is not None:
        if alg != "im2col":
            a = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)
            shift = beta - a * mean
            out = wide.conv_forward(ALGORITHMS[alg], x, w, b, padding, True, a.astype(x.dtype),
                                    shift.astype(x.dtype))
        else:
            out = batchnorm_forward(im2col.forward(x, w, b, stride, padding, True), gamma,
                                    beta, mean, var, eps)
        return out, None, mean, var
    if alg != "im2col":
        y, mean, var = wide.conv_relu_stats_forward(ALGORITHMS[alg], x, w, b, padding)
    else:
        y = im2col.forward(x, w, b, stride, padding, True)
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
    alg = _choose(algorithm, x, w, stride, padding)[1]
    if alg == "im2col":
        dy, dgamma, dbeta = batchnorm_backward(dout, y, gamma, mean, var, eps)
        dy = relu_backward(dy, y)
        return (*im2col.backward(dy, x, w, stride, padding, input_grad), dgamma, dbeta)
    k, dgamma, dbeta = batchnorm_backward_coefs(dout, y, gamma, mean, var, eps)
    return (*wide.conv_backward(ALGORITHMS[alg], dout, x, w, padding, input_grad, y, k),
            dgamma, dbeta)
