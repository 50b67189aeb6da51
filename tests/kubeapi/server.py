"""HTTP(S) front end: routing of API paths, auth, faults, the request log, watch streams."""

import json
import socket
import ssl
import threading
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import auth as authmod
from . import discovery, errors, protobuf, tables, watch
from .cluster import DeleteOptions, parse_body
from .faults import RequestRecord

PATCH_TYPES = {"application/json-patch+json": "json", "application/merge-patch+json": "merge",
               "application/strategic-merge-patch+json": "strategic",
               "application/apply-patch+yaml": "apply"}


class RequestInfo:
    """What an API path names: a resource request or a non-resource path."""

    def __init__(self):
        self.group = self.version = self.plural = None
        self.namespace = self.name = self.subresource = None
        self.resource = None          # Resource when known
        self.verb = None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kubeapi-test"

    # quiet: the request log replaces the access log
    def log_message(self, *args):
        pass

    def setup(self):
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)
            try:
                self.request.do_handshake()
            except (ssl.SSLError, OSError):
                self.request.close()
                raise ConnectionAbortedError("TLS handshake failed") from None
            self.request.settimeout(None)
        self.server.api.track(self.request, True)
        super().setup()

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.api.track(self.request, False)

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_PATCH(self):
        self._handle("PATCH")

    def do_DELETE(self):
        self._handle("DELETE")

    # -- plumbing ------------------------------------------------------------------------
    def _send(self, code, body, content_type="application/json", headers=None, drop=False):
        data = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
        self.record.code = -1 if drop else code      # before the client can see the answer
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        for warning in self.server.api.cluster.take_warnings():
            self.send_header("Warning", '299 - ' + json.dumps(warning))
        self.end_headers()
        if drop:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self._abort()
            return
        self.wfile.write(data)

    def _abort(self):
        self.close_connection = True
        self.record.code = -1
        try:
            self.request.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _error(self, exc):
        self._send(exc.code, exc.status(), headers=exc.headers)

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _user(self):
        api = self.server.api
        scheme, _, token = self.headers.get("Authorization", "").strip().partition(" ")
        if scheme.lower() == "bearer":      # the scheme is case-insensitive (in-cluster
            return api.authenticator.from_token(token.strip())   # clients send "bearer")
        if isinstance(self.request, ssl.SSLSocket):
            cert = self.request.getpeercert()
            if cert:
                return api.authenticator.from_cert(cert)
        return None

    # -- main entry ----------------------------------------------------------------------
    def _handle(self, method):
        api = self.server.api
        self.drop, self.cut_after, self._legacy_watch = False, None, False   # per request
        url = urllib.parse.urlsplit(self.path)
        self.query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        info = self._route(api, url.path, method)
        self.record = RequestRecord(method, url.path, url.query, info.verb, info.plural,
                                    info.subresource, info.namespace, info.name,
                                    user_agent=self.headers.get("User-Agent", ""),
                                    content_type=self.headers.get("Content-Type", ""))
        body = self._body() if method in ("POST", "PUT", "PATCH", "DELETE") else b""
        logged = False
        try:
            user = self._user()
            if user is None:
                raise errors.unauthorized()
            self.record.user = user.name
            api.requests.add(self.record)
            logged = True
            cut_after = None
            for fault in api.faults.take(self.record):
                if fault.action == "latency":
                    time.sleep(fault.seconds)
                elif fault.action == "error":
                    if fault.code == 429:
                        raise errors.too_many_requests(fault.retry_after)
                    if fault.code == 503:
                        raise errors.unavailable(retry_after=fault.retry_after)
                    if fault.code == 500:
                        raise errors.internal()
                    raise errors.injected(fault.code, self.record)
                elif fault.action == "drop":
                    self.drop = True
                elif fault.action == "cut_watch":
                    cut_after = fault.after_events
            self.cut_after = cut_after
            if info.resource is not None or info.plural is not None:
                denied = authmod.authorize(user, info.verb, info.resource, info.namespace,
                                           info.name, info.subresource)
                if denied:
                    raise errors.forbidden(denied, {"name": info.name, "group": info.group,
                                                    "kind": info.plural} if info.name else
                                           {"group": info.group, "kind": info.plural})
            self._dispatch(api, method, url.path, info, body, user)
        except errors.ApiError as exc:
            if not logged:                  # refused before it was logged (401)
                api.requests.add(self.record)
            self._error(exc)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True
        except Exception as exc:   # a bug in the server: answer like the API does, keep serving
            api.server_errors.append(traceback.format_exc())
            self._error(errors.internal(f"Internal error occurred: {type(exc).__name__}: {exc}"))
        finally:
            self.record.duration = time.time() - self.record.started

    def _respond(self, code, body, content_type="application/json", headers=None):
        self._send(code, body, content_type, headers, drop=self.drop)

    def _route(self, api, path, method):
        info = RequestInfo()
        parts = [p for p in path.split("/") if p]
        info.verb = method.lower()
        if len(parts) >= 2 and parts[0] == "api" and parts[1] == "v1" and len(parts) > 2:
            info.group, info.version, rest = "", "v1", parts[2:]
        elif len(parts) >= 4 and parts[0] == "apis":
            info.group, info.version, rest = parts[1], parts[2], parts[3:]
        else:
            info.verb = "get" if method == "GET" else info.verb
            return info
        if rest and rest[0] == "watch":
            rest = rest[1:]
            self._legacy_watch = True
        if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
            info.namespace, rest = rest[1], rest[2:]
        info.plural = rest[0]
        info.name = rest[1] if len(rest) > 1 else None
        info.subresource = rest[2] if len(rest) > 2 else None
        if len(rest) > 3:
            info.plural = None
            return info
        info.resource = api.cluster.registry.lookup(info.group, info.version, info.plural)
        if info.resource is not None and info.plural == "namespaces" and info.group == "":
            info.namespace = None
        if method == "GET":
            watching = self.query.get("watch") in ("true", "1") or getattr(self, "_legacy_watch", False)
            info.verb = "get" if info.name else ("watch" if watching else "list")
        elif method == "POST":
            info.verb = "create"
        elif method == "PUT":
            info.verb = "update"
        elif method == "PATCH":
            info.verb = "patch"
        elif method == "DELETE":
            info.verb = "delete" if info.name else "deletecollection"
        return info

    # -- dispatch ------------------------------------------------------------------------
    def _dispatch(self, api, method, path, info, body, user):
        if path.startswith("/_kubeapi/"):
            return self._control(api, method, path, body, user)
        if info.plural is None:
            return self._non_resource(api, method, path)
        res = info.resource
        if res is None:
            raise errors.resource_not_found()
        if info.subresource and info.subresource not in res.subresources and \
                not (res.kind == "Namespace" and info.subresource == "finalize"):
            raise errors.resource_not_found()
        if not res.namespaced and info.namespace:
            raise errors.resource_not_found()      # e.g. /api/v1/namespaces/x/nodes
        if res.namespaced and not info.namespace and method != "GET":
            raise errors.method_not_allowed()
        cluster = api.cluster
        ns = info.namespace if res.namespaced else None
        dry_run = self.query.get("dryRun") == "All"
        manager = self.query.get("fieldManager") or \
            (self.headers.get("User-Agent") or "unknown").split("/")[0]
        validation = self.query.get("fieldValidation") or "Warn"
        if validation not in ("Strict", "Warn", "Ignore"):
            raise errors.bad_request(f'fieldValidation: Unsupported value: "{validation}": supported '
                                     'values: "Ignore", "Strict", "Warn"')
        cluster.take_warnings()
        if info.subresource == "log":
            if method != "GET":
                raise errors.method_not_allowed()
            return self._respond(200, api.pod_log(ns, info.name, self.query.get("container"),
                                                  self.query.get("tailLines"),
                                                  self.query.get("previous") == "true").encode(),
                                 "text/plain")
        if info.subresource == "scale":
            return self._scale(api, method, res, ns, info.name, body, manager, dry_run)
        sub = info.subresource if info.subresource in ("status", "finalize") else None
        if method == "GET":
            if info.verb == "watch":
                return watch.stream(self, api, res, ns)
            if info.name:
                body = cluster.get(res, ns, info.name)
                items = [body]
            else:
                body = cluster.list(res, ns, self.query.get("labelSelector", ""),
                                    self.query.get("fieldSelector", ""),
                                    int(self.query.get("limit") or 0), self.query.get("continue"))
                items = body["items"]
            if tables.wants_table(self.headers.get("Accept")) and not info.subresource:
                table = tables.table(res, items, self._printer_columns(api, res),
                                     self.query.get("includeObject", "Metadata"),
                                     body["metadata"].get("resourceVersion", ""))
                if body["metadata"].get("continue"):
                    table["metadata"]["continue"] = body["metadata"]["continue"]
                return self._respond(200, table, tables.TABLE_TYPE)
            return self._respond(200, body)
        if method == "POST":
            if info.name:
                raise errors.method_not_allowed()
            obj = cluster.create(res, ns, self._decode(body), manager, dry_run,
                                 field_validation=validation)
            return self._respond(201, obj)
        if method == "PUT":
            if not info.name:
                raise errors.method_not_allowed()
            obj, created = cluster.update(res, ns, info.name, self._decode(body), manager, dry_run, sub,
                                          field_validation=validation)
            return self._respond(201 if created else 200, obj)
        if method == "PATCH":
            if not info.name:
                raise errors.method_not_allowed()
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            patch_type = PATCH_TYPES.get(ctype)
            if patch_type is None:
                raise errors.unsupported_media(ctype, list(PATCH_TYPES))
            if patch_type == "apply" and not self.query.get("fieldManager"):
                raise errors.ApiError(422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: '
                                      "fieldManager: Required value: is required for apply patch",
                                      {"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [
                                          {"reason": "FieldValueRequired",
                                           "message": "Required value: is required for apply patch",
                                           "field": "fieldManager"}]})
            force = self.query.get("force") in ("true", "1")
            obj, created = cluster.patch(res, ns, info.name, patch_type, body, manager, force,
                                         dry_run, sub, field_validation=validation)
            return self._respond(201 if created else 200, obj)
        if method == "DELETE":
            options = self._delete_options(body, dry_run)
            if info.name:
                obj, _ = cluster.delete(res, ns, info.name, options)
                return self._respond(200, obj)
            listed = cluster.delete_collection(res, ns, self.query.get("labelSelector", ""),
                                               self.query.get("fieldSelector", ""), options)
            return self._respond(200, listed)
        raise errors.method_not_allowed()

    @staticmethod
    def _printer_columns(api, res):
        if res.builtin:
            return None
        for name, resources in api.cluster.registry.custom_names().items():
            if res in resources:
                crd = api.cluster.store.peek(("apiextensions.k8s.io", "customresourcedefinitions"), "", name)
                for version in (crd or {}).get("spec", {}).get("versions") or []:
                    if version.get("name") == res.version:
                        return version.get("additionalPrinterColumns")
        return None

    def _decode(self, body):
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if ctype == protobuf.CONTENT_TYPE:
            try:
                return protobuf.decode(body)
            except (protobuf.Unsupported, IndexError, UnicodeDecodeError) as exc:
                raise errors.unsupported_media(ctype, ["application/json", "application/yaml"]) \
                    if isinstance(exc, protobuf.Unsupported) else errors.bad_request(str(exc)) from None
        return parse_body(body)

    def _delete_options(self, body, dry_run):
        opts = {}
        if body:
            try:
                opts = json.loads(body) or {}
            except ValueError:
                raise errors.bad_request("invalid DeleteOptions body") from None
        propagation = self.query.get("propagationPolicy") or opts.get("propagationPolicy")
        if propagation is None and opts.get("orphanDependents") is not None:
            propagation = "Orphan" if opts["orphanDependents"] else "Background"
        if propagation not in (None, "Foreground", "Background", "Orphan"):
            raise errors.bad_request(f'propagationPolicy: Unsupported value: "{propagation}"')
        grace = self.query.get("gracePeriodSeconds", opts.get("gracePeriodSeconds"))
        dry = dry_run or opts.get("dryRun") == ["All"]
        return DeleteOptions(propagation, int(grace) if grace not in (None, "") else None, dry,
                             opts.get("preconditions"))

    def _scale(self, api, method, res, ns, name, body, manager, dry_run):
        cluster = api.cluster
        obj = cluster.get(res, ns, name)
        if method == "GET":
            return self._respond(200, scale_of(obj))
        if method == "PUT":
            wanted = parse_body(body)
        elif method == "PATCH":
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            from . import merge
            patch = parse_body(body)
            current = scale_of(obj)
            wanted = merge.json_patch(current, patch) if ctype == "application/json-patch+json" \
                else merge.json_merge_patch(current, patch)
        else:
            raise errors.method_not_allowed()
        # the Scale carries its parent's resourceVersion: a stale one is a conflict
        want_rv = (wanted.get("metadata") or {}).get("resourceVersion") if isinstance(wanted, dict) else None
        if want_rv and want_rv != obj["metadata"]["resourceVersion"]:
            raise errors.conflict(res, name)
        replicas = (wanted.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise errors.invalid(res, name, [("spec.replicas", "FieldValueInvalid",
                                              f"Invalid value: {replicas}: must be greater than or equal to 0")])
        obj["spec"]["replicas"] = replicas
        updated, _ = cluster.update(res, ns, name, obj, manager, dry_run, fields_subresource="scale")
        return self._respond(200, scale_of(updated))

    def _control(self, api, method, path, body, user):
        """/_kubeapi/...: faults, request log and restarts for a server in another process
        (admin only). POST /_kubeapi/faults {"action": ..., filters..., params...};
        DELETE /_kubeapi/faults; GET /_kubeapi/requests (counts); DELETE /_kubeapi/requests;
        POST /_kubeapi/restart?keep_state=false; POST /_kubeapi/compact."""
        if "system:masters" not in user.groups:
            raise errors.forbidden(f'User "{user.name}" cannot use the test control API')
        if path == "/_kubeapi/faults" and method == "POST":
            spec = parse_body(body)
            try:
                api.faults.add(spec.pop("action"), **spec)
            except (KeyError, TypeError, ValueError) as exc:
                raise errors.bad_request(f"bad fault: {exc}") from None
            return self._respond(201, {"faults": len(api.faults._faults)})
        if path == "/_kubeapi/faults" and method == "DELETE":
            api.faults.clear()
            return self._respond(200, {"faults": 0})
        if path == "/_kubeapi/requests" and method == "GET":
            counts = api.requests.counts()
            return self._respond(200, {"counts": [{"verb": v, "resource": r, "count": n}
                                                  for (v, r), n in sorted(counts.items(), key=str)]})
        if path == "/_kubeapi/requests" and method == "DELETE":
            api.requests.clear()
            return self._respond(200, {})
        if path == "/_kubeapi/compact" and method == "POST":
            api.compact()
            return self._respond(200, {})
        if path == "/_kubeapi/restart" and method == "POST":
            keep = self.query.get("keep_state", "true") != "false"
            self._respond(202, {"restarting": True, "keep_state": keep})
            threading.Thread(target=api.restart, kwargs={"keep_state": keep}, daemon=True).start()
            return None
        raise errors.resource_not_found()

    def _non_resource(self, api, method, path):
        if method != "GET":
            raise errors.method_not_allowed()
        path = path.rstrip("/") or "/"
        registry = api.cluster.registry
        accept = self.headers.get("Accept", "")
        if path == "/version":
            return self._respond(200, discovery.version())
        if path in ("/healthz", "/livez", "/readyz"):
            return self._respond(200, b"ok", "text/plain; charset=utf-8")
        if path in ("/api", "/apis"):
            wanted = discovery.wants_aggregated(accept)
            if wanted:
                ctype, version = wanted
                return self._respond(200, discovery.aggregated(registry, path == "/api", version),
                                     ctype, headers={"Vary": "Accept"})
            if path == "/api":
                return self._respond(200, discovery.api_versions(api.address))
            return self._respond(200, discovery.api_group_list(registry))
        parts = path.strip("/").split("/")
        if parts == ["api", "v1"]:
            return self._respond(200, discovery.resource_list(registry, "", "v1"))
        if parts[0] == "apis" and len(parts) == 2:
            group = discovery.api_group(registry, parts[1])
            if group:
                return self._respond(200, group)
        if parts[0] == "apis" and len(parts) == 3:
            listing = discovery.resource_list(registry, parts[1], parts[2])
            if listing:
                return self._respond(200, listing)
        if path == "/openapi/v2":
            body, ctype = discovery.openapi_v2(accept)
            return self._respond(200, body, ctype)
        if path == "/openapi/v3":
            return self._respond(200, discovery.openapi_v3_index(registry))
        if parts[:2] == ["openapi", "v3"] and len(parts) > 2:
            if parts[2] == "api" and len(parts) == 4:
                doc = discovery.openapi_v3_document(registry, "", parts[3])
            elif parts[2] == "apis" and len(parts) == 5:
                doc = discovery.openapi_v3_document(registry, parts[3], parts[4])
            else:
                doc = None
            if doc:
                return self._respond(200, doc)
        raise errors.ApiError(404, "NotFound", "the server could not find the requested resource", {})


def scale_of(obj):
    meta = obj["metadata"]
    selector = (obj.get("spec") or {}).get("selector") or {}
    labels = selector.get("matchLabels") or {}
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                               "creationTimestamp") if k in meta},
            "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
            "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                       "selector": ",".join(f"{k}={v}" for k, v in labels.items())}}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, api, ssl_context):
        self.api = api
        self.ssl_context = ssl_context
        super().__init__(address, Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        # headers and body go out in separate writes: without this, Nagle's algorithm
        # and delayed ACKs add ~40 ms to every response
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.ssl_context is not None:
            sock = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        pass     # dropped connections are normal here


def make_ssl_context(credentials):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(credentials.server_cert_path, credentials.server_key_path)
    ctx.load_verify_locations(credentials.ca_path)
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx
