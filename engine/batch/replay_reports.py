"""Text and CSV forms of what replay and impact found (their JSON forms are the results' to_json)."""
from __future__ import annotations

import csv
from typing import IO

from engine.batch.impact import OUTCOMES, ImpactReport
from engine.batch.replay import ReplayItem, ReplaySummary
from rules.wording import counted

__all__ = ["IMPACT_CSV_COLUMNS", "impact_csv", "impact_text", "replay_item_text", "replay_summary_text"]

TEXT_EXAMPLES = 3  # decision ids shown as examples in text (JSON and CSV have all kept)
IMPACT_CSV_COLUMNS = ("kind", "from", "to", "jurisdiction", "rule_id", "reason", "count", "examples")


def replay_item_text(item: ReplayItem) -> str:
    where = f"seq {item.seq} {item.decision_id}"
    if item.differences is None:
        return f"{where}: not replayable ({item.kind}): {item.reason}"
    return f"{where}: different: " + "; ".join(_difference(name, change) for name, change in item.differences.items())


def _difference(name: str, change: dict) -> str:
    if "logged" in change:
        return f"{name} logged {_show(change['logged'])}, replayed {_show(change['replayed'])}"
    parts = [f"{label} {', '.join(change[key])}" for key, label in (
        ("only_logged", "only logged:"), ("only_replayed", "only replayed:"), ("changed", "changed:")) if key in change]
    if "order" in change:
        parts.append(f"in another order: logged {', '.join(map(str, change['order']['logged']))}, replayed "
                     f"{', '.join(map(str, change['order']['replayed']))}")
    return f"{name} " + ", ".join(parts)


def _show(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(map(_show, value)) + "]"
    return "none" if value is None else str(value)


def replay_summary_text(summary: ReplaySummary) -> str:
    line = (f"replayed {_decisions(summary.replayed)}: {summary.identical:,} identical, {summary.different:,} "
            f"different, {sum(summary.not_replayable.values()):,} not replayable")
    if summary.not_replayable:
        line += " (" + ", ".join(f"{kind}: {count:,}" for kind, count in sorted(summary.not_replayable.items())) + ")"
    return line


def _decisions(count: int, noun: str = "decision") -> str:
    """`count` (thousands grouped) and `noun`, plural unless one (rules.wording.counted)."""
    return counted(count, noun).replace(str(count), f"{count:,}", 1)


def impact_text(report: ImpactReport) -> str:
    shown = report.to_json()
    evaluated = shown["evaluated"]
    share = f" ({100 * shown['changed'] / evaluated:.2f} %)" if evaluated else ""
    lines = [f"considered {_decisions(shown['considered'], 'logged decision')}: {evaluated:,} decided under the draft, "
             f"{shown['undecidable']['count']:,} undecidable, {shown['not_read']['count']:,} not read",
             f"outcome changes in {shown['changed']:,}{share}; the fired rules change in {shown['rules_changed']:,}"]
    changes = [item for item in shown["transitions"] if item["from"] != item["to"]]
    if changes:
        lines.append("transitions (logged → draft):")
        width = max(len(f"{item['from']} → {item['to']}") for item in changes)
        lines += [f"  {item['from'] + ' → ' + item['to']:<{width}}  {item['count']:>9,}  e.g. "
                  f"{_examples(item)}" for item in changes]
    same = {item["from"]: item["count"] for item in shown["transitions"] if item["from"] == item["to"]}
    if same:
        lines.append("unchanged: " + ", ".join(f"{outcome} {same[outcome]:,}" for outcome in OUTCOMES if outcome in same))
    if shown["rules"]:
        lines.append("rules that start or stop firing, per jurisdiction:")
        for code, changes_of_code in shown["rules"].items():
            lines.append(f"  {code}")
            for key, verb in (("starts_firing", "starts firing in"), ("stops_firing", "stops firing in")):
                lines += [f"    {item['rule_id']}  {verb} {item['count']:,}  e.g. {_examples(item)}"
                          for item in changes_of_code[key]]
    for title, section in (("undecidable under the draft", shown["undecidable"]),
                           ("not read from the log", shown["not_read"])):
        if section["count"]:
            lines.append(f"{title}: {section['count']:,}")
            lines += [f"  {(item.get('jurisdiction') or '') + ': ' if item.get('jurisdiction') else ''}{item['reason']}"
                      f"  {item['count']:,}  ({item['detail']})  e.g. {_examples(item)}"
                      for item in section["reasons"]]
    return "\n".join(lines)


def _examples(item: dict) -> str:
    return " ".join(item["examples"][:TEXT_EXAMPLES])


def impact_csv(report: ImpactReport, out: IO[str]) -> None:
    """One row per transition, rule that starts or stops firing, and reason a flow was not decided."""
    shown = report.to_json()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(IMPACT_CSV_COLUMNS)
    for item in shown["transitions"]:
        writer.writerow(["transition", item["from"], item["to"], "", "", "", item["count"], " ".join(item["examples"])])
    for code, changes in shown["rules"].items():
        for key in ("starts_firing", "stops_firing"):
            for item in changes[key]:
                writer.writerow([key, "", "", code, item["rule_id"], "", item["count"], " ".join(item["examples"])])
    for kind, section in (("undecidable", shown["undecidable"]), ("not_read", shown["not_read"])):
        for item in section["reasons"]:
            writer.writerow([kind, "", "", item.get("jurisdiction") or "", "", item["reason"], item["count"],
                             " ".join(item["examples"])])
