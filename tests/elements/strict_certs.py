"""Certificates for tests/kubeapi that Python 3.13's TLS verification accepts.

Python 3.13 (Debian 13's python, so the image tools/build-image makes) turns
on VERIFY_X509_STRICT, which rejects a chain whose certificates have no key
identifiers, as tests/kubeapi's have. Real clusters' certificates (kubeadm's)
carry them. This re-signs the test server's CA and server certificate with
the same keys, names and extensions, plus Subject/Authority Key Identifiers.
"""

import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from tests.kubeapi import ADMIN, KubeAPI
from tests.kubeapi.auth import Credentials


def _resign(cert, public_key, issuer_cert, issuer_key, issuer_public_key):
    builder = (x509.CertificateBuilder().subject_name(cert.subject)
               .issuer_name(issuer_cert.subject).public_key(public_key)
               .serial_number(cert.serial_number)
               .not_valid_before(cert.not_valid_before_utc)
               .not_valid_after(cert.not_valid_after_utc))
    for extension in cert.extensions:
        builder = builder.add_extension(extension.value, extension.critical)
    builder = builder.add_extension(
        x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public_key), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


class StrictCredentials(Credentials):
    def __init__(self, directory):
        super().__init__(directory)
        ca_public = self.ca_key.public_key()
        self.ca_cert = _resign(self.ca_cert, ca_public, self.ca_cert, self.ca_key, ca_public)
        self._write("ca.crt", self.ca_cert.public_bytes(serialization.Encoding.PEM))
        with open(self.server_cert_path, "rb") as pem:
            server = x509.load_pem_x509_certificate(pem.read())
        server = _resign(server, server.public_key(), self.ca_cert, self.ca_key, ca_public)
        self._write("server.crt", server.public_bytes(serialization.Encoding.PEM))


def strict_kubeapi() -> KubeAPI:
    """A KubeAPI (not started yet: `with` starts it) whose certificates
    carry key identifiers."""
    api = KubeAPI()
    api.credentials = StrictCredentials(os.path.join(api.directory, "pki"))
    api.admin_token = api.authenticator.new_token(ADMIN, ["system:masters"])
    return api
