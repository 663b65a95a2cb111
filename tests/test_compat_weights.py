"""Weights kept as the classic tutorials keep them: Theta matrices (with nn_params, their
Fortran-order unrolling) and the L-layer tutorial's parameter dicts, as fastnn models that
predict what the tutorials' own code does."""

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numerals import NUMERALS

import fastnn as fn
from fastnn.compat import (
    from_parameters,
    from_thetas,
    thetas_from_vector,
    thetas_to_vector,
    to_parameters,
    to_thetas,
)


def loop_sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def loop_theta_forward(thetas, x):
    """The sigmoid BP tutorial's forward pass, one sample and one unit at a time:
    a = sigmoid(Theta @ [1; a]) on every layer, samples as rows of x."""
    out = []
    for sample in x:
        a = list(sample)
        for theta in thetas:
            a = [loop_sigmoid(row[0] + sum(row[j + 1] * a[j] for j in range(len(a))))
                 for row in theta]
        out.append(a)
    return np.array(out)


def loop_lllayer_forward(parameters, x, layers: int):
    """The L-layer tutorial's L_model_forward with X features x samples: ReLU on layers
    1..L-1, sigmoid on layer L, b of shape (n, 1); returns AL (n_L, m)."""
    m = x.shape[1]
    al = np.zeros((parameters[f"w{layers}"].shape[0], m))
    for s in range(m):
        a = [x[i, s] for i in range(x.shape[0])]
        for layer in range(1, layers + 1):
            w, b = parameters[f"w{layer}"], parameters[f"b{layer}"]
            z = [b[i, 0] + sum(w[i, j] * a[j] for j in range(len(a))) for i in range(w.shape[0])]
            a = [loop_sigmoid(v) for v in z] if layer == layers else [max(0.0, v) for v in z]
        al[:, s] = a
    return al


def tutorial_numpy_forward(theta1, theta2, x):
    """The tutorial's own vectorized code (predict.m / nnCostFunction, ported)."""
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    m = x.shape[0]
    a2 = sigmoid(np.hstack([np.ones((m, 1)), x]) @ theta1.T)
    return sigmoid(np.hstack([np.ones((m, 1)), a2]) @ theta2.T)


def test_thetas_predict_like_the_tutorial_loop():
    rng = np.random.default_rng(0)
    thetas = [rng.uniform(-0.5, 0.5, (9, 21)), rng.uniform(-0.5, 0.5, (5, 10)),
              rng.uniform(-0.5, 0.5, (4, 6))]
    x = rng.uniform(0, 1, (12, 20))
    model = from_thetas(thetas, activation="sigmoid")
    assert model.dtype == np.float64
    np.testing.assert_allclose(model.predict(x), loop_theta_forward(thetas, x), rtol=0,
                               atol=1e-12)
    for got, want in zip(to_thetas(model), thetas):
        np.testing.assert_array_equal(got, want)


def test_numeral_thetas_full_size_fortran_images():
    """Theta1 256x4097 and Theta2 15x257, fed images unrolled in Fortran order: the model
    takes the images themselves (N, 1, 64, 64) and predicts what the tutorial's code does."""
    rng = np.random.default_rng(1)
    theta1, theta2 = rng.uniform(-0.12, 0.12, (256, 4097)), rng.uniform(-0.12, 0.12, (15, 257))
    images = rng.uniform(0, 1, (40, 64, 64))
    unrolled = np.stack([np.ravel(img, order="F") for img in images])
    want = tutorial_numpy_forward(theta1, theta2, unrolled)
    flat_model = from_thetas([theta1, theta2])
    np.testing.assert_allclose(flat_model.predict(unrolled), want, rtol=0, atol=1e-12)
    image_model = from_thetas([theta1, theta2], input_shape=(64, 64), order="F",
                              class_names=NUMERALS.split(","))
    np.testing.assert_allclose(image_model.predict(images[:, None]), want, rtol=0, atol=1e-12)
    # the tutorial's prediction: argmax + 1 in 1..15
    np.testing.assert_array_equal(image_model.predict_labels(images[:, None]) + 1,
                                  np.argmax(want, axis=1) + 1)
    back = to_thetas(image_model, input_shape=(64, 64), order="F")
    np.testing.assert_array_equal(back[0], theta1)
    np.testing.assert_array_equal(back[1], theta2)
    # nn_params: both unrolled in Fortran order, one after the other
    nn_params = np.concatenate([theta1.ravel(order="F"), theta2.ravel(order="F")])
    np.testing.assert_array_equal(thetas_to_vector([theta1, theta2]), nn_params)
    t1, t2 = thetas_from_vector(nn_params, (4096, 256, 15))
    np.testing.assert_array_equal(t1, theta1)
    np.testing.assert_array_equal(t2, theta2)


def test_thetas_saved_and_loaded_model_predicts_the_same(tmp_path):
    rng = np.random.default_rng(2)
    thetas = [rng.standard_normal((6, 11)), rng.standard_normal((3, 7))]
    model = from_thetas(thetas)
    model.save(tmp_path / "thetas.npz")
    x = rng.standard_normal((5, 10))
    np.testing.assert_array_equal(fn.load(tmp_path / "thetas.npz").predict(x), model.predict(x))


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(1, 6), min_size=2, max_size=4),
       h=st.integers(1, 4), order=st.sampled_from("CF"), seed=st.integers(0, 2**16))
def test_thetas_round_trip_any_shapes(sizes, h, order, seed):
    rng = np.random.default_rng(seed)
    sizes = [sizes[0] * h] + sizes[1:]
    thetas = [rng.standard_normal((b, a + 1)) for a, b in zip(sizes, sizes[1:])]
    model = from_thetas(thetas, input_shape=(h, sizes[0] // h), order=order)
    for got, want in zip(to_thetas(model, input_shape=(h, sizes[0] // h), order=order), thetas):
        np.testing.assert_array_equal(got, want)
    assert thetas_from_vector(thetas_to_vector(thetas), sizes)[-1].shape == thetas[-1].shape


def test_thetas_hostile_inputs():
    rng = np.random.default_rng(0)
    t1, t2 = rng.standard_normal((256, 4097)), rng.standard_normal((15, 257))
    with pytest.raises(ValueError, match=r"Theta2 is 15x300, but Theta1 has 256 outputs: Theta2 "
                                         r"needs 257 columns"):
        from_thetas([t1, rng.standard_normal((15, 300))])
    with pytest.raises(ValueError, match="Theta2 is 15x256, .* needs 257 columns"):
        from_thetas([t1, t2[:, 1:]])  # bias column left out
    with pytest.raises(ValueError, match=r"Theta1 must be a non-empty 2-D numeric matrix, got "
                                         r"float64 \(4097,\)"):
        from_thetas([t1[0], t2])
    with pytest.raises(ValueError, match="non-empty list"):
        from_thetas([])
    with pytest.raises(ValueError, match="Theta2 holds NaN"):
        from_thetas([t1, np.full((15, 257), np.nan)])
    with pytest.raises(ValueError, match="unknown hidden activation 'softplus'"):
        from_thetas([t1, t2], activation="softplus")
    with pytest.raises(ValueError, match=r"input_shape \(32, 32\) has 1024 values, but the "
                                         r"first layer takes 4096"):
        from_thetas([t1, t2], input_shape=(32, 32))
    with pytest.raises(ValueError, match="order='F' needs input_shape"):
        from_thetas([t1, t2], order="F")
    with pytest.raises(ValueError, match="nn_params has 10 values; layer sizes"):
        thetas_from_vector(np.zeros(10), (4096, 256, 15))
    cnn = fn.models.mnist_cnn()
    with pytest.raises(ValueError, match="to_thetas needs Dense layers .* layer 0 is Conv2D"):
        to_thetas(cnn)
    hinge = fn.Sequential([fn.Dense(3, 2)], loss="hinge")
    with pytest.raises(ValueError, match="sigmoid .* or softmax .* the model's loss is hinge"):
        to_thetas(hinge)


def test_parameters_predict_like_the_tutorial_loop():
    """The L-layer cat classifier: 20-7-5-1 on 12 features, X features x samples."""
    rng = np.random.default_rng(3)
    dims = [12, 7, 5, 1]
    parameters = {}
    for layer in range(1, len(dims)):
        parameters[f"w{layer}"] = rng.standard_normal((dims[layer], dims[layer - 1])) * 0.5
        parameters[f"b{layer}"] = rng.standard_normal((dims[layer], 1)) * 0.1
    x = rng.uniform(0, 1, (12, 9))  # features x samples
    model = from_parameters(parameters, hidden="relu", output="sigmoid")
    al = loop_lllayer_forward(parameters, x, 3)
    np.testing.assert_allclose(model.predict(x.T)[:, 1], al[0], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(model.predict_labels(x.T), (al[0] > 0.5).astype(int))
    back = to_parameters(model)
    assert sorted(back) == sorted(parameters)
    for key in parameters:
        assert back[key].shape == parameters[key].shape
        np.testing.assert_array_equal(back[key], parameters[key])
    # Andrew Ng's capitals (W1) and b as (n,) work too; images with input_shape
    caps = {k.upper() if k[0] == "w" else k: v.ravel() if k[0] == "b" else v
            for k, v in parameters.items()}
    img_model = from_parameters(caps, input_shape=(3, 4))
    np.testing.assert_allclose(img_model.predict(x.T.reshape(9, 1, 3, 4))[:, 1], al[0], rtol=0,
                               atol=1e-12)


def test_parameters_hostile_inputs():
    rng = np.random.default_rng(0)
    p = {"w1": rng.standard_normal((7, 12)), "b1": np.zeros((7, 1)),
         "w2": rng.standard_normal((1, 7)), "b2": np.zeros((1, 1))}
    with pytest.raises(ValueError, match="parameters has w2 but no b2"):
        from_parameters({k: v for k, v in p.items() if k != "b2"})
    with pytest.raises(ValueError, match=r"w2 is \(1, 6\), but layer 1 has 7 outputs: w2 needs "
                                         r"7 columns"):
        from_parameters(p | {"w2": np.zeros((1, 6))})
    with pytest.raises(ValueError, match=r"b1 is float64 \(1, 7\); with w1 \(7, 12\) it must "
                                         r"be \(7, 1\)"):
        from_parameters(p | {"b1": np.zeros((1, 7))})
    with pytest.raises(ValueError, match="keys b4, w4 that do not continue w1, b1, ..., w2, b2"):
        from_parameters(p | {"w4": np.zeros((1, 1)), "b4": np.zeros((1, 1))})
    with pytest.raises(ValueError, match=re.escape("parameters has no w1/b1 (keys: W, b)")):
        from_parameters({"W": 1, "b": 2})
    with pytest.raises(ValueError, match="unknown output 'linear'"):
        from_parameters(p, output="linear")
    mixed = fn.Sequential([fn.Dense(4, 3), fn.ReLU(), fn.Dense(3, 3), fn.Tanh(),
                           fn.Dense(3, 1)], loss="binary_cross_entropy")
    with pytest.raises(ValueError, match=r"mix activations \['relu', 'tanh'\]"):
        to_parameters(mixed)
