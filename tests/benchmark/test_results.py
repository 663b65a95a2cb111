"""The bench's result file, its tables and `fastnn bench compare`, on small made-up results;
and the wiring of `fastnn bench` (files never replaced, the plot, Ctrl-C). No timing here."""

import json

import pytest
from PIL import Image

from fastnn import benchmark, plots
from fastnn.benchmark import results
from fastnn.cli import main

ENV = {"host": "vm", "cpu": "Test CPU", "logical_cores": 2, "usable_cores": 2,
       "cpu_flags": ["avx2", "avx512f"], "versions": {"fastnn": "0.1.0"}, "commit": "abc",
       "date": "2026-12-04T12:00:00", "runtime": {}}
CELLS = [{"network": "mnist-cnn", "size": 28, "threads": 2, "load": False, "infer": [1, 256],
          "train": [32]},
         {"network": "mnist-cnn", "size": 28, "threads": 2, "load": True, "infer": [1],
          "train": []}]


def row(task, batch, framework, times, load=False, status="ok", reason=None):
    return results.with_stats({
        "network": "mnist-cnn", "size": 28, "threads": 2, "load": load, "task": task,
        "batch": batch, "framework": framework, "processes": times, "status": status,
        "reason": reason, "flops": 1e9 if task == "train" else None, "max_abs_diff": 0.0})


def fake_result(scale=1.0, env=ENV) -> dict:
    rows = [row("train", 32, "fastnn", [2e-3 * scale, 2.1e-3 * scale, 2.05e-3 * scale]),
            row("train", 32, "pytorch", [3e-3, 3.1e-3, 3.2e-3]),
            row("train", 32, "keras", [2.5e-3, 2.5e-3, 2.5e-3]),
            row("infer", 1, "fastnn", [1e-4, 1e-4, 1e-4]),
            row("infer", 1, "pytorch", [2e-4, 2e-4, 2e-4]),
            row("infer", 1, "onnxruntime", [5e-5, 5e-5, 5e-5]),
            row("infer", 256, "fastnn", [4e-3, 4e-3, 4e-3]),
            row("infer", 256, "pytorch", [], status="missing", reason="PyTorch is not installed"),
            row("infer", 256, "onnxruntime", [4e-3, 6e-3, 5e-3]),  # spread 40%: noisy
            row("infer", 1, "fastnn", [2e-4, 2e-4, 2e-4], load=True)]
    kernels = [results.with_stats({"case": "conv", "implementation": impl, "threads": 2,
                                   "processes": [t, t], "status": "ok", "reason": None})
               for impl, t in (("numba", 1e-4), ("reference", 1e-2))]
    made = results.make(env, {"rounds": 3, "optimizer": "sgd", "cells": CELLS}, {"2": 200.0},
                        rows, kernels)
    return json.loads(json.dumps(made))  # a copy of its own: tests change it


def write(path, data) -> str:
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def test_stats_are_the_min_median_and_spread_of_the_processes():
    r = results.with_stats({"processes": [3.0, 1.0, 2.0]})
    assert (r["min"], r["median"], r["spread"]) == (1.0, 2.0, 1.0)
    assert results.with_stats({"processes": [1.0]})["spread"] is None
    assert results.with_stats({"processes": []})["median"] is None


def test_report_gives_medians_ratios_and_flags_noise():
    text = results.report(fake_result())
    assert "Test CPU (avx2 avx512f), 2 cores, host vm" in text.splitlines()[0]
    # train step: 2.05 / 3.1 ms median, 2.0 / 3.0 ms min
    assert "| mnist-cnn | train step, batch 32 | 2.05 ms | 3.10 ms | 0.661 (0.667) |" in text
    assert "| infer b256 | 4.00 ms | missing | (missing) | 5.00 ms | 0.8 (1)~ |" in text
    assert "pytorch: PyTorch is not installed" in text
    assert "| mnist-cnn | infer b1 | fastnn | 100.0 us | 200.0 us | 2 |" in text  # loaded/idle
    assert "| conv | 100.0 us | 10.00 ms | 0.01 (0.01) |" in text
    # the fastest other side of each row, by median; 1 GFLOP in 2 ms: 250% of 200 GFLOP/s
    assert "| - | - | keras | 0.82 (0.8) | 250 |" in text
    assert "| 50.0 us | 2 (2) | onnxruntime | 2 (2) | - |" in text  # latency: ORT is fastest


def test_validate_accepts_a_result_and_its_json_round_trip(tmp_path):
    data = fake_result()
    assert results.load(write(tmp_path / "r.json", data)) == json.loads(json.dumps(data))


@pytest.mark.parametrize("content,message", [
    ("", "is empty: not a fastnn bench result"),
    ("   \n", "is empty: not a fastnn bench result"),
    ("{not json", "is not JSON (Expecting property name"),
    ("[1, 2]", "is not a fastnn bench result (a JSON object is expected)"),
    ('{"hello": 1}', 'is not a fastnn bench result (no "format": "fastnn-bench")'),
    ({"date": "2026-12-02", "zoo": [], "kernels": []},
     "is a bench result of format 1 (fastnn and PyTorch timed in one process); compare reads "
     "format 2"),
    ({"format": "fastnn-bench", "version": 3}, "is a bench result of format 3; this fastnn "
     "reads format 2"),
    ({"format": "fastnn-bench", "version": 2, "rows": {}, "kernels": []},
     '"rows" is missing or not a list'),
])
def test_bad_files_get_one_line_errors(tmp_path, capsys, content, message):
    bad = write(tmp_path / "bad.json", content)
    good = write(tmp_path / "good.json", fake_result())
    assert main(["bench", "compare", bad, good]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"fastnn: error: {bad}") and message in err
    assert err.count("\n") == 1


@pytest.mark.parametrize("field,value", [("processes", [0.0]), ("processes", ["1"]),
                                         ("processes", None), ("batch", "32"), ("load", 1),
                                         ("framework", None)])
def test_a_damaged_row_is_named(tmp_path, field, value):
    data = fake_result()
    data["rows"][2][field] = value
    with pytest.raises(results.BenchFileError, match=rf"rows\[2\] has no valid {field}"):
        results.load(write(tmp_path / "r.json", data))


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(results.BenchFileError, match="nope.json: cannot read it"):
        results.load(tmp_path / "nope.json")


def test_compare_exits_non_zero_past_the_threshold(tmp_path, capsys):
    old = write(tmp_path / "old.json", fake_result())
    new = write(tmp_path / "new.json", fake_result(scale=1.2))  # fastnn's train step +20%
    assert main(["bench", "compare", old, new]) == 0
    out = capsys.readouterr().out
    assert "| mnist-cnn@28 train b32 2t [fastnn] | 2.00 ms | 2.40 ms | +20.0 |" in out
    assert "| mnist-cnn@28 infer b1 2t [pytorch] | 200.0 us | 200.0 us | +0.0 |" in out
    assert "| mnist-cnn@28 infer b256 2t [pytorch] | missing | missing | - |" in out
    assert "| kernel conv [numba, 2t] | 100.0 us | 100.0 us | +0.0 |" in out
    assert main(["bench", "compare", old, new, "--fail-above", "10%"]) == 1
    captured = capsys.readouterr()
    assert "+20.0 SLOWER" in captured.out
    assert "1 rows slower by more than 10%: mnist-cnn@28 train b32 2t [fastnn]" in captured.err
    assert main(["bench", "compare", old, new, "--fail-above", "25"]) == 0
    assert main(["bench", "compare", new, old, "--fail-above", "0%"]) == 0  # faster is fine


def test_compare_by_median(tmp_path, capsys):
    old = write(tmp_path / "old.json", fake_result())
    new = write(tmp_path / "new.json", fake_result(scale=1.2))
    assert main(["bench", "compare", old, new, "--stat", "median"]) == 0
    assert "| 2.05 ms | 2.46 ms | +20.0 |" in capsys.readouterr().out


def test_compare_warns_across_machines_and_missing_rows(tmp_path, capsys):
    other = fake_result(env=ENV | {"host": "big", "cpu": "Other CPU", "logical_cores": 64})
    other["rows"] = other["rows"][:3]
    old = write(tmp_path / "old.json", fake_result())
    assert main(["bench", "compare", old, write(tmp_path / "new.json", other)]) == 0
    err = capsys.readouterr().err
    assert ("warning: the two results come from different machines (host vm / big, cpu Test "
            "CPU / Other CPU, logical_cores 2 / 64)") in err
    assert "7 rows only in the old result, 0 only in the new: not compared" in err


@pytest.mark.parametrize("text", ["ten", "-5%", "nan"])
def test_a_bad_threshold_is_named(tmp_path, capsys, text):
    f = write(tmp_path / "r.json", fake_result())
    assert main(["bench", "compare", f, f, f"--fail-above={text}"]) == 1
    assert f"--fail-above {text!r}" in capsys.readouterr().err


# --- fastnn bench: its files ------------------------------------------------------------------


@pytest.fixture
def fake_bench(monkeypatch, tmp_path):
    """`fastnn bench` with a made-up result instead of minutes of timing."""
    calls = []
    monkeypatch.setattr(benchmark, "run", lambda settings, progress=None:
                        calls.append(settings) or fake_result())
    monkeypatch.chdir(tmp_path)
    return calls


def test_bench_writes_new_files_in_the_working_directory(fake_bench, tmp_path, capsys):
    assert main(["bench", "--quick"]) == 0
    assert main(["bench", "--quick"]) == 0
    files = sorted((tmp_path / "runs" / "bench").glob("fastnn-bench-*.json"))
    assert len(files) == 2  # a second run in the same second gets its own file
    assert results.load(files[0])["environment"]["cpu"] == "Test CPU"
    mine = tmp_path / "mine.json"
    mine.write_text("{}")
    assert main(["bench", "--json", str(mine)]) == 1
    assert mine.read_text() == "{}" and len(fake_bench) == 2  # refused before benchmarking
    quick = fake_bench[0]
    assert quick.quick and not quick.kernels and quick.rounds == 3
    assert not any(c.load for c in quick.cells)


def test_bench_options_reach_the_settings(fake_bench):
    assert main(["bench", "--networks", "lenet5", "--threads", "1", "--batches", "4",
                 "--train-batches", "16", "--optimizer", "adam", "--rounds", "5",
                 "--no-kernels", "--no-load", "--no-sizes"]) == 0
    (s,) = fake_bench
    assert (s.optimizer, s.rounds, s.kernels) == ("adam", 5, False)
    assert [(c.network, c.threads, c.infer, c.train, c.load) for c in s.cells] == [
        ("lenet5", 1, (4,), (16,), False)]


def test_bench_refuses_fewer_than_three_rounds(fake_bench, capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--rounds", "2"])
    assert "--rounds: must be an integer >= 3" in capsys.readouterr().err


def test_bench_plot_draws_the_curves(fake_bench, tmp_path):
    assert main(["bench", "--quick", "--plot"]) == 0
    png = next((tmp_path / "runs" / "bench").glob("*.png"))
    with Image.open(png) as im:
        assert im.format == "PNG" and im.size[1] > 100
    assert main(["bench", "--quick", "--plot", str(tmp_path / "curves.png")]) == 0
    assert (tmp_path / "curves.png").is_file()


def test_bench_curves_need_a_timed_row(tmp_path):
    empty = fake_result()
    empty["rows"] = []
    with pytest.raises(ValueError, match="at least one timed row"):
        plots.bench_curves(empty, tmp_path / "c.png")
    assert not (tmp_path / "c.png").exists()


def test_ctrl_c_writes_nothing(monkeypatch, tmp_path, capsys):
    def interrupted(settings, progress=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(benchmark, "run", interrupted)
    monkeypatch.chdir(tmp_path)
    assert main(["bench", "--quick", "--plot"]) == 130
    assert "nothing was written" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("*.*"))


@pytest.mark.parametrize("damage,message", [
    (lambda d: d.pop("settings"), '"settings" (rounds, optimizer, cells) is missing'),
    (lambda d: d["settings"]["cells"].append({"network": "x"}), "settings.cells[2] is not a "
     "valid cell"),
    (lambda d: d.pop("matmul_peak_gflops"), '"matmul_peak_gflops" is missing'),
    (lambda d: d["rows"][0].update(processes=[]), "rows[0] has no valid processes (none, yet "
     "the status is ok)"),
])
def test_what_show_and_compare_read_is_checked(tmp_path, capsys, damage, message):
    data = fake_result()
    damage(data)
    bad = write(tmp_path / "bad.json", data)
    assert main(["bench", "show", bad]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_the_statistics_come_from_the_processes_not_the_file(tmp_path, capsys):
    data = fake_result()
    for row in data["rows"]:
        del row["min"], row["median"]
    data["rows"][0]["spread"] = "wide"
    new = write(tmp_path / "new.json", data)
    assert main(["bench", "compare", write(tmp_path / "old.json", fake_result()), new]) == 0
    assert "| mnist-cnn@28 train b32 2t [fastnn] | 2.00 ms | 2.00 ms | +0.0 |" in (
        capsys.readouterr().out)
