"""A Kubernetes API server for tests: real HTTPS on 127.0.0.1, state in memory,
faithful enough that real kubectl and the official python client work unchanged.

Start it
--------
From pytest (or any Python)::

    from tests.kubeapi import KubeAPI
    with KubeAPI() as api:                 # or: api = KubeAPI(); api.start(); ...; api.stop()
        api.kubeconfig_path                # admin kubeconfig (bearer token, CA inline)
        api.url                            # https://127.0.0.1:PORT
        subprocess.run(["kubectl", "--kubeconfig", api.kubeconfig_path, "get", "pods"])

As a pytest fixture, in a conftest.py::

    from tests.kubeapi import fixture
    kubeapi = fixture(scope="session", nodes=3)     # then: def test_x(kubeapi): ...

From the shell (serves until killed)::

    python -m tests.kubeapi --port 0 --kubeconfig /tmp/kc.yaml [--nodes 3] [--delay pod_start=0.5]

KubeAPI(nodes=1, delays=None, history=20000, watch_timeout=1800, bookmark_interval=1.0,
cronjob_interval=None, directory=None, port=0): `delays` is a dict of controller
delays in seconds (listed below; change them live via `api.delays.pod_start = 1`);
`nodes` is how many Ready Nodes exist (DaemonSets run one pod per node);
`cronjob_interval` makes every unsuspended CronJob fire every N seconds instead of
following its cron schedule (minute granularity). Start-up takes well under a second.

Delays (seconds; defaults): schedule 0 (pod -> node), pod_start 0.05 (-> Ready),
slow_start 3.0, pull_backoff 0.3, crash 0.3, job_run 0.1, pod_terminate 0.02 (graceful
deletion), load_balancer 0.3, pvc_bind 0.05, crd_establish 0.05, crd_terminate 0.3,
namespace_finalize 0.05, controller 0 (owners reacting to dependents), job_sync 0.2.

Built-in objects: namespaces default, kube-system, kube-public, kube-node-lease
(each namespace gets a "default" ServiceAccount and the "kube-root-ca.crt" ConfigMap, as on
a real cluster: code that lists ConfigMaps must expect one it did not make); nodes node-1..node-N (labels
kubernetes.io/hostname, kubernetes.io/os=linux, node-role...); StorageClass "standard"
(default, Immediate) and "wait-for-consumer" (volumeBindingMode WaitForFirstConsumer);
Service default/kubernetes (and its Endpoints). Services with a selector get Endpoints and
an EndpointSlice listing their pods (ready and not ready).

Other users and kubeconfigs
---------------------------
    api.kubeconfig(user="alice", namespaces=["team-a"])     # token limited to namespaces -> 403 elsewhere
    api.kubeconfig(user="bob", auth="cert", groups=["system:masters"])  # client certificate
    api.kubeconfig(user="eve", auth="invalid")              # unknown token -> 401
    api.kubeconfig(user="eve", auth="none")                 # no credentials -> 401 (kubectl prompts)
Each returns the path of a new kubeconfig file.
TLS: one CA (api.credentials.ca_path) signs the server's and the client certificates;
they carry Subject/Authority Key Identifiers, so strict X.509 verification (Python
3.13's default) accepts them.

Failure modes chosen by image name (substring of any container's image)
-----------------------------------------------------------------------
  "pull-error"    waiting ErrImagePull, after delays.pull_backoff ImagePullBackOff; Events
                  Pulling/Failed/BackOff. Never Ready.
  "crashloop"     runs, exits 1 every delays.crash s: waiting CrashLoopBackOff,
                  lastState.terminated exitCode 1, restartCount rising; Warning BackOff events.
  "config-error"  waiting CreateContainerConfigError (also happens, as on a real cluster, for
                  an env/envFrom reference to a missing ConfigMap/Secret or key; creating it
                  later lets the pod start). Warning Failed event.
  "unschedulable" PodScheduled=False reason Unschedulable, Warning FailedScheduling event (also
                  for a nodeSelector that no node matches, or a missing PVC).
  "slow-start"    Ready only after delays.pod_start + delays.slow_start s.
  "job-fail"      the container exits 1: with restartPolicy Never the pod is Failed; a Job
                  counts failures and gets Failed (BackoffLimitExceeded) past backoffLimit.
  "never-ready"   running, but Ready=False forever (a readiness probe that never passes).
  an invalid reference (e.g. upper case in the repository: "registry.invalid/x/Bad:1")
                  waiting InvalidImageName with the kubelet's message; InspectFailed event.
  anything else   Ready after delays.pod_start; pods of Jobs (restartPolicy Never/OnFailure)
                  run delays.job_run s and Succeed.

Controllers (see controllers/): Deployment -> ReplicaSet -> Pods (status with
observedGeneration, replicas/updated/ready/available, Available and Progressing conditions,
ProgressDeadlineExceeded after spec.progressDeadlineSeconds), StatefulSet (ordered, PVCs from
volumeClaimTemplates, rolling update), DaemonSet (one pod per matching node), Job
(Complete/Failed, suspend, activeDeadlineSeconds), CronJob (suspend honoured), Service
(clusterIP on create; LoadBalancer ingress after delays.load_balancer), PVC (Bound after
delays.pvc_bind; WaitForFirstConsumer waits for a scheduled pod), CRD (NamesAccepted and
Established; a Kind/plural clash gives NamesAccepted=False), Namespace (Terminating while
its content is deleted), garbage collection by ownerReferences (Background, Foreground,
Orphan), finalizers, graceful pod deletion. v1 Events for all of these.

Faults
------
    api.faults.add("latency", seconds=0.5, verb="get")                  # slow answers
    api.faults.add("error", code=429, retry_after=1, times=3)           # 429 + Retry-After
    api.faults.add("error", code=500, resource="deployments", verb="patch", times=1)
    api.faults.add("error", code=503, times=2)
    api.faults.add("drop", verb="list", resource="pods", times=1)       # connection dropped mid-body
    api.faults.add("cut_watch", resource="pods", after_events=2)        # watch cut off
    api.faults.clear()
    api.restart(keep_state=True)     # same port; open connections/watches are dropped
    api.restart(keep_state=False)    # ... and all objects are lost (old watches get 410)
    api.compact()                    # forget watch history: old resourceVersions get 410
Filters: verb, resource, namespace, name, path (substring); times=N limits the hits.

A server started from the shell is controlled over HTTP (admin kubeconfig's token):
    POST   /_kubeapi/faults   {"action": "error", "code": 503, "times": 2, "resource": "pods"}
    DELETE /_kubeapi/faults
    GET    /_kubeapi/requests            {"counts": [{"verb": "list", "resource": "pods", "count": 3}, ...]}
    DELETE /_kubeapi/requests
    POST   /_kubeapi/restart?keep_state=false
    POST   /_kubeapi/compact

Request log
-----------
    api.requests.counts()                 # Counter({("list", "pods"): 3, ("patch", "deployments"): 1, ...})
    api.requests.counts("verb")           # by one field
    api.requests.matching(verb="patch", resource="deployments")   # RequestRecord list
    api.requests.clear()
Pod logs (GET pods/NAME/log, kubectl logs): what a `sh -c "... echo text ..."` command
echoes, else a line saying the container started (and failed, for crashloop/job-fail
images); set api.pod_logs[(namespace, pod, container)] = "text" to choose. A container
still waiting to start answers 400 as the kubelet does.

RequestRecord fields: method, path, query, verb, resource, subresource, namespace, name, user,
user_agent, content_type, code (-1 for dropped), started, duration. Non-resource requests
(discovery, /openapi, /version) have resource None.

Fidelity notes
--------------
- Discovery: aggregated (apidiscovery.k8s.io/v2, what kubectl asks for) and legacy
  (/api/v1, /apis/G/V: what the python client reads). OpenAPI: /openapi/v3 lists every
  PATCH with fieldValidation (so kubectl validates server-side) and /openapi/v2 is an empty
  protobuf document, so kubectl runs without --validate=false and applies a file with a CRD
  and its custom resource exactly as against a real cluster (the CR fails until the CRD is
  Established: "ensure CRDs are installed first").
- Unknown fields of common built-in kinds (schema.py: field names only): fieldValidation=Strict
  (kubectl's default) -> 400 "strict decoding error: unknown field ..." (server-side apply:
  "field not declared in schema"); Warn (the default, e.g. the python client) -> Warning
  header; Ignore; they are never stored.
- Custom resources are pruned to their CRD's structural schema (x-kubernetes-preserve-unknown-
  fields honoured; pruned fields are "unknown" as above) and validated against it (type,
  required, enum, minimum, maximum -> 422), as the real server does (crdschema.py).
- kubectl get prints the real columns (server-side Table) for the common kinds.
- Secret stringData is merged into data; metadata.generation only on kinds that have it;
  empty labels/annotations/finalizers are dropped.
- kubectl's typed clients send protobuf for `kubectl create namespace|configmap|secret|
  serviceaccount|deployment|job|cronjob|service` and `kubectl expose`: those are decoded
  (protobuf.py); other protobuf bodies get 415.
- Events are served as core v1 and as events.k8s.io/v1 (one storage, two shapes).
- Rolling updates follow maxSurge/maxUnavailable; minReadySeconds delays availability;
  a Job reacts to its pods after delays.job_sync (the real controller batches for 1 s).

Modules: server.py (HTTP routing, auth, faults, request log), watch.py, cluster.py (API
semantics), storage.py, merge.py (patches, server-side apply, managedFields), admission.py
(validation, defaults), schema.py (known fields), crdschema.py (CRD schemas), discovery.py (discovery, OpenAPI),
tables.py (kubectl get columns), protobuf.py, events.py, auth.py (TLS, users), faults.py,
controllers/ (kubelet.py, workloads.py, objects.py), kubectl.py (find the PyPI kubectl).

Not modelled: admission webhooks, conversion between CRD versions, CEL validation rules,
RBAC objects (only the per-user namespace limit), exec/attach/port-forward, protobuf answers.
"""

import base64
import os
import re
import shutil
import socket
import tempfile
import threading
import time

import yaml

from . import server as servermod
from .auth import Authenticator, Credentials
from .cluster import Cluster
from .controllers import Controllers, Delays
from .faults import Faults, RequestLog

__all__ = ["KubeAPI", "Delays", "fixture"]

ADMIN = "kubernetes-admin"


_ECHO = re.compile(r"""(?:^|[;&|\n]\s*|\s)echo\s+(?:-[ne]+\s+)?("([^"]*)"|'([^']*)'|([^;&|\n]*))""")


def _echoes(container):
    """What a `sh -c "...echo text..."` command prints: the log a real kubelet would show."""
    argv = list(container.get("command") or []) + list(container.get("args") or [])
    if "-c" not in argv or argv.index("-c") + 1 >= len(argv):
        return []
    script = argv[argv.index("-c") + 1]
    return [next(g for g in m.groups()[1:] if g is not None).strip() for m in _ECHO.finditer(script)]


class KubeAPI:
    def __init__(self, nodes=1, delays=None, history=20000, watch_timeout=1800,
                 bookmark_interval=1.0, cronjob_interval=None, directory=None, port=0):
        self.node_count = nodes
        self.delays = Delays(**(delays or {}))
        self.history = history
        self.watch_timeout = watch_timeout
        self.bookmark_interval = bookmark_interval
        self.cronjob_interval = cronjob_interval
        self.port = port
        self._own_dir = directory is None
        self.directory = directory or tempfile.mkdtemp(prefix="kubeapi-")
        self.faults = Faults()
        self.requests = RequestLog()
        self.authenticator = Authenticator()
        self.stopping = threading.Event()
        self.server_errors = []      # tracebacks of requests the server failed on (500s)
        self.pod_logs = {}           # (namespace, pod, container) -> text for kubectl logs
        self._sockets = set()
        self._sockets_lock = threading.Lock()
        self._server = None
        self._thread = None
        self.cluster = None
        self.controllers = None
        self.credentials = None
        self.kubeconfig_path = None
        self.admin_token = None

    # -- life cycle ------------------------------------------------------------------------
    def start(self):
        if self.credentials is None:
            self.credentials = Credentials(os.path.join(self.directory, "pki"))
            self.admin_token = self.authenticator.new_token(ADMIN, ["system:masters"])
        if self.cluster is None:
            self.cluster = Cluster()
            self.cluster.store.history = type(self.cluster.store.history)(maxlen=self.history)
            self._bootstrap()
        self.stopping.clear()
        self._server = servermod.Server(("127.0.0.1", self.port), self,
                                        servermod.make_ssl_context(self.credentials))
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="kubeapi-http", daemon=True)
        self._thread.start()
        self.controllers = Controllers(self)
        self.controllers.start()
        if self.kubeconfig_path is None:
            self.kubeconfig_path = self._write_kubeconfig("admin", {"token": self.admin_token})
        return self

    def stop(self):
        self._stop_serving()
        if self._own_dir:
            shutil.rmtree(self.directory, ignore_errors=True)

    def _stop_serving(self):
        self.stopping.set()
        if self.controllers:
            self.controllers.stop()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        with self._sockets_lock:
            sockets = list(self._sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        with self.cluster.store.lock:
            self.cluster.store.changed.notify_all()
        if self._thread:
            self._thread.join(5)
        self._server = None

    def restart(self, keep_state=True):
        """Stop serving (dropping every connection) and serve again on the same port."""
        self._stop_serving()
        if not keep_state:
            self.cluster.store.clear()
            self.cluster.registry.__init__()
            self.cluster.service_ips.clear()
            self._bootstrap()
        self.start()

    def compact(self):
        self.cluster.store.compact()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- helpers for the HTTP layer ----------------------------------------------------------
    def track(self, sock, add):
        with self._sockets_lock:
            if add:
                self._sockets.add(sock)
            else:
                self._sockets.discard(sock)

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    @property
    def url(self):
        return f"https://127.0.0.1:{self.port}"

    # -- kubeconfigs ---------------------------------------------------------------------------
    def ca_pem(self):
        """The cluster CA certificate (PEM text)."""
        with open(self.credentials.ca_path) as f:
            return f.read()

    def kubeconfig(self, user="tester", namespaces=None, auth="token", groups=(), path=None):
        """Write a kubeconfig for a new user; returns its path.
        auth: "token" | "cert" | "invalid" (a token the server rejects) | "none" (no
        credentials: kubectl then prompts for a username). namespaces: limit the user."""
        if auth == "token":
            creds = {"token": self.authenticator.new_token(user, groups, namespaces)}
        elif auth == "cert":
            cert, key = self.credentials.client_cert(user, groups)
            if namespaces:
                from .auth import User
                self.authenticator.cert_users[user] = User(user, list(groups), tuple(namespaces))
            creds = {"client-certificate-data": base64.b64encode(cert).decode(),
                     "client-key-data": base64.b64encode(key).decode()}
        elif auth == "invalid":
            creds = {"token": "not-a-known-token"}
        elif auth == "none":
            creds = {}
        else:
            raise ValueError(f"auth must be token, cert, invalid or none, not {auth!r}")
        return self._write_kubeconfig(user, creds, path)

    def _write_kubeconfig(self, user, creds, path=None):
        with open(self.credentials.ca_path, "rb") as f:
            ca = base64.b64encode(f.read()).decode()
        config = {"apiVersion": "v1", "kind": "Config", "preferences": {},
                  "clusters": [{"name": "kubeapi", "cluster": {
                      "server": self.url, "certificate-authority-data": ca}}],
                  "users": [{"name": user, "user": creds}],
                  "contexts": [{"name": "kubeapi", "context": {
                      "cluster": "kubeapi", "user": user, "namespace": "default"}}],
                  "current-context": "kubeapi"}
        if path is None:
            path = os.path.join(self.directory, f"kubeconfig-{user}-{len(os.listdir(self.directory))}")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            yaml.safe_dump(config, f, sort_keys=False)
        return path

    def set_kubeconfig_path(self, path):
        """Write the admin kubeconfig (also) to `path` and use that from now on."""
        self.kubeconfig_path = self._write_kubeconfig("admin", {"token": self.admin_token}, path)
        return self.kubeconfig_path

    # -- direct access for tests -------------------------------------------------------------
    def get(self, plural, name, namespace=None, group=None):
        """The stored object (a copy) or None, bypassing HTTP. group None: any group."""
        res = self._resource(group, plural)
        return self.cluster.store.get(res.key, namespace if res.namespaced else "", name)

    def list(self, plural, namespace=None, group=None):
        res = self._resource(group, plural)
        with self.cluster.lock:
            import copy
            return copy.deepcopy(self.cluster.store.list(res.key, namespace if res.namespaced else None))

    def pod_log(self, namespace, name, container=None, tail=None, previous=False):
        """The text GET .../pods/NAME/log answers (kubectl logs). Tests may set
        api.pod_logs[(namespace, pod, container)] = "text"; otherwise a few lines saying
        what the container did. Waiting containers answer 400 as the kubelet does."""
        from . import errors
        res = self._resource("", "pods")
        pod = self.cluster.get(res, namespace, name)
        containers = [c["name"] for c in pod["spec"].get("containers") or []]
        if container is None:
            if len(containers) > 1:
                raise errors.bad_request(f"a container name must be specified for pod {name}, choose "
                                         f"one of: [{' '.join(containers)}]")
            container = containers[0]
        if container not in containers:
            raise errors.bad_request(f"container {container} is not valid for pod {name}")
        status = next((c for c in pod.get("status", {}).get("containerStatuses") or []
                       if c["name"] == container), {})
        waiting = (status.get("state") or {}).get("waiting")
        if previous and not status.get("restartCount"):
            raise errors.bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
        if not status or (waiting and not status.get("restartCount")):
            reason = (waiting or {}).get("reason", "ContainerCreating")
            why = "trying and failing to pull image" if reason == "ErrImagePull" else \
                "image can't be pulled" if reason == "ImagePullBackOff" else reason
            raise errors.bad_request(f'container "{container}" in pod "{name}" is waiting to start: {why}')
        text = self.pod_logs.get((namespace, name, container))
        if text is None:
            spec = next(c for c in pod["spec"]["containers"] if c["name"] == container)
            image = spec["image"]
            echoed = _echoes(spec)
            lines = echoed if echoed else [f"{container}: started (image {image})"]
            if echoed:
                pass
            elif "crashloop" in image or "job-fail" in image:
                lines.append(f"{container}: fatal: exiting with status 1")
            elif "terminated" in (status.get("state") or {}):
                lines.append(f"{container}: done")
            text = "\n".join(lines) + "\n"
        if tail not in (None, ""):
            kept = text.splitlines(True)[-int(tail):] if int(tail) > 0 else []
            text = "".join(kept)
        return text

    def events(self, namespace=None, name=None, reason=None):
        """v1 Events, optionally about one object name and/or with one reason."""
        out = self.list("events", namespace)
        return [e for e in out if (name is None or e["involvedObject"]["name"] == name)
                and (reason is None or e["reason"] == reason)]

    def _resource(self, group, plural):
        for res in self.cluster.registry.all():
            if (group is None or res.group == group) and res.plural == plural and res.storage_group is None:
                return res
        raise LookupError(f"no resource {plural} in group {group!r}")

    def wait_for(self, predicate, timeout=10.0, interval=0.02, message="condition"):
        """Poll predicate() until it returns something truthy; return it or raise TimeoutError.
        A KeyError/TypeError/IndexError from the predicate (a field not there yet) counts as
        not yet."""
        deadline = time.time() + timeout
        last_error = None
        while True:
            try:
                value = predicate()
            except (KeyError, TypeError, IndexError) as exc:
                value, last_error = None, exc
            if value:
                return value
            if time.time() > deadline:
                detail = f" (last error: {last_error!r})" if last_error else ""
                raise TimeoutError(f"timed out after {timeout}s waiting for {message}{detail}")
            time.sleep(interval)

    # -- bootstrap -------------------------------------------------------------------------------
    def _bootstrap(self):
        c = self.cluster
        reg = c.registry

        def make(group, plural, ns, body, manager="kube-apiserver"):
            res = next(r for r in reg.all() if r.group == group and r.plural == plural)
            c.create(res, ns, body, manager)

        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            make("", "namespaces", None, {"metadata": {"name": ns}})
        for i in range(1, self.node_count + 1):
            name = f"node-{i}"
            labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                      "kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                      "beta.kubernetes.io/arch": "amd64"}
            if i == 1:
                labels["node-role.kubernetes.io/control-plane"] = ""
            make("", "nodes", None, {"metadata": {"name": name, "labels": labels},
                                     "spec": {"podCIDR": f"10.244.{i - 1}.0/24"}}, "kubelet")
            node = c.store.get(("", "nodes"), "", name)
            now = node["metadata"]["creationTimestamp"]
            node["status"] = {
                "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "100Gi"},
                "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "100Gi"},
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                "message": "kubelet is posting ready status", "lastHeartbeatTime": now,
                                "lastTransitionTime": now}],
                "addresses": [{"type": "InternalIP", "address": f"172.18.0.{i + 1}"},
                              {"type": "Hostname", "address": name}],
                "nodeInfo": {"kubeletVersion": "v1.36.0", "containerRuntimeVersion": "containerd://2.0.0",
                             "operatingSystem": "linux", "architecture": "amd64",
                             "osImage": "Debian GNU/Linux 12 (bookworm)", "kernelVersion": "6.1.0",
                             "machineID": "", "systemUUID": "", "bootID": "",
                             "kubeProxyVersion": "", "osImage_": None}}
            node["status"]["nodeInfo"].pop("osImage_")
            res = reg.lookup("", "v1", "nodes")
            c.controller_write(res, node, "status")
        make("storage.k8s.io", "storageclasses", None, {
            "metadata": {"name": "standard", "annotations": {
                "storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "kubeapi.test/hostpath", "reclaimPolicy": "Delete",
            "volumeBindingMode": "Immediate"})
        make("storage.k8s.io", "storageclasses", None, {
            "metadata": {"name": "wait-for-consumer"}, "provisioner": "kubeapi.test/hostpath",
            "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer"})
        make("", "services", "default", {
            "metadata": {"name": "kubernetes", "labels": {"component": "apiserver",
                                                          "provider": "kubernetes"}},
            "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443,
                                                          "protocol": "TCP", "targetPort": 6443}]}})
        make("", "endpoints", "default", {
            "metadata": {"name": "kubernetes", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": [{"addresses": [{"ip": "172.18.0.2"}],
                         "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}]})


def fixture(scope="function", **options):
    """A pytest fixture that yields a started KubeAPI(**options) and stops it after."""
    import pytest

    @pytest.fixture(scope=scope)
    def kubeapi():
        with KubeAPI(**options) as api:
            yield api
    return kubeapi
