"""The ``licit`` command. One module per command group (evaluate, remedy, schema, rules, bench, audit, serve);
each command stays thin: parse options, call one library function, render.

Each command imports what it uses when it runs: ``licit audit query`` must not pay
for loading the rule language and durable_rules.

Exit codes: 0 done; 1 the rules, the log or an evaluation failed (``evaluate`` stops there:
the flows before it were decided, printed and logged); 2 bad input or usage; 141 the reader of
standard output stopped early (`| head`), which is no error; 143 / 129 stopped by SIGTERM / SIGHUP,
after cleaning up (engine/cli/errors.py).
Input and output are UTF-8 whatever the locale (see main).
"""
from __future__ import annotations

import sys

import click

from engine.cli import audit, bench, evaluate, remedy, rules, schema, serve
from engine.cli.errors import LicitGroup

__all__ = ["main", "cli"]


@click.group("licit", cls=LicitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="licit", prog_name="licit")
def cli() -> None:
    """Licit: decide insurance enrollment flows against jurisdiction rule packs, and audit the decisions."""


for _command in (evaluate.evaluate, remedy.remedy, schema.schema, rules.rules_group, bench.bench, audit.audit_group,
                 serve.serve):
    cli.add_command(_command)


def main() -> None:
    # Decisions are UTF-8 JSON and text (中文 messages, flow ids); a C or Latin-1 locale must not
    # make printing one crash. Lone surrogates come out escaped rather than as an error.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8", errors="backslashreplace")
    cli(prog_name="licit")
