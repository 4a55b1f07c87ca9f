"""Turning what the engine hands over into what the log stores.

All of this runs in the caller's process, in parallel with other callers, before
the record goes to the log's writer: validation, redaction of the applicant's
identifiers, canonical JSON. Bad input raises AuditError and writes nothing (the
engine then fails closed).
"""

from __future__ import annotations

from dataclasses import dataclass

from audit.canonical import MAX_SAFE_INTEGER, canonical_json, ruleset_digest
from audit.errors import AuditError, AuditInputError
from audit.redaction import MIN_IDENTIFIER_CHARS, digits_and_x, folded, folded_digits, redact_flow
from audit.times import normalize_instant

OUTCOMES = ("deny", "review", "conditional", "allow")
_LONGEST_S = MAX_SAFE_INTEGER / 1_000_000  # a duration is stored in whole µs, a JSON-safe integer
Item = tuple[dict, dict, dict, float]  # (decision, flow, ruleset, duration_s), as the engine hands them over


@dataclass(frozen=True)
class Entry:
    """One decision, ready to be appended to the chain."""

    decision_id: str
    decision_json: bytes  # canonical JSON (audit.canonical), UTF-8
    flow_json: bytes  # the redacted flow, likewise
    evaluated_at: str  # audit.times' fixed-width UTC form
    duration_us: int
    ruleset_digest: str


@dataclass(frozen=True)
class StoredRuleset:
    digest: str
    files_json: bytes  # canonical JSON of {path: source}, UTF-8


def prepare_entry(decision: dict, flow: dict, duration_s: float, key: bytes) -> Entry:
    if not isinstance(decision, dict):
        raise AuditError("decision rejected: it must be a JSON object")
    if not isinstance(flow, dict):
        raise AuditError("decision rejected: the flow must be a JSON object")
    decision_id = decision.get("decision_id")
    if not isinstance(decision_id, str) or not decision_id:
        raise AuditError("decision rejected: decision_id must be a non-empty string")
    what = f"decision {decision_id} rejected:"
    outcome = decision.get("outcome")
    if outcome not in OUTCOMES:
        raise AuditError(f"{what} outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
    ruleset = decision.get("ruleset")
    digest = ruleset.get("digest") if isinstance(ruleset, dict) else None
    if not isinstance(digest, str):
        raise AuditError(f"{what} ruleset.digest is missing")
    if not isinstance(duration_s, (int, float)) or not 0 <= duration_s <= _LONGEST_S:
        raise AuditError(f"{what} duration {duration_s!r} is not a number of seconds from 0 to {_LONGEST_S:g}")
    _refuse_cut_lookups(decision, what)
    evaluated_at = normalize_instant(decision.get("evaluated_at"), f"{what} evaluated_at")
    # derived rows (audit.derived) need these as text; the log refuses a record without them
    _check_items(decision, "findings", ("rule_id", "jurisdiction", "effect"), what)
    _check_items(decision, "obligations", ("rule_id", "action"), what)

    redacted, clear_identifiers = redact_flow(flow, key)
    try:
        decision_text = canonical_json(decision)
        flow_text = canonical_json(redacted)
        _refuse_clear_identifiers(clear_identifiers, (decision_text, flow_text), what)
        decision_json, flow_json = decision_text.encode(), flow_text.encode()
    except (TypeError, ValueError) as error:  # UnicodeEncodeError (a lone surrogate) is a ValueError
        raise AuditError(f"{what} not JSON-serialisable in canonical form ({error})") from None
    return Entry(decision_id, decision_json, flow_json, evaluated_at, round(duration_s * 1_000_000), digest)


def prepare_ruleset(ruleset: dict, expected_digest: str) -> StoredRuleset:
    """The rule set as stored, after proving its digest covers exactly these sources.
    Its jurisdiction chain is not stored here: each decision records its own."""
    if not isinstance(ruleset, dict):
        raise AuditError("rule set rejected: it must be a JSON object")
    files, digest = ruleset.get("files"), ruleset.get("digest")
    if not (isinstance(files, dict) and all(isinstance(p, str) and isinstance(t, str) for p, t in files.items())):
        raise AuditError(f"rule set {digest} rejected: files must map each path to its full text")
    if digest != expected_digest:
        raise AuditError(f"rule set rejected: its digest {digest} is not the decision's {expected_digest}")
    computed = ruleset_digest(files)
    if computed != digest:
        raise AuditError(f"rule set rejected: digest {digest} does not match its files (they hash to {computed})")
    try:
        return StoredRuleset(digest, canonical_json(files).encode())
    except ValueError as error:
        raise AuditError(f"rule set {digest} rejected: not JSON-serialisable in canonical form ({error})") from None


def _check_items(decision: dict, list_name: str, fields: tuple[str, ...], what: str) -> None:
    items = decision.get(list_name, [])
    if not isinstance(items, list):
        raise AuditError(f"{what} {list_name} must be a list")
    for position, item in enumerate(items):
        if not (isinstance(item, dict) and all(isinstance(item.get(f), str) and item.get(f) for f in fields)):
            raise AuditError(f"{what} {list_name}[{position}] needs string fields {', '.join(fields)}")


def _refuse_cut_lookups(decision: dict, what: str) -> None:
    """SQLite's JSON functions end a text at a NUL: a lookup column made from one would hold less than the
    record (a query by flow_id would miss it, and verify, recomputing the column the same way, would not see it)."""
    for name, value in decision.items():
        if isinstance(value, str) and "\0" in value:
            raise AuditInputError(f"{what} {name} holds a NUL character, which the log's lookup columns would cut "
                                  f"short")


def _refuse_clear_identifiers(identifiers: dict[str, str], texts: tuple[str, ...], what: str) -> None:
    """A flow_id or note built from an id number would otherwise leak it. Names are
    not checked: a two-character name can be an ordinary word in a rule's message.
    The record is refused as input: the engine refuses such a flow before deciding it, with the
    same test, so what reaches here matched a rule's text or the decision's own id or time."""
    searched: dict[bool, list[str]] = {}  # the texts folded once for runs of digits and x (True), once wholly
    for field in ("id_number", "phone"):
        identifier = identifiers.get(field, "")
        if len(identifier) < MIN_IDENTIFIER_CHARS:
            continue
        wanted = folded(identifier)
        digits = digits_and_x(wanted)
        if digits not in searched:
            searched[digits] = [folded_digits(text) if digits else folded(text) for text in texts]
        if any(wanted in text for text in searched[digits]):
            raise AuditInputError(f"{what} applicant.{field}: the applicant's {field} appears in clear outside "
                                  f"applicant.{field}")
