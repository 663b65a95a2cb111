"""Saving files: a save killed by a signal leaves the old file and no debris; saves keep
permission bits; new files follow the umask."""

import os
import signal
import stat
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastnn as fn
from fastnn._io import atomic_open, atomic_write_text, clear_stale_temporaries

# A child process that starts a real model save over an existing file and stops just before
# the sync and rename (os.fsync is made to block), so the signal lands mid-save.
SAVER = textwrap.dedent("""
    import os, sys, time
    import numpy as np
    import fastnn as fn
    model = fn.Sequential([fn.Dense(64, 32), fn.ReLU(), fn.Dense(32, 3)], seed=1)
    model.predict(np.zeros((1, 64), "float32"))
    def blocked_fsync(fd):
        print("saving", flush=True)
        time.sleep(120)
    os.fsync = blocked_fsync
    model.save(sys.argv[1])
    print("saved", flush=True)
""")


def old_model(path):
    model = fn.Sequential([fn.Dense(64, 32), fn.ReLU(), fn.Dense(32, 3)], seed=0)
    model.predict(np.zeros((1, 64), np.float32))
    model.save(path)
    return model


def start_saver(path):
    proc = subprocess.Popen([sys.executable, "-c", SAVER, str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # blocks until the child is inside the save
    if line != "saving\n":
        proc.kill()
        raise AssertionError(f"child did not reach the save: {line!r} {proc.stderr.read()}")
    return proc


def temporaries(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def assert_old_model_intact(path, model):
    again = fn.load(path)
    for a, b in zip(model.layers, again.layers):
        for name in a.params:
            np.testing.assert_array_equal(a.params[name], b.params[name])


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT],
                         ids=["SIGTERM", "SIGHUP", "SIGINT"])
def test_signal_during_save_leaves_old_file_and_no_debris(tmp_path, sig):
    path = tmp_path / "model.npz"
    model = old_model(path)
    proc = start_saver(path)
    assert len(temporaries(tmp_path)) == 1  # the half-done save is on disk right now
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    # the child still ends by the signal (its exit status says so), but after cleaning up
    assert proc.returncode == -sig
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]
    assert_old_model_intact(path, model)


def test_sigkill_debris_is_cleared_by_the_next_save(tmp_path):
    path = tmp_path / "model.npz"
    model = old_model(path)
    proc = start_saver(path)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    stale = temporaries(tmp_path)
    assert len(stale) == 1 and stale[0].startswith(".model.npz.")  # SIGKILL cannot be caught
    assert_old_model_intact(path, model)
    (tmp_path / "other.npz.tmp").write_bytes(b"not ours")  # other files are left alone
    model.save(path)
    assert temporaries(tmp_path) == ["other.npz.tmp"]
    assert_old_model_intact(path, model)


def test_a_running_save_is_not_disturbed_by_another(tmp_path):
    path = tmp_path / "model.npz"
    old_model(path)
    proc = start_saver(path)
    try:
        live = temporaries(tmp_path)
        assert clear_stale_temporaries(path) == []
        atomic_write_text(tmp_path / "model.npz", "x")  # a concurrent save to the same path
        assert temporaries(tmp_path) == live
    finally:
        proc.terminate()
        proc.communicate(timeout=60)
    assert temporaries(tmp_path) == []


def test_signal_handlers_are_restored_and_user_handlers_respected(tmp_path):
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    atomic_write_text(tmp_path / "a.txt", "a")
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL

    class Stop(Exception):
        pass

    def handler(signum, frame):
        raise Stop

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        with pytest.raises(Stop), atomic_open(tmp_path / "a.txt") as f:
            f.write(b"half")
            os.kill(os.getpid(), signal.SIGTERM)  # the user's handler runs, and we clean up
        assert signal.getsignal(signal.SIGTERM) is handler
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
    assert (tmp_path / "a.txt").read_text() == "a"


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o444, 0o755], ids=oct)
def test_save_keeps_the_existing_permission_bits(tmp_path, mode):
    path = tmp_path / "model.npz"
    model = old_model(path)
    os.chmod(path, mode)
    model.save(path)
    assert mode_of(path) == mode
    atomic_write_text(tmp_path / "report.json", "{}")
    os.chmod(tmp_path / "report.json", mode)
    atomic_write_text(tmp_path / "report.json", "{}")
    assert mode_of(tmp_path / "report.json") == mode


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002], ids=oct)
def test_new_files_follow_the_umask(tmp_path, umask):
    previous = os.umask(umask)
    try:
        old_model(tmp_path / "model.npz")
        atomic_write_text(tmp_path / "sub" / "report.json", "{}")
    finally:
        os.umask(previous)
    assert mode_of(tmp_path / "model.npz") == 0o666 & ~umask
    assert mode_of(tmp_path / "sub" / "report.json") == 0o666 & ~umask


def test_failed_write_leaves_nothing(tmp_path):
    path = tmp_path / "model.npz"
    with pytest.raises(ZeroDivisionError), atomic_open(path) as f:
        f.write(b"partial")
        1 / 0  # noqa: B018
    assert list(tmp_path.iterdir()) == []
