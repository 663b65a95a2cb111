"""``CNN.forward`` on fastnn's kernels: one image at a time, channel-first, float64."""

import numpy as np

from fastnn.kernels import numba as _k


def convolution(image, filt, bias, s=1):
    """image (n_c, in_dim, in_dim), filt (n_f, n_c, f, f), bias (n_f, 1) -> (n_f, out, out)."""
    (n_f, n_c_f, f, _) = filt.shape
    n_c = image.shape[0]
    assert n_c == n_c_f, "Dimensions of filter must match dimensions of input image"
    x = np.asarray(image, dtype=np.float64)[None]
    w = np.asarray(filt, dtype=np.float64)
    b = np.asarray(bias, dtype=np.float64).reshape(n_f)
    return _k.conv2d_forward(x, w, b, int(s))[0]


def maxpool(image, f=2, s=2):
    """image (n_c, h, w) -> (n_c, (h-f)//s+1, (w-f)//s+1), the max of each f x f window."""
    x = np.asarray(image, dtype=np.float64)[None]
    return _k.maxpool2d_forward(x, int(f), int(s))[0][0]


def softmax(X):
    """exp(X) / sum(exp(X)) over the whole array, computed stably (same values where the
    reference is finite; finite where it overflows)."""
    X = np.asarray(X, dtype=np.float64)
    e = np.exp(X - np.max(X))
    return e / np.sum(e)


def categoricalCrossEntropy(probs, label):
    """-sum(label * log(probs))."""
    return -np.sum(label * np.log(probs))
