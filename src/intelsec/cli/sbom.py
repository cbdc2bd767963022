"""`intelsec sbom ...`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from intelsec.cli.common import DatabaseOpt, WorkspaceOpt, check_format
from intelsec.errors import ConfigError, InputError
from intelsec.output import info, print_json, print_table

if TYPE_CHECKING:
    from intelsec.config import Workspace
    from intelsec.sbom.feeds import Feed
    from intelsec.sbom.settings import SbomSettings
    from intelsec.sbom.triage import TriageResult
    from intelsec.store.db import Database

app = typer.Typer(help="SBOM -> fix automation: triage findings, plan fixes, open PRs, burn-down.",
                  no_args_is_help=True)
feeds_app = typer.Typer(help="EPSS and CISA KEV feeds kept in the workspace cache.", no_args_is_help=True)
app.add_typer(feeds_app, name="feeds")

SbomOpt = Annotated[list[Path] | None, typer.Option(
    "--sbom", help="SBOM file (SPDX/CycloneDX/Syft JSON); repeatable")]
FindingsOpt = Annotated[list[Path] | None, typer.Option(
    "--findings", help="Scanner report (Trivy JSON/SARIF, Grype, osv-scanner, CycloneDX vulns); repeatable")]
EpssOpt = Annotated[Path | None, typer.Option("--epss", help="EPSS CSV (default: workspace feeds cache)")]
KevOpt = Annotated[Path | None, typer.Option("--kev", help="CISA KEV JSON catalog (default: workspace feeds cache)")]
ProjectOpt = Annotated[str | None, typer.Option("--project", help="Burn-down series name (default: workspace name)")]
SEV_ORDER = ["low", "medium", "high", "critical"]
COLUMNS = ["risk", "id", "severity", "package", "fix", "epss", "kev"]


def _workspace(path: Path | None) -> Workspace | None:
    from intelsec.config import Workspace

    try:
        return Workspace.load(path)
    except ConfigError:
        if path is not None:
            raise
        return None


def _settings(ws: Workspace | None) -> SbomSettings:
    from intelsec.sbom.settings import SbomSettings, load_settings

    return load_settings(ws.config.sbom) if ws else SbomSettings()


def _feeds(ws: Workspace | None, settings: SbomSettings, epss: Path | None, kev: Path | None
           ) -> tuple[Feed | None, Feed | None]:
    from intelsec.sbom import feeds

    state = ws.state_dir if ws else None
    epss_path = feeds.resolve(epss or (ws.path(settings.epss) if ws and settings.epss else None), state,
                              feeds.EPSS_CACHE)
    kev_path = feeds.resolve(kev or (ws.path(settings.kev) if ws and settings.kev else None), state, feeds.KEV_CACHE)
    e = feeds.load_epss(epss_path) if epss_path else None
    k = feeds.load_kev(kev_path) if kev_path else None
    for f in (e, k):
        if f is not None and f.age_days is not None and f.age_days > 7:
            info(f"note: {f.name} feed {f.path} is {f.age_days:.0f} days old (intelsec sbom feeds update)")
    return e, k


def _database(ws: Workspace | None, url: str | None) -> Database | None:
    from intelsec.store.db import Database, upgrade

    if ws is None and url is None:
        return None
    resolved = ws.database_url(url) if ws else str(url)
    upgrade(resolved)
    return Database(resolved)


def run_triage(ws: Workspace | None, settings: SbomSettings, sbom: list[Path], findings: list[Path],
               epss: Path | None, kev: Path | None) -> TriageResult:
    from intelsec.sbom.triage import triage

    e, k = _feeds(ws, settings, epss, kev)
    return triage(sbom, findings, e, k, allow_major=settings.allow_major)


def _sarif(result: TriageResult) -> dict[str, Any]:
    from intelsec.output import SARIF_LEVEL, sarif_log

    rules: dict[str, dict[str, Any]] = {}
    results = []
    for v in result.open:
        if v.id not in rules:
            rules[v.id] = {"id": v.id, "shortDescription": {"text": (v.title or v.id)[:200]},
                           "properties": {"security-severity": str(v.cvss.score) if v.cvss else "0",
                                          "tags": ["security", *v.cwes]}}
        fix = ", ".join(v.fixed_versions) or "none"
        results.append({
            "ruleId": v.id, "level": SARIF_LEVEL.get(v.severity, "warning"),
            "message": {"text": f"{v.package}@{v.version} is affected by {v.id} ({v.severity}, risk {v.risk}); "
                                f"fixed in: {fix}"},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": v.purl or f"{v.package}@{v.version}"}}}],
            "properties": {"risk": v.risk, "epss": v.epss, "kev": v.kev, "aliases": v.aliases, "sources": v.sources},
        })
    return sarif_log("intelsec-sbom", list(rules.values()), results)


@app.command("triage")
def triage_cmd(
    sbom: SbomOpt = None,
    findings: FindingsOpt = None,
    epss: EpssOpt = None,
    kev: KevOpt = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, json or sarif")] = "table",
    fail_on: Annotated[str | None, typer.Option("--fail-on", help="Exit 1 when an open vulnerability has at least "
                                                 "this severity: low, medium, high, critical")] = None,
    project: ProjectOpt = None,
    record: Annotated[bool, typer.Option("--record/--no-record", help="Record the run for the burn-down")] = True,
    top: Annotated[int, typer.Option("--top", min=0, help="Rows in the table (0 = all)")] = 30,
    workspace: WorkspaceOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Rank the vulnerabilities of an SBOM and/or scanner reports, with fix plans.

    Findings alone are enough; an SBOM adds the dependency graph (direct vs transitive) and the
    packages without findings. Bad files or elements are reported and counted; the rest is triaged.

    \b
    Examples:
      intelsec sbom triage --findings trivy.json
      intelsec sbom triage --sbom sbom.spdx.json --findings grype.json --findings trivy.sarif --format json
      intelsec sbom triage --findings trivy.json --kev kev.json --epss epss.csv --fail-on critical
    """
    check_format(fmt, ("table", "json", "sarif"))
    if fail_on is not None and fail_on not in SEV_ORDER:
        raise InputError(f"--fail-on {fail_on!r}: choose one of {', '.join(SEV_ORDER)}")
    ws = _workspace(workspace)
    settings = _settings(ws)
    name = project or settings.project or (ws.config.name if ws else "default")
    if len(name) > 128:  # the burn-down table's limit
        raise InputError(f"project name {name[:40]!r}...: at most 128 characters")
    result = run_triage(ws, settings, list(sbom or []), list(findings or []), epss, kev)
    if record and result.failed_inputs:  # the unread file's vulnerabilities would all count as fixed
        info("note: not recorded for the burn-down: some inputs could not be read")
    elif record:
        db = _database(ws, database)
        if db is None:
            info("note: not recorded for the burn-down (no workspace; pass -w or --database)")
        else:
            from intelsec.sbom.burndown import record_run

            result.summary["recorded"] = record_run(db, name, result.vulnerabilities, result.summary)
            db.dispose()
    if fmt == "json":
        print_json(result.to_json())
    elif fmt == "sarif":
        print_json(_sarif(result))
    else:
        _print_table(result, top)
    for p in result.problems[:20]:
        info(f"warning: {p}")
    if len(result.problems) > 20:
        info(f"warning: ... {len(result.problems) - 20} more problems (see summary.problem_details)")
    if fail_on is not None:
        floor = SEV_ORDER.index(fail_on)
        bad = [v for v in result.open if v.severity in SEV_ORDER and SEV_ORDER.index(v.severity) >= floor]
        if bad:
            info(f"{len(bad)} open vulnerabilities at or above {fail_on}")
            raise typer.Exit(1)
    if result.failed_inputs:
        raise typer.Exit(2)


def _print_table(result: TriageResult, top: int) -> None:
    plan_of = {(p.ecosystem, p.package, p.installed): p for p in result.plans}
    rows = []
    for v in result.open[: top or None]:
        plan = plan_of.get((v.ecosystem, v.package, v.version))
        rows.append({"risk": v.risk, "id": v.id, "severity": v.severity, "package": f"{v.package}@{v.version}",
                     "fix": (plan.target if plan and v.id in plan.fixes else "-"),
                     "epss": "" if v.epss is None else f"{v.epss:.3f}", "kev": "yes" if v.kev else ""})
    print_table(rows, COLUMNS, title="Vulnerabilities by risk", empty="no vulnerabilities")
    s = result.summary
    info(f"{s['vulnerabilities']} open ({', '.join(f'{k} {n}' for k, n in s['by_severity'].items() if n)}), "
         f"{s['duplicates_merged']} duplicates merged, {s['plans']['pr']} PR plans, {s['plans']['ticket']} tickets, "
         f"{s['problems']} problems")


@app.command("fix")
def fix_cmd(
    repo: Annotated[Path, typer.Option("--repo", help="Git repository whose manifests get the version bumps")],
    sbom: SbomOpt = None,
    findings: FindingsOpt = None,
    github: Annotated[str | None, typer.Option("--github", help="OWNER/REPO: open issues and PRs there "
                                               "(token from GITHUB_TOKEN)")] = None,
    top: Annotated[int, typer.Option("--top", min=0, help="Act on the N riskiest plans (0 = all)")] = 10,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would happen; change nothing")] = False,
    push: Annotated[bool, typer.Option("--push/--no-push", help="Push branches to `origin` when it exists")] = True,
    base: Annotated[str | None, typer.Option("--base", help="Base branch (default: the checked-out one)")] = None,
    group: Annotated[str | None, typer.Option("--group", help="package: a branch and PR per plan (default); "
                                              "all: one branch and PR for every bump")] = None,
    api_url: Annotated[str | None, typer.Option("--api-url", help="GitHub API URL (default: $GITHUB_API_URL or "
                                                "https://api.github.com)")] = None,
    epss: EpssOpt = None,
    kev: KevOpt = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
    workspace: WorkspaceOpt = None,
) -> None:
    """Open (or update) issues with CVE/CWE context and version-bump PRs for the riskiest plans.

    One branch and commit per plan; a fingerprint in branch names and bodies makes reruns update
    what exists instead of opening duplicates; issues whose vulnerabilities are gone are closed.

    \b
    Examples:
      intelsec sbom fix --repo . --findings trivy.json --dry-run
      intelsec sbom fix --repo . --sbom sbom.spdx.json --findings trivy.json --github acme/shop --top 10
    """
    from intelsec.sbom.fixer import Fixer
    from intelsec.sbom.github import GitHub

    check_format(fmt)
    if group not in (None, "package", "all"):
        raise InputError(f"--group {group!r}: choose package or all")
    ws = _workspace(workspace)
    settings = _settings(ws)
    result = run_triage(ws, settings, list(sbom or []), list(findings or []), epss, kev)
    client = GitHub(github, base_url=api_url) if github and not dry_run else None
    try:
        fixer = Fixer(repo, client, base=base, labels=settings.labels, dry_run=dry_run, push=push,
                      remote=bool(github), group=group or settings.group)
        if result.failed_inputs:
            info("warning: some inputs could not be read: no issue is closed in this run")
        actions = fixer.run(result.plans, result.plans, top, close_gone=not result.failed_inputs)
    finally:
        if client is not None:
            client.close()
    rows = [a.to_json() for a in actions]
    if ws is not None and not dry_run:  # feeds the PR velocity and backlog metrics
        _record_fix_run(ws, actions)
    if fmt == "json":
        print_json({"actions": rows, "summary": result.summary})
    else:
        print_table([{**r, "files": ", ".join(r["files"]), "notes": "; ".join(r["notes"])} for r in rows],
                    ["package", "target", "branch", "issue", "pr", "files", "notes"], title="sbom fix",
                    empty="no plans to act on")
    if result.failed_inputs:
        raise typer.Exit(2)


def _record_fix_run(ws: Workspace, actions: list[Any]) -> None:
    from intelsec.cli.common import open_database
    from intelsec.store.runs import record_run

    def count(attr: str, *prefixes: str) -> int:
        return sum(1 for a in actions if (getattr(a, attr) or "").startswith(prefixes))

    summary = {"prs_created": count("pr", "created"), "prs_updated": count("pr", "updated"),
               "prs_open": count("pr", "created", "updated", "unchanged"),
               "issues_created": count("issue", "created"), "issues_closed": count("issue", "closed")}
    record_run(open_database(ws, None), "sbom.fix", "ok", summary)


@app.command("burndown")
def burndown_cmd(
    since: Annotated[str, typer.Option("--since", help="Window, e.g. 30d, 12w")] = "30d",
    project: ProjectOpt = None,
    png: Annotated[Path | None, typer.Option("--png", help="Write a PNG chart here")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
    workspace: WorkspaceOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Show the vulnerability trend recorded by `sbom triage` runs.

    \b
    Examples:
      intelsec sbom burndown --since 30d
      intelsec sbom burndown --project payments --png burndown.png --format json
    """
    from intelsec.sbom.burndown import burndown, write_png

    check_format(fmt)
    window = _window(since)
    ws = _workspace(workspace)
    db = _database(ws, database)
    if db is None:
        raise ConfigError("no workspace or database: pass -w DIR or --database URL")
    data = burndown(db, project, window)
    db.dispose()
    if png is not None:
        write_png(data, str(png))
        info(f"wrote {png}")
    if fmt == "json":
        print_json(data)
        return
    print_table([{**p, "time": p["time"][:19].replace("T", " ")} for p in data["runs"]],
                ["time", "project", "open", "critical", "high", "new", "fixed", "kev"], title="Burn-down",
                empty="no triage runs recorded in this window")
    slope, crit = data["weekly_slope"], data["criticals_outstanding"]
    info(f"weekly slope: {'n/a' if slope is None else slope}; criticals outstanding: {'n/a' if crit is None else crit}")


def _window(since: str) -> timedelta:
    from intelsec.clock import parse_duration

    try:
        return parse_duration(since)
    except ValueError:
        raise InputError(f"--since {since!r}: expected a duration such as 30d, 12w or 48h") from None


@feeds_app.command("update")
def feeds_update(
    epss_url: Annotated[str | None, typer.Option(help="EPSS CSV URL (default: FIRST/Empirical current file)")] = None,
    kev_url: Annotated[str | None, typer.Option(help="CISA KEV JSON URL")] = None,
    timeout: Annotated[float, typer.Option(min=1, max=300, help="Seconds per download")] = 30.0,
    workspace: WorkspaceOpt = None,
) -> None:
    """Download EPSS and KEV into the workspace cache (<workspace>/.intelsec/feeds).

    Offline, this fails with a clear error and triage keeps using the cached copies (their age is shown).

    \b
    Examples:
      intelsec sbom feeds update
      intelsec sbom feeds status
    """
    from intelsec.config import Workspace
    from intelsec.sbom import feeds

    ws = Workspace.load(workspace)
    settings = _settings(ws)
    target = feeds.cache_dir(ws.state_dir)
    errors = []
    jobs = ((epss_url or settings.epss_url, feeds.EPSS_CACHE), (kev_url or settings.kev_url, feeds.KEV_CACHE))
    for url, name in jobs:
        try:
            loader = feeds.load_epss if name == feeds.EPSS_CACHE else feeds.load_kev
            size = feeds.download(url, target / name, timeout, check=loader)  # refuses what is not the feed
            info(f"updated {target / name} ({size} bytes)")
        except InputError as exc:
            errors.append(str(exc))
    if errors:
        raise InputError("; ".join(errors))


@feeds_app.command("status")
def feeds_status(workspace: WorkspaceOpt = None) -> None:
    """Show the cached feeds and their age.

    \b
    Example:
      intelsec sbom feeds status
    """
    from intelsec.config import Workspace
    from intelsec.sbom import feeds

    ws = Workspace.load(workspace)
    rows = []
    for name, loader in ((feeds.EPSS_CACHE, feeds.load_epss), (feeds.KEV_CACHE, feeds.load_kev)):
        path = feeds.cache_dir(ws.state_dir) / name
        if path.is_file():
            rows.append({"feed": name, **loader(path).describe()})
        else:
            rows.append({"feed": name, "path": "(not cached)"})
    print_table(rows, ["feed", "path", "entries", "age_days", "version"])
