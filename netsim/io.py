"""Atomic file output: a file appears whole or not at all (a Ctrl-C leaves no half file)."""

from __future__ import annotations

import contextlib
import glob
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


OUTPUT_NAME_MAX_BYTES = NAME_MAX_BYTES - 16
"""Longest name of an output file or folder: netsim writes hidden files named after it
beside it (``.NAME.probe-XXXXXXXX``, ``.NAME.new-XXXXXXXX``, ``.NAME.XXXXXXXX.tmp``,
``.NAME.lock``), the longest 16 bytes longer."""


def output_name_problem(path: Path) -> str | None:
    """Why ``path`` cannot name an output (:func:`long_name_problem`, or its own name
    over OUTPUT_NAME_MAX_BYTES), or None."""
    problem = long_name_problem(path)
    if problem is not None:
        return problem
    length = len(os.fsencode(Path(path).name))
    if length > OUTPUT_NAME_MAX_BYTES:
        return (f"its name is {length} bytes long; an output's may be at most "
                f"{OUTPUT_NAME_MAX_BYTES} (netsim writes hidden files named after it beside it)")
    return None


PROBE_MARK = ".probe-"
"""What names a probe folder: ``.NAME.probe-XXXXXXXX``."""


def probe_writable(folder: Path, name: str) -> None:
    """Make and remove an empty hidden folder ``.NAME.probe-*`` in ``folder`` (OSError if
    it cannot be made: permissions and read-only mounts count); empty probes a killed
    command left there are removed first, and a Ctrl-C leaves none."""
    prefix = f".{name}{PROBE_MARK}"
    for stale in Path(folder).glob(f"{glob.escape(prefix)}*"):
        with contextlib.suppress(OSError):  # not empty, or not a folder: not ours
            stale.rmdir()
    probe = tempfile.mkdtemp(prefix=prefix, dir=folder)
    try:
        os.rmdir(probe)
    except FileNotFoundError:
        pass  # another command's clean-up of stale probes took it: it was made
    except BaseException:  # e.g. Ctrl-C just before: still no probe left behind
        with contextlib.suppress(OSError):
            os.rmdir(probe)
        raise


def is_leftover_probe(path: Path) -> bool:
    """Whether ``path`` is an empty probe folder (``.NAME.probe-*``, :func:`probe_writable`)
    that a command killed mid-probe left: nothing of anyone's, which a check for an empty
    folder looks past."""
    path = Path(path)
    if not (path.name.startswith(".") and PROBE_MARK in path.name):
        return False
    try:
        return path.is_dir() and not path.is_symlink() and not any(path.iterdir())
    except OSError:
        return False


def write_problem(path: Path, folder: bool) -> str | None:
    """Why nothing can be written at ``path`` (one line), or None: :func:`probe_writable`
    where the writes land, links followed: in the nearest existing parent (where it, or
    the folders on the way, would be made, and where its lock file and renames go) and,
    for an existing folder ``folder``, in it. The last check before a command's work: it
    moves the time of the folders it tries."""
    real = Path(os.path.realpath(path))
    parent = next((p for p in real.parents if p.exists()), None)
    places = [] if parent is None or not parent.is_dir() else [parent]
    if folder and real.is_dir():
        places.append(real)
    for place in places:
        try:
            probe_writable(place, real.name)
        except OSError as error:
            return f"cannot write in {place}: {error.strerror or error}"
    return None


def target_problem(path: Path, folder: bool) -> str | None:
    """Why ``path`` cannot be written as a folder (``folder``) or as a file, as far as
    can be told without writing, or None: a name too long (:func:`output_name_problem`),
    a link to nothing on the way, it exists as the other kind, or a parent of it is a
    file. Whether the place can be written is :func:`write_problem`, the last check."""
    path = Path(path)
    problem = output_name_problem(path)
    if problem is not None:
        return problem
    for link in (path, *path.parents):
        if link.is_symlink() and not link.exists():
            where = "" if link == path else f"{link} "
            return f"{where}is a link to {os.readlink(link)}, which does not exist"
    if folder and path.exists() and not path.is_dir():
        return "is a file, not a folder"
    if not folder and path.is_dir():
        return "is a folder, not a file"
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                return f"{parent} is a file, not a folder"
            break
    return None
