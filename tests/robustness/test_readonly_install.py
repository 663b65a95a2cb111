"""``import fastnn`` on a read-only install with an unwritable HOME.

How the test reproduces it honestly: fastnn (with its kernels) is copied into a folder that is
made read-only, HOME is an empty read-only folder, and Python runs in a subprocess whose file
permissions are enforced. As a normal user that is what chmod gives. As root, chmod alone is
ignored, so the child runs as root *without* the capabilities that bypass file permissions
(``setpriv --bounding-set=-dac_override,-fowner``): it can read everything, as before, but cannot
write into the read-only copy or HOME. The first test checks that this environment really
makes a plain ``@njit(cache=True)`` fail at import with Numba's RuntimeError.
"""

import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import fastnn

PROBE = textwrap.dedent("""
    from numba import njit

    @njit(cache=True)
    def add_one(x):
        return x + 1
""")


def restricted(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd  # permissions already apply
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.fail("running as root: setpriv (util-linux) is needed to drop the capabilities "
                    "that bypass file permissions")
    return [setpriv, "--bounding-set=-dac_override,-fowner", *cmd]


def make_read_only(path: Path) -> None:
    for p in [path, *path.rglob("*")]:
        mode = stat.S_IMODE(p.stat().st_mode)
        p.chmod(mode & ~0o222)


@pytest.fixture(scope="module")
def install(tmp_path_factory):
    """A read-only copy of fastnn (package and kernels), an unwritable HOME, a writable TMPDIR.
    The child runs as the same user, so it can reach them."""
    base = tmp_path_factory.mktemp("readonly")
    site, home, tmp = base / "site", base / "home", base / "tmp"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc")
    shutil.copytree(Path(fastnn.__file__).parent, site / "fastnn", ignore=ignore)
    shutil.rmtree(site / "fastnn" / "kernels", ignore_errors=True)
    shutil.copytree(Path(fastnn.kernels.__path__[0]), site / "fastnn" / "kernels", ignore=ignore)
    (site / "probe.py").write_text(PROBE)
    home.mkdir()
    tmp.mkdir()
    make_read_only(site)
    make_read_only(home)
    yield site, home, tmp
    for p in [site, *site.rglob("*"), home]:
        p.chmod(stat.S_IMODE(p.stat().st_mode) | 0o200)


def run(install, code: str, **env):
    site, home, tmp = install
    environ = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
               "TMPDIR": str(tmp), "PYTHONPATH": str(site), **env}
    environ.pop("XDG_CACHE_HOME", None)
    return subprocess.run(restricted([sys.executable, "-c", code]), cwd=tmp, env=environ,
                          capture_output=True, text=True, timeout=300)


def test_the_environment_reproduces_numbas_runtime_error(install):
    site, home, _ = install
    r = run(install, f"open({str(home / 'x')!r}, 'w')")
    assert "PermissionError" in r.stderr  # HOME is really unwritable for the child
    r = run(install, "import probe")
    assert r.returncode != 0
    assert "RuntimeError: cannot cache function 'add_one': no locator available" in r.stderr


KERNEL_CALL = textwrap.dedent("""
    import os, numpy as np, fastnn
    from fastnn.kernels import numba as nk
    assert fastnn.__file__.startswith(os.environ["PYTHONPATH"]), fastnn.__file__
    assert nk.__file__.startswith(os.environ["PYTHONPATH"]), nk.__file__
    print(nk.relu_forward(np.array([-1.0, 2.0], np.float32)).tolist())
    print(os.environ.get("NUMBA_CACHE_DIR"))
""")


def test_import_falls_back_to_a_private_temporary_cache_with_one_warning(install):
    _, _, tmp = install
    for _ in range(2):  # the second run reuses (and re-announces) the same cache
        r = run(install, KERNEL_CALL)
        assert r.returncode == 0, r.stderr
        values, cache = r.stdout.splitlines()
        assert values == "[0.0, 2.0]"
        assert cache == str(tmp / f"fastnn-numba-cache-{os.getuid()}")
        assert r.stderr.count("Warning") == 1, r.stderr
        assert "Numba cannot write its cache" in r.stderr and "NUMBA_CACHE_DIR" in r.stderr
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o700
    assert list(Path(cache).rglob("*relu*.nbi"))  # the kernel really was cached there


def test_someone_elses_temporary_cache_is_not_used(install):
    _, _, tmp = install
    shared = tmp / f"fastnn-numba-cache-{os.getuid()}"
    shared.mkdir(exist_ok=True)
    shared.chmod(0o777)  # writable by anyone: its cache files could be planted
    try:
        r = run(install, KERNEL_CALL)
        assert r.returncode == 0, r.stderr
        cache = r.stdout.splitlines()[1]
        assert cache != str(shared) and Path(cache).name.startswith("fastnn-numba-cache-")
    finally:
        shared.chmod(0o700)


def test_a_writable_numba_cache_dir_is_used_without_warning(install):
    _, _, tmp = install
    mine = tmp / "my-cache"
    mine.mkdir(exist_ok=True)
    r = run(install, KERNEL_CALL, NUMBA_CACHE_DIR=str(mine))
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1] == str(mine) and "Warning" not in r.stderr
    assert list(mine.rglob("*relu*.nbi"))


def test_a_writable_install_imports_without_warning():
    r = subprocess.run([sys.executable, "-W", "error", "-c", "import fastnn"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
