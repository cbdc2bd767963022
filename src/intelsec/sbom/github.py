"""A small GitHub REST client (issues, pull requests) with timeouts and rate-limit handling.

Endpoints used, as documented at https://docs.github.com/en/rest: GET /repos/{o}/{r};
GET/POST /repos/{o}/{r}/issues; PATCH /repos/{o}/{r}/issues/{n}; POST /repos/{o}/{r}/issues/{n}/comments;
GET/POST /repos/{o}/{r}/pulls; PATCH /repos/{o}/{r}/pulls/{n}. Pagination follows the `Link` header.
The token is sent as a bearer token and never appears in errors or logs.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from intelsec.errors import ConfigError, IntelsecError

API_URL = "https://api.github.com"
_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


class GitHubError(IntelsecError):
    """The GitHub API refused a request (message says which and why, never the token)."""


class GitHub:
    def __init__(self, repo: str, token: str | None = None, base_url: str | None = None, timeout: float = 15.0,
                 max_wait: float = 120.0, sleep: Callable[[float], None] = time.sleep,
                 transport: httpx.BaseTransport | None = None) -> None:
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
            raise ConfigError(f"--github {repo!r}: expected OWNER/REPO")
        token = token or os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN")
        if not token:
            raise ConfigError("GitHub token missing: set GITHUB_TOKEN (needs issues and pull-requests write)")
        token = token.strip()
        if not re.fullmatch(r"[\x21-\x7e]+", token):  # the HTTP library would quote it in its error
            raise ConfigError("GitHub token has characters an HTTP header cannot carry (check GITHUB_TOKEN)")
        self.repo = repo
        self.max_wait = max_wait
        self.sleep = sleep
        self.requests = 0
        self._client = httpx.Client(
            base_url=(base_url or os.environ.get("GITHUB_API_URL") or API_URL).rstrip("/"),
            timeout=httpx.Timeout(timeout), transport=transport,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
                     "X-GitHub-Api-Version": "2022-11-28", "User-Agent": "intelsec-sbom"})

    def __repr__(self) -> str:
        return f"GitHub(repo={self.repo!r})"

    def close(self) -> None:
        self._client.close()

    def _wait_for(self, resp: httpx.Response) -> float | None:
        """Seconds to wait before retrying a rate-limited response, None if it is not one."""
        if resp.status_code not in (403, 429):
            return None
        if "retry-after" in resp.headers:
            try:
                return float(resp.headers["retry-after"])
            except ValueError:
                return 60.0
        if resp.headers.get("x-ratelimit-remaining") == "0":
            try:
                reset = float(resp.headers.get("x-ratelimit-reset", ""))
            except ValueError:
                return 60.0
            return max(1.0, reset - time.time())
        return None

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        for attempt in range(4):
            try:
                resp = self._client.request(method, url, **kwargs)
            except httpx.HTTPError as exc:
                why = str(exc).replace(self._client.headers["authorization"].removeprefix("Bearer "), "***")
                raise GitHubError(f"GitHub {method} {url}: {type(exc).__name__}: {why}") from None
            self.requests += 1
            wait = self._wait_for(resp)
            if wait is None:
                break
            if wait > self.max_wait or attempt == 3:
                raise GitHubError(f"GitHub rate limit: {method} {url} would need a {wait:.0f}s wait; try later")
            self.sleep(wait)
        if resp.status_code >= 400:
            try:
                doc = resp.json()
                msg = str(doc.get("message", "")) if isinstance(doc, dict) else ""
            except ValueError:
                msg = resp.text[:200]
            raise GitHubError(f"GitHub {method} {url}: HTTP {resp.status_code} {msg}".strip())
        try:
            resp.json()  # every REST answer is JSON; anything else is a proxy or a wrong --api-url
        except ValueError:
            raise GitHubError(f"GitHub {method} {url}: HTTP {resp.status_code} but not JSON "
                              "(check --api-url / GITHUB_API_URL)") from None
        return resp

    def paginate(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        url: str | None = path
        query: dict[str, Any] | None = {**params, "per_page": 100}
        while url:
            resp = self.request("GET", url, params=query)
            yield from resp.json()
            m = _NEXT.search(resp.headers.get("link", ""))
            url, query = (m.group(1), None) if m else (None, None)

    # --- the endpoints -------------------------------------------------------------------------
    def default_branch(self) -> str:
        return str(self.request("GET", f"/repos/{self.repo}").json().get("default_branch") or "main")

    def open_issues(self, label: str) -> list[dict[str, Any]]:
        items = self.paginate(f"/repos/{self.repo}/issues", {"state": "open", "labels": label})
        return [i for i in items if "pull_request" not in i]  # the issues list includes PRs

    def create_issue(self, title: str, body: str, labels: list[str]) -> dict[str, Any]:
        return dict(self.request("POST", f"/repos/{self.repo}/issues",
                                 json={"title": title, "body": body, "labels": labels}).json())

    def update_issue(self, number: int, **fields: Any) -> dict[str, Any]:
        return dict(self.request("PATCH", f"/repos/{self.repo}/issues/{number}", json=fields).json())

    def comment(self, number: int, body: str) -> None:
        self.request("POST", f"/repos/{self.repo}/issues/{number}/comments", json={"body": body})

    def open_pulls(self) -> list[dict[str, Any]]:
        return list(self.paginate(f"/repos/{self.repo}/pulls", {"state": "open"}))

    def create_pull(self, title: str, head: str, base: str, body: str) -> dict[str, Any]:
        return dict(self.request("POST", f"/repos/{self.repo}/pulls",
                                 json={"title": title, "head": head, "base": base, "body": body}).json())

    def update_pull(self, number: int, **fields: Any) -> dict[str, Any]:
        return dict(self.request("PATCH", f"/repos/{self.repo}/pulls/{number}", json=fields).json())
