"""The convolution algorithms of the Numba backend (direct, winograd, gemm, im2col): each one
forced on shapes of every kind against the reference, and the rule that picks one per layer
shape."""

import numpy as np
import pytest
from kernel_cases import CONV_CASES, DTYPES, close, conv_cases, conv_inputs

import fastnn as fn
from fastnn.kernels import numba as nk
from fastnn.kernels import reference as rk
from fastnn.kernels.geometry import out_size

# random stride-1 geometries (odd sizes, padding 0-2, batch 1-3), and wide layers whose batch
# is larger than the thread count, with channel counts on both sides of the switch point
STRIDE1 = [case for case in CONV_CASES + conv_cases(5, 40) if case[7] == 1][:20]
WIDE = [(5, 32, 64, 9, 7, 3, 3, 1, 1), (3, 64, 33, 5, 6, 3, 3, 1, 2), (1, 48, 40, 8, 8, 3, 3, 1, 0),
        (4, 31, 66, 11, 10, 5, 3, 1, 1)]
FORCED = [("gemm", "gemm"), ("im2col", "im2col"), ("direct", "gemm"), ("gemm", "direct")]
# Winograd F(4x4, 3x3): 3x3 kernels only. Output sizes that are not multiples of 4 end in a
# part tile (its edges); 1x1, 1xN and 4x4 outputs are a single tile; batches of small images
# span several chunks of samples (winograd.CHUNK_TILES), the last one partial; wide layers on
# both sides of the switch point (F*C = 256).
WINOGRAD = [case for case in STRIDE1 + conv_cases(7, 80) if case[5:8] == (3, 3, 1)][:12] + [
    (2, 3, 4, 7, 9, 3, 3, 1, 0), (1, 2, 3, 3, 3, 3, 3, 1, 0), (2, 2, 3, 3, 8, 3, 3, 1, 0),
    (1, 4, 5, 6, 6, 3, 3, 1, 0), (3, 5, 4, 5, 6, 3, 3, 1, 2), (1, 16, 32, 16, 16, 3, 3, 1, 1),
    (2, 3, 2, 10, 11, 3, 3, 1, 0), (2, 3, 2, 9, 13, 3, 3, 1, 1),
    (40, 3, 5, 6, 5, 3, 3, 1, 1), (9, 33, 17, 8, 8, 3, 3, 1, 1), (2, 32, 15, 11, 13, 3, 3, 1, 1),
    (5, 32, 64, 9, 7, 3, 3, 1, 1), (3, 64, 33, 5, 6, 3, 3, 1, 2)]
WINOGRAD_FORCED = [("winograd", "winograd"), ("winograd", "gemm"), ("direct", "winograd")]
TOL32 = dict(rtol=1e-3, atol=1e-3)


def _tol(dtype):
    return TOL32 if dtype == np.float32 else {}


def _forced_matches_reference(case, dtype, algorithm):
    p = case[8]
    x, w, b = conv_inputs(case, dtype, 21)
    w /= np.sqrt(w[0].size)
    y = rk.conv2d_forward(x, w, b, 1, p, relu=True)
    close(nk.conv2d_forward(x, w, b, 1, p, relu=True, algorithm=algorithm), y, dtype,
          **_tol(dtype))
    dy = np.random.default_rng(21).standard_normal(y.shape).astype(dtype)
    want = rk.conv2d_backward(dy, x, w, 1, p, relu_output=y)
    got = nk.conv2d_backward(dy, x, w, 1, p, relu_output=y, algorithm=algorithm)
    for a, ref in zip(got, want):
        close(a, ref, dtype, **_tol(dtype))
    dx, dw, _ = nk.conv2d_backward(dy, x, w, 1, p, input_grad=False, relu_output=y,
                                   algorithm=algorithm)
    assert dx is None
    close(dw, want[1], dtype, **_tol(dtype))


@pytest.mark.parametrize("algorithm", FORCED)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", STRIDE1 + WIDE)
def test_forced_algorithm_matches_reference(case, dtype, algorithm):
    _forced_matches_reference(case, dtype, algorithm)


@pytest.mark.parametrize("algorithm", WINOGRAD_FORCED)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", WINOGRAD)
def test_winograd_matches_reference(case, dtype, algorithm):
    _forced_matches_reference(case, dtype, algorithm)


def test_winograd_float32_error_is_that_of_direct():
    """Winograd's float32 error against the float64 reference, on a SimpleVGGNet layer, stays
    within a few times direct convolution's (F(4x4, 3x3)'s transforms multiply by up to 8 and
    divide by 24; measured 4.5e-6 against direct's 1.0e-6, of the largest output)."""
    x, w, b = conv_inputs((4, 64, 64, 16, 16, 3, 3, 1, 1), np.float64, 25)
    w /= np.sqrt(w[0].size)
    y = rk.conv2d_forward(x, w, b, 1, 1)
    dy = np.random.default_rng(25).standard_normal(y.shape)
    want = rk.conv2d_backward(dy, x, w, 1, 1)
    x32, w32, b32, dy32 = (a.astype(np.float32) for a in (x, w, b, dy))
    errors = {}
    for alg in ("direct", "winograd"):
        got = (nk.conv2d_forward(x32, w32, b32, 1, 1, algorithm=(alg, alg)),
               *nk.conv2d_backward(dy32, x32, w32, 1, 1, algorithm=(alg, alg))[:2])
        errors[alg] = [np.abs(g - r).max() / np.abs(r).max() for g, r in zip(got, (y, *want))]
    assert max(errors["direct"]) < 2e-6, errors
    assert max(errors["winograd"]) < 1e-5, errors


def _pooled(cases):
    return [c for c in cases if min(out_size(c[3], c[5], 1, c[8]),
                                     out_size(c[4], c[6], 1, c[8])) >= 2][:12]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case,alg", [(c, "gemm") for c in _pooled(STRIDE1 + WIDE)]
                         + [(c, "winograd") for c in _pooled(WINOGRAD[::-1])])
def test_fused_pool_and_batchnorm_match_reference(case, dtype, alg):
    p, f = case[8], case[2]
    x, w, b = conv_inputs(case, dtype, 22)
    w /= np.sqrt(w[0].size)
    gemm = (alg, alg)
    y, arg = rk.conv2d_relu_maxpool_forward(x, w, b, 1, p, 2, 1)
    y2, arg2 = nk.conv2d_relu_maxpool_forward(x, w, b, 1, p, 2, 1, algorithm=gemm)
    close(y2, y, dtype, **_tol(dtype))
    np.testing.assert_array_equal(arg2[y > 1e-3], arg[y > 1e-3])
    dy = np.random.default_rng(22).standard_normal(y.shape).astype(dtype)
    for a, ref in zip(nk.conv2d_relu_maxpool_backward(dy, y, arg, x, w, 1, p, algorithm=gemm),
                      rk.conv2d_relu_maxpool_backward(dy, y, arg, x, w, 1, p)):
        close(a, ref, dtype, **_tol(dtype))
    if case[0] * out_size(case[3], case[5], 1, p) * out_size(case[4], case[6], 1, p) < 2:
        return
    rng = np.random.default_rng(23)
    gamma, beta = (rng.random(f) + 0.5).astype(dtype), rng.standard_normal(f).astype(dtype)
    want = rk.conv2d_relu_batchnorm_forward(x, w, b, gamma, beta, 1, p, 1e-3)
    got = nk.conv2d_relu_batchnorm_forward(x, w, b, gamma, beta, 1, p, 1e-3, algorithm=gemm)
    for a, ref in zip(got, want):
        close(a, ref, dtype, rtol=3e-3 if dtype == np.float32 else 1e-9,
              atol=3e-3 if dtype == np.float32 else 1e-9)
    out, yb, mean, var = want
    dout = rng.standard_normal(out.shape).astype(dtype)
    for a, ref in zip(nk.conv2d_relu_batchnorm_backward(dout, yb, x, w, gamma, mean, var, 1, p,
                                                        1e-3, algorithm=gemm),
                      rk.conv2d_relu_batchnorm_backward(dout, yb, x, w, gamma, mean, var, 1, p,
                                                        1e-3)):
        close(a, ref, dtype, rtol=3e-3 if dtype == np.float32 else 1e-8,
              atol=3e-3 if dtype == np.float32 else 1e-8)
    rm, rv = rng.standard_normal(f).astype(dtype), (rng.random(f) + 0.5).astype(dtype)
    close(nk.conv2d_relu_batchnorm_forward(x, w, b, gamma, beta, 1, p, 1e-3, rm, rv,
                                           algorithm=gemm)[0],
          rk.conv2d_relu_batchnorm_forward(x, w, b, gamma, beta, 1, p, 1e-3, rm, rv)[0], dtype,
          **_tol(dtype))


@pytest.mark.parametrize("alg", ["gemm", "winograd"])
def test_backward_against_finite_differences(alg):
    rng = np.random.default_rng(24)
    x, w, b = rng.standard_normal((3, 5, 6, 7)), rng.standard_normal((4, 5, 3, 3)), rng.random(4)
    r = rng.standard_normal((3, 4, 6, 7))

    def loss():
        return np.sum(nk.conv2d_forward(x, w, b, 1, 1, algorithm=(alg, alg)) * r)

    got = nk.conv2d_backward(r, x, w, 1, 1, algorithm=(alg, alg))
    for grad, arg in zip(got, (x, w, b)):  # the loss is linear in each: a large step is exact
        np.testing.assert_allclose(grad, fn.numeric_gradient(loss, arg, 1e-3), rtol=1e-6,
                                   atol=1e-8)


def test_gemm_leaves_blas_thread_counts_as_they_were():
    """The baseline is taken before any gemm call, at 2 threads per BLAS (not the 1 that
    single_threaded_blas sets), so a limit that leaks out of a call shows."""
    import scipy.linalg.cython_blas  # noqa: F401  (loads the BLAS that Numba's np.dot calls)
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas():
        return {i["filepath"]: i["num_threads"] for i in threadpool_info()
                if i["user_api"] == "blas"}

    x = np.ones((2, 64, 6, 6), np.float32)
    w = np.ones((64, 64, 3, 3), np.float32)
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas()
        assert before and set(before.values()) == {2}
        nk.conv2d_forward(x, w, np.zeros(64, np.float32), 1, 1, algorithm=("gemm", "gemm"))
        assert blas() == before
        nk.conv2d_backward(np.ones((2, 64, 6, 6), np.float32), x, w, 1, 1,
                           algorithm=("gemm", "gemm"))
        assert blas() == before


@pytest.mark.parametrize("x_shape,w_shape,stride,want", [
    ((1, 8, 24, 24), (8, 8, 5, 5), 1, ("direct", "direct")),      # MNIST CNN
    ((1, 3, 64, 64), (32, 3, 3, 3), 1, ("direct", "direct")),     # a first layer on RGB
    ((1, 16, 32, 32), (15, 16, 3, 3), 1, ("direct", "direct")),   # 3x3 below F*C = 256
    ((1, 16, 32, 32), (16, 16, 3, 3), 1, ("winograd", "winograd")),  # at it
    ((1, 128, 8, 8), (128, 128, 3, 3), 1, ("winograd", "winograd")),  # 8x8 = 64 pixels
    ((1, 128, 8, 7), (128, 128, 3, 3), 1, ("gemm", "gemm")),      # 56 pixels: gemm's rule
    ((1, 128, 32, 32), (64, 128, 3, 3), 1, ("winograd", "winograd")),
    ((1, 32, 32, 32), (63, 32, 5, 5), 1, ("direct", "direct")),   # 5x5 below F*C = 2048
    ((1, 32, 32, 32), (64, 32, 5, 5), 1, ("direct", "gemm")),     # at it, 28x28 output
    ((1, 32, 18, 18), (64, 32, 5, 5), 1, ("gemm", "gemm")),       # at it, 16x16 output
    ((1, 32, 19, 18), (64, 32, 5, 5), 1, ("direct", "gemm")),     # 17x16 > 256 pixels
    ((1, 128, 32, 32), (64, 128, 1, 1), 1, ("gemm", "gemm")),     # 4x the F*C
    ((1, 64, 16, 16), (128, 64, 3, 3), 2, ("im2col", "im2col")),  # stride 2
])
def test_rule_picks_by_shape(x_shape, w_shape, stride, want):
    assert nk.conv2d_algorithm(x_shape, w_shape, stride, 1 if stride == 1 else 0) == want
    assert rk.conv2d_algorithm(x_shape, w_shape, stride) == ("reference", "reference")


@pytest.mark.parametrize("k", [nk, rk])
@pytest.mark.parametrize("algorithm,match", [
    ("gemm", "pair"), (("gemm",), "pair"), (("gemm", "fast"), "backward 'fast'"),
    (("winograd3", "gemm"), "forward 'winograd3'")])
def test_bad_algorithm_is_named(k, algorithm, match):
    x, w, b = np.ones((1, 2, 5, 5)), np.ones((3, 2, 3, 3)), np.zeros(3)
    with pytest.raises(ValueError, match=match):
        k.conv2d_forward(x, w, b, algorithm=algorithm)


@pytest.mark.parametrize("k", [nk, rk])
@pytest.mark.parametrize("alg", ["direct", "gemm", "winograd"])
def test_stride_1_algorithms_need_stride_1(k, alg):
    x, w, b = np.ones((1, 2, 5, 5)), np.ones((3, 2, 3, 3)), np.zeros(3)
    with pytest.raises(ValueError, match=f"forward '{alg}' needs stride 1, got stride 2"):
        k.conv2d_forward(x, w, b, 2, algorithm=(alg, "im2col"))


@pytest.mark.parametrize("k", [nk, rk])
def test_winograd_needs_a_3x3_kernel(k):
    x, w = np.ones((1, 2, 6, 6)), np.ones((3, 2, 5, 3))
    with pytest.raises(ValueError, match="backward 'winograd' needs a 3x3 kernel, got 5x3"):
        k.conv2d_backward(np.ones((1, 3, 2, 4)), x, w, algorithm=("direct", "winograd"))


def test_model_plan_shows_the_choice_and_predict_reuses_it():
    model = fn.Sequential([fn.Conv2D(3, 32, 3, padding=1), fn.ReLU(), fn.MaxPool2D(2),
                           fn.Conv2D(32, 64, 3, padding=1), fn.ReLU(), fn.BatchNorm2D(64),
                           fn.Conv2D(64, 8, 3, stride=2), fn.Flatten(), fn.Dense(8 * 3 * 3, 2)])
    assert ": ?/?" in str(model.plan)
    x = np.random.default_rng(0).random((3, 3, 14, 14)).astype(np.float32)
    model.predict(x)
    lines = str(model.plan).splitlines()
    assert ": direct/direct" in lines[1]
    assert ": gemm/gemm" in lines[2]
    assert ": im2col/im2col" in lines[3]
    chosen = [dict(step.chosen) for step in model.plan if hasattr(step, "chosen")]
    model.predict(x[:1])  # another batch size: the same per-sample shape, nothing new chosen
    assert chosen == [dict(step.chosen) for step in model.plan if hasattr(step, "chosen")]
    fused = model.predict(x)
    np.testing.assert_allclose(fused, fn.Sequential(model.layers, fuse=False).predict(x),
                               rtol=1e-4, atol=1e-5)


def test_overlapping_blas_limits_restore_the_thread_counts_once_all_leave():
    """Two models in two Python threads: A enters, B enters, A leaves, B leaves."""
    from threadpoolctl import threadpool_info

    from fastnn.kernels.numba._common import single_threaded_blas

    def blas():
        return {i["filepath"]: i["num_threads"] for i in threadpool_info()
                if i["user_api"] == "blas"}

    with single_threaded_blas():
        pass
    before = blas()
    a, b = single_threaded_blas(), single_threaded_blas()
    a.__enter__()
    b.__enter__()
    a.__exit__(None, None, None)
    assert set(blas().values()) == {1}  # B still runs its GEMMs
    b.__exit__(None, None, None)
    assert blas() == before


def test_summary_shows_the_algorithms_without_changing_the_plan():
    model = fn.models.simple_vgg()
    text = model.summary((3, 64, 64))
    assert "conv2d_relu_batchnorm_maxpool: direct/direct" in text  # 3 -> 32 channels
    assert text.count(": winograd/winograd") == 5
    assert ": ?/?" in str(model.plan)  # the plan shows what ran; nothing has
