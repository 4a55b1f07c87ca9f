"""Where a log's writer listens: a Unix socket beside the log, `<log>-writer`.

Only the user who owns the socket may talk to its writer, and only a writer run by
the same user is trusted: both ends check the other's user id (SO_PEERCRED), and a
caller refuses a socket file that is not a socket of its own (a file planted there
by someone else, or a symlink).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import stat
import struct
from pathlib import Path

from audit.errors import AuditWriteError
from audit.files import refuse_foreign

_SUN_PATH = 107  # sockaddr_un's sun_path, less its terminating NUL
_LONGEST_NAME = 64
_CREDENTIALS = struct.Struct("3i")  # struct ucred: pid, uid, gid


def socket_name(log: Path) -> str:
    name = f"{log.name}-writer"
    if len(name.encode()) <= _LONGEST_NAME:
        return name
    # a socket's address is short: a long log name is stood for by its hash
    return f".{hashlib.sha256(log.name.encode()).hexdigest()[:32]}-writer"


class Endpoint:
    """The socket of the log at `log`, reached relative to a descriptor of its directory
    (a path too long for a socket address still works, through /proc/self/fd)."""

    def __init__(self, log: str | os.PathLike):
        self.log = Path(os.path.abspath(log))
        self.name = socket_name(self.log)
        self.path = self.log.parent / self.name
        self._directory: int | None = None

    def directory(self) -> int:
        if self._directory is None:
            self._directory = os.open(self.log.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        return self._directory

    def address(self, name: str | None = None) -> str:
        plain = str(self.log.parent / (name or self.name))
        if len(plain.encode()) <= _SUN_PATH:
            return plain
        return f"/proc/self/fd/{self.directory()}/{name or self.name}"

    def close(self) -> None:
        if self._directory is not None:
            os.close(self._directory)
            self._directory = None

    def connect(self, timeout: float) -> socket.socket:
        """A connection to the writer; FileNotFoundError or ConnectionRefusedError when none
        listens; AuditWriteError if the socket or the process behind it is not this user's."""
        try:
            status = os.lstat(self.name, dir_fd=self.directory())
        except FileNotFoundError:
            raise
        except OSError as error:
            raise AuditWriteError(f"cannot reach the writer of {self.log}: {error.strerror}") from None
        refuse_foreign(status, self.path, "writer socket", error=AuditWriteError, kind=stat.S_IFSOCK)
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            connection.settimeout(timeout)
            connection.connect(self.address())
            refuse_peer(connection, f"the process listening on {self.path}")
            return connection
        except BaseException:
            connection.close()
            raise

    def listen(self) -> tuple[socket.socket, int]:
        """Listen on the socket, replacing a stale one atomically (the caller holds the
        writer's lock, so no live writer listens there); returns it and its inode."""
        temporary = f".{self.name[:40]}.{os.getpid()}.tmp"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary, dir_fd=self.directory())
            listener.bind(self.address(temporary))
            os.chmod(temporary, 0o600, dir_fd=self.directory())
            os.rename(temporary, self.name, src_dir_fd=self.directory(), dst_dir_fd=self.directory())
            listener.listen(128)
            return listener, os.lstat(self.name, dir_fd=self.directory()).st_ino
        except BaseException:
            listener.close()
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=self.directory())
            raise

    def remove(self, inode: int) -> None:
        """Remove the socket if it is still the one this writer made (a successor may have replaced it)."""
        with contextlib.suppress(OSError):
            if os.lstat(self.name, dir_fd=self.directory()).st_ino == inode:
                os.unlink(self.name, dir_fd=self.directory())


def refuse_peer(connection: socket.socket, who: str) -> None:
    """AuditWriteError unless the process at the other end runs as this user."""
    if not hasattr(socket, "SO_PEERCRED"):
        return  # not Linux: the socket's own permissions (0600, checked owner) stand alone
    _, uid, _ = _CREDENTIALS.unpack(connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                          _CREDENTIALS.size))
    if uid != os.geteuid():
        raise AuditWriteError(f"{who} runs as uid {uid}, not as this user (uid {os.geteuid()}): refused")
