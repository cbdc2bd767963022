"""`sbom fix` end to end: real git repositories (a working clone and a bare `origin`), and a local
HTTP server on 127.0.0.1 emulating the GitHub REST endpoints the bot calls, as GitHub's REST docs
describe them (GitHub itself is not reachable here)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from intelsec.errors import ConfigError
from intelsec.sbom.github import GitHub, GitHubError
from tests.clirunner import invoke
from tests.sbom.conftest import trivy_report, trivy_vuln, write_json
from tests.sbom.github_emulator import GitHubEmulator, GitHubState

TOKEN = "ghp_test_token_not_secret_0123456789"


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
           "GIT_COMMITTER_NAME": "dev", "GIT_COMMITTER_EMAIL": "dev@example.com"}
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, Path]:
    bare = tmp_path / "origin.git"
    _git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    work = tmp_path / "shop"
    work.mkdir()
    _git(work, "init", "-q", "-b", "main")
    (work / "requirements.txt").write_text("# runtime\nflask==2.0.1\nWerkzeug==0.11  # pinned for py2\n")
    (work / "web").mkdir()
    (work / "web" / "package.json").write_text(
        '{\n  "name": "web",\n  "dependencies": {\n    "jquery": "^3.3.9"\n  }\n}\n')
    (work / "go.mod").write_text("module example.com/shop\n\ngo 1.21\n\nrequire golang.org/x/text v0.3.6\n")
    _git(work, "add", ".")
    _git(work, "commit", "-q", "-m", "initial")
    _git(work, "remote", "add", "origin", str(bare))
    _git(work, "push", "-q", "origin", "main")
    return work, bare


def _findings(tmp_path: Path, corpus_dir: Path, with_pip: bool = True) -> list[str]:
    f = corpus_dir / "sbom/findings"
    paths = [f / "trivy-npm.json", f / "trivy-gomod.json"] + ([f / "trivy-pip.json"] if with_pip else [])
    nofix = write_json(tmp_path / "nofix.json", trivy_report([trivy_vuln("CVE-2019-18276", "bash", "5.0-4", "")],
                                                            "debian"))
    return [a for p in [*paths, nofix] for a in ("--findings", str(p))]


def test_fix_opens_then_rerun_opens_nothing_then_closes(repo: tuple[Path, Path], tmp_path: Path, corpus_dir: Path,
                                                       capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    work, bare = repo
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    state = GitHubState("acme/shop", TOKEN, bare)
    with GitHubEmulator(state) as gh:
        args = ["sbom", "fix", "--repo", str(work), "--github", "acme/shop", "--api-url", gh.url, "--top", "10",
                "-f", "json", *_findings(tmp_path, corpus_dir)]
        first = invoke(capsys, *args)
        assert first.code == 0, first.err
        actions = {a["package"]: a for a in json.loads(first.out)["actions"]}
        assert actions["Werkzeug"]["files"] == ["requirements.txt"] and actions["Werkzeug"]["pr"].startswith("created")
        assert actions["jquery"]["files"] == ["web/package.json"]
        assert actions["golang.org/x/text"]["files"] == ["go.mod"]
        assert actions["bash"]["pr"] is None and actions["bash"]["issue"].startswith("created")  # no fix: ticket only
        assert "no manifest" in " ".join(actions["github.com/open-policy-agent/opa"]["notes"])
        prs = [i["_pr"] for i in state.issues if "_pr" in i]
        issues = [i for i in state.issues if "_pr" not in i]
        assert len(prs) == 3 and len(issues) == len(actions)
        werk_issue = next(i for i in issues if "Werkzeug" in i["title"])
        assert "CVE-2019-14806" in werk_issue["body"] and "CWE-331" in werk_issue["body"]
        assert "0.15.3" in werk_issue["body"] and "intelsec-sbom:fp=" in werk_issue["body"]
        # the branch really holds a one-line bump, pushed to origin
        branch = actions["Werkzeug"]["branch"]
        diff = _git(bare, "diff", "main", branch)
        assert "-Werkzeug==0.11  # pinned for py2" in diff and "+Werkzeug==0.15.3  # pinned for py2" in diff
        assert sum(1 for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")) == 1
        assert _git(work, "rev-parse", "--abbrev-ref", "HEAD") == "main"
        assert (work / "requirements.txt").read_text().count("0.11") == 1  # base branch untouched
        sha = _git(bare, "rev-parse", branch)

        # rerun: nothing new is opened, the branch commit is identical
        before = [x for x in state.log if x[0] == "POST"]
        second = invoke(capsys, *args)
        assert second.code == 0, second.err
        assert [x for x in state.log if x[0] == "POST"] == before
        assert all(a["issue"].startswith("unchanged") for a in json.loads(second.out)["actions"])
        assert _git(bare, "rev-parse", branch) == sha

        # an unreadable input must not close anything
        broken = tmp_path / "broken.json"
        broken.write_text('{"SchemaVersion": 2, "Results": [')
        partial = invoke(capsys, *args[:-2 * 4], *_findings(tmp_path, corpus_dir, with_pip=False),
                         "--findings", str(broken))
        assert partial.code == 2 and "no issue is closed" in partial.err
        assert werk_issue["state"] == "open"

        # Werkzeug fixed upstream: its issue is closed with a comment, the others stay
        third = invoke(capsys, *args[:-2 * 4], *_findings(tmp_path, corpus_dir, with_pip=False))
        assert third.code == 0, third.err
        assert werk_issue["state"] == "closed"
        assert "no longer reported" in state.comments[werk_issue["number"]][0]
        werk_pr = next(p for p in prs if p["head"]["ref"] == branch)
        assert werk_pr["state"] == "closed" and sum(1 for p in prs if p["state"] == "open") == 2
        assert any(a["pr"] == f"closed #{werk_pr['number']}" for a in json.loads(third.out)["actions"])
        assert sum(1 for i in issues if i["state"] == "open") == len(issues) - 1


def test_dry_run_changes_nothing(repo: tuple[Path, Path], tmp_path: Path, corpus_dir: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    work, _ = repo
    head = _git(work, "rev-parse", "HEAD")
    out = invoke(capsys, "sbom", "fix", "--repo", str(work), "--dry-run", "--github", "acme/shop", "-f", "json",
                 *_findings(tmp_path, corpus_dir))
    assert out.code == 0, out.err
    actions = json.loads(out.out)["actions"]
    assert any(a["files"] == ["requirements.txt"] and a["pr"] == "would open/update" for a in actions)
    assert _git(work, "rev-parse", "HEAD") == head and _git(work, "branch", "--list", "intelsec/*") == ""
    assert _git(work, "status", "--porcelain") == ""


def test_local_branches_without_github(repo: tuple[Path, Path], tmp_path: Path, corpus_dir: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    work, _ = repo
    out = invoke(capsys, "sbom", "fix", "--repo", str(work), "--no-push", "--top", "2", "-f", "json",
                 "--findings", str(corpus_dir / "sbom/findings/trivy-pip.json"))
    assert out.code == 0, out.err
    branches = _git(work, "branch", "--list", "intelsec/*")
    assert "intelsec/sbom/werkzeug-" in branches
    assert "Bump Werkzeug from 0.11 to 0.15.3" in _git(work, "log", "-1", "--format=%s", branches.split()[-1])


def test_dirty_worktree_and_missing_token(repo: tuple[Path, Path], tmp_path: Path, corpus_dir: Path,
                                          capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    work, _ = repo
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("GH_TOKEN", raising=False)
    res = invoke(capsys, "sbom", "fix", "--repo", str(work), "--github", "acme/shop",
                 "--findings", str(corpus_dir / "sbom/findings/trivy-pip.json"))
    assert res.code == 2 and "GITHUB_TOKEN" in res.err
    (work / "requirements.txt").write_text("Werkzeug==0.12\n")
    res = invoke(capsys, "sbom", "fix", "--repo", str(work), "--no-push",
                 "--findings", str(corpus_dir / "sbom/findings/trivy-pip.json"))
    assert res.code == 2 and "uncommitted changes" in res.err
    res = invoke(capsys, "sbom", "fix", "--repo", str(tmp_path), "--findings",
                 str(corpus_dir / "sbom/findings/trivy-pip.json"))
    assert res.code == 2 and "not a git repository" in res.err
    res = invoke(capsys, "sbom", "fix", "--repo", str(tmp_path / "missing"), "--findings",
                 str(corpus_dir / "sbom/findings/trivy-pip.json"))
    assert res.code == 2 and "no such directory" in res.err
    empty = tmp_path / "empty"
    empty.mkdir()
    _git(empty, "init", "-q")
    res = invoke(capsys, "sbom", "fix", "--repo", str(empty), "--findings",
                 str(corpus_dir / "sbom/findings/trivy-pip.json"))
    assert res.code == 2 and "no commit yet" in res.err


def test_client_rate_limit_pagination_and_auth(tmp_path: Path) -> None:
    state = GitHubState("acme/shop", TOKEN, None)
    waits: list[float] = []
    with GitHubEmulator(state) as gh:
        client = GitHub("acme/shop", token=TOKEN, base_url=gh.url, sleep=waits.append)
        for n in range(130):
            client.create_issue(f"t{n}", "b", ["intelsec-sbom"])
        state.rate_limited = 1
        assert len(client.open_issues("intelsec-sbom")) == 130  # two pages, after one rate-limit wait
        assert len(waits) == 1 and 0 < waits[0] <= 2
        assert client.default_branch() == "main"
        assert TOKEN not in repr(client)
        bad = GitHub("acme/shop", token="wrong", base_url=gh.url, sleep=waits.append)
        with pytest.raises(GitHubError) as err:
            bad.default_branch()
        assert "401" in str(err.value) and "wrong" not in str(err.value)
        state.rate_limited = 10
        slow = GitHub("acme/shop", token=TOKEN, base_url=gh.url, sleep=waits.append, max_wait=0.5)
        with pytest.raises(GitHubError, match="rate limit"):
            slow.default_branch()
        state.rate_limited = 0
        with pytest.raises(GitHubError, match="422"):
            client.create_issue("", "b", [])
        for c in (client, bad, slow):
            c.close()
    closed = GitHub("acme/shop", token=TOKEN, base_url="http://127.0.0.1:9", timeout=2)
    with pytest.raises(GitHubError, match="ConnectError"):
        closed.default_branch()
    with pytest.raises(ConfigError):
        GitHub("not a repo", token=TOKEN)
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    class Portal(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<html>Sign in to the proxy</html>")

        def log_message(self, *args: object) -> None:
            pass

    portal = ThreadingHTTPServer(("127.0.0.1", 0), Portal)
    Thread(target=portal.serve_forever, daemon=True).start()
    proxied = GitHub("acme/shop", token=TOKEN, base_url=f"http://127.0.0.1:{portal.server_address[1]}", timeout=5)
    with pytest.raises(GitHubError, match="not JSON"):
        proxied.default_branch()
    proxied.close()
    portal.shutdown()
    portal.server_close()
    for bad_token in (TOKEN + "\x00", TOKEN + "\u00e9", "ghp_a b"):
        with pytest.raises(ConfigError) as cfg_err:
            GitHub("acme/shop", token=bad_token)
        assert TOKEN not in str(cfg_err.value) and "ghp_a" not in str(cfg_err.value)
    trimmed = GitHub("acme/shop", token=TOKEN + "\n")  # a token file's trailing newline is dropped
    assert trimmed._client.headers["authorization"] == f"Bearer {TOKEN}"
    trimmed.close()


def test_grouped_mode_one_branch_one_pr(repo: tuple[Path, Path], tmp_path: Path, corpus_dir: Path,
                                        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    work, bare = repo
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    state = GitHubState("acme/shop", TOKEN, bare)
    with GitHubEmulator(state) as gh:
        args = ["sbom", "fix", "--repo", str(work), "--github", "acme/shop", "--api-url", gh.url, "--group", "all",
                "-f", "json", *_findings(tmp_path, corpus_dir)]
        first = invoke(capsys, *args)
        assert first.code == 0, first.err
        prs = [i["_pr"] for i in state.issues if "_pr" in i]
        assert len(prs) == 1 and prs[0]["body"].count("closes #") == 3
        branch = prs[0]["head"]["ref"]
        assert _git(bare, "rev-list", "--count", f"main..{branch}") == "3"  # one commit per plan
        assert set(_git(bare, "diff", "--name-only", "main", branch).split()) == {
            "requirements.txt", "web/package.json", "go.mod"}
        posts = [x for x in state.log if x[0] == "POST"]
        assert invoke(capsys, *args).code == 0
        assert [x for x in state.log if x[0] == "POST"] == posts
    bad = invoke(capsys, "sbom", "fix", "--repo", str(work), "--group", "some", "--findings", str(tmp_path / "x"))
    assert bad.code == 2 and "--group" in bad.err


def test_fix_run_is_recorded_for_pr_metrics(repo: tuple[Path, Path], tmp_path: Path, corpus_dir: Path,
                                            workspace_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from intelsec.config import Workspace
    from intelsec.store.db import Database
    from intelsec.store.runs import recent_runs

    work, _ = repo
    out = invoke(capsys, "sbom", "fix", "--repo", str(work), "--no-push", "--top", "2", "-w", str(workspace_dir),
                 "--findings", str(corpus_dir / "sbom/findings/trivy-pip.json"))
    assert out.code == 0, out.err
    db = Database(Workspace.load(workspace_dir).database_url())
    (run,) = recent_runs(db, "sbom.fix")
    assert run.status == "ok" and set(run.summary) >= {"prs_created", "prs_open", "issues_created"}
    assert run.summary["prs_created"] == 0  # local branches only: no PR without GitHub
    db.dispose()


def test_no_push_with_github_opens_issues_but_no_pr(repo: tuple[Path, Path], tmp_path: Path, corpus_dir: Path,
                                                    capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A PR needs its branch on GitHub: without a push the emulator (like GitHub) answers 422."""
    work, bare = repo
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    state = GitHubState("acme/shop", TOKEN, bare)
    with GitHubEmulator(state) as gh:
        for group in ("package", "all"):
            res = invoke(capsys, "sbom", "fix", "--repo", str(work), "--github", "acme/shop", "--api-url", gh.url,
                         "--no-push", "--group", group, "-f", "json",
                         "--findings", str(corpus_dir / "sbom/findings/trivy-pip.json"))
            assert res.code == 0, res.err
            (act,) = json.loads(res.out)["actions"]
            assert act["issue"].split()[0] in ("created", "unchanged") and act["pr"] is None
            assert "branch not pushed" in " ".join(act["notes"])
    assert not any("_pr" in i for i in state.issues)
