"""The log's tables and triggers, for each schema version (docs/log-format.md).

Version 2 (written): the durable commit of a record holds only what the chain needs:

  meta              format marker, schema version, creation time, key check value
  rulesets          every distinct rule set once, by digest, with its full rule sources
  decisions         the hash-chained records: the decision and the redacted flow as
                    canonical JSON, with the chain's columns

and, built by the writer from committed records outside their commit (audit.derived),
the rows queries read through indexes:

  decision_lookups  one row per record: the lookup columns, each a json_extract of it
  findings          one row per fired rule
  obligations       one row per obligation

Version 1 (read and verified, no longer written) kept the lookup columns as generated
columns of `decisions`, and filled findings and obligations by trigger, all inside the
record's commit; its record hash covered the findings and obligations rows.
"""

from __future__ import annotations

from audit.canonical import GENESIS_HASH

FORMAT = "licit-decision-log"
SCHEMA_VERSION = 2  # the version this code writes
READABLE_VERSIONS = (1, 2)

# (column, the SQLite expression that derives it from a record's stored `decision` and `flow`)
LOOKUPS = (
    ("decision_id", "json_extract(decision, '$.decision_id')"),
    ("flow_id", "json_extract(decision, '$.flow_id')"),
    ("jurisdiction", "json_extract(decision, '$.jurisdiction')"),
    ("jurisdiction_chain", "json_extract(decision, '$.jurisdiction_chain')"),
    ("outcome", "json_extract(decision, '$.outcome')"),
    ("as_of", "json_extract(decision, '$.as_of')"),
    ("ruleset_digest", "json_extract(decision, '$.ruleset.digest')"),
    ("engine_version", "json_extract(decision, '$.engine_version')"),
    ("applicant", "json_extract(flow, '$.applicant.id_number')"),
)
# the members of a finding and of an obligation that their rows copy, each into a column of its name
FINDING_MEMBERS = ("rule_id", "jurisdiction", "effect")
OBLIGATION_MEMBERS = ("rule_id", "action")

# the findings and obligations tables (version 1 declared their seq a reference to decisions)
_ROWS = """CREATE TABLE findings (
    seq          INTEGER NOT NULL{references},
    position     INTEGER NOT NULL,
    rule_id      TEXT NOT NULL,
    jurisdiction TEXT NOT NULL,
    effect       TEXT NOT NULL,
    evaluated_at TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    PRIMARY KEY (seq, position)
) WITHOUT ROWID;
CREATE INDEX findings_by_rule ON findings(rule_id, evaluated_at, outcome);
CREATE TABLE obligations (
    seq      INTEGER NOT NULL{references},
    position INTEGER NOT NULL,
    rule_id  TEXT NOT NULL,
    action   TEXT NOT NULL,
    PRIMARY KEY (seq, position)
) WITHOUT ROWID;
"""
_RULESETS = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE rulesets (
    digest TEXT PRIMARY KEY,
    files  TEXT NOT NULL
);
CREATE VIEW ruleset_files AS
    SELECT r.digest AS digest, f.key AS path, f.value AS source
    FROM rulesets AS r, json_each(r.files) AS f;
"""

V2_TABLES = _RULESETS + """CREATE TABLE decisions (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    recorded_at  TEXT NOT NULL,
    evaluated_at TEXT NOT NULL,
    duration_us  INTEGER NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL,
    decision     TEXT NOT NULL,
    flow         TEXT NOT NULL
);
CREATE TABLE decision_lookups (
    seq                INTEGER PRIMARY KEY,
    decision_id        TEXT NOT NULL,
    flow_id            TEXT,
    jurisdiction       TEXT,
    jurisdiction_chain TEXT,
    outcome            TEXT NOT NULL,
    as_of              TEXT,
    ruleset_digest     TEXT NOT NULL,
    engine_version     TEXT,
    applicant          TEXT,
    evaluated_at       TEXT NOT NULL
);
CREATE UNIQUE INDEX decisions_by_decision_id ON decision_lookups(decision_id);
CREATE INDEX decisions_by_time ON decision_lookups(evaluated_at, outcome, jurisdiction);
CREATE INDEX decisions_by_flow ON decision_lookups(flow_id);
CREATE INDEX decisions_by_applicant ON decision_lookups(applicant);
""" + _ROWS.format(references="")
# findings.evaluated_at and findings.outcome copy the decision's, so that "rule X since D"
# is one index range and the per-rule deny share needs no join.


def _refuse(table: str, verb: str) -> str:
    return (
        f"CREATE TRIGGER {table}_refuse_{verb.lower()} BEFORE {verb} ON {table} BEGIN "
        f"SELECT RAISE(ABORT, 'the Licit decision log is append-only: {verb} on {table} refused'); END;"
    )


_AT_HEAD = (
    # A record may only extend the chain at its head: no gaps, no forks.
    "CREATE TRIGGER decisions_append_at_head BEFORE INSERT ON decisions "
    "WHEN NEW.seq IS NOT (SELECT coalesce(max(seq), 0) + 1 FROM decisions) "
    "OR NEW.prev_hash IS NOT coalesce((SELECT hash FROM decisions ORDER BY seq DESC LIMIT 1), "
    f"'{GENESIS_HASH}') "
    "BEGIN SELECT RAISE(ABORT, 'the Licit decision log only appends at the head of its chain'); END;"
)
_META_ONCE = (
    # meta is written once, when the log is created.
    "CREATE TRIGGER meta_refuse_insert BEFORE INSERT ON meta "
    "BEGIN SELECT RAISE(ABORT, 'the Licit decision log meta data is written once'); END;"
)
V2_DERIVED = ("decision_lookups", "findings", "obligations")
V2_TRIGGERS = "\n".join(
    [_refuse(table, verb) for table in ("meta", "rulesets", "decisions", *V2_DERIVED) for verb in ("UPDATE", "DELETE")]
    + [_AT_HEAD]
    + [
        # Derived rows are added for committed records not yet derived, never again for one
        # already derived: decision_lookups' largest seq is how far derivation has come.
        f"CREATE TRIGGER {table}_only_for_underived BEFORE INSERT ON {table} "
        f"WHEN NEW.seq <= (SELECT coalesce(max(seq), 0) FROM decision_lookups) "
        f"OR NEW.seq > (SELECT coalesce(max(seq), 0) FROM decisions) "
        f"BEGIN SELECT RAISE(ABORT, '{table} rows may only be derived from records not yet derived'); END;"
        for table in V2_DERIVED
    ]
    + [_META_ONCE]
)

# Version 1, exactly as such logs store it (verify compares a log's schema with this text).
V1_TABLES = _RULESETS + """CREATE TABLE decisions (
    seq                INTEGER PRIMARY KEY AUTOINCREMENT,
    recorded_at        TEXT NOT NULL,
    evaluated_at       TEXT NOT NULL,
    duration_us        INTEGER NOT NULL,
    decision_id        TEXT NOT NULL GENERATED ALWAYS AS (json_extract(decision, '$.decision_id')) STORED,
    flow_id            TEXT GENERATED ALWAYS AS (json_extract(decision, '$.flow_id')) STORED,
    jurisdiction       TEXT GENERATED ALWAYS AS (json_extract(decision, '$.jurisdiction')) STORED,
    jurisdiction_chain TEXT GENERATED ALWAYS AS (json_extract(decision, '$.jurisdiction_chain')) STORED,
    outcome            TEXT NOT NULL GENERATED ALWAYS AS (json_extract(decision, '$.outcome')) STORED
                       CHECK (outcome IN ('deny', 'review', 'conditional', 'allow')),
    as_of              TEXT GENERATED ALWAYS AS (json_extract(decision, '$.as_of')) STORED,
    ruleset_digest     TEXT NOT NULL GENERATED ALWAYS AS (json_extract(decision, '$.ruleset.digest')) STORED,
    engine_version     TEXT GENERATED ALWAYS AS (json_extract(decision, '$.engine_version')) STORED,
    applicant          TEXT GENERATED ALWAYS AS (json_extract(flow, '$.applicant.id_number')) STORED,
    prev_hash          TEXT NOT NULL,
    hash               TEXT NOT NULL,
    decision           TEXT NOT NULL,
    flow               TEXT NOT NULL
);
CREATE UNIQUE INDEX decisions_by_decision_id ON decisions(decision_id);
CREATE INDEX decisions_by_time ON decisions(evaluated_at, outcome, jurisdiction);
CREATE INDEX decisions_by_flow ON decisions(flow_id);
CREATE INDEX decisions_by_applicant ON decisions(applicant);
""" + _ROWS.format(references=" REFERENCES decisions(seq)")
V1_TRIGGERS = "\n".join(
    [_refuse(table, verb) for table in ("meta", "rulesets", "decisions", "findings", "obligations")
     for verb in ("UPDATE", "DELETE")]
    + [
        "CREATE TRIGGER decisions_index_findings AFTER INSERT ON decisions BEGIN "
        "INSERT INTO findings(seq, position, rule_id, jurisdiction, effect, evaluated_at, outcome) "
        "SELECT NEW.seq, f.key, json_extract(f.value, '$.rule_id'), json_extract(f.value, '$.jurisdiction'), "
        "json_extract(f.value, '$.effect'), NEW.evaluated_at, NEW.outcome "
        "FROM json_each(NEW.decision, '$.findings') AS f; "
        "INSERT INTO obligations(seq, position, rule_id, action) "
        "SELECT NEW.seq, o.key, json_extract(o.value, '$.rule_id'), json_extract(o.value, '$.action') "
        "FROM json_each(NEW.decision, '$.obligations') AS o; END;",
        _AT_HEAD,
    ]
    + [
        f"CREATE TRIGGER {table}_only_for_newest BEFORE INSERT ON {table} "
        f"WHEN NEW.seq IS NOT (SELECT max(seq) FROM decisions) "
        f"BEGIN SELECT RAISE(ABORT, '{table} rows may only be added with their record'); END;"
        for table in ("findings", "obligations")
    ]
    + [_META_ONCE]
)
SCHEMAS = {1: (V1_TABLES, V1_TRIGGERS), 2: (V2_TABLES, V2_TRIGGERS)}
