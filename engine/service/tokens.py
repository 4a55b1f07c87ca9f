"""Bearer tokens and their roles.

A token entry is ``ROLES TOKEN``: roles from ``evaluate``, ``audit``, ``admin``, comma-separated,
then the token: 16 to 512 letters, digits and ``-._~+/=`` (hex, base64 and URL-safe base64 all
fit; ``#`` and ``;`` never occur in one, so neither a comment nor a separator can cut a token
short). A tokens file holds one entry a line (a line starting with ``#`` is a comment); the
environment variable holds entries separated by newlines or ``;``. The file must be a regular file
owned by the user running Licit and readable by nobody else: it is a secret like the log's key.

Tokens are kept as SHA-256 digests and a presented token is compared with every one of them
by ``hmac.compare_digest``, so neither a match nor its position shows in the time taken.
"""
from __future__ import annotations

import errno
import hashlib
import hmac
import os
import re
import stat
from pathlib import Path

__all__ = ["ROLES", "TOKENS_ENV", "Tokens", "TokensError"]

ROLES = ("evaluate", "audit", "admin")
TOKENS_ENV = "LICIT_SERVE_TOKENS"
_TOKEN = re.compile(r"[A-Za-z0-9._~+/=-]{16,512}")
_MAX_FILE_BYTES = 1_000_000


class TokensError(ValueError):
    """The tokens given cannot be used; the message names where and why."""


class Tokens:
    """Which roles each token grants; no tokens at all means the service is open."""

    def __init__(self, entries: dict[bytes, frozenset[str]]):
        self._entries = list(entries.items())

    @property
    def enabled(self) -> bool:
        return bool(self._entries)

    def roles(self, presented: str) -> frozenset[str]:
        """The roles of a presented token; empty if it is none of ours."""
        digest = hashlib.sha256(presented.encode("utf-8", "surrogateescape")).digest()
        found: frozenset[str] = frozenset()
        for known, roles in self._entries:  # no early exit: every comparison is made
            if hmac.compare_digest(digest, known):
                found = roles
        return found

    @classmethod
    def parse(cls, text: str, source: str) -> "Tokens":
        entries: dict[bytes, frozenset[str]] = {}
        for number, line in enumerate(re.split(r"\n|;", text) if source == TOKENS_ENV else text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            where = f"{source}: entry {number}" if source == TOKENS_ENV else f"{source}:{number}"
            fields = line.split()
            if len(fields) != 2:
                raise TokensError(f"{where}: expected 'ROLES TOKEN' (e.g. 'evaluate,audit <token>')")
            roles, token = fields[0].split(","), fields[1]
            unknown = sorted(set(roles) - set(ROLES))
            if unknown:
                raise TokensError(f"{where}: unknown role {unknown[0]!r}; roles are {', '.join(ROLES)}")
            if not _TOKEN.fullmatch(token):
                raise TokensError(f"{where}: a token is 16 to 512 letters, digits and -._~+/=")
            digest = hashlib.sha256(token.encode()).digest()
            if digest in entries:
                raise TokensError(f"{where}: this token is given twice")
            entries[digest] = frozenset(roles)
        return cls(entries)

    @classmethod
    def load(cls, path: str | os.PathLike | None, environ: dict[str, str] | os._Environ = os.environ) -> "Tokens":
        """Tokens from ``path`` if given, else from $LICIT_SERVE_TOKENS, else none (open service)."""
        if path is not None:
            return cls.parse(_read_private_file(Path(path)), str(path))
        text = environ.get(TOKENS_ENV)
        if text is not None:
            tokens = cls.parse(text, TOKENS_ENV)
            if not tokens.enabled:
                raise TokensError(f"{TOKENS_ENV} is set but holds no token")
            return tokens
        return cls({})


def _read_private_file(path: Path) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        reason = "is a symbolic link" if error.errno == errno.ELOOP else error.strerror
        raise TokensError(f"cannot read tokens file {path}: {reason}") from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise TokensError(f"tokens file {path} is not a regular file")
        if info.st_uid != os.geteuid():
            raise TokensError(f"tokens file {path} is owned by uid {info.st_uid}, not by this user "
                              f"(uid {os.geteuid()})")
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise TokensError(f"tokens file {path} is accessible to other users "
                              f"(mode {stat.S_IMODE(info.st_mode):04o}): chmod 600 it")
        data = file.read(_MAX_FILE_BYTES + 1)
    if len(data) > _MAX_FILE_BYTES:
        raise TokensError(f"tokens file {path} is larger than {_MAX_FILE_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise TokensError(f"tokens file {path} is not UTF-8 text") from None
