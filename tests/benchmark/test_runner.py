"""The bench's runner: processes taking turns, thread counts, comparators that are missing,
crash, hang or give no result, the background load, Ctrl-C. The children are fakes
(fake_child.py) that answer at once, except in the one test that runs the real child; no test
asserts a timing."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from fastnn import benchmark
from fastnn.benchmark import child, results, runner
from fastnn.benchmark.runner import Cell, Runner, Settings

FAKE = Path(__file__).with_name("fake_child.py")
CELL = Cell("mnist-cnn", 28, 2, False, (1, 32), (32,))


@pytest.fixture(autouse=True)
def every_comparator_installed(monkeypatch):
    """The fakes stand in for every framework, installed here or not."""
    monkeypatch.setattr(runner, "missing", lambda framework, python=None: None)


def fake_run(folder: Path, cells=(CELL,), behaviour=None, **settings) -> dict:
    folder.mkdir(exist_ok=True)
    if behaviour:
        (folder / "BEHAVIOUR").write_text(json.dumps(behaviour))
    s = Settings(cells=list(cells), **({"kernels": False} | settings))
    return Runner(s, folder, command=lambda spec, out, python: [
        sys.executable, str(FAKE), str(spec), str(out)]).run()


def spawned(folder: Path) -> list[dict]:
    """What each fake child recorded, in the order they ran."""
    return sorted((json.loads(p.read_text()) | {"pid": int(p.name[4:])}
                   for p in folder.glob("pid-*")), key=lambda r: r["time"])


def rows_of(result: dict, framework: str) -> list[dict]:
    return [r for r in result["rows"] if r["framework"] == framework]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_frameworks_take_turns_each_in_new_processes_with_the_cells_threads(tmp_path):
    one = Cell("lenet5", 28, 1, False, (1,), ())
    result = fake_run(tmp_path / "run", cells=[CELL, one])
    timed = [r for r in spawned(tmp_path / "run") if r["job"] == "time"]
    assert [r["framework"] for r in timed] == ["fastnn", "pytorch", "keras", "onnxruntime"] * 6
    assert len({r["pid"] for r in timed}) == 24
    assert [r["threads"] for r in timed] == ["2"] * 12 + ["1"] * 12
    result["rows"] = [r for r in result["rows"] if r["network"] == "mnist-cnn"]
    results.validate(result)
    for fw in ("fastnn", "pytorch", "keras"):
        assert [(r["task"], r["batch"]) for r in rows_of(result, fw)] == [
            ("infer", 1), ("infer", 32), ("train", 32)]
    # onnxruntime times inference only
    assert [r["task"] for r in rows_of(result, "onnxruntime")] == ["infer", "infer"]
    for row in result["rows"]:
        assert row["status"] == "ok" and len(row["processes"]) == 3 and row["reason"] is None
        assert row["min"] <= row["median"] and row["max_abs_diff"] == 1e-7
    assert result["matmul_peak_gflops"] == {"1": 100.0, "2": 100.0}
    assert result["environment"]["runtime"]["pytorch"] == {"fake": True}


def test_a_missing_comparator_has_its_reason_and_spawns_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "missing", lambda fw, python=None: "PyTorch is not installed "
                        "(pip install torch)" if fw == "pytorch" else None)
    result = fake_run(tmp_path / "run")
    assert "pytorch" not in {r["framework"] for r in spawned(tmp_path / "run")}
    torch_rows = rows_of(result, "pytorch")
    assert torch_rows and all(r["status"] == "missing" and r["processes"] == []
                              and r["reason"].startswith("PyTorch is not installed")
                              for r in torch_rows)
    text = results.report(result)
    assert "pytorch: PyTorch is not installed" in text and "(missing)" in text
    assert all(r["status"] == "ok" for r in rows_of(result, "onnxruntime"))


def test_missing_names_what_to_install(monkeypatch):
    monkeypatch.undo()
    monkeypatch.setattr(runner.importlib.util, "find_spec", lambda name: None)
    assert "pip install torch" in runner.missing("pytorch")
    assert "onnxruntime and onnx not installed" in runner.missing("onnxruntime")
    assert runner.missing("fastnn") is None
    assert "pip install tensorflow-cpu keras, or --keras-python PATH" in runner.missing("keras")


def test_a_keras_python_that_cannot_import_keras_is_named(tmp_path, monkeypatch):
    monkeypatch.undo()
    python = tmp_path / "python"
    python.write_text("#!/bin/sh\necho \"ModuleNotFoundError: No module named 'keras'\" >&2\n"
                      "exit 1\n")
    python.chmod(0o755)
    assert runner.missing("keras", str(python)) == (
        f"--keras-python {python} cannot import Keras and fastnn (ModuleNotFoundError: No "
        "module named 'keras')")
    assert runner.missing("keras", str(tmp_path / "none")).startswith(
        f"--keras-python {tmp_path / 'none'} cannot run (")


def test_the_keras_processes_run_the_keras_python_and_the_others_this_one(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    ran = []

    def command(spec, out, python):
        ran.append((json.loads(spec.read_text()).get("framework"), python))
        return [sys.executable, str(FAKE), str(spec), str(out)]

    Runner(Settings(cells=[CELL], kernels=False, keras_python="/venvs/keras/bin/python"),
           folder, command=command).run()
    assert {python for fw, python in ran if fw == "keras"} == {"/venvs/keras/bin/python"}
    assert {python for fw, python in ran if fw != "keras"} == {sys.executable}


def test_a_crashing_comparator_is_a_failed_row_and_the_rest_goes_on(tmp_path):
    result = fake_run(tmp_path / "run", behaviour={"pytorch": "crash"})
    for row in rows_of(result, "pytorch"):
        assert row["status"] == "failed"
        assert row["reason"] == ("exited with code 3: RuntimeError: the comparator fell over")
    assert all(r["status"] == "ok" for r in rows_of(result, "fastnn"))
    assert "(failed)" in results.report(result)


def test_one_crash_in_three_keeps_the_other_two_and_says_so(tmp_path):
    result = fake_run(tmp_path / "run", behaviour={"pytorch": "once-crash"})
    for row in rows_of(result, "pytorch"):
        assert row["status"] == "ok" and len(row["processes"]) == 2
        assert row["reason"].startswith("1 of 3 processes failed: exited with code 3")


def test_a_hanging_comparator_is_killed_at_its_time_limit(tmp_path):
    result = fake_run(tmp_path / "run", behaviour={"onnxruntime": "hang"}, timeout=2)
    assert {r["reason"] for r in rows_of(result, "onnxruntime")} == {
        "no answer within 2 s (killed)"}
    hung = [r["pid"] for r in spawned(tmp_path / "run") if r["framework"] == "onnxruntime"]
    assert len(hung) == 3 and not any(alive(pid) for pid in hung)
    assert all(r["status"] == "ok" for r in rows_of(result, "pytorch"))


def test_a_child_that_exits_without_a_result_is_a_failure(tmp_path):
    result = fake_run(tmp_path / "run", behaviour={"fastnn": "silent"})
    assert {r["reason"] for r in rows_of(result, "fastnn")} == {"exited with code 0: no output"}
    assert "-" in results.report(result)  # no ratio without fastnn's time


def test_a_failed_export_fails_every_row_of_its_cell(tmp_path):
    result = fake_run(tmp_path / "run", behaviour={"export": "crash"})
    assert {r["status"] for r in result["rows"]} == {"failed"}
    assert all(r["reason"].startswith("export failed: exited with code 3")
               for r in result["rows"])
    assert [r["job"] for r in spawned(tmp_path / "run")] == ["peak", "export"]


def test_kernels_run_each_implementation_in_its_own_processes(tmp_path):
    result = fake_run(tmp_path / "run", cells=[], kernels=True)
    kernel_jobs = [r for r in spawned(tmp_path / "run") if r["job"] == "kernels"]
    assert [r["framework"] for r in kernel_jobs] == list(runner.IMPLEMENTATIONS) * 3
    assert {(r["implementation"], r["status"], len(r["processes"]))
            for r in result["kernels"]} == {(i, "ok", 3) for i in runner.IMPLEMENTATIONS}
    row = results.kernels(result)[0]
    assert row["numba/reference"].startswith("0.01 (0.01)")


def test_the_busy_core_runs_only_inside_its_block_even_on_an_error():
    with pytest.raises(RuntimeError), runner.busy_core() as proc:
        assert proc.poll() is None
        raise RuntimeError
    assert proc.poll() is not None


def test_the_busy_core_ends_by_itself_when_the_bench_is_killed():
    script = ("import os\nfrom fastnn.benchmark.runner import busy_core\n"
              "print(busy_core().__enter__().pid, flush=True)\nos._exit(0)  # no clean-up\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, timeout=60)
    pid = int(out.stdout)
    deadline = time.monotonic() + 60
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid)


def test_ctrl_c_stops_the_child_and_the_load_and_writes_nothing(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "BEHAVIOUR").write_text(json.dumps({"fastnn": "hang"}))
    script = textwrap.dedent(f"""
        import json, os, sys
        from pathlib import Path
        from fastnn.benchmark import runner
        runner.missing = lambda fw, python=None: None
        cell = runner.Cell("mnist-cnn", 28, 1, True, (1,), ())
        r = runner.Runner(runner.Settings(cells=[cell], kernels=False), Path({str(folder)!r}),
                          command=lambda s, o, p: [sys.executable, {str(FAKE)!r}, str(s), str(o)])
        try:
            r.run()
        except KeyboardInterrupt:
            def parent(pid):
                try:
                    return int(Path(f"/proc/{{pid}}/stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    return None
            busy = [p for p in os.listdir("/proc") if p.isdigit() and parent(p) == os.getpid()]
            print(json.dumps(busy))
            sys.exit(130)
        """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not any(r["framework"] == "fastnn" for r in spawned(folder)):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    (hung,) = [r["pid"] for r in spawned(folder) if r["framework"] == "fastnn"]
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert json.loads(out) == []  # the busy process was gone before the bench exited
    assert not alive(hung)


def test_run_removes_its_folder_on_ctrl_c(tmp_path, monkeypatch):
    def interrupted(self):
        assert self.folder.parent == tmp_path
        raise KeyboardInterrupt

    monkeypatch.setattr(runner.tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(Runner, "run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        runner.run(Settings(cells=[CELL]))
    assert list(tmp_path.iterdir()) == []


def test_a_comparator_that_computes_another_network_is_refused(tmp_path):
    np.save(tmp_path / "expected.npy", np.full((2, 3), 1 / 3))
    spec = {"framework": "pytorch", "files": {"expected": str(tmp_path / "expected.npy")}}
    assert child._max_diff(np.full((2, 3), 1 / 3 + 1e-4), spec) == pytest.approx(1e-4)
    with pytest.raises(SystemExit, match=r"pytorch gives other probabilities than fastnn on the "
                       r"same weights \(largest difference 0.01\): not the same network"):
        child._max_diff(np.full((2, 3), 1 / 3 + 1e-2), spec)


def test_default_and_quick_plans_list_their_cells_and_a_bad_thread_count_is_named(monkeypatch):
    monkeypatch.setattr(runner.machine, "environment", lambda: {"usable_cores": 2})
    cells = runner.plan()
    idle = [c for c in cells if not c.load and c.size in (28, 32, 64)
            and c.infer == runner.INFER_BATCHES]
    assert {(c.network, c.threads) for c in idle} == {
        (n.name, t) for n in runner.zoo.ZOO for t in (1, 2)}
    assert all(c.train == (8, 32, 128) for c in idle)
    assert {c.size for c in cells if c.network == "simple-vgg-bn"} == {32, 64, 128}
    assert {c.network for c in cells if c.load} == {n.name for n in runner.zoo.ZOO}
    quick = runner.plan(quick=True, sizes=False, load=False)
    assert [(c.network, c.threads, c.infer, c.train) for c in quick] == [
        ("mnist-cnn", 2, (1, 32), (32,)), ("lenet5", 2, (1, 32), (32,))]
    with pytest.raises(ValueError, match="--threads 3: this machine has 2 usable cores"):
        runner.plan(threads=[3])


def test_the_real_children_check_the_same_network_and_time_it(tmp_path, monkeypatch):
    """One small real run: fastnn, and whichever comparators are installed, on the MNIST CNN;
    each process checks fastnn's probabilities from the exported file first."""
    monkeypatch.undo()
    cell = Cell("mnist-cnn", 28, 1, False, (1,), (8,))
    result = benchmark.run(Settings(cells=[cell], kernel_names=["relu forward"],
                                    budget=0.01, kernel_budget=0.01))
    results.validate(result)
    for row in result["rows"]:
        if row["status"] == "missing":
            assert row["framework"] != "fastnn" and runner.missing(row["framework"])
            continue
        assert row["status"] == "ok", row
        assert len(row["processes"]) == 3 and row["max_abs_diff"] <= 1e-3
    runtime = result["environment"]["runtime"]["fastnn"]
    assert runtime["numba_threads"] == 1 and runtime["threading_layer"]
    assert {(r["implementation"], r["case"]) for r in result["kernels"]} == {
        (i, "relu forward 8x24x24") for i in runner.IMPLEMENTATIONS if i != "numpy-im2col"}


def test_a_kernel_implementation_that_always_fails_is_a_row_and_the_others_stay(tmp_path):
    result = fake_run(tmp_path / "run", cells=[], kernels=True, behaviour={"numba": "crash"})
    rows = {(r["implementation"], r["status"]) for r in result["kernels"]}
    assert rows == {("numba", "failed"), ("reference", "ok"), ("numpy-im2col", "ok")}
    (failed,) = [r for r in result["kernels"] if r["status"] == "failed"]
    assert failed["reason"].startswith("exited with code 3")


def test_the_quick_plan_has_no_extra_cells_unless_asked(monkeypatch):
    monkeypatch.setattr(runner.machine, "environment", lambda: {"usable_cores": 2})
    assert [c.load for c in runner.plan(quick=True)] == [False, False]
    assert sum(c.load for c in runner.plan(quick=True, load=True)) == 2
