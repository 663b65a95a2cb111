"""Saving and loading models and checkpoints: round trips, resuming, hostile files."""

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import blobs

import fastnn as fn
from fastnn import callbacks as cb

DATA = Path(__file__).parent / "fixtures"


def bn_model(seed=0):
    return fn.Sequential([fn.Dense(4, 8), fn.BatchNorm1D(8), fn.ReLU(), fn.Dropout(0.2),
                          fn.Dense(8, 3)], seed=seed)


def weights(model):
    return [a.copy() for layer in model.layers for a in (layer.params | layer.buffers).values()]


@pytest.mark.parametrize("make_optimizer", [lambda: fn.Adam(1e-2), lambda: fn.SGD(0.05, 0.9),
                                            lambda: fn.SGD(0.05)])
def test_resumed_run_equals_an_uninterrupted_one(tmp_path, make_optimizer):
    x, y = blobs(96)
    straight = bn_model()
    straight.fit(x, y, optimizer=make_optimizer(), epochs=3, batch_size=16, seed=4,
                 schedule=fn.cosine(warmup=0.1), progress=False)

    first = bn_model()
    first.fit(x, y, optimizer=make_optimizer(), epochs=3, batch_size=16, seed=4,
              schedule=fn.cosine(warmup=0.1), progress=False,
              callbacks=[cb.ModelCheckpoint(tmp_path / "e{epoch}.npz"),
                         cb.EarlyStopping("loss", patience=0, min_delta=1e9)])  # stops after 2
    ckpt = fn.load_checkpoint(tmp_path / "e2.npz")
    assert ckpt.epoch == 2 and len(ckpt.history["loss"]) == 2
    history = ckpt.model.fit(x, y, epochs=3, batch_size=16, seed=4,
                             schedule=fn.cosine(warmup=0.1), progress=False, resume=ckpt)
    assert len(history["loss"]) == 3
    for a, b in zip(weights(ckpt.model), weights(straight)):
        np.testing.assert_array_equal(a, b)


def test_buffers_round_trip(tmp_path):
    x, y = blobs(64)
    model = bn_model()
    model.fit(x, y, optimizer=fn.Adam(1e-2), epochs=1, progress=False)
    assert not np.all(model.layers[1].buffers["running_mean"] == 0)
    loaded = fn.load(model.save(tmp_path / "m.npz"))
    for a, b in zip(weights(loaded), weights(model)):
        np.testing.assert_array_equal(a, b)


def test_resume_with_a_mismatched_optimizer_names_the_problem(tmp_path):
    x, y = blobs(32)
    model = bn_model()
    model.fit(x, y, optimizer=fn.Adam(1e-2), epochs=1, progress=False,
              callbacks=[cb.ModelCheckpoint(tmp_path / "c.npz")])
    with pytest.raises(fn.ModelFileError, match="c.npz: cannot resume: the saved optimizer is "
                                                "'Adam', not SGD"):
        fn.load_checkpoint(tmp_path / "c.npz", fn.SGD(0.1))
    with np.load(tmp_path / "c.npz") as data:
        arrays = dict(data)
    good = dict(arrays)
    arrays["optimizer/layer0.w/0"] = np.zeros((3, 3), np.float32)
    np.savez(tmp_path / "shape.npz", **arrays)
    with pytest.raises(fn.ModelFileError, match=r"optimizer state for parameter layer0.w is "
                                                r"float32\(3, 3\), the model's parameter is "
                                                r"float32\(8, 4\)"):
        fn.load_checkpoint(tmp_path / "shape.npz")
    arrays = dict(good)
    del arrays["optimizer/layer4.b/1"]
    np.savez(tmp_path / "missing.npz", **arrays)
    with pytest.raises(fn.ModelFileError, match="incomplete"):
        fn.load_checkpoint(tmp_path / "missing.npz")
    arrays = dict(good)
    arrays["training"] = np.array(json.dumps({"epoch": -1}))
    np.savez(tmp_path / "epoch.npz", **arrays)
    with pytest.raises(fn.ModelFileError, match="epoch is -1, it must be an integer >= 0"):
        fn.load_checkpoint(tmp_path / "epoch.npz")
    model.save(tmp_path / "plain.npz")
    with pytest.raises(fn.ModelFileError, match="not a checkpoint"):
        fn.load_checkpoint(tmp_path / "plain.npz")
    other = fn.Sequential([fn.Dense(4, 3)])
    with pytest.raises(ValueError, match="train the checkpoint's own model"):
        other.fit(x, y, resume=fn.load_checkpoint(tmp_path / "c.npz"), progress=False)


def test_non_object_json_and_zip_bombs(tmp_path):
    np.savez(tmp_path / "list.npz", architecture=np.array("[1, 2]"))
    with pytest.raises(fn.ModelFileError, match="the architecture is a list, not a dict"):
        fn.load(tmp_path / "list.npz")
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:  # 200 MB of zeros in 200 KB
        with z.open("layer0.w.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array_header_1_0(
                f, {"descr": "<f4", "fortran_order": False, "shape": (300_000_000,)})
            chunk = bytes(1 << 20)
            for _ in range(200):
                f.write(chunk)
        z.writestr("architecture.npy", b"")
    assert path.stat().st_size < 1 << 20
    with pytest.raises(fn.ModelFileError, match="more than the limit of 104,857,600"):
        fn.load(path, max_bytes=100 << 20)
    with pytest.raises(fn.ModelFileError, match=r"declares \(300000000,\) but holds fewer"):
        fn.load(path)


def test_files_written_before_parameters_had_one_key_still_load(tmp_path):
    """tests/fixtures/format1_*.npz were written by fastnn before a parameter had one key (see
    make_format1.py there): arrays ``layer0.w``, optimizer state ``optimizer/0.w/0``."""
    with np.load(DATA / "format1_checkpoint.npz") as data:
        raw = dict(data)
    assert "optimizer/0.w/0" in raw and "layer0.w" in raw  # the old layout, not a newer one
    with np.load(DATA / "format1_expected.npz") as data:
        x, y, probabilities = data["x"], data["y"], data["probabilities"]
    for name in ("format1_model.npz", "format1_checkpoint.npz"):
        np.testing.assert_allclose(fn.load(DATA / name).predict(x), probabilities, rtol=1e-6)
    ckpt = fn.load_checkpoint(DATA / "format1_checkpoint.npz")
    assert ckpt.epoch == 1 and ckpt.optimizer.t == 3  # 24 samples in batches of 8
    assert sorted(ckpt.optimizer.state) == sorted(key for key, _, _ in ckpt.model.parameters())
    for key, _, _ in ckpt.model.parameters():
        old = key.removeprefix("layer")
        for slot, state in enumerate(ckpt.optimizer.state[key]):
            np.testing.assert_array_equal(state, raw[f"optimizer/{old}/{slot}"])

    # saved again (new layout), it resumes to the same weights as the old file
    fn.save_checkpoint(tmp_path / "new.npz", model=ckpt.model, optimizer=ckpt.optimizer,
                       epoch=ckpt.epoch, history=ckpt.history)
    with np.load(tmp_path / "new.npz") as data:
        assert "optimizer/layer0.w/0" in data.files and "optimizer/0.w/0" not in data.files
    resumed = []
    for path in (DATA / "format1_checkpoint.npz", tmp_path / "new.npz"):
        again = fn.load_checkpoint(path)
        again.model.fit(x, y, epochs=2, batch_size=8, progress=False, resume=again)
        resumed.append(weights(again.model))
    for a, b in zip(*resumed):
        np.testing.assert_array_equal(a, b)

    raw["optimizer/layer0.w/0"] = raw["optimizer/0.w/0"]  # one array under both names
    np.savez(tmp_path / "both.npz", **raw)
    with pytest.raises(fn.ModelFileError, match="'layer0.w/0' is in the file twice"):
        fn.load_checkpoint(tmp_path / "both.npz")
