"""An independent, loop-based implementation of the reference API's semantics, written from
../shared/reference-api.md: the yardstick for fastnn.compat (and the loop baseline of
bench/compat_speed.py). Deliberately plain: Python loops, NumPy inside, float64.
"""

import gzip
import pickle

import numpy as np


# --- forward ------------------------------------------------------------------------------------
def convolution(image, filt, bias, s=1):
    n_f, n_c_f, f, _ = filt.shape
    n_c, in_dim, _ = image.shape
    assert n_c == n_c_f
    out_dim = int((in_dim - f) / s) + 1
    out = np.zeros((n_f, out_dim, out_dim))
    for k in range(n_f):
        for y in range(out_dim):
            for x in range(out_dim):
                window = image[:, y * s : y * s + f, x * s : x * s + f]
                out[k, y, x] = np.sum(filt[k] * window) + bias[k, 0]
    return out


def maxpool(image, f=2, s=2):
    n_c, h, w = image.shape
    oh, ow = int((h - f) / s) + 1, int((w - f) / s) + 1
    out = np.zeros((n_c, oh, ow))
    for c in range(n_c):
        for y in range(oh):
            for x in range(ow):
                out[c, y, x] = np.max(image[c, y * s : y * s + f, x * s : x * s + f])
    return out


def softmax(X):
    out = np.exp(X)
    return out / np.sum(out)


def categoricalCrossEntropy(probs, label):
    return -np.sum(label * np.log(probs))


# --- backward -----------------------------------------------------------------------------------
def convolutionBackward(dconv_prev, conv_in, filt, s):
    n_f, n_c, f, _ = filt.shape
    out_dim = dconv_prev.shape[1]
    dout = np.zeros(conv_in.shape)
    dfilt = np.zeros(filt.shape)
    dbias = np.zeros((n_f, 1))
    for k in range(n_f):
        for y in range(out_dim):
            for x in range(out_dim):
                window = conv_in[:, y * s : y * s + f, x * s : x * s + f]
                if window.shape[1:] != (f, f):
                    continue
                dfilt[k] += dconv_prev[k, y, x] * window
                dout[:, y * s : y * s + f, x * s : x * s + f] += dconv_prev[k, y, x] * filt[k]
        dbias[k] = np.sum(dconv_prev[k])
    return dout, dfilt, dbias


def maxpoolBackward(dpool, orig, f, s):
    n_c, h, w = orig.shape
    dout = np.zeros(orig.shape)
    for c in range(n_c):
        for y in range(int((h - f) / s) + 1):
            for x in range(int((w - f) / s) + 1):
                window = orig[c, y * s : y * s + f, x * s : x * s + f]
                a, b = nanargmax(window)
                dout[c, y * s + a, x * s + b] = dpool[c, y, x]
    return dout


# --- utils --------------------------------------------------------------------------------------
def extract_data(filename, num_images, IMAGE_WIDTH):
    with gzip.open(filename) as f:
        f.read(16)
        buf = f.read(IMAGE_WIDTH * IMAGE_WIDTH * num_images)
    data = np.frombuffer(buf, dtype=np.uint8).astype(np.float32)
    return data.reshape(num_images, IMAGE_WIDTH * IMAGE_WIDTH)


def extract_labels(filename, num_images):
    with gzip.open(filename) as f:
        f.read(8)
        buf = f.read(num_images)
    return np.frombuffer(buf, dtype=np.uint8).astype(np.int64)


def initializeFilter(size, scale=1.0):
    return np.random.normal(0, scale / np.sqrt(np.prod(size)), size)


def initializeWeight(size):
    return np.random.standard_normal(size) * 0.01


def nanargmax(arr):
    return np.unravel_index(np.nanargmax(arr), arr.shape)


def _relu(x):
    x[x <= 0] = 0
    return x


def _forward(image, params, conv_s, pool_f, pool_s):
    f1, f2, w3, w4, b1, b2, b3, b4 = params
    conv1 = _relu(convolution(image, f1, b1, conv_s))
    conv2 = _relu(convolution(conv1, f2, b2, conv_s))
    pooled = maxpool(conv2, pool_f, pool_s)
    fc = pooled.reshape((pooled.size, 1))
    z = _relu(w3.dot(fc) + b3)
    probs = softmax(w4.dot(z) + b4)
    return conv1, conv2, pooled, fc, z, probs


def predict(image, f1, f2, w3, w4, b1, b2, b3, b4, conv_s=1, pool_f=2, pool_s=2):
    probs = _forward(image, [f1, f2, w3, w4, b1, b2, b3, b4], conv_s, pool_f, pool_s)[-1]
    return np.argmax(probs), np.max(probs)


# --- network ------------------------------------------------------------------------------------
def conv(image, label, params, conv_s, pool_f, pool_s):
    f1, f2, w3, w4, b1, b2, b3, b4 = params
    conv1, conv2, pooled, fc, z, probs = _forward(image, params, conv_s, pool_f, pool_s)
    loss = categoricalCrossEntropy(probs, label)
    dout = probs - label
    dw4 = dout.dot(z.T)
    db4 = np.sum(dout, axis=1).reshape(b4.shape)
    dz = w4.T.dot(dout)
    dz[z <= 0] = 0
    dw3 = dz.dot(fc.T)
    db3 = np.sum(dz, axis=1).reshape(b3.shape)
    dpool = w3.T.dot(dz).reshape(pooled.shape)
    dconv2 = maxpoolBackward(dpool, conv2, pool_f, pool_s)
    dconv2[conv2 <= 0] = 0
    dconv1, df2, db2 = convolutionBackward(dconv2, conv1, f2, conv_s)
    dconv1[conv1 <= 0] = 0
    _, df1, db1 = convolutionBackward(dconv1, image, f1, conv_s)
    return [df1, df2, dw3, dw4, db1, db2, db3, db4], loss


def adamGD(batch, num_classes, lr, dim, n_c, beta1, beta2, params, cost):
    B = len(batch)
    X = batch[:, 0:-1].reshape(B, n_c, dim, dim)
    Y = batch[:, -1]
    sums = [np.zeros(p.shape) for p in params]
    total = 0
    for i in range(B):
        label = np.eye(num_classes)[int(Y[i])].reshape(num_classes, 1)
        grads, loss = conv(X[i], label, params, 1, 2, 2)
        for acc, g in zip(sums, grads):
            acc += g
        total += loss
    for p, g in zip(params, sums):
        v = np.zeros(p.shape)
        s = np.zeros(p.shape)
        v = beta1 * v + (1 - beta1) * g / B
        s = beta2 * s + (1 - beta2) * (g / B) ** 2
        p -= lr * v / np.sqrt(s + 1e-7)
    cost.append(total / B)
    return params, cost


def save(params, cost, path):
    with open(path, "wb") as f:
        pickle.dump([params, cost], f)
