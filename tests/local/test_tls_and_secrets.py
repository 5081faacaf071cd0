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


def test_names_under_localhost_get_a_certificate_of_their_own(tmp_path: Path) -> None:
    """The SNI callback's certificates: one per exact name a bucket could have, signed by the CA, at most ``limit``
    kept; no file is left behind; other names keep the default certificate."""
    import socket
    import ssl
    import threading

    from stratus.local.services.s3.model import valid_bucket_name
    from stratus.local.tls import NamedCertificates
    tls = ensure_tls(tmp_path / "tls")
    certs = NamedCertificates(tmp_path / "tls", valid_bucket_name, limit=3)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tls.cert_file, tls.key_file)
    server_ctx.sni_callback = certs
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            try:
                server_ctx.wrap_socket(conn, server_side=True).close()
            except (ssl.SSLError, OSError):
                conn.close()
    threading.Thread(target=serve, daemon=True).start()
    client_ctx = ssl.create_default_context(cafile=str(tls.ca_file))

    def handshake(name: str) -> x509.Certificate:
        with socket.create_connection(listener.getsockname()) as raw, \
                client_ctx.wrap_socket(raw, server_hostname=name) as s:
            der = s.getpeercert(binary_form=True)
            assert der is not None
            return x509.load_der_x509_certificate(der)
    try:
        for i in range(5):
            cert = handshake(f"bucket-{i}.localhost")
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            assert san.get_values_for_type(x509.DNSName) == [f"bucket-{i}.localhost"]
        assert len(certs._contexts) == 3  # the least recently used went
        longest = "x" * 63 + ".localhost"  # a name longer than a common name may be: in the SAN alone
        san = handshake(longest).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.DNSName) == [longest]
        assert handshake("bucket-4.localhost").serial_number == cert.serial_number  # kept, not made again
        cert = handshake("bucket-4.localhost")
        for refused in ("under_score.localhost", "example.com"):
            try:
                handshake(refused)
                raise AssertionError(f"{refused} was given a certificate")
            except ssl.SSLCertVerificationError:
                pass
    finally:
        listener.close()
    assert sorted(p.name for p in (tmp_path / "tls").iterdir()) == ["ca.key", "ca.pem", "server.key", "server.pem"]


def test_a_platform_roles_key_pair_is_the_same_after_a_restart_and_names_only_itself(tmp_path: Path) -> None:
    from stratus.local.protocols.principals import Credentials, Role
    first, again = Credentials(tmp_path), Credentials(tmp_path)
    policy = [{"Version": "2012-10-17", "Statement": []}]
    one, same = first.role("blog.photos.handlers", policy), again.role("blog.photos.handlers", policy)
    other = again.role("blog.other.handlers", policy)
    assert (one.access_key_id, one.secret_access_key) == (same.access_key_id, same.secret_access_key)
    assert other.access_key_id != one.access_key_id and other.secret_access_key != one.secret_access_key
    assert one.access_key_id.startswith("AKIA") and len(one.access_key_id) == 20
    assert again.lookup(one.access_key_id) is same and isinstance(same.principal, Role)
    assert again.lookup("blog.photos.handlers") is None  # a role's name is no key
