"""Stop a netsim command with SIGKILL or SIGINT (Ctrl-C) at every file operation, then run
the command that should recover, and keep what each stop left for the tests to check.

    python -m tests.killpoints SPEC.json
    python -m tests.killpoints --serve     # SPEC paths on stdin, one "ok"/"failed" each

SPEC holds ``workdir``, ``first`` and ``again`` (argument lists of ``netsim``, in which
``{out}`` stands for the output folder), optionally ``setup`` (a folder copied to
``{out}`` before each attempt: an earlier result the command must not damage) and
``points`` (which operations to kill at; default all) and ``signal`` (``SIGKILL``, the
default, or ``SIGINT``).

The file operations are the calls that change the file system, counted in the main
thread in the order they happen: ``os.open``/``open`` for writing, ``os.fsync``,
``os.replace``, ``os.rename``, ``os.mkdir``, ``os.rmdir``, ``os.unlink``/``os.remove``,
``shutil.rmtree``. The process is killed just *before* the N-th one, so the states the
file system passes through are all visited (the state after the last operation is the
finished run). SIGINT is raised the same way: Python turns it into KeyboardInterrupt right
there, and the command's own clean-up and its "interrupted" exit (130) run as after a
Ctrl-C.

One process imports everything once (and builds netsim's click command from the typer
app) and forks a child per attempt (cheap, and the parent never starts torch's thread
pools, so forking is safe). With ``--serve`` that process stays up and takes one SPEC
after another (the paths on its stdin, one a line): the tests' specs share one warm-up
(seconds each) instead of paying it per spec. It answers each with a line, ``ok`` or
``failed``; what it and its children wrote to stderr meanwhile is in SPEC.stderr.

1. ``reference/``: ``first`` uninterrupted, counting the operations;
2. for each N: ``kill_N/`` gets ``setup``, ``first`` is killed before operation N,
   ``kill_N.killed/`` is a copy of what the kill left, then ``again`` runs to the end.

``result.json`` lists the operations and, per N, whether the kill happened (SIGKILL: the
child died of it; SIGINT: it exited 130), the exit code of ``again``, and the hidden
entries (names starting with "."; lock files and ``.netsim-folder`` markers aside) found
in the output folder and beside it after the kill and after ``again``. Workers a command
spawns (sweeps) are not counted: they write only into the sweep's ``.work`` folder, which
the driver discards.
"""

from __future__ import annotations

import builtins
import functools
import io
import json
import os
import shutil
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _writes(mode: str) -> bool:
    return any(c in mode for c in "wax+")


def _is_path(file: object) -> bool:
    """A file-system path (not a descriptor being wrapped, not /dev/null)."""
    return isinstance(file, (str, bytes, os.PathLike)) and os.fspath(file) != os.devnull


def install(kill_at: int | None, log: list[str], stop: int = signal.SIGKILL) -> None:
    """Count file operations into ``log``; send ``stop`` to this process before the
    ``kill_at``-th (``None``: never)."""
    main = threading.main_thread()

    def counted(name: str, real: Callable, is_write: Callable[..., bool] = lambda *a, **k: True
                ) -> Callable:
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            if threading.current_thread() is main and is_write(*args, **kwargs):
                log.append(f"{name} {args[0] if args else ''}")
                if kill_at is not None and len(log) == kill_at:
                    signal.raise_signal(stop)  # SIGINT: KeyboardInterrupt raised here
            return real(*args, **kwargs)
        return wrapper

    def open_writes(file, mode="r", *args, **kwargs) -> bool:  # type: ignore[no-untyped-def]
        return _writes(mode) and _is_path(file)

    def os_open_writes(path, flags, *args, **kwargs) -> bool:  # type: ignore[no-untyped-def]
        return bool(flags & WRITE_FLAGS) and _is_path(path)

    def makes_a_folder(path, *args, **kwargs) -> bool:  # type: ignore[no-untyped-def]
        return not os.path.exists(path)  # an existing folder: mkdir fails, nothing changes

    io.open = builtins.open = counted("open", io.open, open_writes)
    os.open = counted("os.open", os.open, os_open_writes)
    os.mkdir = counted("os.mkdir", os.mkdir, makes_a_folder)
    for name in ("fsync", "replace", "rename", "rmdir", "unlink", "remove"):
        setattr(os, name, counted(f"os.{name}", getattr(os, name)))
    shutil.rmtree = counted("shutil.rmtree", shutil.rmtree)


def run_child(argv: list[str], kill_at: int | None, log_path: Path | None,
              stop: int = signal.SIGKILL) -> int:
    """Fork; the child runs ``netsim ARGV`` (sent ``stop`` before operation ``kill_at``);
    return the child's wait status."""
    pid = os.fork()
    if pid == 0:  # the child
        code = 1
        try:
            os.environ["NETSIM_KILLPOINT_CHILD"] = "1"
            signal.signal(signal.SIGINT, signal.default_int_handler)  # even if ignored here
            quiet = os.open(os.devnull, os.O_WRONLY)
            os.dup2(quiet, 1)  # the command's output, C libraries' included
            sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115
            log: list[str] = []
            install(kill_at, log, stop)
            try:
                _command()(args=argv, prog_name="netsim", standalone_mode=True)
                code = 0
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 1
            if log_path is not None:
                log_path.write_text("\n".join(log) + "\n")
        except BaseException:  # noqa: BLE001 - reported by exit code
            traceback.print_exc(file=sys.__stderr__)
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return status


@functools.cache
def _command():  # type: ignore[no-untyped-def]
    """netsim's click command, what ``netsim.cli.app(...)`` builds from the typer app at
    each call (a tenth of a short command's time): built once, by :func:`warm_up`."""
    import typer.main

    from netsim.cli import app
    return typer.main.get_command(app)


def fill(argv: list[str], out: Path) -> list[str]:
    return [part.replace("{out}", str(out)) for part in argv]


@functools.cache
def warm_up() -> None:
    """Import everything a command may import, once, before forking (imports, not
    computation: no thread pool starts in this process)."""
    import torch._dynamo  # imported by the first optimiser: 3 s per child otherwise
    import torch.utils.tensorboard  # noqa: F401

    import netsim.cli  # noqa: F401
    import solvers.rl.training  # noqa: F401
    from netsim.simulation.registry import available_schedulers, rl_entry, scheduler_class

    for name in available_schedulers():
        scheduler_class(name)
    for name in ("algorithms", "train", "compare"):
        rl_entry(name)
    _command()


def hidden_entries(out: Path) -> list[str]:
    """Hidden names in ``out`` (at any depth) and hidden names beside it that start with
    ``.OUT.``: temporaries a command might leave (lock files and folder markers aside:
    they stay by design)."""
    found = [str(path.relative_to(out.parent)) for path in out.rglob(".*")] \
        if out.is_dir() else []
    found += [path.name for path in out.parent.glob(f".{out.name}.*")]
    return sorted(name for name in found
                  if not name.endswith((".lock", "/.netsim-folder")))  # markers, by design


def main(spec_file: str) -> None:
    spec = json.loads(Path(spec_file).read_text())
    work = Path(spec["workdir"])
    stop = signal.Signals[spec.get("signal", "SIGKILL")]
    setup = Path(spec["setup"]) if spec.get("setup") else None
    warm_up()

    reference = work / "reference"
    if setup is not None:
        shutil.copytree(setup, reference)
    log_path = work / "operations.txt"
    status = run_child(fill(spec["first"], reference), None, log_path)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"the uninterrupted run failed: status {status}")
    operations = log_path.read_text().splitlines()
    points = spec.get("points") or list(range(1, len(operations) + 1))
    results = []
    for n in points:
        out = work / f"kill_{n}"
        if setup is not None:
            shutil.copytree(setup, out)
        status = run_child(fill(spec["first"], out), n, None, stop)
        if stop == signal.SIGKILL:
            killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        else:
            killed = os.waitstatus_to_exitcode(status) == 130
        left_hidden = hidden_entries(out)
        if out.exists():
            shutil.copytree(out, work / f"kill_{n}.killed", symlinks=True)
        again = run_child(fill(spec["again"], out), None, None)
        results.append({"n": n, "operation": operations[n - 1], "killed": killed,
                        "exit": os.waitstatus_to_exitcode(status),
                        "again_exit": os.waitstatus_to_exitcode(again),
                        "hidden_after_kill": left_hidden,
                        "hidden_after_again": hidden_entries(out)})
    (work / "result.json").write_text(json.dumps({"operations": operations,
                                                  "reference_hidden": hidden_entries(reference),
                                                  "points": results}, indent=1))


def serve() -> None:
    """Run the spec file named on each line of stdin (see the module docstring)."""
    warm_up()
    for line in sys.stdin:
        spec_file = line.strip()
        sys.stderr.flush()
        saved = os.dup(2)
        log = os.open(f"{spec_file}.stderr", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(log, 2)  # this process's and its children's
        os.close(log)
        try:
            main(spec_file)
            answer = "ok"
        except BaseException:  # noqa: BLE001 - answered, and its traceback kept
            traceback.print_exc()
            answer = "failed"
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
        print(answer, flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "--serve":
        serve()
    else:
        main(sys.argv[1])
