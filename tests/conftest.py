"""Fixtures shared by the test modules."""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from types import ModuleType

import pytest


@pytest.fixture
def failing_nth_call(monkeypatch: pytest.MonkeyPatch
                     ) -> Callable[[ModuleType, str, int], AbstractContextManager[None]]:
    """``with failing_nth_call(os, "replace", 3):`` the third call of os.replace inside
    the block raises OSError (ENOSPC, as on a full disk); the others go through."""

    @contextmanager
    def failing(module: ModuleType, name: str, n: int) -> Iterator[None]:
        real, calls = getattr(module, name), []

        def flaky(*args, **kwargs):  # type: ignore[no-untyped-def]
            calls.append(args)
            if len(calls) == n:
                raise OSError(errno.ENOSPC, "No space left on device")
            return real(*args, **kwargs)

        with monkeypatch.context() as patch:
            patch.setattr(module, name, flaky)
            yield

    return failing


@pytest.fixture(autouse=True, scope="session")
def _sb3_logs_stay_in_the_test_folder(tmp_path_factory: pytest.TempPathFactory
                                      ) -> Iterator[None]:
    """An SB3 model trained without a TensorBoard folder makes an empty
    /tmp/SB3-<time> folder each time it learns (SB3's default logger): the agents' own
    tests would leave hundreds behind. SB3_LOGDIR sends them into pytest's temporary
    folder instead."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SB3_LOGDIR", str(tmp_path_factory.mktemp("sb3-logs")))
        yield
