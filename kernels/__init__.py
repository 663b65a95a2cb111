"""fastnn's compute kernels, twice: ``reference`` (plain NumPy) and ``numba`` (JIT, fast).

Both are packages with one module per algorithm family and the same public functions with the
same signatures; :mod:`fastnn.backend` picks one of them for the layers::

    from fastnn.kernels import numba as nk, reference as rk

=============  ===============================================================================
module         kernels
=============  ===============================================================================
dense          dense_forward, dense_backward
im2col         im2col, col2im
conv           conv2d_forward/backward, and the fused conv2d_relu_maxpool_* and
               conv2d_relu_batchnorm_*; numba's is a package that picks one of four
               algorithms per layer shape (direct, gemm, winograd, im2col)
pool           max-pool (with argmax), average pool, global average pool
norm           batchnorm_stats, batchnorm_forward, batchnorm_backward
activations    relu, sigmoid, tanh (forward and backward)
losses         softmax, softmax_cross_entropy, binary_cross_entropy_with_logits,
               multiclass_hinge
optim          sgd_update, adam_update and their ``_many`` forms (one call per step)
augment        affine_warp (bilinear, edge or constant fill), for data augmentation
=============  ===============================================================================

``numba.conv`` holds one module per convolution algorithm, the "wide" layout the stride-1 ones
share (``numba.conv.wide``: epilogues, prologues and the driver), and the table and rule that
choose among them. ``geometry`` computes output sizes and padding for all; ``_checks`` holds
each kernel's argument checks for both backends, built from the validators in ``_validate``
(``_augment`` holds the fill modes and their check); ``vectorized`` is a NumPy im2col
baseline for benchmarks, not a backend.
"""

from .numba import __all__ as KERNELS  # noqa: N812  (the functions every backend provides)

__all__ = ["KERNELS"]
