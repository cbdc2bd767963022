"""`sbom fix`: turn ranked plans into branches, issues and pull requests, idempotently.

Each plan has a fingerprint (ecosystem, package, installed version). It names the branch
(`intelsec/sbom/<package>-<fp>`) and is embedded in issue and PR bodies as an HTML comment, so a
rerun finds and updates what it opened before instead of opening duplicates. Open issues whose
fingerprint is no longer among the current plans are closed with a comment.
"""

from __future__ import annotations

import hashlib
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


NOT_PUSHED = "branch not pushed (--no-push, or no `origin` remote): no pull request"
GROUP_FP = hashlib.sha256(b"intelsec-sbom grouped").hexdigest()[:12]
GROUP_BRANCH = f"intelsec/sbom/grouped-{GROUP_FP}"


class Fixer:
    """`group="package"`: one branch, commit and PR per plan; `group="all"`: one branch with one
    commit per plan and a single PR. Issues are always one per plan."""

    def __init__(self, repo: Path, github: GitHub | None, base: str | None = None, labels: list[str] | None = None,
                 dry_run: bool = False, push: bool = True, remote: bool = False, group: str = "package") -> None:
        self.repo = repo.resolve()
        self.github = github
        self.labels = labels or ["security", "intelsec-sbom"]
        self.dry_run = dry_run
        self.remote = remote or github is not None
        self.group = group
        self.git = None if dry_run else Git(self.repo)
        self.base = base or (self.git.current_branch() if self.git else "main")
        self.push = push and self.git is not None and self.git.has_remote()

    def run(self, plans: list[Plan], all_plans: list[Plan], top: int, close_gone: bool = True) -> list[Action]:
        """Act on the `top` riskiest plans; close issues absent from `all_plans` when `close_gone`
        (callers pass False when an input could not be read, so nothing is closed on partial data)."""
        chosen = plans[:top] if top else plans
        issues: dict[str, dict[str, Any]] = {}
        pulls: dict[str, dict[str, Any]] = {}
        if self.github and not self.dry_run:
            issues = {fp: i for i in self.github.open_issues(self.labels[-1]) if (fp := fingerprint_of(i.get("body")))}
            pulls = {fp: p for p in self.github.open_pulls() if (fp := fingerprint_of(p.get("body")))}
        actions = [Action(p.fingerprint, p.package, p.target) for p in chosen]
        if self.group == "all":
            self._edit_grouped(chosen, actions)
        else:
            for plan, act in zip(chosen, actions, strict=True):
                self._edit(plan, act)
        issue_numbers = [self._issue(plan, act, issues) for plan, act in zip(chosen, actions, strict=True)]
        if self.group == "all":
            self._grouped_pull(chosen, actions, issue_numbers, pulls)
        else:
            for plan, act, number in zip(chosen, actions, issue_numbers, strict=True):
                if act.files and act.branch and self.github is not None and not self.dry_run:
                    if not self.push:
                        act.notes.append(NOT_PUSHED)
                        continue
                    title = f"Bump {plan.package} from {plan.installed} to {plan.target}"
                    act.pr = self._pull(plan.fingerprint, act.branch, title, pr_body(plan, number, act.files), pulls)
        live = {p.fingerprint for p in all_plans}
        for fp, issue in sorted(issues.items()):
            if fp not in live and self.github and close_gone:
                self.github.comment(issue["number"], "The vulnerabilities of this issue are no longer reported by "
                                    "the latest triage: closing. " + marker(fp))
                self.github.update_issue(issue["number"], state="closed", state_reason="completed")
                actions.append(Action(fp, issue.get("title", ""), None, issue=f"closed #{issue['number']}"))
        for fp, pr in sorted(pulls.items()):  # else a new installed version would get a second PR
            if fp not in live and fp != GROUP_FP and self.github and close_gone:
                self.github.comment(pr["number"], "Superseded: the latest triage no longer reports this package "
                                    "version. " + marker(fp))
                self.github.update_pull(pr["number"], state="closed")
                actions.append(Action(fp, pr.get("title", ""), None, pr=f"closed #{pr['number']}"))
        return actions

    # --- git ------------------------------------------------------------------------------------
    def _apply(self, plan: Plan, act: Action, write: bool) -> list[Path]:
        assert plan.target is not None
        res = apply_bump(self.repo, Bump(plan.ecosystem, plan.package, plan.installed, plan.target), write=write)
        act.notes += res.notes
        act.files = [str(p.relative_to(self.repo)) for p in res.changed]
        if not act.files:
            act.notes.append(f"no manifest in this repository pins {plan.package} below {plan.target}: ticket only")
        return res.changed

    def _edit(self, plan: Plan, act: Action) -> None:
        if not plan.target:
            return
        branch = branch_name(plan)
        if self.git is None:
            self._apply(plan, act, write=False)
        else:
            msg = f"Bump {plan.package} from {plan.installed} to {plan.target}\n\nFixes {', '.join(plan.fixes)}." \
                  f"\n\n{MARKER}{plan.fingerprint}"
            self.git.commit_on_branch(branch, self.base, msg, lambda: self._apply(plan, act, write=True))
            if act.files and self.push:
                self.git.push(branch)
        act.branch = branch if act.files else None

    def _edit_grouped(self, plans: list[Plan], actions: list[Action]) -> None:
        todo = [(p, a) for p, a in zip(plans, actions, strict=True) if p.target]
        if self.git is None:
            for plan, act in todo:
                self._apply(plan, act, write=False)
        else:
            git = self.git

            def edit_all() -> list[Path]:
                changed: list[Path] = []
                for plan, act in todo:
                    files = self._apply(plan, act, write=True)
                    if files:
                        git.run("add", "--", *[str(f.relative_to(self.repo)) for f in files])
                        git.run("commit", "-q", "--no-verify", "-m", f"Bump {plan.package} from {plan.installed} to "
                                f"{plan.target}\n\n{MARKER}{plan.fingerprint}", env=git.identity_env(self.base))
                        changed += files
                return []  # committed one by one above

            git.commit_on_branch(GROUP_BRANCH, self.base, "", edit_all)
            if any(a.files for _, a in todo) and self.push:
                git.push(GROUP_BRANCH)
        for _, act in todo:
            act.branch = GROUP_BRANCH if act.files else None

    # --- GitHub ---------------------------------------------------------------------------------
    def _issue(self, plan: Plan, act: Action, issues: dict[str, dict[str, Any]]) -> int | None:
        if self.github is None or self.dry_run:
            act.issue = "would open/update" if self.remote else None
            local = "would commit on the branch" if self.dry_run else "branch only"
            act.pr = ("would open/update" if self.remote else local) if act.files else None
            return None
        body, title = issue_body(plan, act.notes), issue_title(plan)
        existing = issues.get(plan.fingerprint)
        if existing is None:
            created = self.github.create_issue(title, body, self.labels)
            act.issue = f"created #{created['number']}"
            return int(created["number"])
        number = int(existing["number"])
        if existing.get("body") != body or existing.get("title") != title:
            self.github.update_issue(number, title=title, body=body)
            act.issue = f"updated #{number}"
        else:
            act.issue = f"unchanged #{number}"
        return number

    def _pull(self, fp: str, branch: str, title: str, body: str, pulls: dict[str, dict[str, Any]]) -> str | None:
        if self.github is None or self.dry_run:
            return None
        pr = pulls.get(fp)
        if pr is None:
            created = self.github.create_pull(title, branch, self.base, body)
            return f"created #{created['number']}"
        if pr.get("body") != body or pr.get("title") != title:
            self.github.update_pull(pr["number"], title=title, body=body)
            return f"updated #{pr['number']}"
        return f"unchanged #{pr['number']}"

    def _grouped_pull(self, plans: list[Plan], actions: list[Action], numbers: list[int | None],
                      pulls: dict[str, dict[str, Any]]) -> None:
        done = [(p, a, n) for p, a, n in zip(plans, actions, numbers, strict=True) if a.files]
        if not done:
            return
        if not self.push:
            for _, act, _ in done:
                act.notes.append(NOT_PUSHED)
            return
        lines = [f"- **{p.package}** `{p.installed}` -> `{p.target}` ({', '.join(p.fixes)})"
                 + (f", closes #{n}" if n else "") for p, _, n in done]
        body = "Security version bumps:\n\n" + "\n".join(lines) + "\n\n" + marker(GROUP_FP)
        result = self._pull(GROUP_FP, GROUP_BRANCH, f"Security bumps for {len(done)} packages", body, pulls)
        for _, act, _ in done:
            act.pr = result if result else act.pr
