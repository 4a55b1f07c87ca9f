"""Running a piece of a test without root's power to read every file.

Tests run as root here (and in many CI containers); root ignores file modes, so a test of
"permission denied" must drop to an unprivileged user in a forked child. The child keeps what
the parent imported, but cannot read the checkout when it lies in a folder only root may enter
(a clone in root's home): it must be handed everything it needs, and the files it reads must lie
in a folder it can enter (``shared_dir``).
"""
from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["NOBODY", "as_nobody", "outcome_in_child", "shared_folder"]

NOBODY = 65534
_FORK = multiprocessing.get_context("fork")


def outcome_in_child(action, *args, as_nobody: bool = False) -> str:
    """Run ``action(*args)`` in a forked child (as ``nobody`` when asked and run as root); return 'ok', or what
    it returned as text, or the exception it raised as 'Type: message'."""
    results = _FORK.Queue()

    def child():
        try:
            if as_nobody and os.geteuid() == 0:
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            result = action(*args)
            results.put("ok" if result is None else str(result))
        except BaseException as error:  # the parent asserts on what was raised
            results.put(f"{type(error).__name__}: {error}")

    process = _FORK.Process(target=child)
    process.start()
    process.join(120)
    return results.get(timeout=5)


def as_nobody(action, *args) -> str:
    return outcome_in_child(action, *args, as_nobody=True)


class shared_folder:
    """A fresh folder every user can enter (pytest's own temporary folders are private to their owner)."""

    def __enter__(self) -> Path:
        self.path = Path(tempfile.mkdtemp(prefix="licit-test-"))
        self.path.chmod(0o755)
        return self.path

    def __exit__(self, *exc_info) -> None:
        for folder, _, _ in os.walk(self.path):
            os.chmod(folder, 0o755)
        shutil.rmtree(self.path)
