"""Atomic file output: a file appears whole or not at all (a Ctrl-C leaves no half file)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path

TEMPORARY = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")
"""Name of a temporary file of :func:`atomic_write_bytes` (mkstemp's 8 random letters)."""


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync it, then rename it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(temp_name, 0o666 & ~_umask())
        with os.fdopen(handle, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> None:
    """UTF-8 text version of :func:`atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"))


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Remove temporary files that :func:`atomic_write_bytes` left in ``folder`` (at any
    depth) when its process was killed before the rename; return them. Only for a folder
    whose single writer is the caller (it holds the folder's lock): no other write can be
    in flight there."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    stale = [path for path in folder.rglob(".*.tmp")
             if path.is_file() and TEMPORARY.fullmatch(path.name)]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def remove_tree(path: str | Path) -> None:
    """``shutil.rmtree`` (errors ignored) that finishes its removal even when a Ctrl-C
    arrives during it, then lets the KeyboardInterrupt go on: clean-up that is not left
    half done."""
    try:
        shutil.rmtree(path, ignore_errors=True)
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise


NAME_MAX_BYTES = 255
"""Longest name of one file or folder (one part of a path) that file systems allow."""


def long_name_problem(path: Path) -> str | None:
    """Why ``path`` cannot exist on a file system (a name in it over NAME_MAX_BYTES
    bytes, where asking whether it exists raises), or None."""
    longest = max((len(os.fsencode(part)) for part in Path(path).parts), default=0)
    if longest > NAME_MAX_BYTES:
        return f"a name in it is {longest} bytes long; file systems allow {NAME_MAX_BYTES}"
    return None


def write_problem(path: Path, folder: bool) -> str | None:
    """Why nothing can be written at ``path`` (one line), or None: a temporary file is
    made and removed where the write would happen (in ``path`` itself for an existing
    folder ``folder``, else in its nearest existing parent), so read-only mounts and
    permissions count; the folder's times are then put back, so a refused command leaves
    no trace. Its name is one :func:`remove_stale_temporaries` knows."""
    path = Path(path).absolute()
    place = path if folder and path.is_dir() else next(
        (parent for parent in path.parents if parent.exists()), None)
    if place is None or not place.is_dir():
        return None  # no parent on the way (the caller names a file on the way)
    times = place.stat()
    try:
        handle, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=place)
    except OSError as error:
        return f"cannot write in {place}: {error.strerror or error}"
    os.close(handle)
    Path(probe).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        os.utime(place, ns=(times.st_atime_ns, times.st_mtime_ns))
    return None
