"""The affine warp behind fastnn.Augment: both backends, exact special cases, bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kernel_cases import BACKENDS, DTYPES

from fastnn.augment import Augment, transform_matrices
from fastnn.backend import use_backend
from fastnn.kernels import numba as nk
from fastnn.kernels import reference as rk

FILLS = ["nearest", "constant"]


def backend_of(k) -> str:
    """The backend name of kernel module k, for the halves that go through fastnn.Augment."""
    return {id(nk): "numba", id(rk): "reference"}[id(k)]


@pytest.mark.parametrize("fill", FILLS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(32, 1, 28, 28), (3, 3, 7, 11), (2, 2, 1, 1), (1, 1, 1, 5),
                                   (0, 1, 4, 4)])
def test_numba_matches_the_reference(shape, dtype, fill):
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    theta = Augment(rotation=45, shift=0.3, shear=0.5, zoom=0.5).matrices(
        shape[0], *shape[2:], np.random.default_rng(1))
    want = rk.affine_warp(x, theta, fill, 0.25)
    got = nk.affine_warp(x, theta, fill, 0.25)
    assert got.dtype == want.dtype == np.dtype(dtype) and got.shape == want.shape
    np.testing.assert_array_equal(got, want)  # the same operations in the same order


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 3), c=st.integers(1, 3), h=st.integers(1, 9), w=st.integers(1, 9),
       scale=st.sampled_from([1.0, 10.0, 1e6, 1e12]), fill=st.sampled_from(FILLS),
       seed=st.integers(0, 2**32 - 1))
def test_any_matrix_gives_the_same_on_both_backends(n, c, h, w, scale, fill, seed):
    """Matrices far outside the image included: positions are clamped, never overflow."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w))
    theta = np.clip(rng.standard_normal((n, 2, 3)) * scale, -1e12, 1e12)
    want = rk.affine_warp(x, theta, fill, -1.0)
    np.testing.assert_array_equal(nk.affine_warp(x, theta, fill, -1.0), want)
    assert np.all(np.isfinite(want))
    assert want.min() >= min(x.min(), -1.0) - 1e-12 and want.max() <= max(x.max(), -1.0) + 1e-12


@pytest.mark.parametrize("fill", FILLS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", BACKENDS)
def test_identity_gives_the_input_back_exactly(k, dtype, fill):
    x = np.random.default_rng(2).standard_normal((4, 3, 9, 7)).astype(dtype)
    x[0, 0, 0, 1] = np.inf  # a weight of 0 never reads a neighbour: no 0 * inf = NaN
    y = k.affine_warp(x, transform_matrices(9, 7, rotation=np.zeros(4)), fill)
    np.testing.assert_array_equal(y, x)
    # and through Augment with every range 0 (the random draws are all +-0), on k's backend
    with use_backend(backend_of(k)):
        y = Augment(rotation=0, shift=0, shear=0, zoom=0, flip=False, fill=fill)(x)
    np.testing.assert_array_equal(y, x)


@pytest.mark.parametrize("k", BACKENDS)
def test_a_flip_is_a_flip(k):
    x = np.random.default_rng(3).standard_normal((64, 2, 5, 6)).astype(np.float32)
    y = k.affine_warp(x, transform_matrices(5, 6, flip=np.ones(64)))
    np.testing.assert_array_equal(y, x[..., ::-1])
    with_flip = Augment(rotation=0, shift=0, shear=0, zoom=0, flip=True, seed=0)
    with use_backend(backend_of(k)):  # random flips per image, on k's backend
        y = with_flip(x)
    flipped = [bool(np.array_equal(y[i], x[i, :, :, ::-1])) for i in range(64)]
    kept = [bool(np.array_equal(y[i], x[i])) for i in range(64)]
    assert all(f != s for f, s in zip(flipped, kept))  # each image is one or the other
    assert 16 < sum(flipped) < 48  # about half


@pytest.mark.parametrize("k", BACKENDS)
def test_a_90_degree_rotation_is_rot90(k):
    """Counter-clockwise, as np.rot90; cos(90 degrees) is 6e-17 in floating point, so the
    pixels match to rounding away from the borders (and, with the edge repeated, on them)."""
    x = np.random.default_rng(4).random((3, 2, 12, 12))
    y = k.affine_warp(x, transform_matrices(12, 12, rotation=np.full(3, 90.0)))
    want = np.rot90(x, axes=(2, 3))
    np.testing.assert_allclose(y[:, :, 1:-1, 1:-1], want[:, :, 1:-1, 1:-1], atol=1e-12)
    np.testing.assert_allclose(y, want, atol=1e-12)
    y = k.affine_warp(x, transform_matrices(12, 12, rotation=np.full(3, -90.0)))
    np.testing.assert_allclose(y, np.rot90(x, -1, axes=(2, 3)), atol=1e-12)


@pytest.mark.parametrize("k", BACKENDS)
def test_shifts_move_the_content_and_fill_the_edge(k):
    x = np.random.default_rng(5).random((1, 1, 6, 8))
    y = k.affine_warp(x, transform_matrices(6, 8, shift_y=2.0, shift_x=-3.0), "nearest")
    np.testing.assert_array_equal(y[0, 0, 2:, :5], x[0, 0, :4, 3:])  # down 2, left 3
    np.testing.assert_array_equal(y[0, 0, :2, :5], np.broadcast_to(x[0, 0, 0, 3:], (2, 5)))
    y = k.affine_warp(x, transform_matrices(6, 8, shift_y=2.0, shift_x=-3.0), "constant", 7.0)
    np.testing.assert_array_equal(y[0, 0, 2:, :5], x[0, 0, :4, 3:])
    assert np.all(y[0, 0, :2] == 7) and np.all(y[0, 0, :, 5:] == 7)


@pytest.mark.parametrize("k", BACKENDS)
def test_half_pixel_shift_interpolates(k):
    x = np.arange(4.0).reshape(1, 1, 1, 4)
    y = k.affine_warp(x, transform_matrices(1, 4, shift_x=-0.5))
    np.testing.assert_array_equal(y[0, 0, 0], [0.5, 1.5, 2.5, 3.0])  # the last repeats the edge


@pytest.mark.parametrize("k", BACKENDS)
@pytest.mark.parametrize("args,match", [
    ((np.zeros((2, 4, 4), np.float32), np.zeros((2, 2, 3))), "x must have 4 dimensions"),
    ((np.zeros((2, 1, 4, 4), np.int64), np.zeros((2, 2, 3))), "x must be float32 or float64"),
    ((np.zeros((2, 1, 4, 4)), np.zeros((3, 2, 3))), r"theta must have shape \(2, 2, 3\)"),
    ((np.zeros((2, 1, 4, 4)), np.zeros((2, 3, 3))), r"theta must have shape \(2, 2, 3\)"),
    ((np.zeros((1, 1, 4, 4)), np.full((1, 2, 3), np.nan)), "theta entries must be finite"),
    ((np.zeros((1, 1, 4, 4)), np.full((1, 2, 3), 1e13)), "at most 1e12 in size, got 1e"),
    ((np.zeros((1, 1, 4, 4)), [[[1, 0, 0], [0, 1, 0]]]), "theta must be a NumPy array"),
    ((np.zeros((1, 1, 4, 4)), np.zeros((1, 2, 3)), "wrap"), "fill must be one of nearest, "
                                                             "constant, got 'wrap'"),
    ((np.zeros((1, 1, 4, 4)), np.zeros((1, 2, 3)), "constant", np.nan), "cval must be a finite"),
])
def test_bad_arguments_are_named(k, args, match):
    with pytest.raises(ValueError, match=match):
        k.affine_warp(*args)
