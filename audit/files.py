"""Files Licit trusts (the log, key files, the writer's socket, checkpoints) are checked
for type and owner, not only mode, and opened without following a symlink planted
in their place: otherwise another user could make Licit adopt their key, or a
symlink could make an unrelated file the log."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path

from audit.errors import AuditError, AuditInputError

_NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC


def owned_regular_file(path: str | os.PathLike, what: str, *, private: bool = False, writing: bool = False,
                       error: type[AuditError] = AuditError) -> int:
    """A descriptor of `path`, a regular file owned by this user and not a symlink (with
    `private`, also not accessible to other users). Raises `error` naming `what` otherwise."""
    flags = (os.O_RDWR if writing else os.O_RDONLY) | _NOFOLLOW | os.O_NONBLOCK  # a FIFO must not block the open
    try:
        return _checked(os.open(path, flags), path, what, private, error)
    except OSError as problem:
        raise error(f"cannot open {what} {path}: {_reason(problem)}") from None


def create_or_open_owned(path: str | os.PathLike, what: str, mode: int,
                         error: type[AuditError] = AuditError) -> tuple[int, bool]:
    """A descriptor of `path` for writing, created if absent (O_EXCL|O_NOFOLLOW: never through
    a symlink), else checked as owned_regular_file checks it; and whether it was created."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | _NOFOLLOW, mode), True
    except FileExistsError:
        return owned_regular_file(path, what, writing=True, error=error), False
    except OSError as problem:
        raise error(f"cannot create {what} {path}: {_reason(problem)}") from None


def _checked(fd: int, path: str | os.PathLike, what: str, private: bool, error: type[AuditError]) -> int:
    try:
        refuse_foreign(os.fstat(fd), path, what, private, error)
        os.set_blocking(fd, True)
        return fd
    except BaseException:
        os.close(fd)
        raise


def refuse_foreign(status: os.stat_result, path: str | os.PathLike, what: str, private: bool = False,
                   error: type[AuditError] = AuditError, kind: int = stat.S_IFREG) -> None:
    """Raise `error` unless `status` is of `kind` (a regular file), owned by this user and, with
    `private`, not accessible to others."""
    if stat.S_IFMT(status.st_mode) != kind:
        expected = "a regular file" if kind == stat.S_IFREG else "a socket"
        raise error(f"{what} {path} is not {expected}: refused")
    if status.st_uid != os.geteuid():
        raise error(f"{what} {path} belongs to another user (uid {status.st_uid}), not to this one "
                    f"(uid {os.geteuid()}): refused")
    if private and status.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise error(f"{what} {path} is accessible to other users (mode {stat.S_IMODE(status.st_mode):04o}): "
                    "chmod 600 it")


def read_regular_file(path: str | os.PathLike, what: str, limit: int, *, owned: bool = False,
                      private: bool = False, error: type[AuditError] = AuditInputError) -> bytes:
    """At most `limit` bytes of `path`, which must be a regular file (a FIFO or a device would
    block or never end: refused); with `owned`, also this user's and not a symlink. Raises
    `error` (by default AuditInputError) if it is too large or not such a file."""
    if owned:
        fd = owned_regular_file(path, what, private=private, error=error)
    else:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
        except OSError as problem:
            raise error(f"cannot read {what} {path}: {_reason(problem)}") from None
    with open(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            raise error(f"{what} {path} is not a regular file: refused")
        os.set_blocking(file.fileno(), True)
        try:
            data = file.read(limit + 1)
        except OSError as problem:
            raise error(f"cannot read {what} {path}: {_reason(problem)}") from None
    if len(data) > limit:
        raise error(f"{what} {path} is larger than {_size(limit)}, so it is not a {what}")
    return data


def write_new_file(path: Path, data: bytes, what: str, mode: int = 0o644, *, keep_existing: bool = False,
                   error: type[AuditError] = AuditError) -> None:
    """Write `path`, which must not exist (a symlink there counts as existing), whole or not at all:
    a temporary file beside it, fsynced, then linked into place. With `keep_existing`, a file that
    appeared there meanwhile (another process's) is kept, and no error."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, mode)
        try:
            remaining = memoryview(data)
            while remaining:  # after a short write (a disk filling up) the next one fails, or goes on
                remaining = remaining[os.write(fd, remaining):]
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temp, path)  # unlike a rename, never replaces a file made meanwhile
        except FileExistsError:
            if not keep_existing:
                raise
        fsync_directory(path.parent)
    except FileExistsError:
        raise AuditInputError(f"{what} {path} already exists: refused") from None
    except OSError as problem:
        raise error(f"cannot write {what} {path}: {_reason(problem)}") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temp)


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _size(limit: int) -> str:
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if limit % size == 0:
            return f"{limit // size} {unit}"
    return f"{limit} bytes"


def _reason(problem: OSError) -> str:
    if problem.errno == errno.ELOOP:
        return "it is a symbolic link (refused: it could make another file this one)"
    return problem.strerror or str(problem)
