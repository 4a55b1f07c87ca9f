"""What callers and the writer say to each other over the writer's socket.

Every message is a frame: a 4-byte big-endian length, then a one-byte kind and its
body. A connection carries one request at a time; each is answered once.

    caller                               writer
    HELLO  JSON {protocol, schema_version,  HELLO  JSON {protocol, schema_version, licit,
           key_check, checkpoints}                      device, inode, pid}  or ERROR
    RECORD entries and new rule sets        SEQ    8-byte sequence number of the last
                                                   record, once its commit is durable; or ERROR
    BYE                                     BYE    once the writer no longer needs the caller
                                                   (if it was the last, after closing the log)

ERROR is a one-byte class (audit.errors' error to raise) and a one-line message.
Records and rule sets go as length-prefixed byte strings, so that the canonical JSON
the caller made is stored and hashed as it is, without escaping or parsing.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable

from audit.errors import AuditError, AuditWriteError
from audit.records import Entry, StoredRuleset

PROTOCOL = 1  # raised on any change to these messages: writer and caller must agree on it
HELLO, RECORD, SEQ, ERROR, BYE = b"H", b"R", b"S", b"E", b"B"
MAX_FRAME = 1 << 31  # a frame's length must fit its 4 bytes with room: 10,000 seeded decisions are ~40 MB

# ERROR classes
WRITE_FAILED, REFUSED, RULESET_UNKNOWN, LOG_REFUSED = b"W", b"R", b"U", b"A"

_LENGTH = struct.Struct("!I")
_COUNTS = struct.Struct("!II")
_NUMBER = struct.Struct("!Q")


class ProtocolError(Exception):
    """A frame that does not follow this protocol: the connection is dropped."""


def frame(kind: bytes, body: bytes = b"") -> bytes:
    return _LENGTH.pack(len(body) + 1) + kind + body


def hello(fields: dict) -> bytes:
    return frame(HELLO, json.dumps(fields).encode())


def read_hello(body: bytes) -> dict:
    try:
        fields = json.loads(body)
    except ValueError:
        raise ProtocolError("a HELLO that is not JSON") from None
    if not isinstance(fields, dict):
        raise ProtocolError("a HELLO that is not a JSON object")
    return fields


def error(kind: bytes, message: str) -> bytes:
    return frame(ERROR, kind + message.encode("utf-8", "replace"))


def raise_error(body: bytes, refused: type[AuditWriteError]) -> None:
    """Raise what an ERROR reply says (`refused`: the error for records the log refused)."""
    kind, message = body[:1], body[1:].decode("utf-8", "replace")
    raise {REFUSED: refused, LOG_REFUSED: AuditError}.get(kind, AuditWriteError)(message)


def seq_reply(seq: int) -> bytes:
    return frame(SEQ, _NUMBER.pack(seq))


def read_seq(body: bytes) -> int:
    if len(body) != _NUMBER.size:
        raise ProtocolError("a SEQ reply of the wrong size")
    return _NUMBER.unpack(body)[0]


def record_request(entries: Iterable[Entry], rulesets: Iterable[StoredRuleset]) -> bytes:
    entries, rulesets = list(entries), list(rulesets)
    parts = [_COUNTS.pack(len(entries), len(rulesets))]
    for entry in entries:
        _strings(parts, entry.decision_id.encode(), entry.decision_json, entry.flow_json,
                 entry.evaluated_at.encode(), entry.ruleset_digest.encode())
        parts.append(_NUMBER.pack(entry.duration_us))
    for ruleset in rulesets:
        _strings(parts, ruleset.digest.encode(), ruleset.files_json)
    return frame(RECORD, b"".join(parts))


def read_record_request(body: bytes) -> tuple[list[Entry], list[StoredRuleset]]:
    """The entries and rule sets of a RECORD; ProtocolError if it is malformed."""
    reader = _Reader(body)
    entry_count, ruleset_count = reader.unpack(_COUNTS)
    entries = []
    for _ in range(entry_count):
        decision_id, decision_json, flow_json, evaluated_at, digest = (reader.string() for _ in range(5))
        entries.append(Entry(_text(decision_id), decision_json, flow_json, _text(evaluated_at), reader.unpack(_NUMBER)[0],
                             _text(digest)))
    rulesets = [StoredRuleset(_text(reader.string()), reader.string()) for _ in range(ruleset_count)]
    if not reader.at_end():
        raise ProtocolError("a RECORD with bytes after its last rule set")
    return entries, rulesets


def _strings(parts: list[bytes], *strings: bytes) -> None:
    for string in strings:
        parts += (_LENGTH.pack(len(string)), string)


def _text(raw: bytes) -> str:
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise ProtocolError("a field that is not UTF-8") from None


class _Reader:
    def __init__(self, body: bytes):
        self._body = memoryview(body)
        self._at = 0

    def unpack(self, shape: struct.Struct) -> tuple:
        if self._at + shape.size > len(self._body):
            raise ProtocolError("a RECORD cut short")
        values = shape.unpack_from(self._body, self._at)
        self._at += shape.size
        return values

    def string(self) -> bytes:
        (length,) = self.unpack(_LENGTH)
        if self._at + length > len(self._body):
            raise ProtocolError("a RECORD cut short")
        value = bytes(self._body[self._at:self._at + length])
        self._at += length
        return value

    def at_end(self) -> bool:
        return self._at == len(self._body)


class FrameBuffer:
    """Bytes received on a connection, cut into frames as they complete."""

    def __init__(self):
        self._data = bytearray()

    def feed(self, data: bytes) -> list[tuple[bytes, bytes]]:
        """Add `data`; returns the (kind, body) of every frame now complete."""
        self._data += data
        frames = []
        at = 0
        while len(self._data) - at >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(self._data, at)
            if not 1 <= length <= MAX_FRAME:
                raise ProtocolError(f"a frame of {length} bytes")
            if len(self._data) - at - _LENGTH.size < length:
                break
            start = at + _LENGTH.size
            frames.append((bytes(self._data[start:start + 1]), bytes(self._data[start + 1:start + length])))
            at = start + length
        del self._data[:at]
        return frames

    def pending(self) -> bool:
        """Whether part of a frame has arrived (a caller stopped mid-request leaves one)."""
        return bool(self._data)
