"""`sbom fix`: turn ranked plans into branches, issues and pull requests, idempotently.

Each plan has a fingerprint (ecosystem, package, installed version). It names the branch
(`intelsec/sbom/<package>-<fp>`) and is embedded in issue and PR bodies as an HTML comment, so a
rerun finds and updates what it opened before instead of opening duplicates. Open issues whose
fingerprint is no longer among the current plans are closed with a comment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from intelsec.sbom.editors import Bump, apply_bump
from intelsec.sbom.github import GitHub
from intelsec.sbom.gitops import Git, slug
from intelsec.sbom.plans import Plan

MARKER = "intelsec-sbom:fp="
_MARK_RE = re.compile(r"<!-- intelsec-sbom:fp=([0-9a-f]{6,64}) -->")


@dataclass
class Action:
    fingerprint: str
    package: str
    target: str | None
    branch: str | None = None
    files: list[str] = field(default_factory=list)
    issue: str | None = None  # "created #3", "updated #3", "unchanged #3", "would create"
    pr: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


def marker(fp: str) -> str:
    return f"<!-- {MARKER}{fp} -->"


def branch_name(plan: Plan) -> str:
    return f"intelsec/sbom/{slug(plan.package)}-{plan.fingerprint}"


def issue_title(plan: Plan) -> str:
    ids = ", ".join(v.id for v in plan.vulns[:3]) + (" ..." if len(plan.vulns) > 3 else "")
    if plan.target:
        return f"Security: bump {plan.package} {plan.installed} -> {plan.target} ({ids})"
    return f"Security: {plan.package} {plan.installed} has no fix yet ({ids})"


def issue_body(plan: Plan, notes: list[str]) -> str:
    lines = [f"**{plan.package}** `{plan.installed}` ({plan.ecosystem}) — risk {plan.risk}, severity {plan.severity}",
             ""]
    if plan.target:
        bump = f"Proposed bump: `{plan.installed}` -> `{plan.target}`"
        lines.append(bump + (" (**crosses a major version**: check the changelog)" if plan.crosses_major else ""))
    else:
        lines.append("No version fixes these vulnerabilities yet: track, mitigate or accept the risk.")
    if plan.direct is False:
        lines.append(f"Transitive dependency, brought in by: {', '.join(plan.via) or 'unknown'} "
                     "(bump that dependency or add an override/constraint).")
    lines += ["", "| id | aliases | severity | CVSS | EPSS | KEV | CWE | fixed in |",
              "|---|---|---|---|---|---|---|---|"]
    for v in plan.vulns:
        cvss = f"{v.cvss.score} `{v.cvss.vector}`" if v.cvss else "-"
        epss = f"{v.epss:.3f}" if v.epss is not None else "-"
        kev = "**yes**" + (f" (due {v.kev_entry.get('dueDate')})" if v.kev_entry else "") if v.kev else "no"
        lines.append(f"| {v.id} | {', '.join(v.aliases[:4]) or '-'} | {v.severity} | {cvss} | {epss} | {kev} | "
                     f"{', '.join(v.cwes) or '-'} | {', '.join(v.fixed_versions) or '-'} |")
    if plan.unfixed:
        lines += ["", "Not fixed by this bump:"] + [f"- {u.id}: {u.reason}" for u in plan.unfixed]
    refs = list(dict.fromkeys(r for v in plan.vulns for r in v.references))[:10]
    if refs:
        lines += ["", "References:"] + [f"- {r}" for r in refs]
    if notes:
        lines += ["", "Notes:"] + [f"- {n}" for n in notes]
    lines += ["", marker(plan.fingerprint)]
    return "\n".join(lines)


def pr_body(plan: Plan, issue_number: int | None, files: list[str]) -> str:
    lines = [f"Bumps **{plan.package}** from `{plan.installed}` to `{plan.target}`, fixing "
             f"{', '.join(plan.fixes)}." + (" Crosses a major version." if plan.crosses_major else ""), ""]
    lines += ["Files:"] + [f"- `{f}`" for f in files]
    if issue_number is not None:
        lines += ["", f"Closes #{issue_number}"]
    lines += ["", marker(plan.fingerprint)]
    return "\n".join(lines)


def fingerprint_of(body: str | None) -> str | None:
    m = _MARK_RE.search(body or "")
    return m.group(1) if m else None


class Fixer:
    def __init__(self, repo: Path, github: GitHub | None, base: str | None = None, labels: list[str] | None = None,
                 dry_run: bool = False, push: bool = True, remote: bool = False) -> None:
        self.repo = repo.resolve()
        self.github = github
        self.labels = labels or ["security", "intelsec-sbom"]
        self.dry_run = dry_run
        self.remote = remote or github is not None
        self.git = None if dry_run else Git(self.repo)
        self.base = base or (self.git.current_branch() if self.git else "main")
        self.push = push and self.git is not None and self.git.has_remote()

    def run(self, plans: list[Plan], all_plans: list[Plan], top: int) -> list[Action]:
        chosen = plans[:top] if top else plans
        issues: dict[str, dict[str, Any]] = {}
        pulls: dict[str, dict[str, Any]] = {}
        if self.github and not self.dry_run:
            issues = {fp: i for i in self.github.open_issues(self.labels[-1]) if (fp := fingerprint_of(i.get("body")))}
            pulls = {fp: p for p in self.github.open_pulls() if (fp := fingerprint_of(p.get("body")))}
        actions = [self._one(plan, issues, pulls) for plan in chosen]
        live = {p.fingerprint for p in all_plans}
        for fp, issue in sorted(issues.items()):
            if fp not in live and self.github:
                self.github.comment(issue["number"], "The vulnerabilities of this issue are no longer reported by "
                                    "the latest triage: closing. " + marker(fp))
                self.github.update_issue(issue["number"], state="closed", state_reason="completed")
                actions.append(Action(fp, issue.get("title", ""), None, issue=f"closed #{issue['number']}"))
        return actions

    def _one(self, plan: Plan, issues: dict[str, dict[str, Any]], pulls: dict[str, dict[str, Any]]) -> Action:
        fp = plan.fingerprint
        act = Action(fp, plan.package, plan.target)
        files: list[str] = []
        if plan.target:
            act.branch = branch_name(plan)
            bump = Bump(plan.ecosystem, plan.package, plan.installed, plan.target)
            if self.dry_run:
                res = apply_bump(self.repo, bump, write=False)
                files = [str(p.relative_to(self.repo)) for p in res.changed]
                act.notes += res.notes
            else:
                assert self.git is not None
                notes: list[str] = []

                def edit() -> list[Path]:
                    res = apply_bump(self.repo, bump)
                    notes.extend(res.notes)
                    return res.changed

                msg = f"Bump {plan.package} from {plan.installed} to {plan.target}\n\nFixes {', '.join(plan.fixes)}." \
                      f"\n\n{MARKER}{fp}"
                changed = self.git.commit_on_branch(act.branch, self.base, msg, edit)
                files = [str(p.relative_to(self.repo)) for p in changed]
                act.notes += notes
                if files and self.push:
                    self.git.push(act.branch)
            act.files = files
            if not files:
                act.notes.append(f"no manifest in this repository pins {plan.package}: ticket only")
                act.branch = None
        body = issue_body(plan, act.notes)
        issue_no: int | None = None
        if self.github is None or self.dry_run:
            act.issue = "would open/update" if self.remote else None
            act.pr = ("would open/update" if self.remote else "branch only") if files else None
            return act
        existing = issues.get(fp)
        if existing is None:
            created = self.github.create_issue(issue_title(plan), body, self.labels)
            issue_no, act.issue = created["number"], f"created #{created['number']}"
        else:
            issue_no = existing["number"]
            if existing.get("body") != body or existing.get("title") != issue_title(plan):
                self.github.update_issue(issue_no, title=issue_title(plan), body=body)
                act.issue = f"updated #{issue_no}"
            else:
                act.issue = f"unchanged #{issue_no}"
        if files and act.branch:
            pbody = pr_body(plan, issue_no, files)
            title = f"Bump {plan.package} from {plan.installed} to {plan.target}"
            pr = pulls.get(fp)
            if pr is None:
                owner = self.github.repo.split("/")[0]
                created = self.github.create_pull(title, act.branch if self.push else f"{owner}:{act.branch}",
                                                  self.base, pbody)
                act.pr = f"created #{created['number']}"
            elif pr.get("body") != pbody or pr.get("title") != title:
                self.github.update_pull(pr["number"], title=title, body=pbody)
                act.pr = f"updated #{pr['number']}"
            else:
                act.pr = f"unchanged #{pr['number']}"
        return act
