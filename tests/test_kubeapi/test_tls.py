"""The server's certificates pass strict X.509 verification (Python 3.13's default).

Python 3.13's ssl.create_default_context() sets VERIFY_X509_STRICT, which
refuses a CA without a Subject Key Identifier and certificates without an
Authority Key Identifier. It is set explicitly here so that Python 3.11 checks
the same.
"""

import http.client
import json
import socket
import ssl
import threading

from cryptography import x509


def strict_client_context(api):
    ctx = ssl.create_default_context(cafile=api.credentials.ca_path)
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    return ctx


def get(api, ctx, path, headers=None):
    conn = http.client.HTTPSConnection("127.0.0.1", api.port, context=ctx, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_server_certificate_passes_strict_verification(api):
    ctx = strict_client_context(api)
    assert ctx.verify_flags & ssl.VERIFY_X509_STRICT
    status, body = get(api, ctx, "/api/v1/namespaces",
                       {"Authorization": f"Bearer {api.admin_token}"})
    assert status == 200
    assert "default" in [ns["metadata"]["name"] for ns in body["items"]]


def test_client_certificate_passes_strict_verification(api, tmp_path):
    cert, key = api.credentials.client_cert("bob", ["system:masters"])
    (tmp_path / "bob.crt").write_bytes(cert)
    (tmp_path / "bob.key").write_bytes(key)
    # the API server accepts it, over a strictly verified connection
    ctx = strict_client_context(api)
    ctx.load_cert_chain(str(tmp_path / "bob.crt"), str(tmp_path / "bob.key"))
    status, body = get(api, ctx, "/api/v1/namespaces")
    assert status == 200, body
    # and a TLS server that verifies client certificates strictly accepts it too
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(api.credentials.server_cert_path, api.credentials.server_key_path)
    server_ctx.load_verify_locations(api.credentials.ca_path)
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    server_ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    ours, theirs = socket.socketpair()
    seen = {}

    def serve():
        try:
            with server_ctx.wrap_socket(theirs, server_side=True) as tls:
                seen["peer"] = tls.getpeercert()
                tls.sendall(b"ok")
        except (ssl.SSLError, OSError) as exc:
            seen["error"] = exc

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with ctx.wrap_socket(ours, server_hostname="kubernetes") as tls:
            tls.settimeout(10)
            tls.recv(2)
    except (ssl.SSLError, OSError):
        pass    # the server side's error says why
    thread.join(10)
    assert "error" not in seen, seen["error"]
    assert dict(x[0] for x in seen["peer"]["subject"])["commonName"] == "bob"


def test_leaf_certificates_name_the_ca_key(api):
    with open(api.credentials.ca_path, "rb") as pem:
        ca = x509.load_pem_x509_certificate(pem.read())
    with open(api.credentials.server_cert_path, "rb") as pem:
        server = x509.load_pem_x509_certificate(pem.read())
    client = x509.load_pem_x509_certificate(api.credentials.client_cert("bob")[0])
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ca_ski == x509.SubjectKeyIdentifier.from_public_key(ca.public_key())
    for leaf in (server, client):
        aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        assert aki.key_identifier == ca_ski.digest
        ski = leaf.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        assert ski == x509.SubjectKeyIdentifier.from_public_key(leaf.public_key())
