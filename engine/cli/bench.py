"""``licit bench``: how fast Engine.evaluate decides, and with ``--audit`` what logging costs."""
from __future__ import annotations

from pathlib import Path

import click

from engine.cli.errors import InputError, library_errors
from engine.cli.options import rules_option

__all__ = ["bench"]


@click.command()
@click.option("--jurisdiction", "-j", default="CN-GD-SZ", show_default=True)
@click.option("--n", "count", type=click.IntRange(100, 10_000_000), default=20_000, show_default=True,
              help="evaluations to time")
@click.option("--audit", "with_audit", is_flag=True,
              help="also measure decisions/s with the log on, bare durable commits, and 4 writer processes")
@click.option("--audit-dir", type=click.Path(file_okay=False, exists=True), default=".", show_default=True,
              help="where the --audit measurements write their temporary logs (the disk being measured)")
@click.option("--remedies", "remedy_flows", type=click.IntRange(1, 100_000), metavar="N",
              help="instead, time Engine.remedies on N denied or referred flows of synthetic traffic")
@rules_option
@library_errors
def bench(jurisdiction: str, count: int, with_audit: bool, audit_dir: str, remedy_flows: int | None,
          rules_dir: Path | None) -> None:
    """Measure Engine.evaluate: evaluations per second, latency percentiles, where the time goes; or, with
    --remedies N, the remedy search."""
    import tempfile

    from engine.batch.bench import run_bench
    from engine.batch.logbench import run_audit_bench
    from engine.core import Engine

    engine = Engine(rules_dir=rules_dir, max_request_age=None)  # it decides the dated example flows
    with engine:
        if remedy_flows is not None:
            from engine.batch.remedy_bench import run_remedy_bench

            click.echo(run_remedy_bench(engine, remedy_flows))
            return
        if jurisdiction not in engine.tree.compiled:
            raise InputError(f"no rule pack for {jurisdiction!r}; known: {', '.join(engine.jurisdictions)}")
        click.echo(run_bench(engine, jurisdiction, count))
        if with_audit:
            with tempfile.TemporaryDirectory(dir=audit_dir) as directory:
                click.echo(run_audit_bench(engine, jurisdiction, count, directory))
