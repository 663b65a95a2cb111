"""A resumed run is the run that never stopped: its options come from the checkpoint (others
are refused), Ctrl-C never writes half an epoch into checkpoint.npz, EarlyStopping's best
weights survive, and a run folder is used by one process at a time and exists only once there
is something in it."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
from test_classics import write_folder

import fastnn as fn
from fastnn._io import LOCK_NAME, _host, lock_folder
from fastnn.cli import main
from fastnn.cli import train as cli_train

BASE = ["--hidden", "8", "--size", "8", "--batch-size", "4", "--optimizer", "adam", "--quiet"]


@pytest.fixture
def pets(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a run without --out goes to runs/ here
    return write_folder(tmp_path / "pets", ["cat", "dog", "emu"], 10, (8, 8), "rgb")


def train(pets, out, *extra):
    return main(["train", "folder", str(pets), *BASE, "--out", str(out), *extra])


def weights(path):
    model = fn.load(path)
    return [p for _, p, _ in model.parameters()]


def assert_same_weights(a, b):
    wa, wb = weights(a), weights(b)
    assert len(wa) == len(wb)
    for x, y in zip(wa, wb):
        np.testing.assert_array_equal(x, y)


# --- Ctrl-C in the middle of an epoch ------------------------------------------------------------

INTERRUPT = """
import os, signal, sys
from fastnn import callbacks
from fastnn.cli import main, train as cli_train
class CtrlC(callbacks.Callback):
    def on_batch_end(self, batch, logs):
        if self.trainer.epoch == int(sys.argv[1]) and batch == 2:
            os.kill(os.getpid(), signal.SIGINT)
cli_train.LambdaCallback = lambda **hooks: CtrlC()
sys.exit(main(sys.argv[2:]))
"""


def test_ctrl_c_mid_epoch_keeps_the_boundary_checkpoint_and_resume_is_exact(pets, tmp_path,
                                                                              capsys):
    """Interrupted in epoch 2 of 3 (cosine schedule, Adam): checkpoint.npz still holds epoch
    1; the resumed run, given nothing but --resume, ends with the weights of a run that never
    stopped, bit for bit."""
    options = ["--epochs", "3", "--schedule", "cosine", "--patience", "5"]
    stopped = tmp_path / "stopped"
    result = subprocess.run(
        [sys.executable, "-c", INTERRUPT, "1", "train", "folder", str(pets), *BASE, *options,
         "--out", str(stopped)],
        capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 130, result.stderr
    assert "interrupted in epoch 2 (after batch 3)" in result.stderr
    assert f"--resume {stopped} carries on from epoch 2" in result.stderr
    ckpt = fn.load_checkpoint(stopped / "checkpoint.npz")
    assert ckpt.epoch == 1 and len(ckpt.history["loss"]) == 1
    assert fn.load(stopped / "folder_mlp.npz").metadata["interrupted"] is True

    assert main(["train", "folder", "--resume", str(stopped), "--quiet"]) == 0
    assert "resuming after epoch 1" in capsys.readouterr().out
    whole = tmp_path / "whole"
    assert train(pets, whole, *options) == 0
    assert_same_weights(stopped / "folder_mlp.npz", whole / "folder_mlp.npz")
    assert_same_weights(stopped / "checkpoint.npz", whole / "checkpoint.npz")
    resumed = fn.load_checkpoint(stopped / "checkpoint.npz")
    assert resumed.epoch == 3
    assert resumed.history["loss"] == fn.load_checkpoint(whole / "checkpoint.npz").history["loss"]


# --- the run's options ---------------------------------------------------------------------------


@pytest.mark.parametrize("option,value,kept", [
    ("--lr", "0.01", "0.002"), ("--batch-size", "8", "4"), ("--seed", "1", "0"),
    ("--hidden", "16", "8"), ("--optimizer", "sgd", "adam"), ("--size", "16", "8"),
    ("--schedule", "cosine", "constant"), ("--patience", "2", "None"),
])
def test_resume_refuses_an_option_that_differs_from_the_run(pets, tmp_path, capsys, option,
                                                             value, kept):
    run = tmp_path / "run"
    assert train(pets, run, "--epochs", "1") == 0
    capsys.readouterr()
    assert main(["train", "folder", "--resume", str(run), "--epochs", "2", option, value,
                 "--quiet"]) == 1
    assert capsys.readouterr().err == (
        f"fastnn: error: --resume {run}: {option} {value} differs from the run's {kept}; a "
        f"resumed run keeps its options (leave {option} out, or start a new run)\n")
    assert fn.load_checkpoint(run / "checkpoint.npz").epoch == 1


def test_resume_refuses_other_data_and_another_model(pets, tmp_path, capsys):
    run = tmp_path / "run"
    assert train(pets, run, "--epochs", "1") == 0
    other = write_folder(tmp_path / "other", ["a", "b"], 6, (8, 8), "rgb")
    assert main(["train", "folder", str(other), "--resume", str(run), "--epochs", "2"]) == 1
    assert f"the run trained on {pets.resolve()}, not on {other.resolve()}" in \
        capsys.readouterr().err
    assert main(["train", "folder", "--resume", str(run), "--epochs", "2", "--model", "vgg"]) == 1
    assert "--model vgg differs from the run's mlp" in capsys.readouterr().err
    assert main(["train", "mnist", "--resume", str(run), "--epochs", "2"]) == 1
    assert "the run trained on folder, not on mnist" in capsys.readouterr().err
    (pets / "emu").rename(pets / "gnu")  # the same folder, other classes now
    assert main(["train", "folder", "--resume", str(run), "--epochs", "2"]) == 1
    assert "classes (cat, dog, emu) are not this data's 3 (cat, dog, gnu)" in \
        capsys.readouterr().err


def test_resume_uses_the_runs_options_and_model_name(pets, tmp_path, capsys):
    """Given only --resume, the run carries on with its own options: the MLP's file is not
    named after the CNN, the seed and rate are the run's."""
    run = tmp_path / "run"
    assert train(pets, run, "--epochs", "1", "--lr", "0.01", "--seed", "7") == 0
    capsys.readouterr()
    assert main(["train", "folder", "--resume", str(run), "--epochs", "2", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "adam lr 0.01, constant schedule, batch 4, 2 epochs" in out and "seed 7" in out
    assert sorted(p.name for p in run.glob("*.npz")) == ["checkpoint.npz", "folder_mlp.npz"]
    options = fn.load(run / "folder_mlp.npz").metadata["options"]
    assert options["seed"] == 7 and options["epochs"] == 2 and options["dir"] == str(pets)


def test_extending_a_constant_run_equals_a_longer_run_and_cosine_is_refused(pets, tmp_path,
                                                                           capsys):
    """More --epochs on resume: with the constant schedule the run is the one planned that
    long from the start; a cosine schedule is spread over the planned total, so refused."""
    short, long = tmp_path / "short", tmp_path / "long"
    assert train(pets, short, "--epochs", "2") == 0
    assert main(["train", "folder", "--resume", str(short), "--epochs", "4", "--quiet"]) == 0
    assert train(pets, long, "--epochs", "4") == 0
    assert_same_weights(short / "folder_mlp.npz", long / "folder_mlp.npz")

    cos = tmp_path / "cos"
    assert train(pets, cos, "--epochs", "1", "--schedule", "cosine") == 0
    capsys.readouterr()
    assert main(["train", "folder", "--resume", str(cos), "--epochs", "3"]) == 1
    assert capsys.readouterr().err == (
        f"fastnn: error: --resume {cos}: --epochs 3 differs from the run's planned 1, and its "
        f"cosine schedule is spread over those; leave --epochs out to finish the run, or start "
        f"a new one\n")
    assert main(["train", "folder", "--resume", str(cos)]) == 1
    assert capsys.readouterr().err == (
        f"fastnn: error: --resume {cos / 'checkpoint.npz'}: it has trained 1 epoch already; "
        f"its cosine schedule has ended, so it cannot be extended\n")


def test_fit_resume_refuses_another_seed_batch_size_or_total_with_cosine(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.random((40, 5), dtype=np.float32), rng.integers(0, 3, 40)
    model = fn.Sequential([fn.Dense(5, 8), fn.ReLU(), fn.Dense(8, 3)])
    path = tmp_path / "ckpt.npz"
    model.fit(x, y, epochs=2, batch_size=8, seed=3, progress=False, schedule=fn.cosine(),
              callbacks=[fn.callbacks.ModelCheckpoint(path)])
    for change, message in ((dict(seed=0), "seed=3, not 0"),
                            (dict(batch_size=16), "batch_size=8, not 16"),
                            (dict(epochs=4), "planned for 2 epochs, not 4, and its CosineDecay")):
        ckpt = fn.load_checkpoint(path)
        options = dict(epochs=2, batch_size=8, seed=3, progress=False, schedule=fn.cosine(),
                       resume=ckpt) | change
        with pytest.raises(ValueError, match=message):
            ckpt.model.fit(x, y, **options)


def test_early_stopping_best_weights_survive_a_resume(tmp_path):
    """restore_best across a resume ends on the best epoch's weights, as the run that never
    stopped does (the best epoch, the first by mode max on the loss, is before the resume)."""
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 5), dtype=np.float32), rng.integers(0, 3, 64)

    def net():
        return fn.Sequential([fn.Dense(5, 8), fn.ReLU(), fn.Dense(8, 3)], seed=0)

    def stopper():
        return fn.callbacks.EarlyStopping("loss", mode="max", patience=10, restore_best=True)

    whole, kept = net(), stopper()
    whole.fit(x, y, epochs=5, batch_size=8, seed=1, progress=False, callbacks=[kept])
    assert kept.best_epoch < 2  # so the best weights come from before the resume
    path = tmp_path / "ckpt.npz"
    net().fit(x, y, epochs=2, batch_size=8, seed=1, progress=False,
              callbacks=[stopper(), fn.callbacks.ModelCheckpoint(path)])
    ckpt = fn.load_checkpoint(path)
    ckpt.model.fit(x, y, epochs=5, batch_size=8, seed=1, progress=False, resume=ckpt,
                   callbacks=[stopper()])
    for (key, a, _), (_, b, _) in zip(whole.parameters(), ckpt.model.parameters()):
        np.testing.assert_array_equal(a, b, err_msg=key)


# --- one process per run folder ------------------------------------------------------------------


def test_a_folder_in_use_is_refused_in_one_line(pets, tmp_path, capsys):
    run = tmp_path / "run"
    assert train(pets, run, "--epochs", "1") == 0
    capsys.readouterr()
    with lock_folder(run):  # another run (a live process: this one) trains there
        assert main(["train", "folder", "--resume", str(run), "--epochs", "2"]) == 1
        assert train(pets, run, "--epochs", "1", "--overwrite") == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(line.startswith(
        f"fastnn: error: {run} is in use by process {os.getpid()} on {_host()}") for line in err)
    assert fn.load_checkpoint(run / "checkpoint.npz").epoch == 1
    assert not (run / LOCK_NAME).exists()


def test_a_stale_lock_is_taken_over_and_another_hosts_lock_is_not(pets, tmp_path, capsys):
    run = tmp_path / "run"
    assert train(pets, run, "--epochs", "1") == 0
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a killed run's pid: no process has it now
    (run / LOCK_NAME).write_text(f"{_host()} {gone.pid}")
    assert main(["train", "folder", "--resume", str(run), "--epochs", "2", "--quiet"]) == 0
    assert not (run / LOCK_NAME).exists()
    capsys.readouterr()
    (run / LOCK_NAME).write_text(f"not-{socket.gethostname()[:20]} 1")
    assert main(["train", "folder", "--resume", str(run), "--epochs", "3", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "is in use by process 1 on not-" in err and f"delete {run / LOCK_NAME}" in err


def test_resume_into_another_folder_never_replaces_its_trained_model(pets, tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert train(pets, a, "--epochs", "1") == 0 and train(pets, b, "--epochs", "1") == 0
    before = (b / "folder_mlp.npz").read_bytes()
    capsys.readouterr()
    assert main(["train", "folder", "--resume", str(a), "--epochs", "2", "--out", str(b)]) == 1
    assert f"{b / 'folder_mlp.npz'} already holds a trained model" in capsys.readouterr().err
    assert (b / "folder_mlp.npz").read_bytes() == before
    assert main(["train", "folder", "--resume", str(a), "--epochs", "2", "--out", str(b),
                 "--overwrite", "--quiet"]) == 0
    assert fn.load_checkpoint(b / "checkpoint.npz").epoch == 2
    assert fn.load_checkpoint(a / "checkpoint.npz").epoch == 1


def test_failed_runs_leave_no_folders(pets, tmp_path, capsys, monkeypatch):
    """No run folder until training starts, and none left by a run that fails before it
    wrote anything (here: a failure in the first epoch)."""
    assert main(["train", "folder", "--out", str(tmp_path / "new" / "run")]) == 1
    assert main(["train", "folder", str(tmp_path / "missing")]) == 1
    assert main(["train", "folder", str(pets), "--model", "cnn"]) == 1

    def fail(*args):
        raise ValueError("broken in the first epoch")

    monkeypatch.setattr(cli_train, "_fit", fail)
    assert train(pets, tmp_path / "new" / "run", "--epochs", "1") == 1
    assert main(["train", "folder", str(pets), *BASE]) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pets"]
    assert capsys.readouterr().err.count("broken in the first epoch") == 2
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    assert main(["train", "folder", str(pets), *BASE, "--epochs", "1"]) == 0
    assert main(["train", "folder", str(pets), *BASE, "--epochs", "1"]) == 0
    assert sorted(p.name for p in (tmp_path / "runs" / "folder").iterdir()) == ["1", "2"]


@pytest.mark.parametrize("tamper,message", [
    (lambda t: t | {"run": {"seed": "zero"}}, "run settings"),
    (lambda t: t | {"callbacks": [{"type": "EarlyStopping", "state": {
        "best_weights": [{"w": {"array": "callback/9/0"}}]}}]}, "missing array"),
])
def test_tampered_run_settings_or_callback_arrays_are_a_model_file_error(tmp_path, tamper,
                                                                        message):
    rng = np.random.default_rng(0)
    x, y = rng.random((16, 5), dtype=np.float32), rng.integers(0, 3, 16)
    model = fn.Sequential([fn.Dense(5, 3)])
    path = tmp_path / "ckpt.npz"
    model.fit(x, y, epochs=1, progress=False, callbacks=[
        fn.callbacks.EarlyStopping("loss", restore_best=True), fn.callbacks.ModelCheckpoint(path)])
    with np.load(path) as f:
        arrays = dict(f)
    arrays["training"] = np.array(json.dumps(tamper(json.loads(str(arrays["training"])))))
    np.savez(path, **arrays)
    with pytest.raises(fn.ModelFileError, match=f"{path}: bad training state.*{message}"):
        fn.load_checkpoint(path)
