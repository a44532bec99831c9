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
