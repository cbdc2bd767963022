"""A throwaway PostgreSQL server for the test suite (Debian's postgresql binaries).

Started once per test process (xdist worker), listening on 127.0.0.1 on a free port, with
`log_connections` and jsonlog/csvlog so deception tests can watch login attempts. The superuser
`postgres` connects without a password; every other role needs scram-sha-256 passwords, so
credential tests exercise real authentication.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path


def find_bindir() -> Path | None:
    env = os.environ.get("INTELSEC_PG_BINDIR")
    candidates = [env] if env else sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for c in candidates:
        if c and Path(c, "initdb").exists() and Path(c, "pg_ctl").exists():
            return Path(c)
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    superuser = "postgres"

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.base = Path(tempfile.mkdtemp(prefix="intelsec-pg-"))
        self.datadir = self.base / "data"
        self.log_dir = self.base / "log"
        self.port = free_port()
        self._as_postgres = os.geteuid() == 0

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        self.log_dir.mkdir(parents=True)
        if self._as_postgres:
            shutil.chown(self.base, "postgres", "postgres")
            shutil.chown(self.log_dir, "postgres", "postgres")
            os.chmod(self.base, 0o755)
        self._run(str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", self.superuser,
                  "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync")
        hba = self.datadir / "pg_hba.conf"
        hba.write_text(
            "local all all trust\n"
            "host all postgres 127.0.0.1/32 trust\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
        )
        conf = self.datadir / "postgresql.conf"
        with conf.open("a") as fh:
            fh.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.base}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                "max_connections = 200\nshared_buffers = 32MB\n"
                "logging_collector = on\nlog_destination = 'jsonlog,csvlog,stderr'\n"
                f"log_directory = '{self.log_dir}'\nlog_filename = 'postgresql.log'\n"
                "log_connections = on\nlog_disconnections = off\nlog_file_mode = 0644\n"
                "password_encryption = 'scram-sha-256'\n"
            )
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-w", "-t", "60",
                  "-l", str(self.base / "server.out"), "start")
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        raise RuntimeError("PostgreSQL did not start")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.base, ignore_errors=True)

    def url(self, database: str = "postgres", user: str | None = None, password: str | None = None) -> str:
        cred = user or self.superuser
        if password:
            cred += f":{password}"
        return f"postgresql+psycopg://{cred}@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "t") -> str:
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def json_log(self) -> Path:
        return self.log_dir / "postgresql.json"

    def csv_log(self) -> Path:
        return self.log_dir / "postgresql.csv"
