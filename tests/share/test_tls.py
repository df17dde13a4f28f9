"""`accord serve --tls-cert/--tls-key`: a peer that trusts the certificate syncs over HTTPS,
one that does not refuses to talk."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from accord.model.tlp import TLP
from accord.share.auth import create_token
from accord.share.client import RetryPolicy
from accord.share.peers import save_peer
from accord.share.serving import ServerThread
from accord.share.sync import sync_peer
from tests.share.helpers import indicator, make_node, offer


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "tls.crt", folder / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_sync_over_tls(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server_node, client_node = make_node(tmp_path, "TLS Server"), make_node(tmp_path, "TLS Client")
    with server_node.open_store() as sstore, client_node.open_store() as cstore:
        obj = indicator(1, TLP.GREEN)
        sstore.put_objects([obj], "file", "f.json")
        offer(sstore, "client", private_key=server_node.private_key())
        token = create_token(sstore, "client")
        with ServerThread(server_node, sstore, tls_cert=cert, tls_key=key) as server:
            assert server.discovery.startswith("https://")
            save_peer(
                cstore, client_node.private_key(), "untrusting", server.discovery, token=token
            )
            refused = sync_peer(
                client_node,
                cstore,
                "untrusting",
                retry=RetryPolicy(attempts=1),
                sleep=lambda _s: None,
            )
            assert refused.error and "CERTIFICATE_VERIFY_FAILED" in refused.error
            save_peer(
                cstore,
                client_node.private_key(),
                "server",
                server.discovery,
                token=token,
                ca_cert=str(cert),
            )
            report = sync_peer(client_node, cstore, "server")
            assert report.error is None, report.error
        assert cstore.get(obj["id"]) == obj
