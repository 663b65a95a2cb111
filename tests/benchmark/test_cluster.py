"""``fastnn bench --scheduler``: one worker per host, hosts in turn, one file per machine named
by host, CPU and threads, the table across machines; against a dask scheduler and worker
started as subprocesses (the timed bench itself is replaced by the repository's result, which
the worker returns with its own machine: the real bench is tests/benchmark/test_runner.py's)."""

import json
import os
from pathlib import Path

import pytest
from dask_cluster import dask_cluster

from fastnn import benchmark
from fastnn.benchmark import cluster
from fastnn.cli import main

pytest.importorskip("distributed", reason="bench --scheduler needs pip install 'fastnn[dist]'")

RESULT = Path(__file__).resolve().parents[2] / "bench" / "results" / "2026-12-04-xeon-2cores.json"


def test_one_worker_per_host():
    workers = {"tcp://10.0.0.2:4001": {"host": "10.0.0.2"}, "tcp://10.0.0.1:4002": {"host":
               "10.0.0.1"}, "tcp://10.0.0.1:4001": {"host": "10.0.0.1"}}
    assert cluster.hosts(workers) == {"10.0.0.1": "tcp://10.0.0.1:4001",
                                      "10.0.0.2": "tcp://10.0.0.2:4001"}


def test_file_names_and_the_table_across_machines():
    result = benchmark.load(RESULT)
    other = json.loads(json.dumps(result))
    other["environment"] |= {"host": "big box", "cpu": "AMD EPYC 9654 96-Core", "usable_cores": 96}
    assert cluster.file_name(result) == "fastnn-bench-vm-Intel-R-Xeon-R-Processor-2t.json"
    assert cluster.file_name(other) == "fastnn-bench-big-box-AMD-EPYC-9654-96-Core-96t.json"
    table = cluster.machines_table([result, other]).splitlines()
    assert table[0] == "| network | case | vm (2t) | big box (96t) |"
    assert len(table) == 2 + len(benchmark.results.headline(result))


def stand_in(template: dict):
    def bench(plan: dict, settings: dict) -> dict:  # runs on the worker
        from fastnn.benchmark import machine

        return template | {"environment": machine.environment() | {"pid": os.getpid()},
                           "asked": [plan, settings]}
    return bench


def test_bench_on_a_scheduler_writes_one_file_per_machine(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cluster, "run_here", stand_in(benchmark.load(RESULT)))
    out = tmp_path / "results"
    with dask_cluster(tmp_path) as address:
        assert main(["bench", "--scheduler", address, "--quick", "--networks", "lenet5",
                     "--json", str(out)]) == 0
    files = list(out.iterdir())
    assert [f.name for f in files] == [cluster.file_name(json.loads(files[0].read_text()))]
    written = benchmark.load(files[0])
    assert written["environment"]["pid"] != os.getpid()  # it ran on the worker
    plan, settings = written["asked"]
    assert plan["networks"] == ["lenet5"] and plan["quick"] and settings["quick"]
    captured = capsys.readouterr()
    assert "host 1 of 1:" in captured.err and "| network | case |" in captured.out
