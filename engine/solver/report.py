"""Text for people: remedies, an analysis of a rule tree, a comparison of two trees."""
from __future__ import annotations

import json

from engine.solver.analysis import SegmentFindings
from engine.solver.equivalence import Equivalence
from engine.solver.remedy import Remedies

__all__ = ["analysis_text", "equivalence_text", "remedies_text"]


def _value(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def remedies_text(found: Remedies) -> str:
    if found.outcome not in ("deny", "review"):
        return f"{found.outcome}: nothing to remedy"
    lines = [f"{found.outcome}: {len(found.remedies)} remed{'y' if len(found.remedies) == 1 else 'ies'}, "
             f"cheapest first"]
    if not found.remedies and found.unknown is None:
        lines[0] = (f"{found.outcome}: no remedy — no change that may be made (licit schema changes) reaches "
                    f"allow or conditional")
    for number, remedy in enumerate(found.remedies, start=1):
        lines.append(f"{number}. cost {remedy.cost} → {remedy.outcome}; clears {', '.join(remedy.clears) or '-'}")
        for operation in remedy.patch:
            value = f" = {_value(operation['value'])}" if "value" in operation else ""
            lines.append(f"     {operation['op']} {operation['path']}{value}")
        if remedy.obligations:
            lines.append(f"     obligations: {', '.join(remedy.obligations)}")
    if found.unknown:
        lines.append(f"unknown: {found.unknown}; the remedies above are checked, cheaper ones may exist")
    return "\n".join(lines)


def _period(start, end) -> str:
    return f"{start or '…'} – {end or '…'}"


def analysis_text(results: list[SegmentFindings]) -> str:
    lines = []
    for segment in results:
        if not segment.findings:
            continue
        lines.append(f"{segment.jurisdiction} {_period(segment.start, segment.end)}")
        for finding in segment.findings:
            lines.append(f"  {finding.kind:<13}{finding.rule_id}")
            if finding.core:
                lines += ["    these cannot hold together:"] + [f"      {part}" for part in finding.core]
            if finding.by:
                lines.append(f"    fires only where {', '.join(finding.by)} fires too"
                             + ("; a flow where both fire: --format json" if finding.witness else ""))
            if finding.reason:
                lines.append(f"    {finding.reason}")
    count = sum(len(segment.findings) for segment in results)
    codes = {segment.jurisdiction for segment in results}
    lines.append(f"{len(results)} segments of {len(codes)} jurisdictions analysed: {count} finding"
                 f"{'' if count == 1 else 's'}")
    return "\n".join(lines)


def equivalence_text(results: list[Equivalence]) -> str:
    lines = []
    for result in results:
        verdict = {True: "equivalent", False: "NOT equivalent", None: "unknown"}[result.equivalent]
        lines.append(f"{result.jurisdiction} {_period(result.start, result.end)}: {verdict}")
        if result.decided:
            lines += [f"    {side}: {_value(result.decided[side])}" for side in ("old", "new")]
            lines.append(f"    flow: {_value(result.counterexample)}")
        if result.reason:
            lines.append(f"    {result.reason}")
    differ = sum(result.equivalent is not True for result in results)
    lines.append(f"{len(results)} spans compared: {differ} not proven equivalent")
    return "\n".join(lines)
