"""TLS material, users and a small authorizer.

Certificates are made with the `cryptography` package (EC P-256 keys: fast to
generate). Users come from bearer tokens or from client certificates (CN = user,
O = groups). A user either may do everything or is limited to some namespaces;
anything else gets 403 with the API server's message.
"""

import datetime
import ipaddress
import os
import secrets
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID


@dataclass
class User:
    name: str
    groups: list = field(default_factory=list)
    namespaces: tuple = None      # None: everything allowed


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _pem_cert(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def _name(cn, orgs=()):
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _builder(subject, issuer, public_key, issuer_public_key=None):
    """A certificate with key identifiers, as kubeadm's are: strict X.509 verification
    (Python 3.13's default) wants a Subject Key Identifier on the CA and an Authority Key
    Identifier on what it signs. issuer_public_key: None for a self-signed CA."""
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
               .public_key(public_key).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=2))
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))
    if issuer_public_key is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public_key), critical=False)
    return builder


class Credentials:
    """A CA, the server's certificate, and client certificates it issues."""

    def __init__(self, directory):
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        self.ca_key = _key()
        ca_name = _name("kubeapi-test-ca")
        self.ca_cert = (_builder(ca_name, ca_name, self.ca_key.public_key())
                        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                                     crl_sign=True, content_commitment=False,
                                                     key_encipherment=False, data_encipherment=False,
                                                     key_agreement=False, encipher_only=False,
                                                     decipher_only=False), critical=True)
                        .sign(self.ca_key, hashes.SHA256()))
        self.ca_path = self._write("ca.crt", _pem_cert(self.ca_cert))
        server_key = _key()
        server_cert = (_builder(_name("kube-apiserver"), ca_name, server_key.public_key(),
                                self.ca_key.public_key())
                       .add_extension(x509.SubjectAlternativeName([
                           x509.DNSName("localhost"), x509.DNSName("kubernetes"),
                           x509.DNSName("kubernetes.default.svc"),
                           x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
                       .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                                      critical=False)
                       .sign(self.ca_key, hashes.SHA256()))
        self.server_cert_path = self._write("server.crt", _pem_cert(server_cert))
        self.server_key_path = self._write("server.key", _pem_key(server_key))

    def _write(self, name, data):
        path = os.path.join(self.directory, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return path

    def client_cert(self, user, groups=()):
        """PEM (cert, key) bytes for a client certificate naming user and groups."""
        key = _key()
        cert = (_builder(_name(user, groups), self.ca_cert.subject, key.public_key(),
                         self.ca_key.public_key())
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
                               critical=False)
                .sign(self.ca_key, hashes.SHA256()))
        return _pem_cert(cert), _pem_key(key)


class Authenticator:
    def __init__(self):
        self.tokens = {}          # token -> User
        self.cert_users = {}      # CN -> User (namespaces limits for cert users)

    def new_token(self, user, groups=(), namespaces=None):
        token = secrets.token_hex(16)
        self.tokens[token] = User(user, list(groups), tuple(namespaces) if namespaces else None)
        return token

    def from_token(self, token):
        return self.tokens.get(token)

    def from_cert(self, peercert):
        subject = dict(x[0] for x in peercert.get("subject", ()))
        cn = subject.get("commonName")
        if not cn:
            return None
        groups = [v for rdn in peercert.get("subject", ()) for k, v in rdn if k == "organizationName"]
        known = self.cert_users.get(cn)
        return User(cn, groups, known.namespaces if known else None)


def authorize(user, verb, res, namespace, name, subresource):
    """None when allowed, else the 403 message."""
    if user.namespaces is None or "system:masters" in user.groups:
        return None
    if res is None:
        return None             # discovery and OpenAPI are open to every authenticated user
    if res.namespaced and namespace in user.namespaces:
        return None
    resource = res.plural + (f"/{subresource}" if subresource else "")
    target = f'{res.qualified} "{name}"' if name else res.qualified
    where = f'in the namespace "{namespace}"' if res.namespaced and namespace else "at the cluster scope"
    return (f'{target} is forbidden: User "{user.name}" cannot {verb} resource "{resource}" '
            f'in API group "{res.group}" {where}')
