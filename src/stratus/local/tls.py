"""The local certificate authority and the server certificate it signs.

On first start the data dir gets a CA (``tls/ca.pem``, key ``tls/ca.key``) and a
server certificate for ``localhost``, ``127.0.0.1`` and ``::1``. Clients trust
the CA file (``ca_file`` in endpoints.json); nothing is added to the system
trust store. Keys are written with mode 0600 and never leave the data dir.
The server certificate is renewed when it nears expiry; the CA lasts 10 years.

Virtual-hosted S3 (``https://<bucket>.localhost:PORT/<key>``) needs a certificate for each
bucket's name; a wildcard under ``localhost`` is refused by browsers (it sits right under a
top-level name). ``NamedCertificates`` makes one per name when a client first asks for it by
SNI (any name a bucket could have, so a client can create one that way too), signed by the
same CA and kept in memory.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..errors import ConfigError
from .infra.asgi import VIRTUAL_SUFFIX
from .infra.files import write_atomic
from .infra.keys import write_private


@dataclass(frozen=True)
class TlsFiles:
    ca_file: Path
    cert_file: Path
    key_file: Path
    created_ca: bool


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def ensure_tls(folder: Path, now: dt.datetime | None = None) -> TlsFiles:
    now = now or dt.datetime.now(dt.UTC)
    folder.mkdir(parents=True, exist_ok=True)
    ca_file, ca_key_file = folder / "ca.pem", folder / "ca.key"
    cert_file, key_file = folder / "server.pem", folder / "server.key"
    created = False
    if ca_file.exists() and ca_key_file.exists():
        try:
            ca = x509.load_pem_x509_certificate(ca_file.read_bytes())
            ca_key = serialization.load_pem_private_key(ca_key_file.read_bytes(), password=None)
        except (ValueError, OSError):
            raise ConfigError(f"the local CA in {folder} cannot be read (ca.pem or ca.key is damaged): remove that "
                              "folder to make a new CA, which clients then trust instead") from None
        if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
            raise ConfigError(f"{ca_key_file} is not the local CA's key: remove {folder} to make a new CA")
    else:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stratus local CA"),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "stratus")])
        ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
        ca = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(ca_key.public_key())
              .serial_number(x509.random_serial_number())
              .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=3650))
              .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
              .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                           content_commitment=False, key_encipherment=False, data_encipherment=False,
                                           key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
              .add_extension(ski, critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
              .sign(ca_key, hashes.SHA256()))
        write_private(ca_key_file, _pem_key(ca_key))
        write_atomic(ca_file, ca.public_bytes(serialization.Encoding.PEM))  # whole or not at all, as the key
        created = True
    if created or not _leaf_ok(cert_file, key_file, ca, now):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _leaf(ca, ca_key, key, [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                       x509.IPAddress(ipaddress.ip_address("::1"))], now)
        write_private(key_file, _pem_key(key))
        write_atomic(cert_file, cert.public_bytes(serialization.Encoding.PEM))
    return TlsFiles(ca_file, cert_file, key_file, created)


def _leaf_ok(cert_file: Path, key_file: Path, ca: x509.Certificate, now: dt.datetime) -> bool:
    if not (cert_file.exists() and key_file.exists()):
        return False
    try:
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    except (ValueError, TypeError, OSError):  # damaged (or not a file): made again
        return False
    if key.public_key() != cert.public_key():  # a key that is not the certificate's: made again
        return False
    return cert.issuer == ca.subject and cert.not_valid_after_utc - now > dt.timedelta(days=30)


def _leaf(ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, key: ec.EllipticCurvePrivateKey,
          names: list[x509.GeneralName], now: dt.datetime) -> x509.Certificate:
    """A server certificate for ``names`` (the first names its subject), signed by the local CA."""
    first = str(names[0].value)
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    # the subject names the first name when it fits a common name (64 characters); the SAN is what clients check
    subject = [x509.NameAttribute(NameOID.COMMON_NAME, first)] if len(first) <= 64 else []
    return (x509.CertificateBuilder()
            .subject_name(x509.Name(subject))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=397))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(names), critical=not subject)  # RFC 5280, 4.2.1.6
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False),
                           critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
            .sign(ca_key, hashes.SHA256()))


class NamedCertificates:
    """The server's SNI callback: a client asking for ``<bucket>.localhost`` gets a certificate for that name.

    Only names a bucket could have (``wanted``) get one; any other name gets the default certificate, which the
    client then refuses, as it would a wrong host. At most ``limit`` are kept (the least recently used goes), so
    a client naming endless buckets costs a signature each, never memory.
    """

    def __init__(self, folder: Path, wanted: Callable[[str], bool], limit: int = 256) -> None:
        self._folder = folder
        self._ca = x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes())
        ca_key = serialization.load_pem_private_key((folder / "ca.key").read_bytes(), password=None)
        assert isinstance(ca_key, ec.EllipticCurvePrivateKey)  # ensure_tls checked it
        self._ca_key = ca_key
        self._key = ec.generate_private_key(ec.SECP256R1())  # one key for every name, in memory only
        self._wanted = wanted
        self._limit = limit
        self._contexts: OrderedDict[str, ssl.SSLContext] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, conn: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _: ssl.SSLContext) -> None:
        name = (server_name or "").lower().rstrip(".")
        if not name.endswith(VIRTUAL_SUFFIX) or not self._wanted(name[:-len(VIRTUAL_SUFFIX)]):
            return
        conn.context = self.context(name)

    def context(self, name: str) -> ssl.SSLContext:
        with self._lock:
            ctx = self._contexts.get(name)
            if ctx is not None:
                self._contexts.move_to_end(name)
                return ctx
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert = _leaf(self._ca, self._ca_key, self._key, [x509.DNSName(name)], dt.datetime.now(dt.UTC))
        # the ssl module loads a chain from files only: a private file in the private tls folder, gone once read
        fd, tmp = tempfile.mkstemp(dir=self._folder, suffix=".pem")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(cert.public_bytes(serialization.Encoding.PEM) + _pem_key(self._key))
            ctx.load_cert_chain(tmp)
        finally:
            os.unlink(tmp)
        with self._lock:
            self._contexts[name] = ctx
            while len(self._contexts) > self._limit:
                self._contexts.popitem(last=False)
        return ctx
