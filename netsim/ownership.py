"""Which command a result folder belongs to: ``netsim sweep``, ``compare``, ``tune`` and
``train`` add to the folder they are given (finished points, trainings, trials,
checkpoints are kept and resumed), so they must never add to a folder of something
else.

Each marks its folder with a hidden file, ``.netsim-folder``, holding the command's name,
just before its first write there. A folder that is absent, empty (hidden files aside)
or marked by the same command is taken; any other is refused with one line before the
work starts (the CLI checks first, :func:`check_folder`). Folders written before
the marker existed are recognised by their files (``LEGACY``).
"""

from __future__ import annotations

from pathlib import Path

from netsim.io import atomic_write_text

MARKER = ".netsim-folder"

LEGACY = {
    "sweep": ("sweep_summary.csv", "aggregate.csv", "*/done.json"),
    "compare": ("compare.csv", "*-s*/learning_curve.csv"),
    "tune": ("trials.csv", "study.db", "trial-*/learning_curve.csv"),
    "train": ("learning_curve.csv", "model.zip", "finished.json", "checkpoints"),
}
"""Files that show a folder is the command's own, from before the marker."""


class ForeignFolder(Exception):
    """The folder holds something other than this command's results; one line."""


def owner(folder: Path) -> str | None:
    """The command that marked ``folder``, or None; ForeignFolder if the marker is
    damaged (not a file, or not a command's name)."""
    marker = Path(folder) / MARKER
    if not marker.exists():
        return None
    text = (marker.read_bytes().decode("utf-8", errors="replace").strip()
            if marker.is_file() else "")
    if text not in LEGACY:
        raise ForeignFolder(f"--out {folder}: its {MARKER} marker is damaged (not written "
                            "by netsim); choose another folder")
    return text


def check_folder(folder: Path, command: str) -> None:
    """Raise ForeignFolder unless ``folder`` can take ``command``'s results: absent,
    empty (hidden files aside), or the command's own. Writes nothing."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    marked = owner(folder)
    if marked is not None and marked != command:
        raise ForeignFolder(f"--out {folder}: holds the results of netsim {marked}, not "
                            f"of netsim {command}; choose another folder")
    visible = [p for p in folder.iterdir() if not p.name.startswith(".")]
    if marked is None and visible and not any(
            any(folder.glob(pattern)) for pattern in LEGACY[command]):
        raise ForeignFolder(f"--out {folder}: holds files that are not netsim {command} "
                            "results; choose another folder")


def claim_folder(folder: Path, command: str) -> None:
    """:func:`check_folder`, then mark ``folder`` as the command's (creating it); called
    by the command just before its first write."""
    check_folder(folder, command)
    if owner(folder) != command:
        atomic_write_text(Path(folder) / MARKER, command + "\n")
