"""fastnn's compute kernels, twice: ``reference`` (plain NumPy) and ``numba`` (JIT, fast).

Both modules have the same functions with the same signatures; :mod:`fastnn.backend` picks
one of them for the layers. Import the modules explicitly::

    from fastnn.kernels import numba as nk, reference as rk
"""

KERNELS = (
    "dense_forward", "dense_backward", "im2col", "col2im", "conv2d_forward", "conv2d_backward",
    "maxpool2d_forward", "maxpool2d_backward", "conv2d_relu_maxpool_forward",
    "conv2d_relu_maxpool_backward", "relu_forward", "relu_backward",
    "sigmoid_forward", "sigmoid_backward", "tanh_forward", "tanh_backward", "softmax",
    "softmax_cross_entropy", "binary_cross_entropy_with_logits", "multiclass_hinge",
    "sgd_update", "adam_update", "sgd_update_many", "adam_update_many",
)
"""The functions every kernel module provides."""
