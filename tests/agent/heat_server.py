"""A real HTTP server on 127.0.0.1 that plays Heat's side of every signal
transport heat-config-notify speaks, and serves metadata to os-collect-config.

It records every request (method, path, headers, body) so tests can assert
what Heat would have received. Only the API surface the real clients use is
served; anything else answers 404 and is recorded too, so a surprise shows.

- CFN_SIGNAL: POST to a pre-signed URL        -> /cfn/...
- TEMP_URL_SIGNAL: PUT to a Swift temp URL     -> /swift/...
- HEAT_SIGNAL: keystone v3 token (with a catalog) -> /identity/v3/auth/tokens,
  then heatclient's POST .../stacks/<stack>/resources/<name>/signal -> /heat/v1/...
- ZAQAR_SIGNAL: keystone, then zaqarclient v1.1 queue create + message post -> /zaqar/...
- metadata for os-collect-config's `request` collector -> /metadata
"""

import dataclasses
import email.utils
import http.server
import json
import threading
import time
import uuid

TOKEN_HEADER = "X-Subject-Token"


@dataclasses.dataclass
class Request:
    method: str
    path: str
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body.decode("utf-8"))


class HeatServer:
    def __init__(self):
        self.requests = []
        self.metadata = {}
        self.metadata_modified = time.time()
        self.token = uuid.uuid4().hex
        self._lock = threading.Lock()
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._httpd.shutdown()
        self._httpd.server_close()

    # What the tests read -------------------------------------------------

    def record(self, request):
        with self._lock:
            self.requests.append(request)

    def signals(self):
        """Requests that carry a deployment's signal to Heat, in arrival order."""
        with self._lock:
            found = []
            for r in self.requests:
                path = r.path.split("?", 1)[0]
                if (r.method, path.split("/")[1]) == ("PUT", "swift") or (
                        r.method == "POST" and (
                            path.startswith("/cfn/")
                            or (path.startswith("/heat/") and path.endswith("/signal"))
                            or (path.startswith("/zaqar/") and path.endswith("/messages")))):
                    found.append(r)
            return found

    def set_metadata(self, metadata: dict):
        self.metadata = metadata
        # os-collect-config's request collector compares Last-Modified at
        # one-second resolution: make every change visible to it.
        self.metadata_modified = max(time.time(), self.metadata_modified + 1)

    # URLs tests hand to deployments ----------------------------------------

    def cfn_url(self, key):
        return (f"{self.url}/cfn/v1/signal/{key}"
                "?Timestamp=2026-11-20T10%3A00%3A00Z&Signature=c2lnbmF0dXJl")

    def temp_url(self, key):
        return (f"{self.url}/swift/v1/AUTH_p/heat-signal/{key}"
                "?temp_url_sig=3f2e&temp_url_expires=2147483647")

    @property
    def auth_url(self):
        return f"{self.url}/identity/v3"

    # Responses ---------------------------------------------------------------

    def token_body(self, project_id):
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
        later = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(time.time() + 3600))

        def service(kind, name, url):
            return {"type": kind, "name": name, "id": uuid.uuid4().hex, "endpoints": [
                {"id": uuid.uuid4().hex, "interface": interface, "region": "RegionOne",
                 "region_id": "RegionOne", "url": url}
                for interface in ("public", "internal", "admin")]}

        return {"token": {
            "methods": ["password"], "issued_at": now, "expires_at": later,
            "user": {"id": "0123456789abcdef0123456789abcdef", "name": "deploy-user",
                     "domain": {"id": "default", "name": "Default"}},
            "project": {"id": project_id, "name": "deploy-project",
                        "domain": {"id": "default", "name": "Default"}},
            "roles": [{"id": "r1", "name": "heat_stack_user"}],
            "catalog": [
                service("identity", "keystone", f"{self.url}/identity/v3"),
                service("orchestration", "heat", f"{self.url}/heat/v1/{project_id}"),
                service("messaging", "zaqar", f"{self.url}/zaqar"),
            ],
        }}


def _handler(server: HeatServer):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep pytest output clean
            pass

        def _read(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Request(self.command, self.path, dict(self.headers.items()), body)
            server.record(request)
            return request

        def _send(self, status, body=None, headers=None, head_only=False):
            data = b"" if body is None else (
                body if isinstance(body, bytes) else json.dumps(body).encode())
            self.send_response(status)
            if body is not None:
                self.send_header("Content-Type", "application/json")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if not head_only:
                self.wfile.write(data)

        def _route(self, head_only=False):
            request = self._read()
            path = request.path.split("?", 1)[0]
            if path == "/metadata" and request.method in ("GET", "HEAD"):
                modified = email.utils.formatdate(server.metadata_modified, usegmt=True)
                return self._send(200, server.metadata, {"Last-Modified": modified}, head_only)
            if path.startswith("/cfn/") and request.method == "POST":
                return self._send(200, b"")
            if path.startswith("/swift/") and request.method == "PUT":
                return self._send(201, b"")
            if path == "/identity/v3/auth/tokens" and request.method == "POST":
                try:
                    scope = request.json()["auth"].get("scope", {})
                    project_id = scope.get("project", {}).get("id", "project")
                except (ValueError, KeyError, AttributeError):
                    return self._send(400, {"error": "bad auth request"})
                return self._send(201, server.token_body(project_id),
                                  {TOKEN_HEADER: server.token})
            if path.startswith("/heat/") and path.endswith("/signal") and request.method == "POST":
                if request.headers.get("X-Auth-Token") != server.token:
                    return self._send(401, {"error": "bad token"})
                return self._send(200, b"null")
            if path.startswith("/zaqar/"):
                if request.headers.get("X-Auth-Token") != server.token:
                    return self._send(401, {"error": "bad token"})
                if request.method == "POST" and path.endswith("/messages"):
                    return self._send(201, {"resources": [f"{path}/{uuid.uuid4().hex}"]})
                if request.method in ("PUT", "HEAD"):
                    return self._send(204 if request.method == "HEAD" else 201, b"", head_only=True)
                return self._send(200, {})
            return self._send(404, {"error": f"not served: {request.method} {path}"})

        def do_GET(self):
            self._route()

        def do_HEAD(self):
            self._route(head_only=True)

        def do_POST(self):
            self._route()

        def do_PUT(self):
            self._route()

        def do_DELETE(self):
            self._route()

    return Handler
