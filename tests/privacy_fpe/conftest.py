"""Fixtures: a real moto KMS server process and a real SoftHSM2 token, both local to the test run."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
HSM_PIN = "4321"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def moto_kms(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a `moto_server` process on 127.0.0.1 (an emulated AWS KMS: the real one is not reachable here)."""
    exe = shutil.which("moto_server")
    if exe is None:
        pytest.skip("moto_server not installed (pip install 'moto[server]')")
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(port)], stdout=fh, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"moto_server exited: {log.read_text()[-2000:]}")
                time.sleep(0.2)
        else:
            pytest.fail("moto_server did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def kms_key(moto_kms: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh symmetric KMS key id on the moto server (dummy credentials, local endpoint only)."""
    import boto3

    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    kms = boto3.client("kms", region_name="us-east-1", endpoint_url=moto_kms)
    return str(kms.create_key(Description="intelsec test")["KeyMetadata"]["KeyId"])


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Label of an initialised SoftHSM2 token (Debian softhsm2); the PIN is in INTELSEC_PKCS11_PIN."""
    if not (shutil.which("softhsm2-util") and Path(SOFTHSM_MODULE).exists()):
        if os.environ.get("CI"):
            pytest.fail("softhsm2 missing: CI must install Debian's softhsm2")
        pytest.skip("softhsm2 not installed (apt-get install softhsm2)")
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    os.environ["INTELSEC_PKCS11_PIN"] = HSM_PIN
    label = f"intelsec-{os.getpid()}"
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", HSM_PIN,
                    "--so-pin", "87654321"], check=True, capture_output=True, env=os.environ.copy())
    yield label


@pytest.fixture
def master_key(monkeypatch: pytest.MonkeyPatch) -> str:
    key = "11" * 32
    monkeypatch.setenv("INTELSEC_MASTER_KEY", key)
    return key


def pytest_configure(config: pytest.Config) -> None:
    sys.dont_write_bytecode = True
