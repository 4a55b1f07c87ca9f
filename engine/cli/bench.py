"""``licit bench``: how fast Engine.evaluate decides with each matcher; with ``--audit`` what logging costs;
``--peer cedar`` beside Cedar; ``--synthetic-rules`` as packs grow; ``--reloads`` the memory reloads keep;
``--remedies`` the remedy search."""
from __future__ import annotations

from pathlib import Path

import click

from engine.cli.errors import InputError, library_errors
from engine.cli.options import matcher_option, rules_option

__all__ = ["bench"]


def _counts(_context, _parameter, value: str | None) -> list[int] | None:
    if value is None:
        return None
    try:
        counts = [int(part) for part in value.split(",")]
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a list of rule counts like 20,100,400") from None
    if not counts or any(not 1 <= count <= 20_000 for count in counts):
        raise click.BadParameter("each count is from 1 to 20000")
    return counts


@click.command()
@click.option("--jurisdiction", "-j", default="CN-GD-SZ", show_default=True)
@click.option("--n", "count", type=click.IntRange(100, 10_000_000), default=20_000, show_default=True,
              help="evaluations to time")
@matcher_option
@click.option("--audit", "with_audit", is_flag=True,
              help="also measure decisions/s with the log on, bare durable commits, and 4 writer processes")
@click.option("--audit-dir", type=click.Path(file_okay=False, exists=True), default=".", show_default=True,
              help="where the --audit measurements write their temporary logs (the disk being measured)")
@click.option("--peer", type=click.Choice(["cedar"]),
              help="instead, compare with Cedar (needs the cedarpy package) on the same flows, in interleaved rounds")
@click.option("--synthetic-rules", "synthetic", metavar="N,N,...", callback=_counts,
              help="instead, decide with synthetic packs of these many rules and print the cost curve")
@click.option("--dated", is_flag=True, help="with --synthetic-rules: every rule has its own start date")
@click.option("--reloads", type=click.IntRange(4, 100_000), metavar="N",
              help="instead, reload a changed rule tree N times in one process and report the memory kept")
@click.option("--rounds", type=click.IntRange(1, 100_000), default=300, show_default=True,
              help="interleaved rounds for --peer and --synthetic-rules")
@click.option("--remedies", "remedy_flows", type=click.IntRange(1, 100_000), metavar="N",
              help="instead, time Engine.remedies on N denied or referred flows of synthetic traffic")
@rules_option
@library_errors
def bench(jurisdiction: str, count: int, matcher: str | None, with_audit: bool, audit_dir: str, peer: str | None,
          synthetic: list[int] | None, dated: bool, reloads: int | None, rounds: int, remedy_flows: int | None,
          rules_dir: Path | None) -> None:
    """Measure Engine.evaluate with each matcher (or --matcher's): evaluations per second, latency percentiles,
    where the time goes; or, with --peer, --synthetic-rules, --reloads or --remedies, that measurement alone."""
    import tempfile

    from engine.core import Engine, default_rules_dir
    from engine.matching import available_matchers, resolve_matcher

    # every engine here decides the example flows at their own dates (max_request_age=None)
    matchers = [resolve_matcher(matcher)] if matcher else available_matchers()
    if dated and synthetic is None:
        raise InputError("--dated goes with --synthetic-rules")
    if synthetic is not None:
        from engine.batch.curve import run_rules_curve

        click.echo(run_rules_curve(synthetic, matchers, rounds, dated=dated))
    if reloads is not None:
        from engine.batch.reloads import run_reload_bench

        click.echo(run_reload_bench(rules_dir or default_rules_dir(), matchers, reloads))
    if peer is not None:
        from engine.batch.peer import run_peer_bench

        engines = {name: Engine(rules_dir=rules_dir, matcher=name, max_request_age=None) for name in matchers}
        click.echo(run_peer_bench(engines, rounds))
    if remedy_flows is not None:
        from engine.batch.remedy_bench import run_remedy_bench

        with Engine(rules_dir=rules_dir, matcher=matchers[0], max_request_age=None) as engine:
            click.echo(run_remedy_bench(engine, remedy_flows))
    if any(option is not None for option in (synthetic, reloads, peer, remedy_flows)):
        return
    from engine.batch.bench import run_bench
    from engine.batch.logbench import run_audit_bench

    for name in matchers:
        with Engine(rules_dir=rules_dir, matcher=name, max_request_age=None) as engine:
            if jurisdiction not in engine.tree.compiled:
                raise InputError(f"no rule pack for {jurisdiction!r}; known: {', '.join(engine.jurisdictions)}")
            click.echo(run_bench(engine, jurisdiction, count))
    if with_audit:
        with Engine(rules_dir=rules_dir, matcher=matchers[0], max_request_age=None) as engine, \
                tempfile.TemporaryDirectory(dir=audit_dir) as directory:
            click.echo(run_audit_bench(engine, jurisdiction, count, directory))
