"""``licit serve``: the HTTP decision service (engine/service/)."""
from __future__ import annotations

from pathlib import Path

import click

from engine.cli.errors import library_errors
from engine.cli.options import matcher_option, rules_option

__all__ = ["serve"]


def _duration(_ctx, _param, value: str):
    from engine.service.settings import parse_duration

    try:
        return parse_duration(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="address to listen on (loopback unless told otherwise)")
@click.option("--port", type=click.IntRange(0, 65535), default=8181, show_default=True,
              help="port (0: any free port, printed at start)")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True, help="worker processes")
@rules_option
@click.option("--audit-db", type=click.Path(dir_okay=False, path_type=Path),
              help="decision log (default: $LICIT_AUDIT_DB or ./licit-audit.db)")
@click.option("--tokens-file", type=click.Path(dir_okay=False, path_type=Path),
              help="bearer tokens and their roles (default: $LICIT_SERVE_TOKENS; neither: no tokens asked)")
@click.option("--max-request-age", default="24h", show_default=True, callback=_duration,
              help="refuse flows requested longer ago than this unless as_of is given (off: no limit)")
@click.option("--max-body-bytes", type=click.IntRange(1_000, 100_000_000), default=1_000_000, show_default=True,
              help="larger request bodies get 413")
@click.option("--max-batch", type=click.IntRange(1, 10_000), default=100, show_default=True,
              help="most flows in one POST /v1/evaluate/batch")
@click.option("--threads", type=click.IntRange(1, 256), default=8, show_default=True,
              help="threads in each worker for reading the log and reloading rules (decisions need none)")
@click.option("--access-log/--no-access-log", default=True, show_default=True,
              help="one JSON line per request on stderr (never a personal identifier)")
@matcher_option
@library_errors
def serve(host, port, workers, rules_dir, audit_db, tokens_file, max_request_age, max_body_bytes, max_batch,
          threads, access_log, matcher) -> None:
    """Serve decisions over HTTP until SIGTERM; SIGHUP reloads the rules (see docs/service.md)."""
    from audit import default_db_path
    from engine.core import default_rules_dir
    from engine.matching import resolve_matcher
    from engine.service.settings import ServiceSettings
    from engine.service.supervisor import ServeError, serve as run_service
    from engine.service.tokens import Tokens, TokensError

    try:
        tokens = Tokens.load(tokens_file)
    except TokensError as error:
        raise click.UsageError(str(error)) from None
    matcher = resolve_matcher(matcher)  # once, here: every worker decides with it, or the service does not start
    settings = ServiceSettings(rules_dir=rules_dir or default_rules_dir(), audit_db=audit_db or default_db_path(),
                               host=host, port=port, workers=workers, tokens=tokens, max_body_bytes=max_body_bytes,
                               max_batch=max_batch, max_request_age=max_request_age, threads=threads,
                               access_log=access_log, matcher=matcher)
    try:
        status = run_service(settings, announce=lambda line: click.echo(line))
    except ServeError as error:
        raise click.ClickException(str(error)) from None
    raise SystemExit(status)
