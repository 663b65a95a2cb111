"""fastnn.Augment: Keras's ImageDataGenerator settings per batch, reproducible by seed."""

import numpy as np
import pytest

import fastnn as fn


def batch(n=16, c=1, h=28, w=28, seed=0):
    return np.random.default_rng(seed).random((n, c, h, w), dtype=np.float32)


def test_defaults_are_the_keras_tutorials_settings():
    a = fn.Augment()
    assert (a.rotation, a.shift, a.shear, a.zoom, a.flip, a.fill) == (
        30.0, (0.1, 0.1), 0.2, 0.2, True, "nearest")


def test_a_seed_reproduces_the_batches():
    x = batch()
    a, b = fn.Augment(seed=7), fn.Augment(seed=7)
    first = [a(x) for _ in range(3)]
    np.testing.assert_array_equal(np.stack(first), np.stack([b(x) for _ in range(3)]))
    assert not np.array_equal(first[0], first[1])  # each batch gets new parameters
    assert not np.array_equal(first[0], fn.Augment(seed=8)(x))
    # a generator passed in decides instead of the object's own
    np.testing.assert_array_equal(fn.Augment(seed=1)(x, np.random.default_rng(3)),
                                  fn.Augment(seed=2)(x, np.random.default_rng(3)))


def test_the_backends_agree_and_dtype_and_shape_are_kept():
    x = batch(4, 3, 10, 12)
    with fn.use_backend("numba"):
        y = fn.Augment(seed=0)(x)
    with fn.use_backend("reference"):
        np.testing.assert_array_equal(y, fn.Augment(seed=0)(x))
    assert y.dtype == np.float32 and y.shape == x.shape
    for name in ("numba", "reference"):
        with fn.use_backend(name):
            assert fn.Augment(seed=0)(x.astype(np.float64)).dtype == np.float64


def test_each_setting_stays_in_its_range():
    """The drawn parameters, recovered from the matrices: the rotation angle is at most 30
    degrees, the shift at most 10% of the size, and the image content stays the same."""
    a = fn.Augment(rotation=30, shift=0, shear=0, zoom=0, flip=False)
    theta = a.matrices(500, 28, 28, np.random.default_rng(0))
    angles = np.degrees(np.arctan2(theta[:, 0, 1], theta[:, 0, 0]))
    assert angles.min() < -25 and angles.max() > 25 and np.abs(angles).max() <= 30
    a = fn.Augment(rotation=0, shift=(0.1, 0.2), shear=0, zoom=0, flip=False)
    theta = a.matrices(500, 20, 30, np.random.default_rng(0))
    assert 1.5 < np.abs(theta[:, 0, 2]).max() <= 2.0 and 5 < np.abs(theta[:, 1, 2]).max() <= 6.0
    a = fn.Augment(rotation=0, shift=0, shear=0, zoom=0.2, flip=False)
    theta = a.matrices(500, 28, 28, np.random.default_rng(0))
    assert theta[:, 0, 0].min() >= 0.8 and theta[:, 1, 1].max() <= 1.2
    assert not np.allclose(theta[:, 0, 0], theta[:, 1, 1])  # rows and columns drawn apart


def test_a_changed_setting_leaves_the_other_draws_alone():
    m1 = fn.Augment(rotation=30, shift=0, shear=0, zoom=0, flip=False).matrices(
        8, 9, 9, np.random.default_rng(0))
    m2 = fn.Augment(rotation=30, shift=0, shear=0, zoom=0, flip=True).matrices(
        8, 9, 9, np.random.default_rng(0))
    np.testing.assert_allclose(np.abs(m1[:, :, :2]), np.abs(m2[:, :, :2]))


def test_augmented_mnist_digits_still_look_like_themselves(mnist_data):
    """On real digits the defaults keep most of the ink and the picture near the original."""
    x = mnist_data[0][0][:256]
    y = fn.Augment(seed=0)(x)
    ink, ink_after = x.sum(axis=(1, 2, 3)), y.sum(axis=(1, 2, 3))
    assert 0.6 < np.median(ink_after / ink) < 1.4
    assert np.all(y >= 0) and np.all(y <= 1)


@pytest.mark.parametrize("kwargs,match", [
    (dict(rotation=-1), "rotation must be a number >= 0 and <= 180, got -1"),
    (dict(rotation=181), "rotation must be a number >= 0 and <= 180"),
    (dict(rotation="30"), "rotation must be a number"),
    (dict(shift=1.0), "shift must be a number >= 0 and < 1, got 1.0"),
    (dict(shift=(0.1,)), r"shift must be a number or a \(height, width\) pair"),
    (dict(shear=2.0), "shear must be a number >= 0 and < 1.5708"),
    (dict(zoom=1), "zoom must be a number >= 0 and < 1, got 1"),
    (dict(zoom=float("nan")), "zoom must be a number"),
    (dict(flip="yes"), "flip must be True or False, got 'yes'"),
    (dict(fill="wrap"), "fill must be one of nearest, constant, got 'wrap'"),
    (dict(cval=float("inf")), "cval must be a finite number"),
    (dict(seed=1.5), "seed must be an integer or None, got 1.5"),
])
def test_bad_settings_are_named(kwargs, match):
    with pytest.raises(ValueError, match=f"Augment {match}"):
        fn.Augment(**kwargs)


def test_bad_batches_are_named():
    with pytest.raises(ValueError, match=r"needs a batch of images \(N, C, H, W\), got \(4, 784\)"):
        fn.Augment()(np.zeros((4, 784), np.float32))
    with pytest.raises(ValueError, match="rng must be a numpy.random.Generator, got int"):
        fn.Augment()(batch(), 3)
    with pytest.raises(ValueError, match="x must be float32 or float64, got dtype uint8"):
        fn.Augment()(np.zeros((1, 1, 4, 4), np.uint8))
