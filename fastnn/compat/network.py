"""``CNN.network``: the per-example ``conv``, the batched ``adamGD`` and ``train``.

``adamGD`` runs the whole batch through fastnn's batched kernels at once (float64) instead of
calling ``conv`` once per example; the summed gradients are the same.
"""

import pickle

import numpy as np

from fastnn._io import atomic_open as _atomic_open

# Like the reference's network module, this one re-exports forward, backward and utils, so
# that `from fastnn.compat.network import *` gives a script every function it had.
from fastnn.compat import _kernels
from fastnn.compat.backward import *
from fastnn.compat.backward import _assign
from fastnn.compat.forward import *
from fastnn.compat.utils import *
from fastnn.compat.utils import _data_path, _forward, _mask, _relu
from fastnn.kernels import numba as _k
from fastnn.progress import Progress as _Progress


def conv(image, label, params, conv_s, pool_f, pool_s):
    """Forward and backward pass on one image; label one-hot (num_classes, 1) -> (grads, loss)."""
    [f1, f2, w3, w4, b1, b2, b3, b4] = params
    conv1, conv2, pooled, fc, z, probs = _forward(image, params, conv_s, pool_f, pool_s)
    loss = categoricalCrossEntropy(probs, label)

    dout = probs - label
    dw4 = dout.dot(z.T)
    db4 = np.sum(dout, axis=1).reshape(b4.shape)
    dz = w4.T.dot(dout)
    dz[z <= 0] = 0
    dw3 = dz.dot(fc.T)
    db3 = np.sum(dz, axis=1).reshape(b3.shape)
    dfc = w3.T.dot(dz)
    dpool = dfc.reshape(pooled.shape)
    dconv2 = maxpoolBackward(dpool, conv2, pool_f, pool_s)
    dconv2[conv2 <= 0] = 0
    dconv1, df2, db2 = convolutionBackward(dconv2, conv1, f2, conv_s)
    dconv1[conv1 <= 0] = 0
    _, df1, db1 = convolutionBackward(dconv1, image, f1, conv_s)
    return [df1, df2, dw3, dw4, db1, db2, db3, db4], loss


def _batch_forward(X, params, conv_s=1, pool_f=2, pool_s=2):
    """The network on a batch X (B, n_c, dim, dim) float64: every activation, for backward."""
    [f1, f2, w3, w4, b1, b2, b3, b4] = params
    conv1 = _relu(_k.conv2d_forward(X, f1, b1.reshape(-1), conv_s))
    conv2 = _relu(_k.conv2d_forward(conv1, f2, b2.reshape(-1), conv_s))
    pooled, _ = _k.maxpool2d_forward(conv2, pool_f, pool_s)
    fc = pooled.reshape(len(X), -1)
    z = _relu(_k.dense_forward(fc, w3, b3.reshape(-1)))
    out = _k.dense_forward(z, w4, b4.reshape(-1))
    probs = _k.softmax(out)
    return conv1, conv2, pooled, fc, z, probs


def _batch_grads(X, labels, params, conv_s=1, pool_f=2, pool_s=2):
    """Gradients summed over the batch, as adamGD's loop over ``conv`` adds them up; and the
    per-example losses."""
    [f1, f2, w3, w4, b1, b2, b3, b4] = params
    conv1, conv2, pooled, fc, z, probs = _batch_forward(X, params, conv_s, pool_f, pool_s)
    onehot = np.eye(probs.shape[1])[labels]
    losses = -np.sum(onehot * np.log(probs), axis=1)
    dz, dw4, db4 = _k.dense_backward(probs - onehot, z, w4)
    _mask(dz, z)
    dfc, dw3, db3 = _k.dense_backward(dz, fc, w3)
    dconv2 = _assign(dfc.reshape(pooled.shape), conv2, pool_f, pool_s)
    _mask(dconv2, conv2)
    dconv1, df2, db2 = _k.conv2d_backward(dconv2, conv1, f2, conv_s)
    _mask(dconv1, conv1)
    _, df1, db1 = _k.conv2d_backward(dconv1, X, f1, conv_s, input_grad=False)
    grads = [df1, df2, dw3, dw4, db1.reshape(b1.shape), db2.reshape(b2.shape),
             db3.reshape(b3.shape), db4.reshape(b4.shape)]
    return grads, losses


def adamGD(batch, num_classes, lr, dim, n_c, beta1, beta2, params, cost):
    """One step on a batch (B, n_c*dim*dim + 1) of pixels and a label in the last column.

    Updates the arrays in ``params`` in place with fresh Adam moments (the reference's quirk),
    appends the batch's mean loss to ``cost`` and returns (params, cost).
    """
    batch = np.asarray(batch)
    batch_size = len(batch)
    X = batch[:, 0:-1].astype(np.float64).reshape(batch_size, n_c, dim, dim)
    Y = batch[:, -1]
    labels = np.array([int(v) for v in Y], dtype=np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must be in 0..{num_classes - 1}, got {labels.min()}..."
                         f"{labels.max()}")
    grads, losses = _batch_grads(X, labels, params)
    for p, g in zip(params, grads):
        if p.flags.c_contiguous and p.dtype == np.float64:
            _kernels.restarting_adam(p, g, batch_size, lr, beta1, beta2)
        else:
            v = (1 - beta1) * g / batch_size
            s = (1 - beta2) * (g / batch_size) ** 2
            p -= lr * v / np.sqrt(s + 1e-7)
    cost_ = 0
    for loss in losses:
        cost_ = cost_ + loss
    cost.append(cost_ / batch_size)
    return params, cost


def train(num_classes=10, lr=0.01, beta1=0.95, beta2=0.99, img_dim=28, img_depth=1, f=5,
          num_filt1=8, num_filt2=8, batch_size=32, num_epochs=2, save_path="params.pkl",
          data_dir=None):
    """Trains the network on the first 50,000 MNIST training images read from the working
    directory (or data_dir); pickles [params, cost] to save_path and returns cost."""
    m = 50000
    X = extract_data(_data_path("train-images-idx3-ubyte.gz", data_dir), m, img_dim)
    y_dash = extract_labels(_data_path("train-labels-idx1-ubyte.gz", data_dir), m).reshape(m, 1)
    X -= int(np.mean(X))
    X /= int(np.std(X))
    train_data = np.hstack((X, y_dash))

    f1, f2 = (num_filt1, img_depth, f, f), (num_filt2, num_filt1, f, f)
    w3, w4 = (128, 800), (10, 128)
    f1 = initializeFilter(f1)
    f2 = initializeFilter(f2)
    w3 = initializeWeight(w3)
    w4 = initializeWeight(w4)
    b1 = np.zeros((f1.shape[0], 1))
    b2 = np.zeros((f2.shape[0], 1))
    b3 = np.zeros((w3.shape[0], 1))
    b4 = np.zeros((w4.shape[0], 1))
    params = [f1, f2, w3, w4, b1, b2, b3, b4]
    cost = []
    print("LR:" + str(lr) + ", Batch Size:" + str(batch_size))

    for _epoch in range(num_epochs):
        np.random.shuffle(train_data)
        batches = [train_data[k : k + batch_size]
                   for k in range(0, train_data.shape[0], batch_size)]
        bar = _Progress(len(batches), "Cost: ...", unit="batch")
        for batch in batches:
            params, cost = adamGD(batch, num_classes, lr, img_dim, img_depth, beta1, beta2,
                                  params, cost)
            bar.set_label(f"Cost: {cost[-1]:.2f}")
            bar.update()
        bar.close()

    _save_pickle([params, cost], save_path)
    return cost


def _save_pickle(obj, path):
    """Pickles obj to path through a temporary file, so the old file survives a crash."""
    with _atomic_open(path) as file:
        pickle.dump(obj, file)


def measure(params_path, data_dir=None, num_images=10000):
    """The reference's measuring script: accuracy and per-digit recall on the test set.

    Unpickles params_path: unpickling runs code, so use it only on files you trust.
    Returns (accuracy, recall per digit).
    """
    with open(params_path, "rb") as file:
        params, _cost = pickle.load(file)
    X = extract_data(_data_path("t10k-images-idx3-ubyte.gz", data_dir), num_images, 28)
    y = extract_labels(_data_path("t10k-labels-idx1-ubyte.gz", data_dir), num_images)
    X -= int(np.mean(X))
    X /= int(np.std(X))
    X = X.astype(np.float64).reshape(num_images, 1, 28, 28)
    pred = np.concatenate([np.argmax(_batch_forward(X[i : i + 1000], params)[-1], axis=1)
                           for i in range(0, num_images, 1000)])
    recall = [float(np.mean(pred[y == d] == d)) for d in range(10)]
    return float(np.mean(pred == y)), recall
