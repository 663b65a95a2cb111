"""A full disk (ENOSPC) or a file-size limit (RLIMIT_FSIZE) during training's per-epoch writes:
the error names the file, the last good checkpoint stays loadable, and the model trained so far
is saved as a finished one would be."""

import errno
import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest
from test_classics import write_folder

import fastnn as fn
from fastnn.cli import main
from fastnn.cli import train as cli_train

resource = pytest.importorskip("resource")

BASE = ["--hidden", "64", "--size", "8", "--batch-size", "4", "--optimizer", "adam",
        "--quiet"]


@pytest.fixture
def pets(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # a rescue stays in tmp_path
    return write_folder(tmp_path / "pets", ["cat", "dog", "emu"], 10, (8, 8), "rgb")


def weights(path):
    return [p for _, p, _ in fn.load(path).parameters()]


def check_rescue(err: str, run, reference, reason: str) -> None:
    """One line naming the file; checkpoint.npz still the epoch-1 one; the model of epoch 2
    saved (marked interrupted) with the weights of a run of two epochs."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"fastnn: error: [Errno {reason}] cannot write "
                               f"{run / 'checkpoint.npz'}: ")
    assert "(after epoch 2)" in lines[0] and str(run / "folder_mlp.npz") in lines[0]
    assert fn.load_checkpoint(run / "checkpoint.npz").epoch == 1
    model = fn.load(run / "folder_mlp.npz")
    assert model.metadata["interrupted"] is True and model.metadata["epochs_trained"] == 2
    for a, b in zip(weights(run / "folder_mlp.npz"), weights(reference / "folder_mlp.npz")):
        np.testing.assert_array_equal(a, b)
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]


def test_a_full_disk_in_epoch_2_keeps_epoch_1_and_saves_the_model(pets, tmp_path, capsys,
                                                                   monkeypatch):
    reference = tmp_path / "two"
    assert main(["train", "folder", str(pets), *BASE, "--epochs", "2", "--out",
                 str(reference)]) == 0
    run = tmp_path / "run"
    full = []
    real_fsync = os.fsync

    def fsync(fd):  # the disk fills up for checkpoints after epoch 1
        if full and os.readlink(f"/proc/self/fd/{fd}").startswith(str(run / ".checkpoint")):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    class FillAfterEpoch1(fn.callbacks.Callback):
        def on_epoch_end(self, epoch, logs):
            if epoch == 1:
                full.append(True)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(cli_train, "LambdaCallback", lambda **hooks: FillAfterEpoch1())
    capsys.readouterr()
    assert main(["train", "folder", str(pets), *BASE, "--epochs", "3", "--out", str(run)]) == 1
    check_rescue(capsys.readouterr().err, run, reference, f"{errno.ENOSPC}")


LIMITED = """
import resource, sys
from fastnn import callbacks
from fastnn.cli import main, train as cli_train
class Limit(callbacks.Callback):
    def on_epoch_end(self, epoch, logs):
        if epoch == 1:  # checkpoints (Adam's moments: 3x the model) no longer fit
            resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), resource.RLIM_INFINITY))
cli_train.LambdaCallback = lambda **hooks: Limit()
sys.exit(main(sys.argv[2:]))
"""


def test_a_file_size_limit_keeps_the_last_checkpoint_and_saves_the_model(pets, tmp_path):
    reference = tmp_path / "two"
    assert main(["train", "folder", str(pets), *BASE, "--epochs", "2", "--out",
                 str(reference)]) == 0
    model_size = (reference / "folder_mlp.npz").stat().st_size
    assert (reference / "checkpoint.npz").stat().st_size > 2 * model_size
    run = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-c", LIMITED, str(2 * model_size), "train", "folder", str(pets),
         *BASE, "--epochs", "3", "--out", str(run)],
        capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    check_rescue(result.stderr, run, reference, f"{errno.EFBIG}")


def test_when_the_run_folder_cannot_take_the_model_either_it_goes_to_the_temporary_folder(
        pets, tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    real_fsync = os.fsync

    def fsync(fd):  # the run folder's disk is full from the start
        if os.readlink(f"/proc/self/fd/{fd}").startswith(str(run)):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    assert main(["train", "folder", str(pets), *BASE, "--epochs", "2", "--out", str(run)]) == 1
    err = capsys.readouterr().err
    assert f"cannot write {run / 'checkpoint.npz'}: No space left on device" in err
    assert "(after epoch 1)" in err
    rescued = [p for p in tmp_path.glob("fastnn-rescue-*/folder_mlp.npz")]
    assert len(rescued) == 1 and str(rescued[0]) in err.splitlines()[-1]
    assert fn.load(rescued[0]).metadata["epochs_trained"] == 1
    assert not run.exists()  # nothing could be written there: no empty folder is left


def test_model_checkpoint_on_a_full_disk_names_the_file_and_keeps_the_last_one(tmp_path,
                                                                              monkeypatch):
    rng = np.random.default_rng(0)
    x, y = rng.random((32, 5), dtype=np.float32), rng.integers(0, 3, 32)
    model = fn.Sequential([fn.Dense(5, 8), fn.ReLU(), fn.Dense(8, 3)])
    path = tmp_path / "ckpt.npz"
    real_fsync = os.fsync

    def fsync(fd):
        if model.fitting.locked() and epochs_done[0] >= 1:  # full from the second epoch on
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    epochs_done = [0]
    count = fn.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: epochs_done.__setitem__(
        0, epoch))
    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(OSError, match=f"cannot write {path}: No space left on device"):
        model.fit(x, y, epochs=3, batch_size=8, progress=False,
                  callbacks=[count, fn.callbacks.ModelCheckpoint(path)])
    assert fn.load_checkpoint(path).epoch == 1
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]
