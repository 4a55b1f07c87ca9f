"""``licit schema``: the JSON Schemas of the contracts and of the rule-authoring files."""
from __future__ import annotations

import json

import click

__all__ = ["schema"]


@click.command()
@click.argument("what", type=click.Choice(["flow", "decision", "rules", "tests"]))
def schema(what: str) -> None:
    """Print the JSON Schema of the flow (input), the decision (output), a rule file or a scenario test file."""
    from engine.decision import Decision
    from engine.flow import Flow
    from rules.scenariofile import scenario_json_schema
    from rules.schema import RuleFile

    flow_schema = Flow.model_json_schema(by_alias=True)
    schemas = {"flow": lambda: flow_schema, "decision": lambda: Decision.model_json_schema(by_alias=True),
               "rules": lambda: RuleFile.model_json_schema(by_alias=True),
               "tests": lambda: scenario_json_schema(flow_schema)}
    click.echo(json.dumps(schemas[what](), indent=2, ensure_ascii=False))
