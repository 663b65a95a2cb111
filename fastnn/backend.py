"""The one place that picks the kernel implementation every layer calls.

    fn.set_backend("reference")   # plain NumPy, slow, obviously right
    fn.set_backend("numba")       # the default (or $FASTNN_BACKEND)

Layers call kernels as ``kernels().conv2d_forward(...)``: :func:`kernels` returns the current
backend's :class:`Kernels`, a frozen record with one field per kernel function, built once from
each backend module (``fastnn.kernels.numba``, ``fastnn.kernels.reference``) by
:func:`kernels_of`. A field is the module's function of the same name, so a reader (or grep)
goes from ``kernels().conv2d_forward`` to ``Kernels.conv2d_forward`` to
``fastnn.kernels.numba.conv2d_forward``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numba

from .kernels import numba as _numba
from .kernels import reference as _reference


@dataclass(frozen=True)
class Kernels:
    """The kernel functions of one backend; the fields are those of ``fastnn.kernels.KERNELS``
    (the functions both backend modules export, with the same signatures)."""

    adam_update: Callable[..., Any]
    adam_update_many: Callable[..., Any]
    affine_warp: Callable[..., Any]
    avgpool2d_backward: Callable[..., Any]
    avgpool2d_forward: Callable[..., Any]
    batchnorm_backward: Callable[..., Any]
    batchnorm_forward: Callable[..., Any]
    batchnorm_stats: Callable[..., Any]
    binary_cross_entropy_with_logits: Callable[..., Any]
    col2im: Callable[..., Any]
    conv2d_algorithm: Callable[..., Any]
    conv2d_backward: Callable[..., Any]
    conv2d_forward: Callable[..., Any]
    conv2d_relu_batchnorm_backward: Callable[..., Any]
    conv2d_relu_batchnorm_forward: Callable[..., Any]
    conv2d_relu_maxpool_backward: Callable[..., Any]
    conv2d_relu_maxpool_forward: Callable[..., Any]
    dense_backward: Callable[..., Any]
    dense_forward: Callable[..., Any]
    dropout_backward: Callable[..., Any]
    dropout_forward: Callable[..., Any]
    global_avgpool2d_backward: Callable[..., Any]
    global_avgpool2d_forward: Callable[..., Any]
    im2col: Callable[..., Any]
    maxpool2d_backward: Callable[..., Any]
    maxpool2d_forward: Callable[..., Any]
    multiclass_hinge: Callable[..., Any]
    relu_backward: Callable[..., Any]
    relu_forward: Callable[..., Any]
    sgd_update: Callable[..., Any]
    sgd_update_many: Callable[..., Any]
    sigmoid_backward: Callable[..., Any]
    sigmoid_forward: Callable[..., Any]
    softmax: Callable[..., Any]
    softmax_cross_entropy: Callable[..., Any]
    tanh_backward: Callable[..., Any]
    tanh_forward: Callable[..., Any]


def kernels_of(m: ModuleType) -> Kernels:
    """The kernels of backend module ``m``, field by field."""
    return Kernels(
        adam_update=m.adam_update,
        adam_update_many=m.adam_update_many,
        affine_warp=m.affine_warp,
        avgpool2d_backward=m.avgpool2d_backward,
        avgpool2d_forward=m.avgpool2d_forward,
        batchnorm_backward=m.batchnorm_backward,
        batchnorm_forward=m.batchnorm_forward,
        batchnorm_stats=m.batchnorm_stats,
        binary_cross_entropy_with_logits=m.binary_cross_entropy_with_logits,
        col2im=m.col2im,
        conv2d_algorithm=m.conv2d_algorithm,
        conv2d_backward=m.conv2d_backward,
        conv2d_forward=m.conv2d_forward,
        conv2d_relu_batchnorm_backward=m.conv2d_relu_batchnorm_backward,
        conv2d_relu_batchnorm_forward=m.conv2d_relu_batchnorm_forward,
        conv2d_relu_maxpool_backward=m.conv2d_relu_maxpool_backward,
        conv2d_relu_maxpool_forward=m.conv2d_relu_maxpool_forward,
        dense_backward=m.dense_backward,
        dense_forward=m.dense_forward,
        dropout_backward=m.dropout_backward,
        dropout_forward=m.dropout_forward,
        global_avgpool2d_backward=m.global_avgpool2d_backward,
        global_avgpool2d_forward=m.global_avgpool2d_forward,
        im2col=m.im2col,
        maxpool2d_backward=m.maxpool2d_backward,
        maxpool2d_forward=m.maxpool2d_forward,
        multiclass_hinge=m.multiclass_hinge,
        relu_backward=m.relu_backward,
        relu_forward=m.relu_forward,
        sgd_update=m.sgd_update,
        sgd_update_many=m.sgd_update_many,
        sigmoid_backward=m.sigmoid_backward,
        sigmoid_forward=m.sigmoid_forward,
        softmax=m.softmax,
        softmax_cross_entropy=m.softmax_cross_entropy,
        tanh_backward=m.tanh_backward,
        tanh_forward=m.tanh_forward,
    )


BACKENDS: dict[str, Kernels] = {"numba": kernels_of(_numba), "reference": kernels_of(_reference)}
_current = "numba"


def set_backend(name: str) -> None:
    """Switches every layer, loss and optimizer to the ``numba`` or ``reference`` kernels."""
    global _current
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    _current = name


def get_backend() -> str:
    return _current


@contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Runs a block on another backend, then restores the previous one."""
    previous = _current
    set_backend(name)
    try:
        yield
    finally:
        set_backend(previous)


def kernels() -> Kernels:
    """The current backend's kernels (see :func:`set_backend`)."""
    return BACKENDS[_current]


SMALL_CALL_FLOPS = 4_000_000
"""Work below which a model call runs on one Numba thread. On 2 cores the MNIST CNN on one
image (1.7 MFLOP) is as fast on one thread as on two (86 and 89 us, `fastnn bench`), but every
parallel region waits for all its threads: with one core busy elsewhere, that call took 21 ms
on two threads. From 8 images (14 MFLOP) two threads pay (177 against 273 us)."""


@contextmanager
def threads_for(flops: int) -> Iterator[None]:
    """Runs a block of ``flops`` of work on one Numba thread if that is below
    :data:`SMALL_CALL_FLOPS`, else on the threads it has. The kernels give the same bits on any
    number of threads (each sample's loop is the same, and sums over the batch go in batch
    order), so the choice changes the time only. Numba's thread count is per calling thread:
    another thread's training is not affected."""
    threads = numba.get_num_threads()
    if flops >= SMALL_CALL_FLOPS or threads == 1 or _current != "numba":
        yield
        return
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(threads)


set_backend(os.environ.get("FASTNN_BACKEND", "numba"))


def image_data_format() -> str:
    """``"channels_first"``: fastnn's layers take images as (N, C, H, W), as Keras's
    ``backend.image_data_format()`` would say. A model given (N, H, W, C) images converts them
    at its edge (``Sequential(data_format="channels_last")``, or with a note)."""
    return "channels_first"
