"""Writing files so that readers never see half of one, and writers never lose each other's work.

``atomic_write_text`` writes a temp file in the same directory and renames it over the target
(a reader sees the old file or the new one). ``locked(path)`` serializes read-modify-write
cycles on one file across processes (two CI jobs updating one baseline); temp files a killed
writer left behind are removed under the lock.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

LOCK_TIMEOUT_S = 120.0


class LockTimeout(OSError):
    """Another process held the file's lock for too long."""


def temp_prefix(path: Path) -> str:
    return f".{path.name}."


TEMP_SUFFIX = ".tmp"


def lock_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.lock")


@contextlib.contextmanager
def locked(path: Path, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold ``path``'s lock file; remove temp files of writers that died mid-write."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_path(path)), timeout=timeout_s)
    try:
        lock.acquire()
    except Timeout:
        raise LockTimeout(f"another process held the lock {lock_path(path)} for more than "
                          f"{timeout_s:g} s") from None
    try:
        for stale in path.parent.glob(f"{temp_prefix(path)}*{TEMP_SUFFIX}"):
            with contextlib.suppress(OSError):
                stale.unlink()  # only a writer holding this lock creates them: these are dead
        yield
    finally:
        lock.release()


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temp file in the same directory and rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path), suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600; give the usual file mode
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
