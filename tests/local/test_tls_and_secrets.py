"""The local CA and server certificate; secrets at rest."""

from __future__ import annotations

import datetime as dt
import ipaddress
import sqlite3
from pathlib import Path

from cryptography import x509

from stratus.clock import ManualClock
from stratus.graph import UserPool
from stratus.local.services.cognito_idp.model import UserPoolService, UserPoolStore
from stratus.local.services.ses.mailers import OutboxMailer
from stratus.local.tls import ensure_tls


def test_ca_and_server_certificate(tmp_path: Path) -> None:
    files = ensure_tls(tmp_path)
    assert files.created_ca
    ca = x509.load_pem_x509_certificate(files.ca_file.read_bytes())
    leaf = x509.load_pem_x509_certificate(files.cert_file.read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    leaf.verify_directly_issued_by(ca)
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert set(san.get_values_for_type(x509.IPAddress)) == {ipaddress.ip_address("127.0.0.1"),
                                                             ipaddress.ip_address("::1")}
    again = ensure_tls(tmp_path)  # a restart keeps both
    assert not again.created_ca and again.cert_file.read_bytes() == files.cert_file.read_bytes()


def test_server_certificate_is_renewed_near_expiry(tmp_path: Path) -> None:
    ensure_tls(tmp_path)
    ca_before = (tmp_path / "ca.pem").read_bytes()
    leaf_before = (tmp_path / "server.pem").read_bytes()
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=380)
    ensure_tls(tmp_path, now=later)
    assert (tmp_path / "ca.pem").read_bytes() == ca_before
    leaf = x509.load_pem_x509_certificate((tmp_path / "server.pem").read_bytes())
    assert (tmp_path / "server.pem").read_bytes() != leaf_before and leaf.not_valid_after_utc > later


def test_passwords_are_stored_as_argon2id(tmp_path: Path) -> None:
    pool = UserPoolService("app", UserPool("users"), UserPoolStore(tmp_path / "u.db"), tmp_path / "keys",
                           OutboxMailer(tmp_path / "outbox"), ManualClock(), "https://127.0.0.1:1", "us-east-1")
    pool.sign_up(next(iter(pool.client_ids)), "pw@example.com", "Secret-Passw0rd", {})
    (stored,) = sqlite3.connect(tmp_path / "u.db").execute("SELECT password FROM users").fetchone()
    assert stored.startswith("$argon2id$") and "Secret-Passw0rd" not in stored
    assert b"Secret-Passw0rd" not in (tmp_path / "u.db").read_bytes()


def test_a_damaged_server_key_is_made_again_and_a_damaged_ca_is_named(tmp_path: Path) -> None:
    import pytest

    from stratus.errors import ConfigError
    first = ensure_tls(tmp_path)
    first.key_file.write_bytes(first.key_file.read_bytes()[:40])  # cut short, as a killed write would
    again = ensure_tls(tmp_path)
    assert not again.created_ca and x509.load_pem_x509_certificate(again.cert_file.read_bytes())
    import ssl
    ssl.create_default_context().load_cert_chain(again.cert_file, again.key_file)  # the pair matches
    (tmp_path / "ca.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nnot one\n")
    with pytest.raises(ConfigError, match="the local CA in .* cannot be read"):
        ensure_tls(tmp_path)
