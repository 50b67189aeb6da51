"""Waiting driven by watches: one list+watch per group-kind and namespace.

Each watch keeps an in-memory copy of its objects up to date. A watch that
is cut (dropped connection, server timeout) resumes from the last
resourceVersion it saw; one whose version has expired (410 Gone) lists
again. `wait` re-evaluates readiness whenever any watch reports a change,
so an object that fails is seen the moment its status says so.
"""

import json
import logging
import threading

from hook_kubectl.backends import k8s_readiness as readiness
from hook_kubectl.backends.k8s_client import ApiError
from hook_kubectl.errors import BackendError

LOG = logging.getLogger("heat-config-kubectl")

WATCH_SECONDS = 60  # the server ends a watch after this; it is then resumed
WORKLOAD_KINDS = {("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "DaemonSet"),
                  ("apps", "ReplicaSet"), ("batch", "Job")}


class Gone(Exception):
    """The watch's resourceVersion is too old: list again."""


class WatchCache:
    def __init__(self, connection):
        self.connection = connection
        self.changed = threading.Condition()
        self._stores = {}  # key -> {(namespace, name): object}
        self._synced = set()
        self._failed = {}  # key -> message of an error that stopped the watch
        self._threads = []
        self._responses = {}
        self._stop = threading.Event()
        self.cuts = 0  # watches that had to be resumed (for the log)

    # --- watches --------------------------------------------------------

    @staticmethod
    def key(resource, namespace):
        return (resource.group_version, resource.kind, namespace if resource.namespaced else None)

    def ensure(self, resource, namespace=None):
        """Start watching `resource` in `namespace` (all for cluster-scoped)."""
        key = self.key(resource, namespace)
        with self.changed:
            if key in self._stores:
                return key
            self._stores[key] = {}
        thread = threading.Thread(target=self._run, args=(key, resource, key[2]),
                                  name=f"watch-{resource.kind}-{key[2]}", daemon=True)
        self._threads.append(thread)
        thread.start()
        return key

    def close(self):
        self._stop.set()
        for response in list(self._responses.values()):
            try:
                # A watch thread blocked in read() holds the stream's lock:
                # close() alone waits for the server's next event or
                # bookmark. Shutting the socket down first releases it.
                shutdown = getattr(response, "shutdown", None)  # urllib3 >= 2.3
                if shutdown:
                    shutdown()
                response.close()
            except Exception:  # already closed
                pass

    def _run(self, key, resource, namespace):
        version = None
        while not self._stop.is_set():
            try:
                if version is None:
                    version = self._list(key, resource, namespace)
                version = self._watch(key, resource, namespace, version)
            except Gone:
                version = None
            except ApiError as exc:
                if exc.status == 410:  # the version expired between list and watch
                    version = None
                    continue
                with self.changed:
                    self._failed[key] = f"cannot watch {resource.kind}: {exc}"
                    self.changed.notify_all()
                return
            except BackendError as exc:  # out of time
                with self.changed:
                    self._failed[key] = str(exc)
                    self.changed.notify_all()
                return
            except Exception as exc:  # a cut watch: resume from `version`
                if self._stop.is_set():
                    return
                self.cuts += 1
                LOG.info("watch of %s in %s was cut (%s), resuming", resource.kind,
                         namespace or "all namespaces", type(exc).__name__)
                self.connection.deadline.sleep(0.2)
                if self.connection.deadline.expired():
                    return

    def _list(self, key, resource, namespace):
        listing = self.connection.list(resource, namespace=namespace)
        store = {}
        for item in listing.get("items") or []:
            item.setdefault("apiVersion", resource.group_version)
            item.setdefault("kind", resource.kind)
            meta = item.get("metadata") or {}
            store[(meta.get("namespace"), meta.get("name"))] = item
        with self.changed:
            self._stores[key] = store
            self._synced.add(key)
            self.changed.notify_all()
        return (listing.get("metadata") or {}).get("resourceVersion")

    def _watch(self, key, resource, namespace, version):
        from kubernetes.watch.watch import iter_resp_lines

        seconds = int(max(1, min(WATCH_SECONDS, self.connection.deadline.remaining() + 1)))
        response = self.connection.call(lambda: self.connection.dynamic.request(
            "get", resource.path(namespace=namespace), watch="true",
            resource_version=version, allow_watch_bookmarks="true",
            timeout_seconds=seconds, serialize=False,
            _request_timeout=(10, seconds + 15)), f"watch {resource.kind}")
        self._responses[key] = response
        try:
            for line in iter_resp_lines(response):
                if self._stop.is_set():
                    break
                event = json.loads(line)
                kind = event.get("type")
                obj = event.get("object") or {}
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        raise Gone()
                    raise ConnectionError(f"watch error: {obj.get('message')}")
                meta = obj.get("metadata") or {}
                version = meta.get("resourceVersion") or version
                if kind == "BOOKMARK":
                    continue
                name = (meta.get("namespace"), meta.get("name"))
                with self.changed:
                    if kind == "DELETED":
                        self._stores[key].pop(name, None)
                    else:
                        self._stores[key][name] = obj
                    self.changed.notify_all()
        finally:
            self._responses.pop(key, None)
            response.release_conn()
        return version

    # --- reading the cache ----------------------------------------------

    def synced(self, key) -> bool:
        with self.changed:
            return key in self._synced

    def failure(self, key):
        with self.changed:
            return self._failed.get(key)

    def get(self, key, namespace, name):
        with self.changed:
            return self._stores.get(key, {}).get((namespace if key[2] else None, name))

    def items(self, key) -> list:
        with self.changed:
            return list(self._stores.get(key, {}).values())


class Snapshot:
    """WatchCache's reading side, answered by listing the API now: what a
    failure is explained with must not lag behind the watch that saw it."""

    def __init__(self, connection, *resources):
        self.connection = connection
        self._resources = {(r.group_version, r.kind): r for r in resources if r is not None}
        self._lists = {}

    def items(self, key) -> list:
        if key not in self._lists:
            resource = self._resources.get(key[:2])
            items = [] if resource is None else \
                self.connection.list(resource, namespace=key[2]).get("items") or []
            for item in items:
                item.setdefault("apiVersion", resource.group_version)
                item.setdefault("kind", resource.kind)
            self._lists[key] = items
        return self._lists[key]


class Related(readiness.NoRelated):
    """Answers the readiness rules' questions from the watch cache."""

    def __init__(self, cache: WatchCache, pod_resource, replica_set_resource):
        self.cache = cache
        self.pod_resource = pod_resource
        self.replica_set_resource = replica_set_resource
        self._storage_classes = {}  # name (None: the default) -> StorageClass or None

    def pods_of(self, obj: dict) -> list:
        if self.pod_resource is None:
            return []
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace")
        pods = self.cache.items(WatchCache.key(self.pod_resource, namespace))
        owners = {meta.get("uid")}
        if obj.get("kind") == "Deployment" and self.replica_set_resource is not None:
            owners = self._current_replica_sets(obj)
        mine = [p for p in pods if owners & {o.get("uid") for o in
                                             (p.get("metadata") or {}).get("ownerReferences") or []}]
        revision = (obj.get("status") or {}).get("updateRevision")
        if obj.get("kind") == "StatefulSet" and revision:
            # Pods of the revision being rolled out; old ones may still crash.
            mine = [p for p in mine if ((p.get("metadata") or {}).get("labels") or {}).get(
                "controller-revision-hash") == revision]
        if mine or owners != {meta.get("uid")}:
            return mine
        selector = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels")
        if not selector:
            return []
        return [p for p in pods
                if all(((p.get("metadata") or {}).get("labels") or {}).get(k) == v
                       for k, v in selector.items())]

    def _current_replica_sets(self, deployment: dict) -> set:
        """UIDs of the ReplicaSets of the Deployment's current revision: its
        old ReplicaSets' pods may still crash while the new ones come up."""
        meta = deployment.get("metadata") or {}
        sets = [rs for rs in self.cache.items(WatchCache.key(self.replica_set_resource, meta.get("namespace")))
                if meta.get("uid") in {o.get("uid") for o in
                                       (rs.get("metadata") or {}).get("ownerReferences") or []}]

        def revision(obj):
            return ((obj.get("metadata") or {}).get("annotations") or {}).get(
                "deployment.kubernetes.io/revision")

        current = revision(deployment)
        if current is None:  # not yet revised by its controller: newest known
            numbers = [int(revision(rs)) for rs in sets if str(revision(rs)).isdigit()]
            current = str(max(numbers)) if numbers else None
        # An empty answer until the current ReplicaSet is seen: never an old one.
        return {rs["metadata"].get("uid") for rs in sets if revision(rs) == current} or {None}

    def storage_class(self, name):
        connection = self.cache.connection
        if name in self._storage_classes:
            return self._storage_classes[name]
        found = None
        resource = connection.resource("storage.k8s.io/v1", "StorageClass")
        if resource is not None:
            if name:
                found = connection.get(resource, name, None)
            else:
                for item in connection.list(resource).get("items") or []:
                    annotations = (item.get("metadata") or {}).get("annotations") or {}
                    if annotations.get("storageclass.kubernetes.io/is-default-class") == "true":
                        found = item
        self._storage_classes[name] = found
        return found
