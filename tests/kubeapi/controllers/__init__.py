"""Controllers that make the world move: scheduler and kubelet (kubelet.py), workload
controllers (workloads.py), garbage collector and Namespace/CRD/PVC/Service controllers
(objects.py), Events (here).

One thread works a timed queue of keys; store changes enqueue the changed object
and its owners. Every reconcile runs under the cluster lock and writes through
Cluster (so resourceVersions, managedFields and watches behave as for clients).

Pod failure modes are chosen by the image name (substring match):
  pull-error     ErrImagePull, then ImagePullBackOff (never starts)
  crashloop      starts, exits 1 every `delays.crash` s: CrashLoopBackOff, restartCount rises
  config-error   CreateContainerConfigError (also for a missing ConfigMap/Secret reference)
  unschedulable  PodScheduled=False reason Unschedulable (also: nodeSelector matching no node)
  slow-start     Ready only after `delays.slow_start` s
  job-fail       the container exits 1 (pod Failed with restartPolicy Never; Job Failed)
  never-ready    running but the readiness probe never passes (Ready=False)
"""

import hashlib
import heapq
import itertools
import threading
import time
import traceback

from .. import errors
from ..cluster import CONTROLLER_MANAGER, DeleteOptions, labels_match, selector_from_label_selector
from .common import (GC_FINALIZERS, K_CM, K_EP, K_PDB, K_CRD, K_CRON, K_DEPLOY, K_DS, K_EVENT, K_JOB, K_NS,
                     K_POD, K_PVC, K_RS, K_SECRET, K_STS, K_SVC, _owner_uid, ts)
from .common import DELAY_NAMES, Delays  # noqa: F401 (the package's interface)
from .kubelet import Kubelet
from .objects import ClusterObjects
from .workloads import Workloads


class Controllers(Kubelet, Workloads, ClusterObjects):
    """The controller manager: one thread, one timed queue, a reconcile per key."""

    def __init__(self, api):
        self.api = api
        self.cluster = api.cluster
        self.store = api.cluster.store
        self.delays = api.delays
        self._queue = []
        self._due = {}
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopped = threading.Event()
        self._thread = None
        self.progress = {}            # object uid -> progress of its simulated life (times, flags)
        self.owned = {}              # owner uid -> set of (key, ns, name)
        self.events = {}             # (uid, reason, message) -> event name
        self.errors = []             # reconcile exceptions (a test can assert none)
        self.cron_last = {}          # CronJob uid -> time of its last scheduled run

    # -- queue ----------------------------------------------------------------------------
    def start(self):
        self.store.listeners.append(self.on_change)
        self._stopped.clear()
        self._thread = threading.Thread(target=self._run, name="kubeapi-controllers", daemon=True)
        self._thread.start()
        with self.cluster.lock:
            for key in self.store.keys():
                for obj in self.store.list(key):
                    self.on_change("ADDED", key, obj)

    def stop(self):
        self._stopped.set()
        if self.on_change in self.store.listeners:
            self.store.listeners.remove(self.on_change)
        with self._cond:
            self._cond.notify_all()
        if self._thread:
            self._thread.join(5)

    def enqueue(self, kind, namespace, name, delay=0.0):
        due = time.time() + max(0.0, delay)
        item = (kind, namespace or "", name)
        with self._cond:
            current = self._due.get(item)
            if current is not None and current <= due:
                return
            self._due[item] = due
            heapq.heappush(self._queue, (due, next(self._seq), item))
            self._cond.notify()

    def _run(self):
        while not self._stopped.is_set():
            with self._cond:
                while not self._stopped.is_set():
                    now = time.time()
                    if self._queue and self._queue[0][0] <= now:
                        due, _, item = heapq.heappop(self._queue)
                        if self._due.get(item) != due:
                            continue
                        del self._due[item]
                        break
                    timeout = (self._queue[0][0] - now) if self._queue else 1.0
                    self._cond.wait(min(timeout, 1.0))
                else:
                    return
            try:
                with self.cluster.lock:
                    self.reconcile(*item)
            except Exception as exc:   # keep going; tests can inspect .errors
                self.errors.append((item, repr(exc), traceback.format_exc()))

    def idle(self):
        """True when nothing is due now (tests use it to settle)."""
        with self._cond:
            return not self._queue or self._queue[0][0] > time.time()

    # -- change feed ----------------------------------------------------------------------
    def on_change(self, event_type, key, obj):
        if key == K_EVENT:
            return
        meta = obj["metadata"]
        ns, name, uid = meta.get("namespace", ""), meta["name"], meta["uid"]
        for ref in meta.get("ownerReferences") or []:
            entry = (key, ns, name)
            if event_type == "DELETED":
                self.owned.get(ref.get("uid"), set()).discard(entry)
            else:
                self.owned.setdefault(ref.get("uid"), set()).add(entry)
            owner_res = self._res_for_ref(ref)
            if owner_res is not None:
                owner_ns = ns if owner_res.namespaced else ""
                # a real Job controller batches pod updates (1 s): a Job turns Failed or
                # Complete a moment after its pod did, not in the same instant
                delay = self.delays.job_sync if owner_res.key == K_JOB and key == K_POD \
                    else self.delays.controller
                self.enqueue(owner_res.key, owner_ns, ref.get("name"), delay)
                if event_type == "DELETED":   # a foreground-deleting owner may be done now
                    self.enqueue("gc-owner", owner_ns,
                                 f"{owner_res.key[0]}|{owner_res.key[1]}|{ref.get('name')}")
        if event_type == "DELETED":
            if uid in self.owned:
                self.enqueue("gc", "", uid)
            self.progress.pop(uid, None)
        else:
            self.enqueue(key, ns, name)
            if meta.get("deletionTimestamp") and set(meta.get("finalizers") or []) & set(GC_FINALIZERS):
                self.enqueue("gc-owner", ns, f"{key[0]}|{key[1]}|{name}")
        if key == K_POD:
            for vol in (obj.get("spec") or {}).get("volumes") or []:
                claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
                if claim:
                    self.enqueue(K_PVC, ns, claim)
        if key == K_POD:       # Services and PodDisruptionBudgets that select the pod look again
            labels = meta.get("labels") or {}
            for svc in self.store.list(K_SVC, ns):
                selector = (svc.get("spec") or {}).get("selector")
                if selector and all(labels.get(k) == v for k, v in selector.items()):
                    self.enqueue(K_SVC, ns, svc["metadata"]["name"])
            for pdb in self.store.list(K_PDB, ns):
                if labels_match(selector_from_label_selector((pdb.get("spec") or {}).get("selector") or {}),
                                obj):
                    self.enqueue(K_PDB, ns, pdb["metadata"]["name"])
        if key == K_SVC and event_type == "DELETED":
            self.enqueue("endpoints-gone", ns, name)
        if key == K_PVC or key in (K_CM, K_SECRET):
            # pods waiting for a claim, a ConfigMap or a Secret look again
            for pod in self.store.list(K_POD, ns):
                if pod["status"].get("phase") == "Pending":
                    self.enqueue(K_POD, ns, pod["metadata"]["name"])
        if key == K_CRD:
            for other in self.store.list(K_CRD):
                if other["metadata"]["name"] != name:
                    self.enqueue(K_CRD, "", other["metadata"]["name"])

    def _res_for_ref(self, ref):
        api_version = ref.get("apiVersion", "")
        group = api_version.split("/")[0] if "/" in api_version else ""
        return self.cluster.registry.by_kind(group, ref.get("kind"))

    def _resource(self, key):
        res = self.cluster.registry.by_key(key)
        if res is None:
            raise LookupError(f"no resource for {key}")
        return res

    # -- helpers --------------------------------------------------------------------------
    def _write_status(self, key, obj):
        return self.cluster.controller_write(self._resource(key), obj, "status")

    def _write(self, key, obj):
        return self.cluster.controller_write(self._resource(key), obj)

    def _create(self, key, namespace, obj):
        try:
            return self.cluster.create(self._resource(key), namespace, obj, CONTROLLER_MANAGER)
        except errors.ApiError as exc:
            if exc.code in (409, 403, 404):
                return None
            raise

    def _delete(self, key, namespace, name, propagation="Background", grace=None):
        try:
            self.cluster.delete(self._resource(key), namespace, name,
                                DeleteOptions(propagation, grace))
        except errors.ApiError as exc:
            if exc.code != 404:
                raise

    def _children(self, owner, key):
        uid = owner["metadata"]["uid"]
        out = []
        for k, ns, name in list(self.owned.get(uid, ())):
            if k != key:
                continue
            obj = self.store.peek(k, ns, name)
            if obj is not None and _owner_uid(obj) == uid:
                out.append(obj)
        return sorted(out, key=lambda o: o["metadata"]["name"])

    def event(self, obj, key, etype, reason, message, component="kubelet"):
        """Record a v1 Event about obj (repeats bump count and lastTimestamp)."""
        meta = obj["metadata"]
        ident = (meta["uid"], reason, message)
        res = self._resource(key)
        involved = {"kind": res.kind, "namespace": meta.get("namespace", "default"),
                    "name": meta["name"], "uid": meta["uid"], "apiVersion": res.api_version,
                    "resourceVersion": meta.get("resourceVersion")}
        ns = meta.get("namespace") or "default"
        existing = self.events.get(ident)
        if existing:
            ev = self.store.get(K_EVENT, ns, existing)
            if ev is not None:
                ev["count"] = ev.get("count", 1) + 1
                ev["lastTimestamp"] = ts()
                self._write(K_EVENT, ev)
                return
        name = f"{meta['name']}.{hashlib.md5(repr(ident).encode()).hexdigest()[:16]}"
        self.events[ident] = name
        source = {"component": component}
        if component == "kubelet":
            source["host"] = (obj.get("spec") or {}).get("nodeName", "node-1")
        self._create(K_EVENT, ns, {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": involved, "reason": reason, "message": message, "type": etype,
            "source": source, "firstTimestamp": ts(), "lastTimestamp": ts(), "count": 1,
            "reportingComponent": component, "reportingInstance": source.get("host", ""),
            "eventTime": None})

    # -- dispatch -------------------------------------------------------------------------
    def reconcile(self, kind, namespace, name):
        if kind == "gc":
            return self.gc_orphans(name)
        if kind == "endpoints-gone":
            if self.store.peek(K_SVC, namespace, name) is None:
                self._delete(K_EP, namespace, name)
            return
        if kind == "gc-owner":
            group, plural, owner = name.split("|", 2)
            return self.gc_owner((group, plural), namespace, owner)
        handler = {K_POD: self.pod, K_RS: self.replicaset, K_DEPLOY: self.deployment,
                   K_STS: self.statefulset, K_DS: self.daemonset, K_JOB: self.job,
                   K_CRON: self.cronjob, K_SVC: self.service, K_PVC: self.pvc,
                   K_CRD: self.crd, K_NS: self.namespace, K_PDB: self.disruption_budget}.get(kind)
        if handler is None:
            return
        obj = self.store.get(kind, namespace, name)
        if obj is not None:
            handler(obj)
