"""Bad input raises a ValueError that names the argument and the shapes, on both backends."""

import numpy as np
import pytest

from fastnn.kernels import numba as nk
from fastnn.kernels import reference as rk

KERNELS = [pytest.param(rk, id="reference"), pytest.param(nk, id="numba")]
x4 = np.zeros((2, 3, 8, 8), np.float32)
w4 = np.zeros((4, 3, 3, 3), np.float32)
b1 = np.zeros(4, np.float32)


@pytest.mark.parametrize("k", KERNELS)
@pytest.mark.parametrize("call,match", [
    (lambda k: k.conv2d_forward(x4[0], w4, b1), r"x must have 4 dimensions, got shape \(3, 8, 8\)"),
    (lambda k: k.conv2d_forward(x4, w4[:, :2], b1), r"x has 3 channels .* w expects 2"),
    (lambda k: k.conv2d_forward(x4, w4, b1[:3]), r"b shape \(3,\) does not match w's 4"),
    (lambda k: k.conv2d_forward(x4[:, :, :2, :2], w4, b1),
     r"kernel height 3 is larger than the padded input \(2 \+ 2\*0 = 2\)"),
    (lambda k: k.conv2d_forward(x4, w4, b1, stride=0), "stride must be >= 1, got 0"),
    (lambda k: k.conv2d_forward(x4, w4, b1, padding=-1), "padding must be >= 0, got -1"),
    (lambda k: k.conv2d_forward(x4, w4, b1, stride=1.5), "stride must be an integer"),
    (lambda k: k.conv2d_forward(x4.astype(np.float64), w4, b1), "share one dtype"),
    (lambda k: k.conv2d_forward(x4.astype(np.int32), w4, b1), "x must be float32 or float64"),
    (lambda k: k.conv2d_backward(np.zeros((2, 4, 5, 5), np.float32), x4, w4),
     r"dy shape \(2, 4, 5, 5\) should be \(2, 4, 6, 6\)"),
    (lambda k: k.im2col(x4, 9, 3), "kernel height 9 is larger"),
    (lambda k: k.col2im(np.zeros((2, 27, 5)), x4.shape, 3, 3), r"cols shape \(2, 27, 5\)"),
    (lambda k: k.maxpool2d_forward(x4, 2, 0), "stride must be >= 1, got 0"),
    (lambda k: k.maxpool2d_forward(x4, 9), "pool size height 9 is larger"),
    (lambda k: k.maxpool2d_backward(np.zeros((2, 3, 4, 4), np.float32),
                                    np.zeros((2, 3, 4, 4), np.int32), x4.shape), "argmax must be"),
    (lambda k: k.maxpool2d_backward(np.zeros((2, 3, 4, 4), np.float32),
                                    np.full((2, 3, 4, 4), 64), x4.shape), "outside the 8x8"),
    (lambda k: k.conv2d_relu_maxpool_forward(x4, w4, b1, pool_size=7),
     "pool size height 7 is larger"),
    (lambda k: k.conv2d_relu_maxpool_forward(x4, w4, b1, pool_stride=0),
     "pool_stride must be >= 1, got 0"),
    (lambda k: k.conv2d_relu_maxpool_backward(np.zeros((2, 4, 3, 3), np.float32),
                                              np.zeros((2, 4, 3, 2), np.float32),
                                              np.zeros((2, 4, 3, 3), np.int64), x4, w4),
     r"y shape \(2, 4, 3, 2\) does not match dy shape \(2, 4, 3, 3\)"),
    (lambda k: k.conv2d_relu_maxpool_backward(np.zeros((2, 4, 3, 3), np.float32),
                                              np.zeros((2, 4, 3, 3), np.float32),
                                              np.full((2, 4, 3, 3), 36), x4, w4),
     "outside the 6x6"),
    (lambda k: k.dense_forward(np.zeros((2, 5)), np.zeros((3, 4)), np.zeros(3)),
     r"x has 5 features \(shape \(2, 5\)\) but w expects 4"),
    (lambda k: k.softmax_cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0])),
     "labels must be integers"),
    (lambda k: k.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 3])),
     r"labels must be in \[0, 2\] for 3 classes, got 3"),
    (lambda k: k.softmax_cross_entropy(np.zeros((2, 3)), np.array([-1, 0])), "got -1"),
    (lambda k: k.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 1, 2])),
     r"labels shape \(3,\) does not match logits shape \(2, 3\)"),
    (lambda k: k.binary_cross_entropy_with_logits(np.zeros((2, 1)), np.zeros(2)),
     r"logits shape \(2, 1\) does not match targets shape \(2,\)"),
    (lambda k: k.relu_backward(np.zeros(3), np.zeros(4)), r"dy shape \(3,\) does not match"),
    (lambda k: k.adam_update(np.zeros(3), np.zeros(3), np.zeros(2), np.zeros(3), 1),
     r"m shape \(2,\) does not match param shape \(3,\)"),
    (lambda k: k.adam_update(np.zeros(3), np.zeros(3), np.zeros(3), np.zeros(3), 0),
     "t must be >= 1"),
    (lambda k: k.adam_update_many([np.zeros(3)], [np.zeros(3), np.zeros(2)], [np.zeros(3)],
                                  [np.zeros(3)], 1), "grads has 2 arrays but params has 1"),
    (lambda k: k.adam_update_many([np.zeros(3), np.zeros(2)], [np.zeros(3), np.zeros(3)],
                                  [np.zeros(3)] * 2, [np.zeros(3)] * 2, 1),
     r"params\[1\]: grad shape \(3,\) does not match param shape \(2,\)"),
    (lambda k: k.sgd_update_many([np.zeros(3), np.zeros(3, np.float32)],
                                 [np.zeros(3), np.zeros(3, np.float32)], None, 0.1),
     "params must share one float dtype, got float32, float64"),
    (lambda k: k.sgd_update_many([np.zeros(3)], [np.zeros(3)], None, 0.1, momentum=0.9),
     "needs velocity arrays"),
    (lambda k: k.sgd_update(np.zeros(3), np.zeros(3), None, 0.1, momentum=0.9),
     "needs a velocity array"),
    (lambda k: k.sgd_update(np.zeros(3), np.zeros(3), None, float("nan")), "lr must be a finite"),
])
def test_bad_input_raises_a_named_value_error(k, call, match):
    with pytest.raises(ValueError, match=match):
        call(k)
