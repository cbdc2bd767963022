"""Format-preserving version bumps: only the version text changes; comments and layout stay."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest

from intelsec.sbom.editors import Bump, apply_bump
from intelsec.sbom.editors.dockerfile import DockerfileEditor
from intelsec.sbom.editors.gomod import GoModEditor
from intelsec.sbom.editors.packagejson import PackageJsonEditor
from intelsec.sbom.editors.pyproject import PyprojectEditor
from intelsec.sbom.editors.requirements import RequirementsEditor


def _changed_lines(old: str, new: str) -> list[tuple[str, str]]:
    a, b = old.splitlines(), new.splitlines()
    assert len(a) == len(b), "line count changed"
    return [(x, y) for x, y in zip(a, b, strict=True) if x != y]


def test_requirements() -> None:
    text = ("# web stack\nflask==2.0.1  # keep\nWerkzeug[watchdog] == 0.11 ; python_version >= '3'   # pinned\n"
            "-r other.txt\nrequests>=2.0,<3\n\n")
    new = RequirementsEditor().edit(text, Bump("pypi", "werkzeug", "0.11", "0.15.3"))
    assert new is not None
    assert _changed_lines(text, new) == [("Werkzeug[watchdog] == 0.11 ; python_version >= '3'   # pinned",
                                          "Werkzeug[watchdog] == 0.15.3 ; python_version >= '3'   # pinned")]
    assert new.endswith("\n\n")
    assert RequirementsEditor().edit(text, Bump("pypi", "django", "1", "2")) is None
    assert RequirementsEditor().edit("zope__interface==5.0\n", Bump("pypi", "zope.interface", "5.0", "5.1")) == \
        "zope__interface==5.1\n"  # PEP 503: runs of -_. are one separator


def test_requirements_upper_bound_conflict_is_reported(tmp_path: Path) -> None:
    (tmp_path / "requirements-dev.txt").write_text("requests>=2.0,<2.20\n")
    res = apply_bump(tmp_path, Bump("pypi", "requests", "2.19.0", "2.31.0"))
    assert res.changed == [] and "excludes 2.31.0" in res.notes[0]


def test_pyproject_pep621_and_poetry() -> None:
    text = '''[project]
name = "shop"
dependencies = [
    "requests>=2.19.0",  # http
    "Werkzeug==0.11",
]

[project.optional-dependencies]
dev = ["werkzeug>=0.10"]

[tool.poetry.dependencies]
python = "^3.11"
werkzeug = {version = "^0.11", extras = ["watchdog"]}  # pinned

[tool.poetry.group.test.dependencies]
Werkzeug = "~0.11"   # test
'''
    new = PyprojectEditor().edit(text, Bump("pypi", "werkzeug", "0.11", "0.15.3"))
    assert new is not None
    assert _changed_lines(text, new) == [
        ('    "Werkzeug==0.11",', '    "Werkzeug==0.15.3",'),
        ('dev = ["werkzeug>=0.10"]', 'dev = ["werkzeug>=0.15.3"]'),
        ('werkzeug = {version = "^0.11", extras = ["watchdog"]}  # pinned',
         'werkzeug = {version = "^0.15.3", extras = ["watchdog"]}  # pinned'),
        ('Werkzeug = "~0.11"   # test', 'Werkzeug = "~0.15.3"   # test'),
    ]


def test_package_json_keeps_formatting() -> None:
    text = '{\n    "name": "web",\n    "dependencies": {\n        "jquery": "^3.3.9",\n' \
           '        "react": "18.2.0"\n    },\n' \
           '    "devDependencies": {"jquery":"3.3.9"}\n}\n'
    new = PackageJsonEditor().edit(text, Bump("npm", "jquery", "3.3.9", "3.4.0"))
    assert new is not None
    assert _changed_lines(text, new) == [('        "jquery": "^3.3.9",', '        "jquery": "^3.4.0",'),
                                         ('    "devDependencies": {"jquery":"3.3.9"}',
                                          '    "devDependencies": {"jquery":"3.4.0"}')]
    assert json.loads(new)["dependencies"]["react"] == "18.2.0"
    assert PackageJsonEditor().edit('{"dependencies": {"jquery": "latest"}}', Bump("npm", "jquery", "3", "4")) is None


def test_go_mod_require_forms() -> None:
    text = ("module example.com/app\n\ngo 1.21\n\nrequire golang.org/x/text v0.3.6\n\nrequire (\n"
            "\tgithub.com/open-policy-agent/opa v0.35.0 // indirect\n\tgolang.org/x/net v0.1.0\n)\n\n"
            "replace golang.org/x/text v0.3.6 => ../text\n")
    new = GoModEditor().edit(text, Bump("golang", "golang.org/x/text", "v0.3.6", "0.3.7"))
    assert new is not None and _changed_lines(text, new) == [("require golang.org/x/text v0.3.6",
                                                              "require golang.org/x/text v0.3.7")]
    new = GoModEditor().edit(text, Bump("golang", "github.com/open-policy-agent/opa", "v0.35.0", "v0.37.0"))
    assert new is not None and _changed_lines(text, new) == [
        ("\tgithub.com/open-policy-agent/opa v0.35.0 // indirect",
         "\tgithub.com/open-policy-agent/opa v0.37.0 // indirect")]


def test_dockerfile_from_tags() -> None:
    digest = "@sha256:" + "a" * 64
    text = (f"# base\nFROM --platform=linux/amd64 docker.io/library/python:3.11.4-slim{digest} AS build\n"
            "RUN pip install .\nFROM python:3.11.4-slim\nFROM python:3.12-slim\n")
    new = DockerfileEditor().edit(text, Bump("docker", "python", "3.11.4-slim", "3.11.9-slim"))
    assert new is not None
    assert _changed_lines(text, new) == [
        (f"FROM --platform=linux/amd64 docker.io/library/python:3.11.4-slim{digest} AS build",
         "FROM --platform=linux/amd64 docker.io/library/python:3.11.9-slim AS build"),
        ("FROM python:3.11.4-slim", "FROM python:3.11.9-slim")]


@pytest.mark.parametrize("ecosystem", ["pypi", "npm", "golang", "docker"])
def test_apply_bump_finds_files_and_skips_vendored(tmp_path: Path, ecosystem: str) -> None:
    (tmp_path / "node_modules" / "x").mkdir(parents=True)
    (tmp_path / "node_modules" / "x" / "package.json").write_text('{"dependencies": {"a": "1.0.0"}}')
    (tmp_path / "svc").mkdir()
    files = {"pypi": ("svc/requirements.txt", "a==1.0.0\n"),
             "npm": ("svc/package.json", '{"dependencies": {"a": "1.0.0"}}'),
             "golang": ("svc/go.mod", "module m\n\nrequire a v1.0.0\n"), "docker": ("svc/Dockerfile", "FROM a:1.0.0\n")}
    rel, body = files[ecosystem]
    (tmp_path / rel).write_text(body)
    res = apply_bump(tmp_path, Bump(ecosystem, "a", "1.0.0" if ecosystem != "golang" else "v1.0.0", "1.2.0"))
    assert res.changed == [tmp_path / rel]
    assert "1.2.0" in (tmp_path / rel).read_text()
    assert "1.0.0" in (tmp_path / "node_modules/x/package.json").read_text()
    diff = list(difflib.unified_diff(body.splitlines(), (tmp_path / rel).read_text().splitlines(), lineterm=""))
    assert sum(1 for d in diff if d.startswith("+") and not d.startswith("+++")) == 1


def test_a_bump_never_lowers_a_manifest_already_above_the_target() -> None:
    """The SBOM may come from an older build than the branch: a pin at or above the target stays."""
    bump = Bump("pypi", "werkzeug", "0.11", "0.15.3")
    assert RequirementsEditor().edit("Werkzeug==2.0.0\n", bump) is None
    assert RequirementsEditor().edit("werkzeug>=0.15.3\n", bump) is None
    assert RequirementsEditor().edit("werkzeug>=0.9,!=1.0\n", bump) == "werkzeug>=0.15.3,!=1.0\n"
    assert PyprojectEditor().edit('[tool.poetry.dependencies]\nwerkzeug = "^2.0"\n', bump) is None
    assert PyprojectEditor().edit('[project]\ndependencies = ["werkzeug==3.0.1"]\n', bump) is None
    npm = Bump("npm", "jquery", "3.3.9", "3.4.0")
    assert PackageJsonEditor().edit('{"dependencies": {"jquery": "^3.5.1"}}', npm) is None
    go = "module m\n\nrequire golang.org/x/text v0.14.0\n"
    assert GoModEditor().edit(go, Bump("golang", "golang.org/x/text", "v0.3.6", "v0.3.7")) is None
