"""The Numba kernels: the same functions and signatures as :mod:`fastnn.kernels.reference`,
one module per algorithm family (the convolution a package, :mod:`.conv`). Each public function
checks its arguments (:mod:`.._checks`) and hands plain contiguous arrays to an
``@njit(cache=True)`` body."""

from .activations import (
    dropout_backward,
    dropout_forward,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    tanh_backward,
    tanh_forward,
)
from .augment import affine_warp
from .conv import (
    conv2d_algorithm,
    conv2d_backward,
    conv2d_forward,
    conv2d_relu_batchnorm_backward,
    conv2d_relu_batchnorm_forward,
    conv2d_relu_maxpool_backward,
    conv2d_relu_maxpool_forward,
)
from .dense import dense_backward, dense_forward
from .im2col import col2im, im2col
from .losses import (
    binary_cross_entropy_with_logits,
    multiclass_hinge,
    softmax,
    softmax_cross_entropy,
)
from .norm import batchnorm_backward, batchnorm_forward, batchnorm_stats
from .optim import adam_update, adam_update_many, sgd_update, sgd_update_many
from .pool import (
    avgpool2d_backward,
    avgpool2d_forward,
    global_avgpool2d_backward,
    global_avgpool2d_forward,
    maxpool2d_backward,
    maxpool2d_forward,
)

__all__ = [
    "adam_update", "adam_update_many", "affine_warp", "avgpool2d_backward", "avgpool2d_forward",
    "batchnorm_backward", "batchnorm_forward", "batchnorm_stats",
    "binary_cross_entropy_with_logits", "col2im", "conv2d_algorithm", "conv2d_backward",
    "conv2d_forward",
    "conv2d_relu_batchnorm_backward", "conv2d_relu_batchnorm_forward",
    "conv2d_relu_maxpool_backward", "conv2d_relu_maxpool_forward", "dense_backward",
    "dropout_backward", "dropout_forward",
    "dense_forward", "global_avgpool2d_backward", "global_avgpool2d_forward", "im2col",
    "maxpool2d_backward", "maxpool2d_forward", "multiclass_hinge", "relu_backward",
    "relu_forward", "sgd_update", "sgd_update_many", "sigmoid_backward", "sigmoid_forward",
    "softmax", "softmax_cross_entropy", "tanh_backward", "tanh_forward",
]
