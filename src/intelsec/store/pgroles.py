"""PostgreSQL role helpers shared by capabilities that create login roles (broker, honey users)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets


def scram_verifier(password: str, iterations: int = 4096, salt: bytes | None = None) -> str:
    """The `SCRAM-SHA-256$...` string PostgreSQL stores for `password`, computed client-side
    (RFC 5802/7677), so the plaintext never travels in SQL or lands in server logs."""
    salt = salt or secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = base64.b64encode
    return f"SCRAM-SHA-256${iterations}:{b64(salt).decode()}${b64(stored_key).decode()}:{b64(server_key).decode()}"
