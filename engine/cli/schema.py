"""``licit schema``: the JSON Schemas of the contracts and of the rule-authoring files."""
from __future__ import annotations

import json
from pathlib import Path

import click

from engine.cli.errors import InputError, library_errors
from engine.cli.options import rules_option

__all__ = ["schema"]


@click.command()
@click.argument("what", type=click.Choice(["flow", "decision", "rules", "tests", "changes"]))
@click.option("--jurisdiction", "-j", help="changes: with the costs this jurisdiction's pack sets (see --rules)")
@rules_option
@library_errors
def schema(what: str, jurisdiction: str | None, rules_dir: Path | None) -> None:
    """Print the JSON Schema of the flow (input), the decision (output), a rule file or a scenario test file;
    or what a remedy may change in a flow and at what cost (changes)."""
    from engine.decision import Decision
    from engine.flow import Flow
    from engine.solver.changes import changes_document
    from rules.scenariofile import scenario_json_schema
    from rules.schema import RuleFile

    if jurisdiction is not None and what != "changes":
        raise click.UsageError("--jurisdiction goes with licit schema changes")
    flow_schema = Flow.model_json_schema(by_alias=True)
    schemas = {"flow": lambda: flow_schema, "decision": lambda: Decision.model_json_schema(by_alias=True),
               "rules": lambda: RuleFile.model_json_schema(by_alias=True),
               "tests": lambda: scenario_json_schema(flow_schema),
               "changes": lambda: changes_document(_costs(jurisdiction, rules_dir) if jurisdiction else None)}
    click.echo(json.dumps(schemas[what](), indent=2, ensure_ascii=False))


def _costs(code: str, rules_dir: Path | None) -> dict[str, int | None]:
    from engine.core import default_rules_dir
    from engine.facts import flow_vocabulary
    from rules import load_rules

    tree = load_rules(rules_dir or default_rules_dir(), flow_vocabulary())
    if code not in tree.jurisdictions:
        raise InputError(f"--jurisdiction: no rule pack {code!r}; known: {', '.join(sorted(tree.jurisdictions))}")
    return tree.changes(code)
