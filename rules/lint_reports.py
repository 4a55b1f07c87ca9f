"""A lint report as code-review tools and scripts read it: SARIF 2.1.0 (GitHub code scanning, VS Code's
SARIF viewer and others show each finding on its line) and JSON."""
from __future__ import annotations

import dataclasses
from importlib import metadata
from urllib.parse import quote

from rules.errors import RuleError
from rules.lint import LINT_CODES, LintReport

__all__ = ["SARIF_SCHEMA", "lint_json", "lint_sarif"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def lint_json(report: LintReport) -> dict:
    """Every finding with its severity, errors first as in the text report, and the counts."""
    return {"tree_loaded": report.tree_loaded, "errors": len(report.errors), "warnings": len(report.warnings),
            "findings": [{**dataclasses.asdict(finding), "severity": severity}
                         for severity, finding in _findings(report)]}


def lint_sarif(report: LintReport) -> dict:
    """One SARIF run of the tool ``licit``: a reporting descriptor per code found (its meaning from the
    table of lint codes, when lint has one; a loader's code otherwise), a result per finding located by
    file (a URI relative to the directory licit ran in), line and column."""
    codes = sorted({finding.code for _, finding in _findings(report)})
    rules = [{"id": code, "shortDescription": {"text": LINT_CODES.get(code, ("error", _LOADER))[1]},
              "defaultConfiguration": {"level": LINT_CODES.get(code, ("error",))[0]}} for code in codes]
    results = [{"ruleId": finding.code, "ruleIndex": codes.index(finding.code), "level": severity,
                "message": {"text": finding.message}, "locations": [_location(finding)]}
               for severity, finding in _findings(report)]
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0",
            "runs": [{"tool": {"driver": {"name": "licit", "version": _version(), "rules": rules}},
                      "columnKind": "unicodeCodePoints", "results": results}]}


_LOADER = "the rule tree does not load (see licit rules validate)"


def _findings(report: LintReport):
    return [("error", error) for error in report.errors] + [("warning", warning) for warning in report.warnings]


def _location(finding: RuleError) -> dict:
    physical: dict = {"artifactLocation": {"uri": quote(finding.file.replace("\\", "/"))}}
    if finding.line >= 1:  # a finding about a whole file has no line
        physical["region"] = {"startLine": finding.line, **({"startColumn": finding.col} if finding.col >= 1 else {})}
    return {"physicalLocation": physical}


def _version() -> str:
    try:
        return metadata.version("licit")
    except metadata.PackageNotFoundError:  # run from a source tree that was not installed
        return "0+unknown"
