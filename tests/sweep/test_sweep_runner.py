"""fastnn.sweep.run: the same table in this process and on two Dask workers (against an empty
Numba cache, each on one Numba thread), a failed trial, Ctrl-C and --resume, a killed worker,
the versions check, the missing extras, best.npz and the plot."""

import csv
import os
import signal
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from sweep_data import tiny_spec, write_mat

import fastnn as fn
from fastnn.sweep import results as sweep_results
from fastnn.sweep import runner

distributed = pytest.importorskip("distributed", reason="the sweep's Dask tests need "
                                  "pip install 'fastnn[dist]'")

TIMING = set(sweep_results.TIMES)


@pytest.fixture
def mat(tmp_path):
    return write_mat(tmp_path / "tiny.mat")


@pytest.fixture
def spec(mat):
    return tiny_spec(mat)


def table(folder: Path) -> list[dict]:
    with open(folder / "trials.csv", newline="") as f:
        return list(csv.DictReader(f))


def without_times(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in TIMING} for r in rows]


def test_two_workers_on_an_empty_numba_cache_give_the_in_process_table(spec, tmp_path,
                                                                         monkeypatch):
    """A 4-trial grid on a LocalCluster of 2 workers x 1 thread, whose workers both compile
    into one empty NUMBA_CACHE_DIR, gives --workers 0's table: the same seeds, the same
    metrics; every worker ran on NUMBA_NUM_THREADS=1."""
    here = runner.run(spec, workers=0, threads=1, out=tmp_path / "here", progress=False)
    cache = tmp_path / "numba-cache"
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(cache))
    there = runner.run(spec, workers=2, threads=1, out=tmp_path / "dask", progress=False)
    assert here["complete"] == there["complete"] == 4
    rows = table(tmp_path / "dask")
    assert without_times(rows) == without_times(table(tmp_path / "here"))
    assert {r["numba_threads"] for r in rows} == {"1"}
    assert all(float(r["compile_seconds"]) >= 0 for r in rows)
    assert any(cache.rglob("*.nbi")), "the workers wrote no Numba cache"
    assert there["dask_overhead_seconds_per_trial"] is not None


def test_the_cluster_leaves_this_process_environment_alone(spec, tmp_path, monkeypatch):
    monkeypatch.delenv("NUMBA_NUM_THREADS", raising=False)
    before = dict(os.environ)
    with runner.dask_client(1, 1, None) as client:
        got = client.run(lambda: os.environ.get("NUMBA_NUM_THREADS"))
    assert list(got.values()) == ["1"]
    assert dict(os.environ) == before


def test_a_failing_trial_is_recorded_and_the_others_finish(spec, tmp_path):
    spec["train"] |= {"optimizer": "sgd"}
    spec["space"] = {"lr": [0.05, 1e30]}  # the second diverges
    report = runner.run(spec, workers=0, out=tmp_path / "s", progress=False)
    rows = table(tmp_path / "s")
    assert [r["state"] for r in rows] == ["complete", "failed"]
    assert "FloatingPointError" in rows[1]["error"] and "diverged" in rows[1]["error"]
    assert report["complete"] == 1 and report["failed"] == 1
    assert report["best"]["number"] == "0"


def interrupt_at(number: int):
    def trial(config: dict) -> dict:
        if config["number"] == number:
            raise KeyboardInterrupt
        return fn.sweep.run_trial(config)
    return trial


def test_ctrl_c_writes_the_finished_trials_and_resume_runs_only_the_others(spec, tmp_path):
    folder = tmp_path / "s"
    with pytest.raises(fn.sweep.SweepInterrupted) as stop:
        runner.run(spec, workers=0, out=folder, trial=interrupt_at(2), progress=False)
    assert stop.value.done == 2 and stop.value.folder == folder
    first = table(folder)
    assert [r["number"] for r in first] == ["0", "1"]
    report = sweep_results.read_json(folder / "report.json")
    assert report["interrupted"] and report["finished"] == 2
    assert not list(folder.glob(".*.tmp"))  # nothing half-written
    resumed = runner.run(resume=folder, workers=0, progress=False)
    assert resumed["ran_now"] == [2, 3]
    rows = table(folder)
    assert rows[:2] == first and len(rows) == 4
    assert without_times(rows) == without_times(table_of_a_whole_run(spec, tmp_path))


def table_of_a_whole_run(spec, tmp_path) -> list[dict]:
    runner.run(spec, workers=0, out=tmp_path / "whole", progress=False)
    return table(tmp_path / "whole")


def test_resume_continues_an_optuna_study_from_its_journal(spec, tmp_path):
    pytest.importorskip("optuna", reason="random and tpe need pip install 'fastnn[sweep]'")
    import optuna

    spec["search"] |= {"method": "tpe", "trials": 3}
    del spec["train"]["hidden"], spec["train"]["epochs"]
    spec["space"] = {"lr": {"low": 1e-3, "high": 1e-1, "log": True},
                     "hidden": [[4], [8]], "epochs": {"low": 1, "high": 2}}
    folder = tmp_path / "s"
    with pytest.raises(fn.sweep.SweepInterrupted):
        runner.run(spec, workers=0, out=folder, trial=interrupt_at(1), progress=False)
    assert [r["number"] for r in table(folder)] == ["0"]
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(folder / "study.journal")))
    cut = optuna.load_study(study_name="fastnn-sweep", storage=storage).trials[1].params
    report = runner.run(resume=folder, workers=0, progress=False)
    assert report["ran_now"] == [2, 3] and report["complete"] == 3
    study = optuna.load_study(study_name="fastnn-sweep", storage=storage)
    states = [t.state.name for t in study.trials]
    assert states == ["COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]
    assert study.trials[2].params == cut  # the interrupted trial, asked again
    rows = table(folder)
    assert all(1e-3 <= float(r["lr"]) <= 1e-1 and r["epochs"] in "12" for r in rows)


def dies(marker: str, always: bool = False):
    """Kills its worker process in trial 0: in its first attempt, or in every attempt."""
    def trial(config: dict) -> dict:
        if config["number"] == 0 and (always or not os.path.exists(marker)):
            open(marker, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
        return fn.sweep.run_trial(config)
    return trial


@pytest.mark.parametrize("always", [False, True], ids=["dies-once", "dies-always"])
def test_a_killed_worker_gets_its_trial_retried_once(spec, tmp_path, always):
    """The trial whose worker was killed runs again on a worker; killed again, it is a failed
    trial. (A trial that waited on the dying worker may be retried too, and then completes.)"""
    spec["space"] = {"lr": [0.003, 0.03, 0.1]}
    report = runner.run(spec, workers=2, out=tmp_path / "s", progress=False,
                        trial=dies(str(tmp_path / "died"), always))
    rows = table(tmp_path / "s")
    assert (rows[0]["state"], rows[0]["attempt"]) == (
        ("failed", "2") if always else ("complete", "2"))
    if always:
        assert "its worker died 2 times" in rows[0]["error"]
    assert [r["state"] for r in rows[1:]] == ["complete", "complete"]
    assert report["complete"] == 3 - always


class FakeClient:
    def __init__(self, versions):
        self.versions = versions

    def get_versions(self, packages=()):
        return self.versions


def test_a_worker_with_other_versions_is_a_one_line_error(spec, tmp_path):
    mine = {"fastnn": fn.__version__, "numpy": np.__version__, "numba": "0.60.0"}
    versions = {"client": {"packages": mine},
                "workers": {"tcp://10.0.0.7:4000": {"packages": mine | {"numba": "0.59.1"}}}}
    with pytest.raises(fn.sweep.SpecError, match=r"^worker tcp://10.0.0.7:4000 runs numba "
                       r"0.59.1, this process 0.60.0: install the same") as e:
        runner.run(spec, FakeClient(versions), out=tmp_path / "s", progress=False)
    assert "\n" not in str(e.value)
    assert not (tmp_path / "s" / "trials.csv").exists()  # nothing ran
    versions["workers"]["tcp://10.0.0.7:4000"]["packages"]["numba"] = "0.60.0"
    runner.check_versions(versions)  # the same versions pass


def test_unreachable_scheduler_is_a_one_line_error_within_the_timeout(spec, tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(OSError, match=f"cannot reach the Dask scheduler at "
                       f"tcp://127.0.0.1:{port} within 1 s") as e:
        runner.run(spec, scheduler=f"tcp://127.0.0.1:{port}", timeout=1,
                   out=tmp_path / "s", progress=False)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("module, extra, method", [("distributed", "dist", "grid"),
                                                   ("optuna", "sweep", "random")])
def test_a_missing_extra_says_which_pip_install(spec, tmp_path, monkeypatch, module, extra,
                                                method):
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    spec["search"] |= {"method": method, "trials": 2}
    with pytest.raises(ImportError, match=rf"needs {module}: pip install 'fastnn\[{extra}\]'"):
        runner.run(spec, workers=1, out=tmp_path / "s", progress=False)


def test_best_npz_is_the_best_trial_and_predicts_like_any_model(spec, mat, tmp_path):
    pytest.importorskip("matplotlib")
    report = runner.run(spec, workers=0, out=tmp_path / "s", plot=True, progress=False)
    rows = table(tmp_path / "s")
    best = max(rows, key=lambda r: float(r["val_accuracy"]))
    assert report["best"]["number"] == best["number"]
    model = fn.load(tmp_path / "s" / "best.npz")
    assert model.metadata["sweep"]["trial"] == int(best["number"])
    x = scipy.io.loadmat(mat)["X"][:5].astype(np.float32)
    assert model.predict(x).shape == (5, 3)
    assert (tmp_path / "s" / "sweep.png").stat().st_size > 0
    assert {p.name for p in (tmp_path / "s").iterdir()} == {
        "spec.json", "trials.csv", "best.npz", "report.json", "sweep.png"}


def test_a_sweep_never_writes_into_a_used_folder(spec, tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "mine.txt").write_text("keep")
    with pytest.raises(ValueError, match="is not empty; choose another --out, or --resume"):
        runner.run(spec, workers=0, out=tmp_path / "s", progress=False)
    with pytest.raises(FileNotFoundError, match="no sweep there"):
        runner.run(resume=tmp_path / "s", workers=0, progress=False)
