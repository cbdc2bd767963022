"""A local stand-in for the GitHub REST API, serving only the endpoints the PR bot calls, with the
request and response shapes documented at https://docs.github.com/en/rest (issues, pulls,
comments, repository), bearer-token auth, `Link` pagination, rate-limit headers, and 422 for a PR
whose head branch does not exist in the backing bare git repository."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse


class GitHubState:
    def __init__(self, owner_repo: str, token: str, bare_repo: Path | None, default_branch: str = "main") -> None:
        self.repo = owner_repo
        self.token = token
        self.bare = bare_repo
        self.default_branch = default_branch
        self.issues: list[dict[str, Any]] = []  # issues and PRs share numbers, as on GitHub
        self.comments: dict[int, list[str]] = {}
        self.log: list[tuple[str, str]] = []
        self.rate_limited = 0  # answer this many requests with a primary rate-limit 403
        self.lock = threading.Lock()

    def next_number(self) -> int:
        return len(self.issues) + 1

    def branch_exists(self, name: str) -> bool:
        if self.bare is None:
            return True
        return subprocess.run(["git", "rev-parse", "--verify", "-q", f"refs/heads/{name}"], cwd=self.bare,
                              capture_output=True).returncode == 0


def _handler(state: GitHubState) -> type[BaseHTTPRequestHandler]:
    prefix = f"/repos/{state.repo}"

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            for k, v in {"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "4999", **(headers or {})}.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(raw)

        def _body(self) -> dict[str, Any]:
            n = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(n) or b"{}")

        def _guard(self) -> bool:
            if self.headers.get("Authorization") != f"Bearer {state.token}":
                self._send(401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
                return False
            if state.rate_limited > 0:
                state.rate_limited -= 1
                self._send(403, {"message": "API rate limit exceeded"}, {
                    "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()) + 1)})
                return False
            return True

        def _page(self, items: list[dict[str, Any]], query: dict[str, list[str]], path: str) -> None:
            per = int(query.get("per_page", ["30"])[0])
            page = int(query.get("page", ["1"])[0])
            chunk = items[(page - 1) * per: page * per]
            headers = {}
            if page * per < len(items):
                host = self.headers.get("Host")
                rest = "&".join(f"{k}={v[0]}" for k, v in query.items() if k != "page")
                headers["Link"] = f'<http://{host}{path}?{rest}&page={page + 1}>; rel="next"'
            self._send(200, chunk, headers)

        def do_GET(self) -> None:  # noqa: N802
            url = urlparse(self.path)
            q = parse_qs(url.query)
            with state.lock:
                state.log.append(("GET", url.path))
                if not self._guard():
                    return
                if url.path == prefix:
                    self._send(200, {"full_name": state.repo, "default_branch": state.default_branch})
                elif url.path == f"{prefix}/issues":
                    want = q.get("state", ["open"])[0]
                    labels = set(q["labels"][0].split(",")) if "labels" in q else set()
                    items = [i for i in state.issues if (want == "all" or i["state"] == want)
                             and labels <= {lab["name"] for lab in i["labels"]}]
                    self._page(items, q, url.path)
                elif url.path == f"{prefix}/pulls":
                    want = q.get("state", ["open"])[0]
                    items = [i["_pr"] for i in state.issues if "_pr" in i and (want == "all" or i["state"] == want)]
                    self._page(items, q, url.path)
                else:
                    self._send(404, {"message": "Not Found"})

        def do_POST(self) -> None:  # noqa: N802
            path = urlparse(self.path).path
            with state.lock:
                state.log.append(("POST", path))
                if not self._guard():
                    return
                body = self._body()
                if path == f"{prefix}/issues":
                    if not body.get("title"):
                        self._send(422, {"message": "Validation Failed", "errors": [{"field": "title"}]})
                        return
                    n = state.next_number()
                    issue = {"number": n, "title": body["title"], "body": body.get("body"), "state": "open",
                             "labels": [{"name": x} for x in body.get("labels", [])],
                             "html_url": f"https://github.com/{state.repo}/issues/{n}"}
                    state.issues.append(issue)
                    self._send(201, issue)
                elif (m := re.fullmatch(prefix + r"/issues/(\d+)/comments", path)):
                    state.comments.setdefault(int(m.group(1)), []).append(body.get("body", ""))
                    self._send(201, {"id": len(state.comments), "body": body.get("body")})
                elif path == f"{prefix}/pulls":
                    head = str(body.get("head", "")).split(":")[-1]
                    if not state.branch_exists(head):
                        self._send(422, {"message": "Validation Failed",
                                         "errors": [{"resource": "PullRequest", "field": "head", "code": "invalid"}]})
                        return
                    n = state.next_number()
                    pr = {"number": n, "title": body.get("title"), "body": body.get("body"), "state": "open",
                          "head": {"ref": head}, "base": {"ref": body.get("base")}}
                    state.issues.append({"number": n, "title": pr["title"], "body": pr["body"], "state": "open",
                                         "labels": [], "pull_request": {"url": "..."}, "_pr": pr})
                    self._send(201, pr)
                else:
                    self._send(404, {"message": "Not Found"})

        def do_PATCH(self) -> None:  # noqa: N802
            path = urlparse(self.path).path
            with state.lock:
                state.log.append(("PATCH", path))
                if not self._guard():
                    return
                body = self._body()
                m = re.fullmatch(prefix + r"/(issues|pulls)/(\d+)", path)
                item = next((i for i in state.issues if m and i["number"] == int(m.group(2))), None)
                if item is None:
                    self._send(404, {"message": "Not Found"})
                    return
                target = item["_pr"] if m and m.group(1) == "pulls" else item
                for key in ("title", "body", "state"):
                    if key in body:
                        target[key] = body[key]
                        if target is not item:
                            item[key] = body[key]
                self._send(200, {k: v for k, v in target.items() if k != "_pr"})

    return Handler


class GitHubEmulator:
    def __init__(self, state: GitHubState) -> None:
        self.state = state
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> GitHubEmulator:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
