"""One folder, one writer: ``netsim run``, ``sweep`` and ``train`` hold an exclusive
lock on their output folder for as long as they work.

The lock is ``fcntl.flock`` on a hidden file beside the folder (``.NAME.lock``): the
kernel releases it when the process ends, however it ends (SIGKILL included), so a
killed command never leaves the folder locked. A second command aimed at the same
folder is refused with one line before it starts. The small lock file itself stays.
Whoever takes the lock removes the temporary files a killed writer left in the folder
(:func:`netsim.io.remove_stale_temporaries`). :func:`turn_on` is the same lock, waited
for, that processes sharing a file (a tune study) take in turns.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from netsim.io import remove_stale_temporaries


class FolderBusy(Exception):
    """Another netsim process is writing to the folder; ``str(error)`` is one line."""


@contextmanager
def exclusive_writer(out_dir: Path, command: str) -> Iterator[None]:
    """Hold the output folder's lock for the body; raise FolderBusy if another process
    holds it."""
    out_dir = Path(out_dir).resolve()  # one lock for the folder, however it is named
    # (links followed and ".." taken out: `--out ..` locked "./....lock")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    handle = open(_lock_path(out_dir), "a+", encoding="utf-8")  # noqa: SIM115 - for the body
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise FolderBusy(f"--out {out_dir}: {holder} is writing there; wait for it to "
                             "finish or choose another folder") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"netsim {command} (pid {os.getpid()})")
        handle.flush()
        remove_stale_temporaries(out_dir)
        yield
    finally:
        handle.close()  # releases the lock


def _lock_path(target: Path) -> Path:
    """The hidden lock file beside ``target``: ``.NAME.lock``."""
    return target.parent / f".{target.name}.lock"


@contextmanager
def turn_on(path: Path) -> Iterator[None]:
    """Hold the lock beside ``path`` for the body, waiting while another process holds
    it (a read-then-write on a file that several processes share, done by one at a
    time; ``fcntl.flock``, which NFS takes as a lock over the network too)."""
    path = Path(path).resolve()  # one lock for the file, however it is named
    with open(_lock_path(path), "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield  # closing the file releases the lock


def process_alive(pid: object) -> bool:
    """Whether process ``pid`` of this machine exists and is not a zombie."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        try:  # no /proc (macOS): ask the kernel
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return state != "Z"
