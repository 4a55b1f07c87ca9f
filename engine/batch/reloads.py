"""``licit bench --reloads N``: reloading a changed rule tree N times in one process, and what memory it keeps.

The tree is copied to a temporary folder with one extra rule file whose threshold changes at every
reload, so each reload compiles rules that differ from the last (for durable_rules, new rulesets).
Resident memory (after the first reload, once the allocator has settled, at the end) and the rulesets
durable_rules holds are read with each matcher.
"""
from __future__ import annotations

import gc
import resource
import shutil
import tempfile
import time
from pathlib import Path

from engine.batch.bench import bench_flows
from engine.core import Engine

__all__ = ["run_reload_bench"]


def _resident_mb() -> float:
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize() / 2**20
    except OSError:  # not Linux: the peak is all there is
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _held_rulesets() -> int | None:
    try:
        from engine.durable import live_rulesets
    except ImportError:
        return None
    return live_rulesets()


def _probe(root: Path, code: str, threshold: int) -> None:
    (root / code / "licit-reload-probe.yaml").write_text(
        f"rules:\n  - id: {code}.RELOAD.PROBE\n    title: reload probe\n    effect: warn\n"
        f"    when: applicant.age > {threshold}\n    effective_from: 2000-01-01\n"
        f"    citation: {{source: licit bench --reloads, status: illustrative}}\n"
        f"    message: {{zh: 测试, en: reload probe}}\n    remedy: none\n", encoding="utf-8")


def run_reload_bench(rules_dir: Path, matchers: list[str], count: int) -> str:
    """Resident memory after the first reload, after half of them and at the end (``count`` ≥ 4)."""
    lines = [f"licit bench --reloads {count}: Engine.reload() of a changed tree, one process, each matcher"]
    for matcher in matchers:
        with tempfile.TemporaryDirectory(prefix="licit-reloads-") as directory:
            root = Path(directory) / "rules"
            shutil.copytree(rules_dir, root)
            code = min((path.name for path in root.iterdir() if path.is_dir() and "-" not in path.name),
                       default=None)
            if code is None:
                return f"licit bench --reloads: {rules_dir} has no root jurisdiction (like CN) to add a rule to"
            flows = [dict(flow, jurisdiction=code) for flow in bench_flows(code)]
            _probe(root, code, 150)
            engine = Engine(rules_dir=root, matcher=matcher, max_request_age=None)
            engine.evaluate(flows[0])
            gc.collect()
            first, held_first = _resident_mb(), _held_rulesets()
            warm = count // 2  # the allocator's pools and Python's caches settle over the first reloads
            started = time.perf_counter()
            for index in range(count):
                _probe(root, code, index % 130)
                engine.reload()
                engine.evaluate(flows[index % len(flows)])
                if index + 1 == warm:
                    gc.collect()
                    settled = _resident_mb()
            elapsed = time.perf_counter() - started
            gc.collect()
            after, held_after = _resident_mb(), _held_rulesets()
            held = "" if held_first is None or matcher != "durable" else \
                f"; durable_rules rulesets held {held_first} → {held_after}"
            lines.append(f"  {matcher:<8} {elapsed / count * 1000:6.1f} ms per reload; resident memory {first:.1f} MB, "
                         f"{settled:.1f} MB after {warm} reloads, {after:.1f} MB after {count} "
                         f"({(after - settled) * 1024 / (count - warm):+.1f} KB per reload since){held}")
    return "\n".join(lines)
