"""fastnn.compat against an independent loop implementation of the reference API (loop_cnn)."""

import json
import pickle
import subprocess
import sys
from pathlib import Path

import loop_cnn as ref
import numpy as np
import pytest

from fastnn.cli import main
from fastnn.compat import backward, forward, network, utils

RTOL = dict(rtol=1e-10, atol=1e-12)


@pytest.fixture
def rng():
    """Each test's own generator: a test's data do not depend on which tests ran before."""
    return np.random.default_rng(0)


def same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
    np.testing.assert_allclose(a, b, **RTOL)


CONV = [(1, 1, 28, 5, 1), (3, 8, 12, 5, 1), (2, 4, 11, 3, 2), (3, 2, 10, 4, 3), (8, 8, 24, 5, 1)]


@pytest.mark.parametrize("n_c,n_f,dim,f,s", CONV)
def test_convolution_and_its_backward(n_c, n_f, dim, f, s, rng):
    image = rng.standard_normal((n_c, dim, dim))
    filt, bias = rng.standard_normal((n_f, n_c, f, f)), rng.standard_normal((n_f, 1))
    out = forward.convolution(image, filt, bias, s)
    same(out, ref.convolution(image, filt, bias, s))
    image32 = image.astype(np.float32)  # as extract_data gives: the reference computes in float64
    same(forward.convolution(image32, filt, bias, s), ref.convolution(image32, filt, bias, s))
    d = rng.standard_normal(out.shape)
    for got, want in zip(backward.convolutionBackward(d, image, filt, s),
                         ref.convolutionBackward(d, image, filt, s)):
        same(got, want)


def test_network_star_import_gives_every_function_of_the_page():
    namespace = {}
    exec("from fastnn.compat.network import *", namespace)
    page = ["convolution", "maxpool", "softmax", "categoricalCrossEntropy", "convolutionBackward",
            "maxpoolBackward", "extract_data", "extract_labels", "initializeFilter",
            "initializeWeight", "nanargmax", "predict", "conv", "adamGD", "train", "np"]
    assert [name for name in page if name not in namespace] == []


def test_convolution_asserts_matching_channels():
    with pytest.raises(AssertionError):
        forward.convolution(np.zeros((2, 8, 8)), np.zeros((4, 3, 3, 3)), np.zeros((4, 1)))


@pytest.mark.parametrize("f,s", [(2, 2), (3, 2), (2, 1), (3, 3), (4, 1)])
def test_maxpool_and_assigning_backward(f, s, rng):
    orig = rng.integers(0, 4, (3, 11, 11)).astype(np.float64)  # many ties
    orig[0, 0, :3] = np.nan
    out = forward.maxpool(orig, f, s)
    same(out, ref.maxpool(orig, f, s))
    d = rng.standard_normal(out.shape)
    same(backward.maxpoolBackward(d, orig, f, s), ref.maxpoolBackward(d, orig, f, s))


def test_maxpool_backward_overwrites_where_windows_overlap():
    orig = np.zeros((1, 3, 3))
    orig[0, 1, 1] = 5  # the max of all four 2x2 windows at stride 1
    d = np.array([[[1.0, 2.0], [3.0, 4.0]]])
    dout = backward.maxpoolBackward(d, orig, 2, 1)
    assert dout[0, 1, 1] == 4.0 and dout.sum() == 4.0  # assigned by the last window, not 10


def test_softmax_and_cross_entropy(rng):
    x = rng.standard_normal((10, 1)) * 5
    same(forward.softmax(x), ref.softmax(x))
    label = np.eye(10)[3].reshape(10, 1)
    p = forward.softmax(x)
    assert forward.categoricalCrossEntropy(p, label) == pytest.approx(-np.log(p[3, 0]), rel=1e-12)
    big = np.array([[1000.0], [0.0]])
    with np.errstate(over="ignore", invalid="ignore"):
        assert np.isnan(ref.softmax(big)).any()  # the reference overflows here
    same(forward.softmax(big), np.array([[1.0], [np.exp(-1000.0)]]))


def test_utils_on_real_mnist(data_root):
    d = data_root / "mnist"
    for name, n in (("train-images-idx3-ubyte.gz", 100), ("t10k-images-idx3-ubyte.gz", 7)):
        same(utils.extract_data(str(d / name), n, 28), ref.extract_data(str(d / name), n, 28))
    labels = utils.extract_labels(str(d / "train-labels-idx1-ubyte.gz"), 100)
    same(labels, ref.extract_labels(str(d / "train-labels-idx1-ubyte.gz"), 100))
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz: holds 10,000 bytes of labels"):
        utils.extract_labels(str(d / "t10k-labels-idx1-ubyte.gz"), 20000)


def test_initializers_draw_from_the_global_random_state():
    np.random.seed(3)
    a, b = utils.initializeFilter((8, 1, 5, 5)), utils.initializeWeight((10, 128))
    np.random.seed(3)
    same(a, ref.initializeFilter((8, 1, 5, 5)))
    same(b, ref.initializeWeight((10, 128)))
    arr = np.array([[1.0, np.nan], [7.0, 7.0]])
    assert utils.nanargmax(arr) == ref.nanargmax(arr) == (1, 0)


def random_params(scale=1.0):
    np.random.seed(1)
    return [utils.initializeFilter((8, 1, 5, 5), scale),
            utils.initializeFilter((8, 8, 5, 5), scale),
            utils.initializeWeight((128, 800)) * 10, utils.initializeWeight((10, 128)) * 10,
            np.random.randn(8, 1) * 0.1, np.random.randn(8, 1) * 0.1,
            np.random.randn(128, 1) * 0.1, np.random.randn(10, 1) * 0.1]


@pytest.mark.parametrize("conv_s,pool_f,pool_s", [(1, 2, 2), (1, 3, 2), (2, 2, 1)])
def test_predict_and_conv(conv_s, pool_f, pool_s, rng):
    image = rng.standard_normal((1, 28, 28))
    params = random_params()
    dim = ((28 - 5) // conv_s + 1 - 5) // conv_s + 1
    side = (dim - pool_f) // pool_s + 1
    params[2] = np.random.randn(128, 8 * side * side) * 0.1  # w3 must fit the pooled size
    label, prob = utils.predict(image, *params, conv_s, pool_f, pool_s)
    want = ref.predict(image, *params, conv_s=conv_s, pool_f=pool_f, pool_s=pool_s)
    assert label == want[0] and type(label) is type(want[0])
    same(prob, want[1])
    onehot = np.eye(10)[4].reshape(10, 1)
    grads, loss = network.conv(image, onehot, params, conv_s, pool_f, pool_s)
    want_grads, want_loss = ref.conv(image, onehot, params, conv_s, pool_f, pool_s)
    same(loss, want_loss)
    for g, w in zip(grads, want_grads):
        same(g, w)


def test_adam_gd_matches_the_loop_version_and_updates_in_place(rng):
    params, params_ref = random_params(), random_params()
    ids = [id(p) for p in params]
    batch = np.hstack([rng.standard_normal((6, 784)), rng.integers(0, 10, (6, 1))])
    cost, cost_ref = [0.5], [0.5]
    for _ in range(2):  # the moments restart every call: two calls are two identical recipes
        out, cost = network.adamGD(batch, 10, 0.01, 28, 1, 0.95, 0.99, params, cost)
        ref.adamGD(batch, 10, 0.01, 28, 1, 0.95, 0.99, params_ref, cost_ref)
    assert [id(p) for p in out] == ids and cost is not cost_ref
    np.testing.assert_allclose(cost, cost_ref, rtol=1e-10)
    for p, q in zip(params, params_ref):
        np.testing.assert_allclose(p, q, rtol=1e-9, atol=1e-12)


def test_user_script_runs_unchanged_but_for_its_imports(data_root, tmp_path):
    script = Path(__file__).parent / "scripts" / "user_script.py"
    text = script.read_text()
    loop_version = tmp_path / "user_script_loop.py"
    loop_version.write_text(text.replace("from fastnn.compat.network import *",
                                         "from loop_cnn import *").replace(
                                             "from fastnn.compat.utils import *", ""))
    env_path = str(Path(__file__).parent)
    results = []
    for path in (script, loop_version):
        out = subprocess.run([sys.executable, str(path), str(data_root / "mnist")], check=True,
                             capture_output=True, text=True, env={"PYTHONPATH": env_path,
                                                                  "PATH": "/usr/bin:/bin"})
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    fast, loop = results
    assert fast["label"] == loop["label"]
    np.testing.assert_allclose(fast["cost"], loop["cost"], rtol=1e-10)
    np.testing.assert_allclose(fast["checksum"], loop["checksum"], rtol=1e-9)
    np.testing.assert_allclose(fast["prob"], loop["prob"], rtol=1e-10)


def test_train_writes_the_pickle_and_compat_measure_reads_it(data_root, tmp_path, capsys):
    np.random.seed(0)
    save = tmp_path / "params.pkl"
    cost = network.train(num_epochs=1, batch_size=1000, save_path=str(save),
                         data_dir=str(data_root / "mnist"))
    assert len(cost) == 50 and cost[-1] < cost[0]
    with open(save, "rb") as f:
        params, saved_cost = pickle.load(f)
    assert saved_cost == cost and [p.shape for p in params[:4]] == [
        (8, 1, 5, 5), (8, 8, 5, 5), (128, 800), (10, 128)]
    capsys.readouterr()
    assert main(["compat-measure", str(save), "--data", str(data_root / "mnist")]) == 0
    text = capsys.readouterr().out
    accuracy = float(text.split("Overall Accuracy: ")[1].split("%")[0])
    assert accuracy > 70  # 50 steps of the reference recipe; chance is 10
    assert "Digit 9 Recall" in text
