"""Numba's on-disk cache on read-only installs. Imported by ``fastnn/__init__.py`` before any
kernel module, because ``@njit(cache=True)`` raises RuntimeError at import when Numba finds no
writable cache directory (neither ``__pycache__`` next to the installed package nor
``~/.cache/numba``, e.g. a read-only site-packages with an unwritable HOME).

In that case the cache goes to a private temporary directory instead (NUMBA_CACHE_DIR is set
for this process and its children), with one warning. Set NUMBA_CACHE_DIR yourself to choose
the place.
"""

from __future__ import annotations

import importlib.util
import os
import stat
import tempfile
import warnings
from pathlib import Path


def _writable(folder: str | os.PathLike) -> bool:
    """Whether Numba could cache there: its own test (create the folder, write a file)."""
    try:
        os.makedirs(folder, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
        return True
    except OSError:
        return False


def _source_dirs() -> list[Path]:
    """Every folder of fastnn and fastnn.kernels that holds Python files."""
    roots = [Path(__file__).resolve().parent]
    spec = importlib.util.find_spec("fastnn.kernels")
    if spec is not None and spec.submodule_search_locations:
        roots += [Path(p).resolve() for p in spec.submodule_search_locations]
    dirs = []
    for root in roots:
        for d, subdirs, files in os.walk(root):
            subdirs[:] = [s for s in subdirs if s != "__pycache__"]
            if any(f.endswith(".py") for f in files):
                dirs.append(Path(d))
    return dirs


def _user_wide_dir() -> str:
    try:
        from numba.misc.appdirs import AppDirs

        return AppDirs(appname="numba", appauthor=False).user_cache_dir
    except ImportError:  # where Numba puts it on Linux
        base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
        return os.path.join(base, "numba")


def _private_temp_dir() -> str:
    """``<tmp>/fastnn-numba-cache-<uid>``, reused across runs if it is ours and private, else a
    new temporary directory (cache files are loaded as code: never use someone else's)."""
    uid = os.getuid() if hasattr(os, "getuid") else None
    path = Path(tempfile.gettempdir()) / f"fastnn-numba-cache-{uid if uid is not None else 'u'}"
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        st = path.lstat()
        if (stat.S_ISDIR(st.st_mode) and (uid is None or st.st_uid == uid)
                and not st.st_mode & 0o022 and _writable(path)):
            return str(path)
    except OSError:
        pass
    return tempfile.mkdtemp(prefix="fastnn-numba-cache-")


def ensure_writable_cache() -> str | None:
    """Points Numba at a temporary cache directory if it has nowhere to write; returns that
    directory (None when Numba's own choice works)."""
    from numba.core import config

    if config.CACHE_DIR and _writable(config.CACHE_DIR):
        return None
    if all(_writable(d / "__pycache__") for d in _source_dirs()):
        return None
    if _writable(_user_wide_dir()):
        return None
    tried = f"{config.CACHE_DIR} (NUMBA_CACHE_DIR), " if config.CACHE_DIR else ""
    try:
        fallback = _private_temp_dir()
    except OSError as e:
        raise ImportError(f"fastnn: Numba has no writable directory for its compiled kernels "
                          f"({tried}the package's __pycache__, {_user_wide_dir()}, the temporary "
                          f"directory: {e}); set NUMBA_CACHE_DIR to a writable directory") from None
    os.environ["NUMBA_CACHE_DIR"] = fallback
    config.CACHE_DIR = fallback
    warnings.warn(f"fastnn: Numba cannot write its cache ({tried}the installed package's "
                  f"__pycache__ and {_user_wide_dir()} are not writable); compiled kernels are "
                  f"cached in {fallback} instead. Set NUMBA_CACHE_DIR to choose the directory.",
                  RuntimeWarning, stacklevel=2)
    return fallback


ensure_writable_cache()
