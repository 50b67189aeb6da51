"""Connection to a Kubernetes API server: configuration, discovery, retries.

One Connection per run. Every call goes through `call`, which retries what
is transient (dropped connections, 429 with Retry-After, 5xx) with backoff
inside the run's one deadline, and turns what is not (401, 403, 422, ...)
into a plain one-line BackendError. Credentials are never put in a message.
"""

import atexit
import json
import logging
import os
import random
import shutil
import tempfile
import threading

import urllib3

from hook_kubectl.errors import BackendError, InputError

LOG = logging.getLogger("heat-config-kubectl")

TRANSIENT_STATUS = (429, 500, 502, 503, 504)
MAX_BACKOFF = 2.0
# No single request may hang longer than this (watches set their own).
REQUEST_TIMEOUT = 30.0
SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


def _import_client():
    try:
        from kubernetes import client, config  # noqa: F401
        from kubernetes.dynamic import DynamicClient  # noqa: F401
    except ImportError:
        raise BackendError(
            "the kubernetes backend needs the Python package 'kubernetes' "
            "(pip install kubernetes)") from None


class Connection:
    """The official client's DynamicClient plus the run's deadline."""

    def __init__(self, options: dict, deadline, environ=None):
        _import_client()
        from kubernetes import client
        from kubernetes.dynamic import DynamicClient

        environ = os.environ if environ is None else environ
        self.deadline = deadline
        configuration, context_namespace, self.source = load_configuration(options, environ)
        configuration.retries = False  # our own retries, inside the deadline
        configuration.connection_pool_maxsize = max(16, 4 * options.get("concurrency", 4))
        self.namespace = options.get("namespace") or context_namespace or "default"
        self.api_client = client.ApiClient(configuration)
        # Discovery is cached in a private place: a cache shared with other
        # runs may be stale or half-written.
        self._cache_dir = tempfile.mkdtemp(prefix="heat-kubectl-discovery-")
        atexit.register(shutil.rmtree, self._cache_dir, True)
        self._lock = threading.Lock()
        self.dynamic = self.call(
            lambda: DynamicClient(self.api_client, cache_file=os.path.join(self._cache_dir, "d.json")),
            "discover the API")
        self._resources = {}

    def close(self):
        shutil.rmtree(self._cache_dir, ignore_errors=True)
        try:
            self.api_client.close()
        except Exception:  # closing is best effort
            pass

    # --- calls with retries ---------------------------------------------

    def call(self, fn, what: str):
        """fn() with transient failures retried until the deadline."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return fn()
            except Exception as exc:  # classified below
                delay = transient_delay(exc, attempt)
                if delay is None:
                    if _is_api_exception(exc):
                        raise ApiError(what, exc) from None
                    if isinstance(exc, urllib3.exceptions.SSLError):
                        raise BackendError(f"could not {what}: TLS error: {_first_line(exc)}") from None
                    raise
                if self.deadline.remaining() <= delay:
                    raise BackendError(
                        f"could not {what} before the deadline: {describe_error(exc)} "
                        f"(after {attempt} attempts)") from None
                LOG.info("retrying %s in %.1fs: %s", what, delay, describe_error(exc))
                self.deadline.sleep(delay)

    def request_timeout(self) -> tuple:
        """(connect, read) timeouts that never outlive the deadline."""
        remaining = max(1.0, self.deadline.remaining())
        return (min(10.0, remaining), min(REQUEST_TIMEOUT, remaining))

    # --- discovery ------------------------------------------------------

    def resource(self, api_version: str, kind: str):
        """The API resource for apiVersion/kind, or None if the server has none."""
        from kubernetes.dynamic.exceptions import ResourceNotFoundError, ResourceNotUniqueError

        key = (api_version, kind)
        with self._lock:
            if key in self._resources:
                return self._resources[key]

        def lookup():
            # Core kinds live under /api: without the prefix v1 Event would
            # also match events.k8s.io/v1 Event.
            where = {} if "/" in api_version else {"prefix": "api"}
            try:
                return self.dynamic.resources.get(api_version=api_version, kind=kind, **where)
            except ResourceNotFoundError:
                return None
            except ResourceNotUniqueError:
                return self.dynamic.resources.search(api_version=api_version, kind=kind, **where)[0]

        found = self.call(lookup, f"discover {kind} ({api_version})")
        if found is not None:
            with self._lock:
                self._resources[key] = found
        return found

    def resource_for_group_kind(self, group: str, kind: str):
        """The preferred version's resource for a group-kind, or None."""
        if not group:
            return self.resource("v1", kind)

        def search():
            found = [r for r in self.dynamic.resources.search(group=group, kind=kind)
                     if "/" not in r.name]
            found.sort(key=lambda r: not getattr(r, "preferred", False))
            return found[0] if found else None

        return self.call(search, f"discover {kind}.{group}")

    def find_kind(self, text: str):
        """A resource named the way a user may write it: Kind, kind, plural
        or singular ('Service', 'service', 'services', 'svc')."""
        lowered = text.lower()
        for resource in self.call(lambda: list(_all_resources(self.dynamic)), "discover the API"):
            names = {resource.kind.lower(), resource.name.lower(),
                     (getattr(resource, "singular_name", "") or "").lower()}
            names.update(n.lower() for n in (getattr(resource, "short_names", None) or []))
            if lowered in names and "/" not in resource.name:
                return resource
        return None

    def refresh(self):
        """Forget discovery (new CRDs were established)."""
        with self._lock:
            self._resources.clear()
        self.call(self.dynamic.resources.invalidate_cache, "refresh API discovery")

    # --- object calls ---------------------------------------------------

    def get(self, resource, name, namespace):
        """The live object as a dict, or None if it does not exist."""
        from kubernetes.dynamic.exceptions import NotFoundError

        def get():
            try:
                return resource.get(name=name, namespace=namespace,
                                    _request_timeout=self.request_timeout()).to_dict()
            except NotFoundError:
                return None

        return self.call(get, f"read {resource.kind}/{name}")

    def list(self, resource, namespace=None, label_selector=None) -> dict:
        """The list (items and metadata.resourceVersion) as a dict."""
        return self.call(lambda: resource.get(
            namespace=namespace, label_selector=label_selector,
            _request_timeout=self.request_timeout()).to_dict(), f"list {resource.kind}")

    def apply(self, resource, body: dict, force=False, dry_run=False) -> dict:
        namespace = body["metadata"].get("namespace") if resource.namespaced else None
        params = {"field_manager": FIELD_MANAGER, "force_conflicts": force,
                  "_request_timeout": self.request_timeout()}
        if dry_run:
            params["dry_run"] = "All"
        return self.call(lambda: resource.server_side_apply(
            body=body, name=body["metadata"]["name"], namespace=namespace, **params).to_dict(),
            f"apply {resource.kind}/{body['metadata']['name']}")

    def patch(self, resource, name, namespace, patch: dict, manager: str) -> dict:
        return self.call(lambda: resource.patch(
            body=patch, name=name, namespace=namespace,
            content_type="application/merge-patch+json", field_manager=manager,
            _request_timeout=self.request_timeout()).to_dict(), f"patch {resource.kind}/{name}")

    def delete(self, resource, name, namespace, propagation="Foreground") -> bool:
        """Delete one object; False if it was already gone."""
        from kubernetes.dynamic.exceptions import NotFoundError

        def delete():
            try:
                resource.delete(name=name, namespace=namespace, propagation_policy=propagation,
                                _request_timeout=self.request_timeout())
                return True
            except NotFoundError:
                return False

        return self.call(delete, f"delete {resource.kind}/{name}")

    def raw_get(self, path: str, query: list = None) -> str:
        """GET a path that is not an object (pod logs); returns text."""
        def get():
            response = self.dynamic.request(
                "get", path, query_params=list(query or []), serialize=False,
                header_params={"Accept": "*/*"}, _request_timeout=self.request_timeout())
            return response.data.decode("utf-8", "replace")

        return self.call(get, f"read {path}")


FIELD_MANAGER = "heat-config-kubectl"


class ApiError(BackendError):
    """The API server refused a request for good (not transient): 401, 403,
    404, 409, 422, ... Keeps the status and body for callers that care."""

    def __init__(self, what: str, exc):
        self.status = getattr(exc, "status", None)
        self.reason = getattr(exc, "reason", None)
        self.body = getattr(exc, "body", None)
        self.headers = getattr(exc, "headers", None)
        super().__init__(f"could not {what}: {describe_error(exc)}")


def _is_api_exception(exc) -> bool:
    from kubernetes.client.exceptions import ApiException

    return isinstance(exc, ApiException)


def _all_resources(dynamic):
    """Every top-level resource, preferred versions first."""
    seen = []
    for prefix, groups in dynamic.resources.parse_api_groups(request_resources=False).items():
        for group, versions in groups.items():
            for version, resource_group in versions.items():
                if not resource_group.preferred:
                    continue
                seen.extend(dynamic.resources.search(prefix=prefix, group=group or None,
                                                     api_version=version) if group else
                            dynamic.resources.search(prefix=prefix, api_version=version))
    return [r for r in seen if hasattr(r, "kind") and r.kind]


def load_configuration(options: dict, environ) -> tuple:
    """(client Configuration, the context's namespace, where it came from).
    options.kubeconfig / options.context, else $KUBECONFIG, else in-cluster,
    else ~/.kube/config."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    configuration = client.Configuration()
    kubeconfig = options.get("kubeconfig") or environ.get("KUBECONFIG")
    field = "options.kubeconfig" if options.get("kubeconfig") else "KUBECONFIG"
    in_cluster = environ.get("KUBERNETES_SERVICE_HOST") and environ.get("KUBERNETES_SERVICE_PORT")
    if not kubeconfig and not in_cluster:
        default = os.path.expanduser("~/.kube/config")
        if os.path.exists(default):
            kubeconfig, field = default, "~/.kube/config"
        elif options.get("context"):
            raise InputError("options.context: set but there is no kubeconfig "
                             "(options.kubeconfig or KUBECONFIG)")
        else:
            raise BackendError(
                "no Kubernetes cluster configured: set options.kubeconfig or KUBECONFIG, "
                "or run the hook inside a cluster")
    if kubeconfig:
        paths = [p for p in kubeconfig.split(os.pathsep) if p]
        missing = [p for p in paths if not os.path.exists(p)]
        if missing:
            raise InputError(f"{field}: file {missing[0]} does not exist")
        try:
            config.load_kube_config(config_file=kubeconfig, context=options.get("context"),
                                    client_configuration=configuration, persist_config=False)
            _, active = config.list_kube_config_contexts(config_file=kubeconfig)
            if options.get("context"):
                contexts, _ = config.list_kube_config_contexts(config_file=kubeconfig)
                active = next((c for c in contexts if c.get("name") == options["context"]), active)
        except ConfigException as exc:
            where = "options.context" if "context" in str(exc).lower() and options.get("context") else field
            raise InputError(f"{where}: cannot use the kubeconfig: {_first_line(exc)}") from None
        except Exception as exc:  # a malformed file: never echo its content
            raise InputError(f"{field}: cannot read the kubeconfig ({type(exc).__name__})") from None
        namespace = ((active or {}).get("context") or {}).get("namespace")
        return configuration, namespace, field
    try:
        config.load_incluster_config(client_configuration=configuration)
    except ConfigException as exc:
        raise BackendError(f"in-cluster configuration failed: {_first_line(exc)}") from None
    namespace = None
    if os.path.exists(SERVICE_ACCOUNT_NAMESPACE):
        with open(SERVICE_ACCOUNT_NAMESPACE) as handle:
            namespace = handle.read().strip() or None
    return configuration, namespace, "in-cluster"


def _first_line(exc) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def status_of(exc):
    return getattr(exc, "status", None)


def transient_delay(exc, attempt: int):
    """Seconds to wait before retrying `exc`, or None if it is not transient."""
    from kubernetes.client.exceptions import ApiException

    backoff = min(MAX_BACKOFF, 0.2 * (2 ** (attempt - 1))) * (0.5 + random.random() / 2)
    if isinstance(exc, ApiException):
        if exc.status not in TRANSIENT_STATUS:
            return None
        retry_after = (exc.headers or {}).get("Retry-After") if exc.headers else None
        if retry_after:
            try:
                return min(float(retry_after), 30.0)
            except ValueError:
                pass
        return backoff
    if isinstance(exc, urllib3.exceptions.SSLError):
        return None  # a certificate that does not verify will not start to
    if isinstance(exc, (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError)):
        return backoff
    return None


def server_message(exc) -> str:
    """The API server's own message from an error response (a Status)."""
    body = getattr(exc, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str) and body.strip().startswith("{"):
        try:
            return json.loads(body).get("message") or ""
        except ValueError:
            return ""
    return ""


def describe_error(exc) -> str:
    """One plain line for an API or connection error, no credentials."""
    if isinstance(exc, ApiError):
        return str(exc)
    status = status_of(exc)
    if isinstance(status, int) and status:
        message = server_message(exc)
        reason = getattr(exc, "reason", "") or ""
        if status == 401:
            return "the API server rejected the credentials (401 Unauthorized)"
        return f"{status} {reason}".strip() + (f": {message}" if message else "")
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    return f"{type(exc).__name__}: {_first_line(exc)}"
