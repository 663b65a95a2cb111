"""``fastnn sweep``: in this process, against a Dask scheduler and worker started as
subprocesses (loopback only), and its one-line errors (a bad spec, a scheduler nobody runs,
wrong option mixes) and Ctrl-C's message."""

import csv
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from dask_cluster import dask_cluster
from sweep_data import write_mat

import fastnn
from fastnn.cli import main

pytest.importorskip("distributed", reason="fastnn sweep's tests need pip install 'fastnn[dist]'")


def write_spec(tmp_path, mat) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(f'''
[train]
dataset = "mat"
dir = "{mat}"
keys = "X,y"
model = "mlp"
hidden = [8]
epochs = 1
seed = 0

[search]
method = "grid"
metric = "val_accuracy"

[space]
lr = [0.003, 0.03]
''')
    tomllib.loads(path.read_text())
    return path


@pytest.fixture
def mat(tmp_path):
    return write_mat(tmp_path / "tiny.mat")


def rows(folder: Path) -> list[dict]:
    with open(folder / "trials.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_sweep_in_this_process(tmp_path, mat, capsys):
    spec = write_spec(tmp_path, mat)
    assert main(["sweep", str(spec), "--workers", "0", "--out", str(tmp_path / "s"),
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "sweep: grid, 2 trials, val_accuracy to maximize, in this process (no Dask)" in out
    assert "2 trials complete, 0 failed" in out and "best: trial " in out
    assert [r["state"] for r in rows(tmp_path / "s")] == ["complete", "complete"]
    assert fastnn.load(tmp_path / "s" / "best.npz").metadata["sweep"]["trial"] in (0, 1)


def test_sweep_on_a_scheduler_started_as_a_subprocess(tmp_path, mat):
    spec = write_spec(tmp_path, mat)
    with dask_cluster(tmp_path) as address:
        done = subprocess.run([sys.executable, "-m", "fastnn", "sweep", str(spec),
                               "--scheduler", address, "--timeout", "60", "--out",
                               str(tmp_path / "s")], cwd=tmp_path, capture_output=True,
                              text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"in Dask at {address}" in done.stdout
    assert [(r["state"], r["numba_threads"]) for r in rows(tmp_path / "s")] == [
        ("complete", "1"), ("complete", "1")]
    assert {p.name for p in (tmp_path / "s").iterdir()} == {
        "spec.json", "trials.csv", "best.npz", "report.json"}


def test_a_scheduler_nobody_runs_is_a_one_line_error_not_a_hang(tmp_path, mat):
    spec = write_spec(tmp_path, mat)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = subprocess.run([sys.executable, "-m", "fastnn", "sweep", str(spec), "--scheduler",
                           f"tcp://127.0.0.1:{port}", "--timeout", "2", "--out",
                           str(tmp_path / "s")], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, PYTHONWARNINGS="ignore"))
    assert done.returncode == 1
    assert done.stderr == (
        f"fastnn: error: cannot reach the Dask scheduler at tcp://127.0.0.1:{port} within 2 s "
        f"(OSError); is it running?\n")
    assert not (tmp_path / "s" / "trials.csv").exists()


@pytest.mark.parametrize("argv, words", [
    ([], "give a spec file, or --resume RUN"),
    (["SPEC", "--resume", "x"], "give a spec file, or --resume RUN (not both)"),
    (["SPEC", "--scheduler", "tcp://h:1", "--workers", "2"], "--workers shapes a LocalCluster"),
    (["SPEC", "--workers", "64", "--threads", "2"], "asks for 128 threads on"),
    (["BAD"], "not a TOML file"),
])
def test_bad_uses_are_one_line_errors(tmp_path, mat, capsys, argv, words):
    spec = write_spec(tmp_path, mat)
    bad = tmp_path / "bad.toml"
    bad.write_text("lr = [1e-3,\n")
    argv = [str(spec) if a == "SPEC" else str(bad) if a == "BAD" else a for a in argv]
    assert main(["sweep", *argv, "--out", str(tmp_path / "s")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("fastnn: error: ") and words in err and err.count("\n") == 1


def test_ctrl_c_says_how_to_resume(tmp_path, mat, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise fastnn.sweep.SweepInterrupted(tmp_path / "s", 3, 8)

    monkeypatch.setattr(fastnn.sweep, "run", interrupted)
    assert main(["sweep", str(write_spec(tmp_path, mat))]) == 130
    err = capsys.readouterr().err
    assert (f"sweep interrupted: 3 of 8 trials finished and written to {tmp_path / 's'}; "
            f"fastnn sweep --resume {tmp_path / 's'} runs the others") in err
