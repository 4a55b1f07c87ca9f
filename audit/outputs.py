"""Files the auditor's read-only commands write (exports, checkpoints).

Reading a log must never damage it, nor its evidence: an output never lands on
the log's own files, never replaces a file it was not allowed to, and appears
whole or not at all (written beside the target, then linked or renamed into
place), so a full disk leaves no partial file behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import IO, TypeVar

from audit.errors import AuditError, AuditInputError
from audit.redaction import key_file_path
from audit.writer.endpoint import socket_name

T = TypeVar("T")


def log_files(log: str | os.PathLike) -> list[Path]:
    """The log and everything SQLite and Licit keep beside it."""
    return [Path(log), *(Path(f"{os.fspath(log)}{suffix}") for suffix in ("-wal", "-shm", "-journal")),
            key_file_path(log), Path(log).parent / socket_name(Path(log))]  # fmt: skip


def write_output(
    target: str | os.PathLike,
    write: Callable[[IO[str]], T],
    *,
    log: str | os.PathLike,
    what: str,
    overwrite: bool = False,
    exists_hint: str,
) -> T:
    """Call `write` on a new file that becomes `target` once complete; returns its result.

    An existing target is refused (`exists_hint` says what to do instead) unless
    `overwrite`, which replaces a regular file whole and writes into a device or
    pipe (`/dev/stdout`) without replacing it. Any failure leaves nothing behind.
    """
    target = Path(target)
    _refuse_log_file(target, log, what)
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as error:
        raise AuditError(f"cannot write {what} {target}: {error.strerror}") from None
    if mode is not None and not overwrite:
        raise AuditInputError(f"{what} {target} already exists: {exists_hint}")
    try:
        if mode is not None and not stat.S_ISREG(mode):
            with open(target, "w", encoding="utf-8") as file:
                return write(file)
        return _write_new(target, write, replace=overwrite, what=what, hint=exists_hint)
    except OSError as error:
        raise AuditError(f"cannot write {what} {target}: {error.strerror}") from None


def _write_new(target: Path, write: Callable[[IO[str]], T], *, replace: bool, what: str, hint: str) -> T:
    temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as to any new file
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            result = write(file)
            file.flush()
            os.fsync(file.fileno())
        if replace:
            os.replace(temp, target)
        else:
            try:
                os.link(temp, target)  # unlike a rename, never replaces a file made meanwhile
            except FileExistsError:
                raise AuditInputError(f"{what} {target} already exists: {hint}") from None
        return result
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


def _refuse_log_file(target: Path, log: str | os.PathLike, what: str) -> None:
    """By name (after symlinks, also the log's), or as another name of the same file."""
    resolved = target.resolve()
    for name in {Path(log), Path(log).resolve()}:
        for own in log_files(name):
            if resolved == own.resolve() or _same_file(target, own):
                raise AuditInputError(f"{what} {target} would write into the decision log's own files ({own})")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # either is missing
        return False
