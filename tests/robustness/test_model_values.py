"""Model files and checkpoints: values, not only shapes. What load refuses, save refuses first;
a tampered value is a ModelFileError that names the file and the field, at load, not an epoch
later."""

import json

import numpy as np
import pytest

import fastnn as fn


def small_model(class_names=None):
    model = fn.Sequential([fn.Conv2D(1, 2, 3, padding="same"), fn.ReLU(), fn.BatchNorm2D(2),
                           fn.Flatten(), fn.Dense(2 * 4 * 4, 3)], seed=0,
                          class_names=class_names)
    model.predict(np.zeros((1, 1, 4, 4), np.float32))
    return model


def parts(path):
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    return {k: json.loads(str(arrays.pop(k))) for k in ("architecture", "training")
            if k in arrays}, arrays


def write(path, texts, arrays):
    np.savez(path, **{k: np.array(v if isinstance(v, str) else json.dumps(v))
                      for k, v in texts.items()}, **arrays)
    return path


def test_a_negative_running_variance_is_neither_saved_nor_loaded(tmp_path):
    model = small_model()
    model.save(tmp_path / "ok.npz")
    model.layers[2].buffers["running_var"][1] = -0.5
    with pytest.raises(ValueError, match=r"layer 2 BatchNorm2D: layer2.running_var holds 1 values "
                                         r"that are not a variance, so >= 0 \(the first, \[1\], is "
                                         r"-0.5\): not saving"):
        model.save(tmp_path / "neg.npz")
    assert not (tmp_path / "neg.npz").exists()
    texts, arrays = parts(tmp_path / "ok.npz")
    arrays["layer2.running_var"][0] = -1e-3
    path = write(tmp_path / "neg.npz", texts, arrays)
    with pytest.raises(fn.ModelFileError, match=r"neg.npz: not a valid fastnn model "
                                                r"\(layer2.running_var holds 1 values that are "
                                                r"not a variance"):
        fn.load(path)
    arrays["layer2.running_var"][0] = 0.0  # zero is a variance (eps keeps it finite)
    fn.load(write(tmp_path / "zero.npz", texts, arrays))


def test_class_names_must_match_the_outputs(tmp_path):
    with pytest.raises(ValueError, match="class_names has 2 names, but the model has 3 outputs"):
        small_model(["a", "b"]).save(tmp_path / "two.npz")
    assert not (tmp_path / "two.npz").exists()
    small_model(["a", "b", "c"]).save(tmp_path / "ok.npz")
    texts, arrays = parts(tmp_path / "ok.npz")
    texts["architecture"]["class_names"] = ["a", "b", "c", "d"]
    with pytest.raises(fn.ModelFileError, match="four.npz: .*class_names has 4 names, but the "
                                                "model has 3 outputs"):
        fn.load(write(tmp_path / "four.npz", texts, arrays))
    # one sigmoid output: two names (the negative class and the positive one)
    binary = fn.Sequential([fn.Dense(4, 1)], seed=0, loss=fn.BinaryCrossEntropy(),
                           class_names=["cat", "dog"])
    assert fn.load(binary.save(tmp_path / "binary.npz")).class_names == ["cat", "dog"]


@pytest.mark.parametrize("metadata,message", [
    ([1, 2], "metadata must be a dict \\(or None\\), got a list"),
    ({"when": object()}, "metadata cannot be saved as JSON"),
    ({"deep": json.loads("[" * 100 + "]" * 100)}, "metadata nests deeper than 63 levels"),
])
def test_save_refuses_metadata_that_load_would_refuse(tmp_path, metadata, message):
    with pytest.raises(ValueError, match=message):
        small_model().save(tmp_path / "m.npz", metadata=metadata)
    assert not (tmp_path / "m.npz").exists()
    small_model().save(tmp_path / "ok.npz", metadata={"deep": json.loads("[" * 60 + "]" * 60)})
    assert fn.load(tmp_path / "ok.npz").metadata["deep"] == json.loads("[" * 60 + "]" * 60)


def test_deeply_nested_json_is_a_model_file_error(tmp_path):
    small_model().save(tmp_path / "ok.npz")
    texts, arrays = parts(tmp_path / "ok.npz")
    arch = json.dumps(texts["architecture"])
    texts["architecture"] = arch[:-1] + ', "x": ' + "[" * 5000 + "]" * 5000 + "}"
    with pytest.raises(fn.ModelFileError, match="deep.npz: .*the architecture nests deeper than "
                                                "64 levels"):
        fn.load(write(tmp_path / "deep.npz", texts, arrays))
    texts["architecture"] = arch[:-1] + ', "x": ' + "[" * 65 + "]" * 65 + "}"  # parses; too deep
    with pytest.raises(fn.ModelFileError, match="the architecture nests deeper than 64 levels"):
        fn.load(write(tmp_path / "deep65.npz", texts, arrays))


def checkpoint(tmp_path):
    model = small_model()
    early = fn.callbacks.EarlyStopping(patience=2)
    plateau = fn.callbacks.ReduceLROnPlateau(patience=1)
    early.best, early.wait, early.best_epoch = 0.5, 1, 3
    plateau.best, plateau.scale = 0.4, 0.5
    adam = fn.Adam(1e-3)
    model.fit(np.ones((3, 1, 4, 4), np.float32), np.arange(3), optimizer=adam, batch_size=3,
              epochs=1, progress=False)
    path = fn.save_checkpoint(tmp_path / "ckpt.npz", model=model, optimizer=adam,
                              epoch=4, history={"loss": [1.0, 0.5], "first_batch_seconds": 0.2},
                              callbacks=[early, plateau])
    return parts(path)


@pytest.mark.parametrize("change,field", [
    (lambda t: t["optimizer"].update(betas=[2, 0.999]),
     r"optimizer.betas is \[2, 0.999\], it must be two numbers in \[0, 1\)"),
    (lambda t: t["optimizer"].update(betas=[0.9]), r"optimizer.betas is \[0.9\]"),
    (lambda t: t["optimizer"].update(eps=-1), r"optimizer.eps is -1, it must be a finite number"),
    (lambda t: t["optimizer"].update(lr="fast"), "optimizer.lr is 'fast'"),
    (lambda t: t["callbacks"][0]["state"].update(best="low", wait="two"),
     r"callbacks\[0\] \(EarlyStopping\).best is 'low', it must be a number or null"),
    (lambda t: t["callbacks"][0]["state"].update(wait=-1),
     r"callbacks\[0\] \(EarlyStopping\).wait is -1"),
    (lambda t: t["callbacks"][0]["state"].update(best_epoch=1.5),
     r"callbacks\[0\] \(EarlyStopping\).best_epoch is 1.5"),
    (lambda t: t["callbacks"][1]["state"].update(scale=5),
     r"callbacks\[1\] \(ReduceLROnPlateau\).scale is 5, it must be in \(0, 1\]"),
    (lambda t: t.update(history={"loss": ["a", "b"]}),
     r"history\['loss'\] is \['a', 'b'\], it must be a number or a list of numbers"),
    (lambda t: t.update(history=["loss"]), r"history is \['loss'\], it must be an object"),
    (lambda t: t.update(interrupted="yes"), "interrupted is 'yes', it must be true or false"),
    (lambda t: t.update(epoch=True), "epoch is True, it must be an integer >= 0"),
    (lambda t: t.pop("epoch"), "epoch is missing"),
    (lambda t: t.update(callbacks=[{"type": "EarlyStopping", "state": "x"}]),
     "callbacks is .*, it must be a list of {type, state} objects"),
    (lambda t: t.update(deep=json.loads("[" * 100 + "]" * 100)),
     "the training state nests deeper than 64 levels"),
])
def test_tampered_checkpoint_fields_are_refused_at_load(tmp_path, change, field):
    texts, arrays = checkpoint(tmp_path)
    ckpt = fn.load_checkpoint(write(tmp_path / "ok.npz", texts, arrays))  # untouched: loads
    assert ckpt.epoch == 4 and ckpt.optimizer.betas == (0.9, 0.999)
    change(texts["training"])
    path = write(tmp_path / "bad.npz", texts, arrays)
    with pytest.raises(fn.ModelFileError, match=rf"bad.npz: bad training state \({field}"):
        fn.load_checkpoint(path)


def test_a_negative_adam_second_moment_is_refused(tmp_path):
    texts, arrays = checkpoint(tmp_path)
    fn.load_checkpoint(write(tmp_path / "ok.npz", texts, arrays))
    arrays["optimizer/layer0.w/1"] = -np.abs(arrays["optimizer/layer0.w/1"]) - 1
    with pytest.raises(fn.ModelFileError, match=r"bad.npz: cannot resume: optimizer state "
                                                r"layer0.w/1 holds 18 negative values"):
        fn.load_checkpoint(write(tmp_path / "bad.npz", texts, arrays))
