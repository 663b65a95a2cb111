"""Model files are untrusted input. Sizes are checked against the file before
anything is allocated, decompression is bounded, any malformed JSON is a ModelFileError, and
non-finite weights are neither saved nor loaded."""

import json
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastnn as fn
from fastnn.cli import main


def small_model():
    model = fn.Sequential([fn.Conv2D(1, 2, 3, padding="same"), fn.ReLU(), fn.BatchNorm2D(2),
                           fn.Flatten(), fn.Dense(2 * 4 * 4, 3)], seed=0)
    model.predict(np.zeros((1, 1, 4, 4), np.float32))
    return model


def saved_parts(tmp_path):
    """The architecture (a dict) and arrays of a valid saved model."""
    small_model().save(tmp_path / "ok.npz")
    with np.load(tmp_path / "ok.npz") as data:
        arrays = {k: data[k] for k in data.files}
    return json.loads(str(arrays.pop("architecture"))), arrays


def write(path, arch, arrays):
    np.savez(path, architecture=np.array(json.dumps(arch)), **arrays)
    return path


def test_a_tiny_file_declaring_a_huge_layer_fails_before_allocating(tmp_path):
    """1.5 KB that claims Dense(20000, 20000): an error at once, under a 1 GB memory limit."""
    arch, _ = saved_parts(tmp_path)
    arch["layers"] = [{"type": "Dense", "config": {"in_features": 20000, "out_features": 20000}}]
    path = write(tmp_path / "huge.npz", arch, {"layer0.w": np.zeros((2, 2), np.float32),
                                               "layer0.b": np.zeros(2, np.float32)})
    assert path.stat().st_size < 2000
    script = textwrap.dedent(f"""
        import resource, sys, time
        import fastnn as fn
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        t0 = time.perf_counter()
        try:
            fn.load({str(path)!r})
        except fn.ModelFileError as e:
            print("refused", round(time.perf_counter() - t0, 3), e)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300)
    assert out.stdout.startswith("refused"), out.stderr[-2000:]
    assert "layer0.w is float32(2, 2), expected float32(20000, 20000)" in out.stdout


def test_decompressed_size_is_bounded(tmp_path):
    arch, arrays = saved_parts(tmp_path)
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:  # 64 MB of zeros in ~64 KB
        zf.writestr("architecture.npy", b"")
        with zf.open("layer0.w.npy", "w", force_zip64=True) as f:
            for _ in range(64):
                f.write(bytes(1 << 20))
    assert path.stat().st_size < 1 << 20
    with pytest.raises(fn.ModelFileError, match="would take 67,108,864 bytes unpacked, more "
                       "than the limit of 16,777,216"):
        fn.load(path, max_bytes=16 << 20)


def test_members_that_are_not_arrays_or_hold_objects_are_refused(tmp_path):
    arch, arrays = saved_parts(tmp_path)
    path = write(tmp_path / "m.npz", arch, arrays)
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("run.py", "print('hi')")
    with pytest.raises(fn.ModelFileError, match="member 'run.py' is not a .npy array"):
        fn.load(path)
    arrays["layer0.w"] = np.array([object()] * 18, dtype=object).reshape(2, 1, 3, 3)
    np.savez(tmp_path / "o.npz", architecture=np.array(json.dumps(arch)), **arrays)
    with pytest.raises(fn.ModelFileError, match="holds Python objects"):
        fn.load(tmp_path / "o.npz")


@pytest.mark.parametrize("change,message", [
    (lambda a: a.clear() or a.update(format="fastnn-model"), "format version is None"),
    (lambda a: a.update(version="1"), "format version is '1'"),
    (lambda a: a.update(version=9), "written by a newer fastnn"),
    (lambda a: a.update(dtype="int8"), "dtype is 'int8'"),
    (lambda a: a.update(layers={"0": 1}), "layers is a dict, not a list"),
    (lambda a: a.update(layers=["Dense"]), "layer 0 is a str, not a dict"),
    (lambda a: a["layers"][0].update(type="Evil"), "layer 0 has unknown type 'Evil'"),
    (lambda a: a["layers"][0].update(config=[1]), r"layer 0 \(Conv2D\) config is a list"),
    (lambda a: a["layers"][0]["config"].update(stride=[1]), r"Conv2D\) stride is a list"),
    (lambda a: a["layers"][0]["config"].update(evil=1), r"Conv2D\) has no option 'evil'"),
    (lambda a: a["layers"][0]["config"].update(kernel_size=2.5), "kernel_size must be an int"),
    (lambda a: a["layers"][0]["config"].update(out_channels=-3), "out_channels must be >= 1"),
    (lambda a: a["layers"][4]["config"].update(init="evil"), "unknown initializer 'evil'"),
    (lambda a: a.update(loss="softmax"), "loss is a str, not a dict"),
    (lambda a: a.update(loss={"name": "evil"}), "evil"),
    (lambda a: a.update(class_names=[1, 2]), "class_names is not a list of strings"),
    (lambda a: a.update(metadata=[]), "metadata is a list, not a dict"),
    (lambda a: a["layers"][4]["config"].pop("in_features"), r"layer 4 \(Dense\) lacks its "
                                                            r"in_features"),
    (lambda a: a.update(input_stats=[0.1]), "input_stats must hold exactly mean, std, min"),
    (lambda a: a.update(input_stats={"mean": [0.1], "std": [0.3], "min": [0], "max": ["1"]}),
     "input_stats max is not a list of finite numbers"),
    (lambda a: a.update(input_stats={"mean": [0.1], "std": [0.3], "min": [0], "max": [1e999]}),
     "input_stats max is not a list of finite numbers"),
    (lambda a: a.update(input_stats={"mean": [0.1, 2], "std": [0.3], "min": [0], "max": [1]}),
     "one mean, std >= 0 and min <= max per channel"),
    (lambda a: a.update(input_stats={"mean": [0.1], "std": [0.3], "min": [2], "max": [1]}),
     "one mean, std >= 0 and min <= max per channel"),
])
def test_malformed_architectures_are_model_file_errors(tmp_path, change, message):
    arch, arrays = saved_parts(tmp_path)
    change(arch)
    with pytest.raises(fn.ModelFileError, match=message):
        fn.load(write(tmp_path / "bad.npz", arch, arrays))


JSON = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats()
                    | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.lists(st.sampled_from(["layers", 0, 4, "config", "type", "loss", "in_features",
                                      "out_features", "name", "l2", "dtype", "metadata",
                                      "input_stats", "mean", "units", "input_shape"]),
                     min_size=1, max_size=3),
       value=JSON)
def test_any_json_in_any_place_loads_or_is_a_model_file_error(tmp_path, path, value):
    arch, arrays = saved_parts(tmp_path)
    node = arch
    for key in path[:-1]:  # walk as far as the path exists
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            break
    try:
        node[path[-1]] = value
    except (IndexError, TypeError):
        return
    try:
        model = fn.load(write(tmp_path / "h.npz", arch, arrays))
    except fn.ModelFileError:
        return
    model.predict(np.zeros((1, 1, 4, 4), np.float32))  # a file that loads also works


def test_non_finite_weights_are_not_saved_and_not_loaded(tmp_path):
    model = small_model()
    model.layers[4].params["w"][1, 2] = np.nan
    with pytest.raises(ValueError, match=r"layer 4 Dense w holds 1 non-finite values: not saving"):
        model.save(tmp_path / "nan.npz")
    assert not (tmp_path / "nan.npz").exists()
    arch, arrays = saved_parts(tmp_path)
    arrays["layer2.running_var"][0] = np.inf
    with pytest.raises(fn.ModelFileError, match="layer2.running_var has 1 non-finite values"):
        fn.load(write(tmp_path / "inf.npz", arch, arrays))


def test_the_cli_reports_a_bad_model_file_in_one_line(tmp_path, capsys):
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not really a zip")
    assert main(["evaluate", str(tmp_path / "junk.npz")]) != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("fastnn: error: ") and "not a valid fastnn model" in err
    assert len(err.splitlines()) == 1
