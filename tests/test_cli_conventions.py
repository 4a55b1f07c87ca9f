"""The conventions every licit command keeps (docs/commands.md, "Conventions"): one form of error on stderr,
results on stdout, counts that agree with their number, exit codes scripts can gate on, one date parser,
machine-readable formats for CI, plain text off a terminal, and modules of a size one can read."""
from __future__ import annotations

import datetime as dt
import io
import json
import re
import xml.etree.ElementTree as ET

import click
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from engine.cli import cli
from engine.cli.options import WHEN
from rules.timestamps import parse_when
from rules.wording import counted
from tests.conftest import EXAMPLES, PACKS, REPO


def licit(*args, **kwargs):
    return CliRunner().invoke(cli, [str(arg) for arg in args], catch_exceptions=False, **kwargs)


def every_command(command: click.Command = cli, path: tuple[str, ...] = ()):
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from every_command(sub, (*path, name))


def assert_error(result, code: int, fragment: str = "") -> None:
    """licit's one form of an error: on stderr, first line `licit: error: …`, nothing on stdout."""
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert result.stderr.startswith("licit: error: ") and fragment in result.stderr, result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr


# --- errors: one form, on stderr --------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [path for path, _ in every_command()], ids=lambda path: " ".join(path) or "licit")
def test_every_command_reports_a_usage_error_in_the_one_form(path):
    result = licit(*path, "--no-such-option")
    assert_error(result, 2, "No such option")
    assert f"Try 'licit{''.join(' ' + word for word in path)} -h' for help." in result.stderr


@pytest.mark.parametrize("args, code, fragment", [
    (["audit", "query", "--db", "absent.db"], 1, "no decision log at absent.db"),
    (["audit", "verify", "--db", "absent.db"], 1, "no decision log at absent.db"),
    (["rules", "list", "-j", "XX", "--rules", PACKS], 2, "no rule pack for 'XX'"),
    (["rules", "validate", "no-such-folder"], 1, "the rule set does not load (1 error):\n"),
    (["rules", "explain", "CN.NO.SUCH", "--rules", PACKS], 2, "no rule CN.NO.SUCH"),
    (["evaluate", "--no-audit", "no-such-flow.json"], 2, "cannot read no-such-flow.json"),
    (["audit", "stats", "--since", "yesterday"], 2, "'yesterday' is neither a date like 2026-12-01 nor"),
])
def test_library_and_input_errors_take_the_same_form(tmp_path, monkeypatch, args, code, fragment):
    monkeypatch.chdir(tmp_path)
    assert_error(licit(*args), code, fragment)


def test_counts_agree_with_their_number():
    assert [counted(n, "error") for n in (0, 1, 2)] == ["0 errors", "1 error", "2 errors"]
    assert counted(1, "rule set") == "1 rule set" and counted(3, "entry", "entries") == "3 entries"


def test_no_message_writes_a_count_as_noun_s():
    """ "1 record(s)" reads badly; every count goes through rules.wording.counted."""
    found = [f"{path.relative_to(REPO)}: {match.group(0)}" for folder in ("engine", "audit", "rules")
             for path in (REPO / folder).rglob("*.py")
             for match in re.finditer(r"\w+\(s\)", path.read_text(encoding="utf-8"))]
    assert not found


# --- exit codes scripts gate on ------------------------------------------------------------------------------

@pytest.mark.parametrize("flows, fail_on, code", [
    (["student-on-credit"], None, 0),            # deciding is success, whatever the outcome
    (["student-on-credit"], "deny", 3),
    (["apr-not-disclosed"], "review", 0),        # conditional is below review
    (["apr-not-disclosed"], "conditional", 3),
    (["baitiao-split-compliant"], "conditional", 0),
    (["baitiao-split-compliant", "apr-not-disclosed"], "conditional", 3),  # any decided flow
])
def test_evaluate_fail_on_exits_3_at_or_above_the_outcome(flows, fail_on, code):
    options = ["--fail-on", fail_on] if fail_on else []
    result = licit("evaluate", "--no-audit", *options, *(EXAMPLES / f"{name}.json" for name in flows))
    assert result.exit_code == code, result.stderr
    assert result.stdout.count('"decision_id"') == len(flows)  # every decision printed before the verdict


def test_fail_on_ranks_outcomes_as_the_engine_does():
    from engine.cli.evaluate import _SEVERITY
    from engine.decision import OUTCOME_OF_EFFECT, EFFECT_ORDER

    by_strength = [OUTCOME_OF_EFFECT[effect] for effect in sorted(EFFECT_ORDER, key=EFFECT_ORDER.get)]
    assert list(reversed(_SEVERITY)) == by_strength


def test_an_invalid_flow_outranks_fail_on(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"flow_id": "F-1"}')
    result = licit("evaluate", "--no-audit", "--fail-on", "deny", EXAMPLES / "student-on-credit.json", bad)
    assert result.exit_code == 2 and "licit: error: invalid flow: " in result.stderr


def test_rules_diff_exits_like_diff(tmp_path):
    assert licit("rules", "diff", PACKS, PACKS).exit_code == 0


# --- one date parser -----------------------------------------------------------------------------------------

def test_every_date_option_reads_dates_with_the_one_parser():
    dated = {(" ".join(path), param.name): param.type for path, command in every_command()
             for param in command.params if {"--as-of", "--since", "--until"} & set(param.opts)}
    assert len(dated) >= 5, dated  # evaluate, rules list, rules explain, audit query and stats
    assert all(kind is WHEN for kind in dated.values()), dated


@given(st.dates(min_value=dt.date(1, 1, 1)))
def test_a_date_reads_as_that_day(day):
    assert parse_when(day.isoformat()) == day


@given(st.datetimes(min_value=dt.datetime(2, 1, 1), max_value=dt.datetime(9998, 12, 31)),
       st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59))
def test_an_rfc_3339_timestamp_reads_as_that_instant(moment, minutes):
    aware = moment.replace(tzinfo=dt.timezone(dt.timedelta(minutes=minutes)))
    assert parse_when(aware.isoformat()) == aware


@pytest.mark.parametrize("text", ["2026-11-24T10:15+08:00", "2026-11-24 10:15:00+08:00", "20261124", "2026-W48-2",
                                  "1764547200", "2026-11-24T10:15:00", "2026-02-30", "today", ""])
def test_anything_else_is_refused(text):
    with pytest.raises(ValueError):
        parse_when(text)


# --- formats for CI --------------------------------------------------------------------------------------------

@pytest.fixture
def failing_tree(tmp_path):
    from tests.authoring.conftest import write

    root = tmp_path / "jurisdictions"
    import shutil
    shutil.copytree(PACKS, root, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return write(root, {"CN-SH/tests/wrong.yaml": """\
        base: compliant
        cases:
          - name: a student on credit is only reviewed
            set: {applicant.is_student: true}
            expect: {outcome: review}
          - name: unknown key
            sett: {}
            expect: {outcome: allow}
        """})


def test_rules_test_junit_is_junit_xml(failing_tree):
    result = licit("rules", "test", failing_tree, "--format", "junit")
    assert result.exit_code == 1
    root = ET.fromstring(result.stdout.encode())
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    cases = [case for suite in suites for case in suite.findall("testcase")]
    for element in [root, *suites]:
        within = cases if element is root else element.findall("testcase")
        assert int(element.get("tests")) == len(within)
        assert int(element.get("failures")) == sum(case.find("failure") is not None for case in within)
        assert int(element.get("errors")) == sum(case.find("error") is not None for case in within)
    assert all(case.get("name") and case.get("classname") for case in cases)
    failed = [case for case in cases if case.find("failure") is not None]
    assert [case.get("name") for case in failed] == ["a student on credit is only reviewed"]
    assert "expected outcome review, got deny" in failed[0].find("failure").get("message")
    assert failed[0].find("failure").text.startswith(str(failing_tree / "CN-SH/tests/wrong.yaml") + ":")
    assert any(case.find("error") is not None and case.find("error").get("type") == "unknown_key" for case in cases)


def test_rules_test_json_counts_what_the_text_counts(failing_tree):
    report = json.loads(licit("rules", "test", failing_tree, "--format", "json").stdout)
    assert not report["ok"] and report["summary"]["failed"] == 1 and report["summary"]["file_errors"] >= 1
    assert {case["status"] for case in report["cases"]} >= {"passed", "failed"}
    text = licit("rules", "test", failing_tree).stdout.splitlines()[-1]
    assert text.startswith(f"{report['summary']['cases']} cases: {report['summary']['passed']} passed, 1 failed")


def _sarif_problems(log: dict) -> list[str]:
    """What SARIF 2.1.0 requires of what licit writes (the OASIS schema's required properties and enums)."""
    problems = []
    if log.get("version") != "2.1.0" or not isinstance(log.get("runs"), list):
        problems.append("version and runs")
    for run in log["runs"]:
        driver = run["tool"]["driver"]
        rules = driver.get("rules", [])
        if not isinstance(driver.get("name"), str) or len({rule["id"] for rule in rules}) != len(rules):
            problems.append("driver name and unique rule ids")
        for result in run["results"]:
            if not isinstance(result["message"].get("text"), str):
                problems.append("message.text")
            if result.get("level") not in (None, "none", "note", "warning", "error"):
                problems.append(f"level {result.get('level')}")
            if rules[result["ruleIndex"]]["id"] != result["ruleId"]:
                problems.append("ruleIndex names another rule")
            for location in result["locations"]:
                uri = location["physicalLocation"]["artifactLocation"]["uri"]
                region = location["physicalLocation"].get("region", {})
                if re.search(r"[\s\\]", uri):
                    problems.append(f"uri {uri}")
                if region.get("startLine", 1) < 1 or region.get("startColumn", 1) < 1:
                    problems.append(f"region {region}")
    return problems


def test_rules_lint_sarif_is_sarif_2_1_0(failing_tree):
    (failing_tree / "CN-SH" / "broken rule.yaml").write_text("rules: [\n", encoding="utf-8")
    result = licit("rules", "lint", failing_tree, "--format", "sarif")
    assert result.exit_code == 1  # an error: the tree does not load
    log = json.loads(result.stdout)
    assert not _sarif_problems(log)
    results = log["runs"][0]["results"]
    broken = next(r for r in results if r["ruleId"] == "yaml_syntax_error")
    assert broken["level"] == "error" and broken["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] \
        .endswith("CN-SH/broken%20rule.yaml")
    assert {r["level"] for r in results} == {"error", "warning"}


def test_rules_lint_json_lists_what_the_text_lists():
    report = json.loads(licit("rules", "lint", PACKS, "--format", "json").stdout)
    text = licit("rules", "lint", PACKS).stdout.splitlines()
    assert [f"{f['file']}:{f['line']}:{f['col']}: {f['code']}: {f['message']}" for f in report["findings"]] \
        == text[:-1]
    assert text[-1].startswith(f"{counted(report['errors'], 'error')}, {counted(report['warnings'], 'warning')}")


# --- text for people ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang, shown, hidden", [("en", "The applicant is a college student", "投保人为在校大学生"),
                                                 ("zh", "投保人为在校大学生", "The applicant is a college student")])
def test_lang_picks_the_language_of_rule_messages(lang, shown, hidden):
    flow = EXAMPLES / "student-on-credit.json"
    both = licit("evaluate", "--no-audit", "--format", "text", flow).stdout
    assert shown in both and hidden in both
    one = licit("evaluate", "--no-audit", "--format", "text", "--lang", lang, flow).stdout
    assert shown in one and hidden not in one
    explained = licit("rules", "explain", "CN.CREDIT.STUDENT", "--rules", PACKS, "--lang", lang).stdout
    assert f"message ({lang}):" in explained and "message (" + ({"en", "zh"} - {lang}).pop() not in explained


def test_a_record_is_shown_without_none_or_python_reprs():
    from audit.render import record_text, replay_text

    record = {"decision_id": "01a2", "seq": 1, "chain_link_verified": True, "chain_link_problem": None,
              "evaluated_at": "2026-11-24T02:15:00.000000Z", "recorded_at": "2026-11-24T02:15:00.000100Z",
              "duration_s": 0.001, "ruleset_digest": "sha256:00", "hash": "ab", "prev_hash": "00",
              "decision": {"outcome": "deny", "findings": [{"rule_id": "CN.X", "effect": "deny", "citation": {},
                                                            "message": {"zh": "中", "en": "en"}}],
                           "obligations": [{"rule_id": "CN.Y", "action": "disclose", "message": None}]}}
    text = record_text(record)
    assert "None" not in text and "outcome       deny" in text and "flow " not in text
    assert "zh: 中" in text and "en: en" in text and "zh:" not in record_text(record, ("en",))
    replay = replay_text({"decision_id": "01a2", "ruleset_digest": "sha256:00", "identical": True,
                          "logged": {"outcome": "deny", "rule_ids": ["CN.A", "CN.B"]},
                          "replayed": {"outcome": "allow", "rule_ids": []}})
    assert "[" not in replay and "'" not in replay
    assert "logged deny (CN.A, CN.B), replayed allow (no rule fired)" in replay


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_table_off_a_terminal_is_plain_text(capsys):
    from engine.cli.output import print_table

    print_table(["rule", "firings", "name"], [["[bold]CN.X[/]", 3, "上海"], ["CN.LONGER.ID", None, "x"]], numeric=[1])
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["rule           firings  name",  # no markup read, no trailing spaces, None empty
                     "-------------  -------  ----",
                     "[bold]CN.X[/]  3        上海",  # two columns a wide character
                     "CN.LONGER.ID            x"]


def test_a_table_on_a_terminal_is_drawn_by_rich(monkeypatch):
    from engine.cli.output import print_table

    terminal = _Terminal()
    monkeypatch.setattr("sys.stdout", terminal)
    print_table(["rule", "firings"], [["CN.X", 3]], numeric=[1])
    assert "─" in terminal.getvalue() and "\x1b[1m" in terminal.getvalue()  # a ruled, bold header


def test_progress_shows_on_a_terminal_only(monkeypatch):
    from engine.cli.output import progress_bar

    with progress_bar("seeding") as advance:
        assert advance is None  # off a terminal the library is not even called back
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    with progress_bar("seeding") as advance:
        advance(5, 10)
    shown = terminal.getvalue()
    assert "seeding" in shown and "5/10" in shown


def test_seed_prints_no_progress_off_a_terminal(tmp_path):
    result = licit("audit", "seed", "--n", 5, "--db", tmp_path / "s.db", "--seed", 1,
                   env={"LICIT_AUDIT_KEY": "k" * 16})
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout.startswith(f"seeded {tmp_path / 's.db'} with 5 decisions")


def test_shell_completion_is_clicks():
    result = CliRunner().invoke(cli, [], prog_name="licit", env={"_LICIT_COMPLETE": "bash_source"})
    assert result.exit_code == 0 and "_licit_completion" in result.stdout


# --- rules new ---------------------------------------------------------------------------------------------------

def test_a_new_jurisdiction_passes_validate_and_test(tmp_path):
    import shutil
    root = tmp_path / "jurisdictions"
    shutil.copytree(PACKS, root, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    made = licit("rules", "new", "CN-ZJ", root)
    assert made.exit_code == 0 and "wrote " + str(root / "CN-ZJ" / "rules.yaml") in made.stdout
    assert licit("rules", "validate", root).exit_code == 0
    tested = licit("rules", "test", root, "-j", "CN-ZJ", "--min-coverage", 100)
    assert tested.exit_code == 0 and tested.stdout.startswith("3 cases: 3 passed, 0 failed"), tested.stdout
    assert_error(licit("rules", "new", "CN-ZJ", root), 2, "already exists")
    assert_error(licit("rules", "new", "cn-zj", root), 2, "is not a jurisdiction code")


# --- layout ------------------------------------------------------------------------------------------------------

def test_modules_stay_short_and_click_stays_in_the_cli():
    """docs/design.md, "Layout": modules under about 400 lines; the command line only in engine/cli/."""
    sources = [path for folder in ("engine", "audit", "rules", "jurisdictions")
               for path in (REPO / folder).rglob("*.py")]
    long = [f"{path.relative_to(REPO)}: {n}" for path in sources
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > 400]
    assert not long
    clicky = [str(path.relative_to(REPO)) for path in sources if re.search(r"^\s*(import|from) click\b",
              path.read_text(encoding="utf-8"), re.M) and "engine/cli" not in path.as_posix()]
    assert not clicky
