"""Writing files so that a crash, Ctrl-C or a kill never leaves a half-written one behind.

Every file fastnn writes goes through :func:`atomic_open`: the bytes go to a temporary file
next to the target (``.<name>.<host>.<pid>.<random>.tmp``), which is flushed, synced and then
renamed over the target in one step. The target is either the old file or the complete new one.

- On an exception, Ctrl-C (SIGINT), SIGTERM or SIGHUP the temporary file is deleted. SIGTERM
  and SIGHUP are caught only while a save runs, and only if nobody else handles them: after
  the clean-up the signal is delivered again, so the process still ends as it would have.
- SIGKILL (or a power cut) cannot be caught: its temporary file stays, and the next save to
  the same path deletes it (a temporary file is stale when the process that wrote it, on this
  host, is gone).
- A save over an existing file keeps that file's permission bits; a new file gets the usual
  permissions for new files (0666 minus the umask).
- A write that fails (a full disk, a file-size limit) raises an OSError that names the target.

:func:`lock_folder` keeps a second process out of a folder (a run being trained): a lock file
holds its owner's host and pid, and a lock whose process is gone (killed) is taken over.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import signal
import socket
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class _Signalled(BaseException):
    """Raised inside a save when SIGTERM or SIGHUP arrives, so that the clean-up runs."""


@contextmanager
def _cleanup_on_signals() -> Iterator[None]:
    """Turns SIGTERM and SIGHUP into an exception for the duration of the block (if their
    handler is the default one, which kills without clean-up), then re-delivers the signal."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    received: list[int] = []
    active = [True]

    def handler(signum, frame):
        if not received:  # a second signal during the clean-up must not interrupt it
            received.append(signum)
            if active[0]:
                raise _Signalled(signum)

    installed = {}
    for s in _SIGNALS:
        if signal.getsignal(s) is signal.SIG_DFL:
            installed[s] = signal.signal(s, handler)
    try:
        yield
    except _Signalled:
        pass
    finally:
        active[0] = False
        for s, previous in installed.items():
            signal.signal(s, previous)
        if received:  # end the process the way the signal would have
            os.kill(os.getpid(), received[0])
            raise SystemExit(128 + received[0])


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "", socket.gethostname())[:32] or "host"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, but belongs to someone else
        return True
    return True


def _temp_prefix(path: Path) -> str:
    return f".{path.name[:120]}."


def clear_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Deletes temporary files that a killed save to ``path`` left behind; returns them.

    Only files written by a process of this host that no longer runs are removed: a save that
    another process is doing right now is never disturbed."""
    path = Path(path)
    prefix, host = _temp_prefix(path), _host()
    pattern = re.compile(re.escape(prefix) + r"([A-Za-z0-9-]+)\.(\d+)\.[0-9a-f]+\.tmp")
    removed = []
    try:
        candidates = [p for p in path.parent.iterdir() if p.name.startswith(prefix)]
    except OSError:
        return removed
    for p in candidates:
        m = pattern.fullmatch(p.name)
        if m and m.group(1) == host and not _pid_alive(int(m.group(2))):
            try:
                p.unlink()
                removed.append(p)
            except OSError:
                pass
    return removed


def _create_temp(path: Path) -> tuple[int, Path]:
    """An exclusive new file next to ``path``, with the permissions the target should get."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)  # keep an existing file's bits
    except FileNotFoundError:
        mode = None
    prefix = f"{_temp_prefix(path)}{_host()}.{os.getpid()}."
    while True:
        tmp = path.parent / f"{prefix}{secrets.token_hex(4)}.tmp"
        try:  # 0o666 is reduced by the umask, as for any new file
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                         0o666)
            break
        except FileExistsError:
            continue
    if mode is not None:
        try:
            os.fchmod(fd, mode)
        except OSError:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
    return fd, tmp


_WRITE_ERRORS = {getattr(errno, n) for n in ("ENOSPC", "EFBIG", "EDQUOT", "EROFS", "EIO")
                 if hasattr(errno, n)}
"""What a full disk, a file-size limit, a quota or a failing device give a write."""


@contextmanager
def atomic_open(path: str | os.PathLike) -> Iterator[IO[bytes]]:
    """A binary file to write; on success it replaces ``path`` in one rename, on any error,
    interrupt, SIGTERM or SIGHUP it is deleted and whatever ``path`` held before is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clear_stale_temporaries(path)
    with _cleanup_on_signals():
        tmp = None
        try:
            fd, tmp = _create_temp(path)
            with os.fdopen(fd, "wb") as f:
                yield f
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException as e:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
            if (isinstance(e, OSError) and e.errno in _WRITE_ERRORS
                    and str(path) not in str(e)):  # name the file the disk refused
                raise type(e)(e.errno, f"cannot write {path}: {e.strerror}") from None
            raise


def probe_writable(folder: str | os.PathLike) -> None:
    """Makes ``folder`` (with its parents) and writes and deletes an empty file in it; an
    OSError when it cannot."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    probe = folder / f".fastnn-write-test-{os.getpid()}"
    probe.write_bytes(b"")
    probe.unlink()


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    with atomic_open(path) as f:
        f.write(text.encode())
    return Path(path)


class FolderLocked(OSError):
    """Another process holds a folder's lock (see :func:`lock_folder`)."""


LOCK_NAME = ".fastnn.lock"


@contextmanager
def lock_folder(folder: str | os.PathLike, what: str = "it") -> Iterator[Path]:
    """Holds ``folder/.fastnn.lock`` (created exclusively, holding ``host pid``) for the
    block; raises :class:`FolderLocked` if a live process holds it. A lock left by a process
    of this host that no longer runs is stale and taken over; a lock from another host is
    never guessed at: the error says which file to delete once that process is gone."""
    lock = Path(folder) / LOCK_NAME
    me = f"{_host()} {os.getpid()}"
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            try:
                owner = lock.read_text().split()
            except FileNotFoundError:
                continue  # released meanwhile
            host, pid = (owner + ["?", "0"])[:2] if len(owner) != 2 else owner
            stale = host == _host() and pid.isdigit() and not _pid_alive(int(pid))
            if stale:
                lock.unlink(missing_ok=True)
                continue
            raise FolderLocked(f"{folder} is in use by process {pid} on {host}, which is "
                               f"training {what}; wait for it to end (if it was killed, "
                               f"delete {lock})") from None
        with os.fdopen(fd, "w") as f:
            f.write(me)
        break
    else:
        raise FolderLocked(f"{folder}: could not take its lock {lock}")
    try:
        yield lock
    finally:
        try:
            if lock.read_text() == me:
                lock.unlink()
        except OSError:
            pass
