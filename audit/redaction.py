"""Personal identifiers never reach the log in clear: they are replaced by keyed hashes.

The key is the UTF-8 bytes of a text of at least 16 characters (surrounding
whitespace ignored), taken from, in order: the `key` argument, the environment
variable LICIT_AUDIT_KEY, or the key file `<db>.key` beside the log. A new log
with neither gets a key file holding 64 random hex characters, created owner-only
(0600) and atomically, so that concurrent creators agree on one key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import unicodedata
from pathlib import Path

from audit.errors import AuditError, AuditWriteError
from audit.files import read_regular_file, write_new_file

KEY_ENV = "LICIT_AUDIT_KEY"
MIN_KEY_CHARS = 16
IDENTIFIER_FIELDS = ("name", "id_number", "phone")
HASH_PREFIX = "hmac-sha256:"
_KEY_FILE_BYTES = 4096  # a key file holds one line of text
MIN_IDENTIFIER_CHARS = 6  # an id number or phone this long is refused in clear anywhere in a record


def key_file_path(db_path: str | os.PathLike) -> Path:
    return Path(f"{os.fspath(db_path)}.key")


def resolve_key(db_path: str | os.PathLike, key: bytes | None = None, *, create: bool = False) -> bytes:
    """The log's HMAC key; with `create`, make the key file if no key is configured."""
    if key is not None:
        return _checked(key, "the key argument")
    text = os.environ.get(KEY_ENV)
    if text is not None:
        return _checked(text.strip().encode(), KEY_ENV)
    path = key_file_path(db_path)
    if create and not os.path.lexists(path):
        _create_key_file(path)
    return _read_key_file(path)


def log_key(db_path: str | os.PathLike, stored_check: str | None, key: bytes | None = None) -> bytes:
    """The key of the log at `db_path`, refused unless it is the key the log was created
    with (`stored_check`, meta's key_check): another key would make writers store
    hashes no query matches, and make readers silently find nobody."""
    resolved = resolve_key(db_path, key)
    if key_check(resolved) != stored_check:
        raise AuditError(f"the audit key does not match the key decision log {db_path} was created with")
    return resolved


def key_check(key: bytes) -> str:
    """Stored in the log so that a different key is refused instead of silently
    producing hashes no query will ever match."""
    return hmac.new(key, b"licit-audit/key-check", hashlib.sha256).hexdigest()


def identifier_text(field: str, value: object) -> str:
    """An identifier as it is hashed: without surrounding whitespace, an id number in upper case
    (a trailing check character is written x or X)."""
    text = str(value).strip()
    return text.upper() if field == "id_number" else text


def identifier_hash(key: bytes, field: str, value: object) -> str:
    """HMAC-SHA256 over `field NUL value`; the field name keeps, say, a phone number
    from matching an identical id number."""
    mac = hmac.new(key, f"{field}\0{identifier_text(field, value)}".encode(), hashlib.sha256).hexdigest()
    return HASH_PREFIX + mac


def folded(text: str) -> str:
    """Text as identifiers are searched in it: compatibility forms (full-width ４４０３) as their plain
    characters, then case folded. Looser than the hash's own comparison, never stricter.
    ASCII text is its own NFKC form, and its case folding is lower(): ten times faster, and
    most of what a record holds."""
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFKC", text).casefold()


# Every character outside ASCII whose NFKC form, case folded, holds a digit or an x (full-width ４ and ｘ,
# circled ④, superscript ², …), and the two marks that join an x into ẋ and ẍ: a text without any of them
# folds its digits and x as lower() does. The same set in Unicode 14.0 to 15.1 (Python 3.11 to 3.13);
# tests/audit/test_audit_privacy.py derives it again from the running Python's tables. Those beyond the
# Basic Multilingual Plane (mathematical letters and digits, enclosed and segmented digits) are taken
# as their whole block, emoji included: such a text is folded, as every text once was.
DIGIT_FORMS_UNICODE = ("14.0.0", "15.0.0", "15.1.0")
_DIGIT_FORMS_BMP = (
    "\u00b2\u00b3\u00b9\u00bc-\u00be\u02e3\u2070\u2074-\u2079\u2080-\u2089\u2093\u213b\u2150-\u215f"
    "\u2168-\u216b\u2178-\u217b\u2189\u2460-\u249b\u24b3\u24cd\u24e7\u24ea\u3251-\u325f\u32b1-\u32cb"
    "\u3358-\u3370\u3378\u3379\u339f-\u33a6\u33a8\u33af\u33d3\u33e0-\u33fe\uff10-\uff19\uff38\uff58"
    "\u0307\u0308")
_DIGIT_FORMS_BEYOND = "\U0001d400-\U0001fbff"
# one character after another: re tests a class of single characters in one step, and ranges one by one
_DIGIT_FORMS = re.compile("[" + re.escape(re.sub("(.)-(.)", lambda pair: "".join(
    map(chr, range(ord(pair[1]), ord(pair[2]) + 1))), _DIGIT_FORMS_BMP)) + _DIGIT_FORMS_BEYOND + "]")
_DIGIT_FORMS_KNOWN = unicodedata.unidata_version in DIGIT_FORMS_UNICODE  # else every non-ASCII text is folded
_DIGITS_AND_X = re.compile("[0-9x]+")


def digits_and_x(wanted: str) -> bool:
    """Whether ``wanted`` (folded) is a run of digits and x, as an id number or a phone is."""
    return _DIGITS_AND_X.fullmatch(wanted) is not None


def folded_digits(text: str) -> str:
    """``text`` as folded() gives it as far as runs of digits and x go: where no character of it can fold into
    a digit or an x, ``text.lower()``. Most decisions carry Chinese messages, and normalising their text was
    most of the cost of searching it for an id number or a phone."""
    if text.isascii() or (_DIGIT_FORMS_KNOWN and not _DIGIT_FORMS.search(text)):
        return text.lower()
    return folded(text)


def appears_in(identifier: str, text: str) -> bool:
    """Whether ``identifier`` (as identifier_text gives it) appears in ``text`` in any case or width: the log
    refuses such a record, and the engine refuses such a flow before deciding it, with the same test."""
    return folded(identifier) in folded(text)


def redact_flow(flow: dict, key: bytes) -> tuple[dict, dict[str, str]]:
    """A copy of `flow` whose applicant identifiers are keyed hashes, and the clear
    identifiers that were replaced, by field (so the caller can check none slipped
    elsewhere). The caller's flow is not modified."""
    applicant = flow.get("applicant")
    if not isinstance(applicant, dict):
        return flow, {}
    redacted = dict(applicant)
    clear = {}
    for field in IDENTIFIER_FIELDS:
        value = applicant.get(field)
        if value is not None:
            redacted[field] = identifier_hash(key, field, value)
            clear[field] = identifier_text(field, value)
    return {**flow, "applicant": redacted}, clear


def _checked(key: bytes, source: str) -> bytes:
    if len(key.decode("utf-8", "replace")) < MIN_KEY_CHARS:
        raise AuditError(f"audit key from {source} is too short: use at least {MIN_KEY_CHARS} characters")
    return key


def _create_key_file(path: Path) -> None:
    """A fresh key, written whole (audit.files): if another process won the race, its key is kept
    (and checked like any key file when it is read)."""
    write_new_file(path, (secrets.token_hex(32) + "\n").encode(), "audit key file", 0o600, keep_existing=True,
                   error=AuditWriteError)


def _read_key_file(path: Path) -> bytes:
    """The key in `path`, a regular file owned by this user that no one else may read: a key
    file planted beside the log by another user, or a symlink there, is refused."""
    if not os.path.lexists(path):
        raise AuditError(f"no audit key: set {KEY_ENV} or provide the key file {path}")
    text = read_regular_file(path, "audit key file", _KEY_FILE_BYTES, owned=True, private=True, error=AuditError)
    return _checked(text.strip(), str(path))
