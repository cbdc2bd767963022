"""`intelsec privacy dlp ...`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from intelsec.cli.common import WorkspaceOpt

if TYPE_CHECKING:
    from intelsec.config import Workspace
    from intelsec.privacy.dlp.scanner import Finding
    from intelsec.privacy.dlp.service import DlpRun

app = typer.Typer(help="Scan exports and telemetry for PII and secrets.", no_args_is_help=True)

PathsArg = Annotated[list[str], typer.Argument(help="Files or directories to scan ('-' reads stdin).")]
DetectorsOpt = Annotated[str | None, typer.Option("--detectors", help="Comma-separated detector ids (default: all).")]
PatternsOpt = Annotated[Path | None, typer.Option(
    "--patterns", help="Extra patterns file (default: <workspace>/dlp/policies.yaml when a workspace is found).")]
KnownOpt = Annotated[list[Path] | None, typer.Option(
    "--known", help="Fingerprint directory (key + *.filter) of emitted tokens/honeytokens; repeatable.")]
EngineOpt = Annotated[str, typer.Option("--engine", help="auto, hyperscan or re (identical findings).")]
MaxLineOpt = Annotated[int, typer.Option("--max-line", min=1024, help="Longest line scanned, in bytes; longer ones "
                                         "are skipped and reported.")]
COLUMNS = ["path", "line", "start", "end", "detector", "severity", "status", "masked"]


def _workspace(path: Path | None) -> Workspace | None:
    """The given workspace, else one found via $INTELSEC_WORKSPACE or the current directory."""
    from intelsec.config import CONFIG_FILE, WORKSPACE_ENV, Workspace

    if path is not None:
        return Workspace.load(path)
    found = Path(os.environ.get(WORKSPACE_ENV) or ".")
    return Workspace.load(found) if (found / CONFIG_FILE).is_file() else None


def _run(workspace: Path | None, detectors: str | None, patterns: Path | None, known: list[Path] | None,
         engine: str, max_line: int, fail_on: str = "low", baseline: Path | None = None) -> DlpRun:
    from intelsec.errors import InputError
    from intelsec.fingerprints import load_all
    from intelsec.privacy.dlp.baseline import Baseline
    from intelsec.privacy.dlp.service import FAIL_ON, DlpRun, build_detectors, load_known

    if fail_on not in FAIL_ON:
        raise InputError(f"unknown --fail-on {fail_on!r}; choose one of: {', '.join(FAIL_ON)}")
    if engine not in ("auto", "hyperscan", "re"):
        raise InputError(f"unknown --engine {engine!r}; choose auto, hyperscan or re")
    ws = _workspace(workspace)
    if patterns is None and ws is not None and ws.path("dlp/policies.yaml").is_file():
        patterns = ws.path("dlp/policies.yaml")
    wanted = [d.strip() for d in detectors.split(",") if d.strip()] if detectors else None
    dets, problems = build_detectors(patterns, wanted)
    try:
        filters = load_all(ws.state_dir) if ws is not None else []
    except (OSError, ValueError) as exc:
        raise InputError(f"{ws.state_dir if ws else ''}: cannot load fingerprint filters: {exc}") from None
    for k in known or []:
        filters += load_known(k)
    return DlpRun(dets, filters=filters, baseline=Baseline.load(baseline) if baseline else None,
                  fail_on=fail_on, engine=engine, max_line=max_line, problems=problems)


def _warn(run: DlpRun) -> None:
    from intelsec.output import info

    for p in run.problems:
        info(("note: " if p.kind == "binary" else "warning: ") + str(p))


def _sarif(run: DlpRun, findings: list[Finding], summary: dict[str, Any]) -> dict[str, Any]:
    from intelsec.output import SARIF_LEVEL, sarif_log

    rules = [{"id": d.id, "shortDescription": {"text": d.description},
              "defaultConfiguration": {"level": SARIF_LEVEL[d.severity]},
              "properties": {"severity": d.severity, "builtin": d.builtin}} for d in run.scanner.detectors]
    results = []
    for f in findings:
        r: dict[str, Any] = {
            "ruleId": f.detector, "level": SARIF_LEVEL[f.severity],
            "message": {"text": f"{f.detector} ({f.severity}): {f.masked}"},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": f.path},
                                                "region": {"startLine": f.line, "startColumn": f.start + 1,
                                                           "endColumn": f.end + 1}}}],
            "properties": {"status": f.status, "masked": f.masked},
        }
        if f.status != "leak":
            r["suppressions"] = [{"kind": "external", "justification": f"value is a known {f.status}"}]
        results.append(r)
    log = sarif_log("intelsec-dlp", rules, results)
    log["runs"][0]["invocations"] = [{
        "executionSuccessful": summary["exit_code"] != 2,
        "toolExecutionNotifications": [
            {"level": "note" if p["kind"] == "binary" else "warning", "message": {"text": p["message"]},
             "locations": [{"physicalLocation": {"artifactLocation": {"uri": p["path"]},
                                                 **({"region": {"startLine": p["line"]}} if p["line"] else {})}}]}
            for p in summary["problems"]],
    }]
    log["runs"][0]["properties"] = {"summary": {k: v for k, v in summary.items() if k != "problems"}}
    return log


@app.command("scan")
def scan(
    paths: PathsArg,
    workspace: WorkspaceOpt = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, json or sarif")] = "table",
    fail_on: Annotated[str, typer.Option("--fail-on", help="Exit 1 when a leak at or above this severity remains "
                                         "(low, medium, high, critical, none).")] = "low",
    baseline: Annotated[Path | None, typer.Option("--baseline", help="Baseline file of accepted findings.")] = None,
    detectors: DetectorsOpt = None,
    patterns: PatternsOpt = None,
    known: KnownOpt = None,
    engine: EngineOpt = "auto",
    max_line: MaxLineOpt = 16 << 20,
) -> None:
    """Scan files for PII and secrets; tokens and honeytokens we emitted are not leaks.

    Exit codes: 0 clean, 1 a leak at or above --fail-on, 2 some input could not be scanned
    (unreadable file, broken gzip, over-long line, invalid UTF-8, invalid user pattern).

    \b
    Examples:
      intelsec privacy dlp scan exports/ --fail-on high
      intelsec privacy dlp scan logs/app.jsonl.gz --format json
      intelsec privacy dlp scan out.csv --baseline .dlp-baseline.json --format sarif > dlp.sarif
      intelsec privacy dlp scan export.csv --known ./controls/.intelsec/fingerprints
    """
    from intelsec.cli.common import check_format
    from intelsec.output import dumps, info, print_json, print_table

    check_format(fmt, ("table", "json", "sarif"))
    run = _run(workspace, detectors, patterns, known, engine, max_line, fail_on, baseline)
    if fmt == "json":  # streamed, so a scan with many findings runs in constant memory
        out = sys.stdout
        out.write('{"findings": [')
        for n, f in enumerate(run.findings(paths)):
            out.write(("\n  " if n == 0 else ",\n  ") + dumps(f.to_dict(), indent=None))
        out.write('\n],\n"summary": ' + dumps(run.summary(), indent=None) + "}\n")
        out.flush()
    else:
        found = list(run.findings(paths))
        summary = run.summary()
        if fmt == "sarif":
            print_json(_sarif(run, found, summary))
        else:
            print_table([f.to_dict() for f in found], COLUMNS, empty="no findings")
            info(f"{summary['files_scanned']} file(s), {summary['bytes_scanned']} bytes, "
                 f"{summary['findings']} finding(s), {summary['failing']} failing (--fail-on {fail_on}), "
                 f"{summary['baselined']} baselined, engine {summary['engine']}")
    _warn(run)
    raise typer.Exit(run.exit_code())


@app.command("baseline")
def baseline_cmd(
    paths: PathsArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Baseline file to write.")],
    workspace: WorkspaceOpt = None,
    detectors: DetectorsOpt = None,
    patterns: PatternsOpt = None,
    known: KnownOpt = None,
    engine: EngineOpt = "auto",
    max_line: MaxLineOpt = 16 << 20,
) -> None:
    """Accept today's findings: write their salted fingerprints (never values) to a baseline.

    Later scans with --baseline report only new findings. Tokens and honeytokens are not
    recorded (they are never leaks).

    \b
    Examples:
      intelsec privacy dlp baseline exports/ -o .dlp-baseline.json
      intelsec privacy dlp scan exports/ --baseline .dlp-baseline.json
    """
    from intelsec.output import dumps, info
    from intelsec.privacy.dlp.baseline import Baseline

    run = _run(workspace, detectors, patterns, known, engine, max_line, "none")
    base = Baseline.new()
    results = base.build(f for f in run.findings(paths) if f.status == "leak")
    output.write_text(dumps(base.document(results)) + "\n", encoding="utf-8")
    info(f"wrote {len(results)} baseline entr{'y' if len(results) == 1 else 'ies'} to {output}")
    _warn(run)
    raise typer.Exit(run.exit_code())
