"""A Dask scheduler and one worker started as subprocesses on loopback, for the tests of
``--scheduler``; they write only into the given folder and are killed afterwards."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


@contextlib.contextmanager
def dask_cluster(folder: Path, timeout: float = 60) -> str:
    """Yields the scheduler's address once a worker has joined it."""
    file = folder / "scheduler.json"
    env = dict(os.environ, DASK_TEMPORARY_DIRECTORY=str(folder))
    procs = [subprocess.Popen([sys.executable, "-m", "dask", "scheduler", "--host",
                               "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(file)], cwd=folder, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)]
    try:
        deadline = time.monotonic() + timeout
        while not file.exists() or not file.read_text().strip():
            if time.monotonic() > deadline or procs[0].poll() is not None:
                raise RuntimeError("the dask scheduler did not start")
            time.sleep(0.1)
        time.sleep(0.2)  # the file is written whole, but give it its closing brace
        address = json.loads(file.read_text())["address"]
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "dask", "worker", address, "--nworkers", "1", "--nthreads",
             "1", "--no-dashboard", "--local-directory", str(folder)], cwd=folder, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        yield address
    finally:
        for proc in reversed(procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # its own session: it and its children
            proc.wait(timeout=30)
