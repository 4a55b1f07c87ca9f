"""Segments are assembled from pieces (rules/segments.py): on random dated trees they hold exactly what
working out every rule of the chain on the segment's first day gives, as the engine once did per segment."""
import datetime as dt
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.facts import flow_vocabulary
from rules import load_rules
from rules.lower import lower, simplify
from rules.ir import And

DAYS = [dt.date(2020, 1, 1) + dt.timedelta(days=30 * step) for step in range(8)]
CONDITIONS = ["applicant.age > params.n", "applicant.age < 30",
              "some p in payments satisfies p.premium_installments > params.n"]


def _periods(draw, count: int) -> list[tuple[dt.date, dt.date | None]]:
    """``count`` periods that do not overlap, in order."""
    days = sorted(draw(st.lists(st.sampled_from(DAYS), min_size=count * 2, max_size=count * 2, unique=True)))
    ends = [draw(st.booleans()) for _ in range(count)]
    return [(days[2 * index], days[2 * index + 1] if ends[index] or index < count - 1 else None)
            for index in range(count)]


@st.composite
def trees(draw):
    def values(first: bool) -> list[dict]:  # the national value is in force from the first day rules are
        days = set(draw(st.lists(st.sampled_from(DAYS[1:]), max_size=2))) | ({DAYS[0]} if first else set())
        return [{"from": str(day), "value": draw(st.integers(0, 40))} for day in sorted(days or {DAYS[1]})]
    national = "parameters:\n  n: " + json.dumps({"type": "number", "values": values(True)}) + "\nrules:\n"
    rule_ids = []
    for index in range(draw(st.integers(1, 4))):
        rule_ids.append(f"CN.R{index}")
        versions = [{"effective_from": str(start), **({"effective_until": str(end)} if end else {}),
                     "when": draw(st.sampled_from(CONDITIONS)), "citation": {"source": "s", "status": "illustrative"}}
                    for start, end in _periods(draw, draw(st.integers(1, 2)))]
        national += ("  - " + json.dumps({"id": f"CN.R{index}", "title": "t", "effect": "deny", "message":
                                          {"zh": "测", "en": "t"}, "remedy": "r", "versions": versions}) + "\n")
    regional = {"rules": []}
    if draw(st.booleans()):
        regional["parameters"] = {"n": {"values": values(False)}}
    for kind in ("exceptions", "disabled"):
        regional[kind] = []
        for target in draw(st.lists(st.sampled_from(rule_ids), max_size=2, unique=True)):
            [(start, end)] = _periods(draw, 1)
            item = {"rule": target, "reason": "r", "effective_from": str(start),
                    **({"effective_until": str(end)} if end else {})}
            if kind == "exceptions":
                item["when"] = draw(st.sampled_from(CONDITIONS[:2]))
            regional[kind].append(item)
    return {"CN/rules.yaml": national, "CN-GD/rules.yaml": json.dumps(regional)}


def _worked_out(tree, code: str, day: dt.date) -> list[tuple]:
    """Every rule of the chain worked out on ``day`` alone: the segment's rules as (id, condition)."""
    parameters = tree.parameters_on(code, day)
    found = []
    for member in tree.chain(code):
        for rule in tree.jurisdictions[member].rules:
            version = rule.version_on(day)
            overrides = tree.overrides_on(code, rule, day)
            if version is None or any(override.kind != "exception" for override in overrides):
                continue
            parts = [lower(version.typed, parameters, tree.vocabulary)]
            parts += [lower(override.typed, parameters, tree.vocabulary, negated=True) for override in overrides]
            found.append((rule.id, repr(simplify(And(tuple(parts))))))
    return found


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=trees())
def test_segments_hold_what_each_day_works_out_to(write_tree, files):
    tree = load_rules(write_tree(files), flow_vocabulary())
    for code, compiled in tree.compiled.items():
        assert len(compiled.segments) == len(tree.boundaries(code)) + 1
        for index, segment in enumerate(compiled.segments):
            day = segment.period.start or dt.date.min
            assert [(piece.rule.id, repr(piece.condition)) for piece in segment.rules] == \
                _worked_out(tree, code, day)
            assert compiled.rule_count(index) == len(segment.rules)
            assert segment.parameters == tree.parameters_on(code, day)


def test_a_thousand_rules_with_their_own_dates_load_as_a_thousand_pieces(tmp_path):
    """It used to be 1,001 segments of up to 1,000 rules, each lowered and compiled (174 s, 7.3 GB)."""
    from engine.batch.synthetic import write_synthetic_tree

    tree = load_rules(write_synthetic_tree(tmp_path, 1000, dated=True), flow_vocabulary())
    compiled = tree.compiled["CN"]
    assert len(compiled.pieces) == 1000 and len(compiled.segments) == 1001
    assert [compiled.rule_count(index) for index in (0, 1, 500, 1000)] == [0, 1, 500, 1000]
