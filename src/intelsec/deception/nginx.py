"""Generate nginx (lua-nginx-module / OpenResty) config for canary routes with `service_beacon.lua`.

Two snippets: one for the `http {}` block (Lua path, control plane URL and the per-asset keys, so
the file is written 0600), one for the service's `server {}` block (an exact-match location per
canary route). A canary location answers like the rest of the service, either nginx's own 404 or
the upstream's (`proxy_pass` to the same upstream, which does not serve the path); the beacon fires
in the log phase, after the response is sent.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from intelsec.deception.middleware import Canary

LUA_FILE = Path(__file__).with_name("service_beacon.lua")
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@/%-]*$")


def _lua_str(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal for these values


def http_snippet(lua_dir: Path, control_plane_url: str, canaries: list[Canary]) -> str:
    if not control_plane_url.startswith("http://"):
        raise ValueError("the nginx beacon posts over plain http: give an http:// control plane URL "
                         "(a local sidecar or an internal listener)")
    keys = ",\n".join(f"            [{_lua_str(c.asset_id)}] = {_lua_str(c.key)}" for c in canaries)
    return (
        "# intelsec deception: beacon setup (holds beacon keys; keep this file 0600)\n"
        f'lua_package_path "{lua_dir}/?.lua;;";\n'
        "init_by_lua_block {\n"
        '    require("service_beacon").configure({\n'
        f"        url = {_lua_str(control_plane_url)},\n"
        f"        keys = {{\n{keys}\n        }},\n"
        "    })\n"
        "}\n"
    )


def server_snippet(canaries: list[Canary], upstream: str | None = None) -> str:
    """Exact-match locations; `upstream` (e.g. http://payments) proxies like the real routes do."""
    blocks = ["# intelsec deception: canary routes (include inside the service's server block)"]
    for c in canaries:
        if not _SAFE_PATH.match(c.route) or "{" in c.route:
            raise ValueError(f"canary route {c.route!r} of {c.asset_id} cannot be used as an nginx location")
        answer = f"proxy_pass {upstream};" if upstream and c.response == 404 else f"return {c.response};"
        blocks.append(
            f"location = {c.route} {{\n"
            f"    log_by_lua_block {{ require(\"service_beacon\").fire({_lua_str(c.asset_id)}) }}\n"
            f"    {answer}\n"
            "}"
        )
    return "\n".join(blocks) + "\n"


def write_bundle(out_dir: Path, control_plane_url: str, canaries: list[Canary], upstream: str | None) -> list[Path]:
    """Write service_beacon.lua, intelsec-beacon-http.conf (0600) and intelsec-canaries.conf."""
    import os

    out_dir.mkdir(parents=True, exist_ok=True)
    lua = out_dir / "service_beacon.lua"
    lua.write_text(LUA_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    http_conf = out_dir / "intelsec-beacon-http.conf"
    fd = os.open(http_conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(http_snippet(out_dir.resolve(), control_plane_url, canaries))
    os.chmod(http_conf, 0o600)
    server_conf = out_dir / "intelsec-canaries.conf"
    server_conf.write_text(server_snippet(canaries, upstream), encoding="utf-8")
    return [lua, http_conf, server_conf]
