"""``CNN.utils``: MNIST extraction, initializers, and single-image prediction."""

import gzip
import os

import numpy as np

from fastnn.compat._kernels import zero_where_not_positive
from fastnn.compat.forward import convolution, maxpool, softmax


def _read(filename, header, count, what):
    with gzip.open(filename) as bytestream:
        bytestream.read(header)
        buf = bytestream.read(count)
    if len(buf) < count:
        raise ValueError(f"{filename}: holds {len(buf):,} bytes of {what} after its "
                         f"{header}-byte header, {count:,} were asked for")
    return buf


def extract_data(filename, num_images, IMAGE_WIDTH):
    """The first num_images images of a gzip IDX file as float32 (num_images, IMAGE_WIDTH**2)."""
    print("Extracting", filename)
    buf = _read(filename, 16, IMAGE_WIDTH * IMAGE_WIDTH * num_images, "images")
    data = np.frombuffer(buf, dtype=np.uint8).astype(np.float32)
    return data.reshape(num_images, IMAGE_WIDTH * IMAGE_WIDTH)


def extract_labels(filename, num_images):
    """The first num_images labels of a gzip IDX file as int64 (num_images,)."""
    print("Extracting", filename)
    buf = _read(filename, 8, num_images, "labels")
    return np.frombuffer(buf, dtype=np.uint8).astype(np.int64)


def initializeFilter(size, scale=1.0):
    stddev = scale / np.sqrt(np.prod(size))
    return np.random.normal(loc=0, scale=stddev, size=size)


def initializeWeight(size):
    return np.random.standard_normal(size=size) * 0.01


def nanargmax(arr):
    idx = np.nanargmax(arr)
    return np.unravel_index(idx, arr.shape)


def _relu(x):
    """The reference's in-place ReLU, x[x <= 0] = 0 (NaN stays NaN)."""
    return _mask(x, x)


def _mask(d, x):
    """``d[x <= 0] = 0`` in place (one pass in a kernel where both are C-contiguous); d."""
    if d.flags.c_contiguous and x.flags.c_contiguous and d.shape == x.shape:
        zero_where_not_positive(d, x)
    else:
        d[x <= 0] = 0
    return d


def _forward(image, params, conv_s, pool_f, pool_s):
    """The network on one image: every activation, as conv's backward pass needs them."""
    [f1, f2, w3, w4, b1, b2, b3, b4] = params
    conv1 = _relu(convolution(image, f1, b1, conv_s))
    conv2 = _relu(convolution(conv1, f2, b2, conv_s))
    pooled = maxpool(conv2, pool_f, pool_s)
    (nf2, dim2, _) = pooled.shape
    fc = pooled.reshape((nf2 * dim2 * dim2, 1))
    z = _relu(w3.dot(fc) + b3)
    probs = softmax(w4.dot(z) + b4)
    return conv1, conv2, pooled, fc, z, probs


def predict(image, f1, f2, w3, w4, b1, b2, b3, b4, conv_s=1, pool_f=2, pool_s=2):
    """Forward pass of the network on one image (n_c, dim, dim) -> (label, probability)."""
    probs = _forward(image, [f1, f2, w3, w4, b1, b2, b3, b4], conv_s, pool_f, pool_s)[-1]
    return np.argmax(probs), np.max(probs)


def _data_path(name, data_dir=None):
    """A file from data_dir, else the working directory (where the reference looks)."""
    return os.path.join(data_dir, name) if data_dir is not None else name
