"""Controllers that make the world move: scheduler, kubelet, workload controllers,
garbage collector, namespace/CRD/PVC/Service controllers, events.

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

import copy
import hashlib
import re
import heapq
import itertools
import threading
import time
import traceback
from dataclasses import dataclass, fields

from . import admission, errors
from .cluster import CONTROLLER_MANAGER, DeleteOptions, now_iso, random_suffix, \
    selector_from_label_selector, labels_match
from .resources import Resource

K_POD = ("", "pods")
K_NODE = ("", "nodes")
K_NS = ("", "namespaces")
K_EVENT = ("", "events")
K_PVC = ("", "persistentvolumeclaims")
K_PV = ("", "persistentvolumes")
K_SVC = ("", "services")
K_CM = ("", "configmaps")
K_SECRET = ("", "secrets")
K_SA = ("", "serviceaccounts")
K_DEPLOY = ("apps", "deployments")
K_RS = ("apps", "replicasets")
K_STS = ("apps", "statefulsets")
K_DS = ("apps", "daemonsets")
K_JOB = ("batch", "jobs")
K_CRON = ("batch", "cronjobs")
K_CRD = ("apiextensions.k8s.io", "customresourcedefinitions")
K_SC = ("storage.k8s.io", "storageclasses")

GC_FINALIZERS = ("foregroundDeletion", "orphan")
CRD_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


@dataclass
class Delays:
    """Seconds each step takes (change them on a running server: api.delays.x = ...)."""
    schedule: float = 0.0          # pod -> bound to a node
    pod_start: float = 0.05        # bound -> containers running and Ready
    slow_start: float = 3.0        # extra start time for images containing "slow-start"
    pull_backoff: float = 0.3      # ErrImagePull -> ImagePullBackOff
    crash: float = 0.3             # time between crashes of a "crashloop" container
    job_run: float = 0.1           # how long a Job's pod runs before it exits
    pod_terminate: float = 0.02    # graceful pod deletion -> pod gone
    load_balancer: float = 0.3     # LoadBalancer Service -> status.loadBalancer.ingress
    pvc_bind: float = 0.05         # PVC -> Bound
    crd_establish: float = 0.05    # CRD -> Established
    crd_terminate: float = 0.3     # deleted CRD -> its objects deleted, CRD gone
    namespace_finalize: float = 0.05   # deleted Namespace -> content deleted, namespace gone
    controller: float = 0.0        # Deployment/ReplicaSet/StatefulSet/DaemonSet/Job reaction


def ts():
    return now_iso()


def _ready(pod):
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False


def _owner_uid(obj):
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return ref.get("uid")
    return None


def _owner_ref(obj, kind, api_version):
    return {"apiVersion": api_version, "kind": kind, "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def _set_condition(conditions, ctype, status, reason, message, progress=False):
    """Update (or add) a condition; lastTransitionTime moves only when status changes."""
    now = ts()
    for cond in conditions:
        if cond["type"] == ctype:
            if cond["status"] != status:
                cond["lastTransitionTime"] = now
            if "lastUpdateTime" in cond and (progress or cond["status"] != status or
                                             cond.get("reason") != reason):
                cond["lastUpdateTime"] = now
            cond.update(status=status, reason=reason, message=message)
            return
    cond = {"type": ctype, "status": status, "lastTransitionTime": now, "reason": reason,
            "message": message}
    conditions.append(cond)


def _percent(value, total, round_up):
    if isinstance(value, str) and value.endswith("%"):
        raw = int(value[:-1]) * total / 100.0
        return int(-(-raw // 1)) if round_up else int(raw)
    return int(value or 0)


class Controllers:
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
        self.kubelet = {}            # pod uid -> {"bound": t, ...}
        self.owned = {}              # owner uid -> set of (key, ns, name)
        self.events = {}             # (uid, reason, message) -> event name
        self.errors = []             # reconcile exceptions (a test can assert none)
        self.cron_last = {}
        self.res = {}

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
                self.enqueue(owner_res.key, owner_ns, ref.get("name"))
                if event_type == "DELETED":   # a foreground-deleting owner may be done now
                    self.enqueue("gc-owner", owner_ns,
                                 f"{owner_res.key[0]}|{owner_res.key[1]}|{ref.get('name')}")
        if event_type == "DELETED":
            if uid in self.owned:
                self.enqueue("gc", "", uid)
            self.kubelet.pop(uid, None)
        else:
            self.enqueue(key, ns, name)
            if meta.get("deletionTimestamp") and set(meta.get("finalizers") or []) & set(GC_FINALIZERS):
                self.enqueue("gc-owner", ns, f"{key[0]}|{key[1]}|{name}")
        if key == K_POD:
            for vol in (obj.get("spec") or {}).get("volumes") or []:
                claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
                if claim:
                    self.enqueue(K_PVC, ns, claim)
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
        if kind == "gc-owner":
            group, plural, owner = name.split("|", 2)
            return self.gc_owner((group, plural), namespace, owner)
        handler = {K_POD: self.pod, K_RS: self.replicaset, K_DEPLOY: self.deployment,
                   K_STS: self.statefulset, K_DS: self.daemonset, K_JOB: self.job,
                   K_CRON: self.cronjob, K_SVC: self.service, K_PVC: self.pvc,
                   K_CRD: self.crd, K_NS: self.namespace}.get(kind)
        if handler is None:
            return
        obj = self.store.get(kind, namespace, name)
        if obj is not None:
            handler(obj)

    # -- garbage collection ---------------------------------------------------------------
    def _dependents(self, uid):
        out = []
        for key, ns, name in list(self.owned.get(uid, ())):
            obj = self.store.peek(key, ns, name)
            if obj is not None and any(r.get("uid") == uid for r in obj["metadata"].get("ownerReferences") or []):
                out.append((key, obj))
        return out

    def _exists_uid(self, ref, namespace):
        res = self._res_for_ref(ref)
        if res is None:
            return False
        obj = self.store.peek(res.key, namespace if res.namespaced else "", ref.get("name"))
        return obj is not None and obj["metadata"]["uid"] == ref.get("uid")

    def gc_orphans(self, uid):
        """The owner `uid` is gone: delete dependents that have no other live owner."""
        for key, obj in self._dependents(uid):
            meta = obj["metadata"]
            if meta.get("deletionTimestamp"):
                continue
            others = [r for r in meta.get("ownerReferences") or [] if r.get("uid") != uid]
            if any(self._exists_uid(r, meta.get("namespace", "")) for r in others):
                continue
            self._delete(key, meta.get("namespace"), meta["name"], "Background")
        self.owned.pop(uid, None) if not self._dependents(uid) else None

    def gc_owner(self, key, namespace, name):
        """An owner being deleted with the foregroundDeletion or orphan finalizer."""
        owner = self.store.get(key, namespace, name)
        if owner is None or not owner["metadata"].get("deletionTimestamp"):
            return
        uid = owner["metadata"]["uid"]
        finalizers = owner["metadata"].get("finalizers") or []
        dependents = self._dependents(uid)
        if "orphan" in finalizers:
            for dkey, dep in dependents:
                dep = copy.deepcopy(dep)
                dep["metadata"]["ownerReferences"] = [r for r in dep["metadata"]["ownerReferences"]
                                                      if r.get("uid") != uid]
                if not dep["metadata"]["ownerReferences"]:
                    del dep["metadata"]["ownerReferences"]
                self._write(dkey, dep)
            owner["metadata"]["finalizers"] = [f for f in finalizers if f != "orphan"]
            self._write(key, owner)
            return
        if "foregroundDeletion" in finalizers:
            blocking = False
            for dkey, dep in dependents:
                if not dep["metadata"].get("deletionTimestamp"):
                    self._delete(dkey, dep["metadata"].get("namespace"), dep["metadata"]["name"],
                                 "Foreground")
                blocking = True
            if blocking:
                return        # dependents' removal requeues this owner
            owner["metadata"]["finalizers"] = [f for f in finalizers if f != "foregroundDeletion"]
            self._write(key, owner)

    # -- nodes and scheduling ---------------------------------------------------------------
    def nodes(self):
        return self.store.list(K_NODE)

    def _schedule(self, pod):
        spec, status = pod["spec"], pod["status"]
        image_fail = any("unschedulable" in c.get("image", "") for c in spec.get("containers") or [])
        selector = spec.get("nodeSelector") or {}
        nodes = [n for n in self.nodes()
                 if all((n["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())]
        reason = None
        total = len(self.nodes())
        if image_fail or not nodes:
            reason = (f"0/{total} nodes are available: {total} node(s) didn't match Pod's node "
                      f"affinity/selector. preemption: 0/{total} nodes are available: {total} "
                      f"Preemption is not helpful for scheduling.")
        for vol in spec.get("volumes") or []:
            claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
            if claim and self.store.peek(K_PVC, pod["metadata"]["namespace"], claim) is None:
                reason = f'0/{total} nodes are available: persistentvolumeclaim "{claim}" not found. ' \
                         f"preemption: 0/{total} nodes are available: {total} Preemption is not " \
                         f"helpful for scheduling."
        if reason:
            conditions = status.setdefault("conditions", [])
            before = copy.deepcopy(conditions)
            _set_condition(conditions, "PodScheduled", "False", "Unschedulable", reason)
            if conditions != before:
                self._write_status(K_POD, pod)
                self.event(pod, K_POD, "Warning", "FailedScheduling", reason, "default-scheduler")
            return
        bound = self.kubelet.setdefault(pod["metadata"]["uid"], {})
        if "seen" not in bound:
            bound["seen"] = time.time()
        wait = bound["seen"] + self.delays.schedule - time.time()
        if wait > 0:
            self.enqueue(K_POD, pod["metadata"]["namespace"], pod["metadata"]["name"], wait)
            return
        node = nodes[hash(pod["metadata"]["name"]) % len(nodes)]["metadata"]["name"]
        # WaitForFirstConsumer claims learn their node from the scheduler
        for vol in spec.get("volumes") or []:
            claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
            if claim:
                pvc = self.store.get(K_PVC, pod["metadata"]["namespace"], claim)
                notes = pvc["metadata"].setdefault("annotations", {})
                if pvc["status"].get("phase") != "Bound" and \
                        notes.get("volume.kubernetes.io/selected-node") != node:
                    notes["volume.kubernetes.io/selected-node"] = node
                    self._write(K_PVC, pvc)
        pod["spec"]["nodeName"] = node
        stored = self._write(K_POD, pod)
        if stored is None:
            return
        pod = copy.deepcopy(stored)
        _set_condition(pod["status"].setdefault("conditions", []), "PodScheduled", "True", None, None)
        for cond in pod["status"]["conditions"]:
            if cond["type"] == "PodScheduled":
                cond.pop("reason", None)
                cond.pop("message", None)
        self._write_status(K_POD, pod)
        self.event(pod, K_POD, "Normal", "Scheduled",
                   f"Successfully assigned {pod['metadata']['namespace']}/{pod['metadata']['name']} to {node}",
                   "default-scheduler")

    # -- kubelet ------------------------------------------------------------------------------
    def pod(self, pod):
        meta, spec = pod["metadata"], pod["spec"]
        ns, name = meta["namespace"], meta["name"]
        if meta.get("deletionTimestamp"):
            return self._terminate_pod(pod)
        phase = pod["status"].get("phase")
        if phase in ("Succeeded", "Failed"):
            return
        if not spec.get("nodeName"):
            return self._schedule(pod)
        state = self.kubelet.setdefault(meta["uid"], {})
        state.setdefault("seen", time.time())
        state.setdefault("bound", time.time())
        now = time.time()
        status = copy.deepcopy(pod["status"])
        status.setdefault("hostIP", "172.18.0.2")
        status.setdefault("hostIPs", [{"ip": "172.18.0.2"}])
        status.setdefault("startTime", ts())
        containers = spec.get("containers") or []
        conditions = status.setdefault("conditions", [])
        waiting = self._waiting_reason(pod, state)
        restart = spec.get("restartPolicy", "Always")
        statuses = []
        ready_all = True
        finished = None          # "Succeeded" / "Failed"
        requeue = None
        for c in containers:
            image = c.get("image", "")
            cs = {"name": c["name"], "image": image, "imageID": "", "ready": False,
                  "restartCount": 0, "started": False}
            if waiting:
                reason, message = waiting
                cs["state"] = {"waiting": {"reason": reason, "message": message} if message
                               else {"reason": reason}}
                ready_all = False
            elif _invalid_image(image):
                ready_all = False
                message = (f'Failed to apply default image tag "{image}": couldn\'t parse image name '
                           f'"{image}": {_invalid_image(image)}')
                cs["state"] = {"waiting": {"reason": "InvalidImageName", "message": message}}
                if not state.get("invalid_event"):
                    state["invalid_event"] = True
                    self.event(pod, K_POD, "Warning", "InspectFailed", message)
                    self.event(pod, K_POD, "Warning", "Failed", "Error: InvalidImageName")
            elif "pull-error" in image:
                ready_all = False
                failed_at = state.setdefault("pull_failed", now)
                if now - failed_at < self.delays.pull_backoff:
                    reason = "ErrImagePull"
                    message = (f'failed to pull and unpack image "{image}": failed to resolve '
                               f'reference "{image}": {image}: not found')
                    requeue = _min(requeue, failed_at + self.delays.pull_backoff - now)
                    if not state.get("pull_event"):
                        state["pull_event"] = True
                        self.event(pod, K_POD, "Normal", "Pulling", f'Pulling image "{image}"')
                        self.event(pod, K_POD, "Warning", "Failed", f'Failed to pull image "{image}": '
                                   f'rpc error: code = NotFound desc = {message}')
                        self.event(pod, K_POD, "Warning", "Failed", "Error: ErrImagePull")
                else:
                    reason, message = "ImagePullBackOff", f'Back-off pulling image "{image}"'
                    if not state.get("backoff_event"):
                        state["backoff_event"] = True
                        self.event(pod, K_POD, "Normal", "BackOff", f'Back-off pulling image "{image}"')
                        self.event(pod, K_POD, "Warning", "Failed", "Error: ImagePullBackOff")
                cs["state"] = {"waiting": {"reason": reason, "message": message}}
            else:
                start_after = self.delays.pod_start + (self.delays.slow_start if "slow-start" in image else 0)
                started_at = state["bound"] + start_after
                if now < started_at:
                    cs["state"] = {"waiting": {"reason": "ContainerCreating"}}
                    ready_all = False
                    requeue = _min(requeue, started_at - now)
                else:
                    if not state.get("started_event_" + c["name"]):
                        state["started_event_" + c["name"]] = True
                        self.event(pod, K_POD, "Normal", "Pulled", f'Container image "{image}" already present on machine')
                        self.event(pod, K_POD, "Normal", "Created", f"Created container: {c['name']}")
                        self.event(pod, K_POD, "Normal", "Started", f"Started container {c['name']}")
                    cs["containerID"] = "containerd://" + hashlib.sha256(
                        (meta["uid"] + c["name"]).encode()).hexdigest()
                    cs["imageID"] = "docker.io/library/" + image.split(":")[0] + "@sha256:" + \
                        hashlib.sha256(image.encode()).hexdigest()
                    started_iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started_at))
                    fails = "crashloop" in image or "job-fail" in image
                    job_like = restart in ("Never", "OnFailure")
                    if fails and (restart == "Never"):
                        run_end = started_at + (self.delays.job_run if job_like else self.delays.crash)
                        if now >= run_end:
                            cs["state"] = {"terminated": {"exitCode": 1, "reason": "Error",
                                                          "startedAt": started_iso,
                                                          "finishedAt": _iso(run_end)}}
                            finished = "Failed"
                        else:
                            cs["state"] = {"running": {"startedAt": started_iso}}
                            cs["started"] = True
                            requeue = _min(requeue, run_end - now)
                        ready_all = False
                    elif fails:
                        period = self.delays.job_run if "job-fail" in image and job_like else self.delays.crash
                        crashes = int((now - started_at) / max(period, 0.001))
                        cs["restartCount"] = crashes
                        if crashes:
                            cs["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error",
                                                              "startedAt": started_iso,
                                                              "finishedAt": ts()}}
                            cs["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message":
                                                       f"back-off {min(300, 10 * 2 ** (crashes - 1))}s "
                                                       f"restarting failed container={c['name']} "
                                                       f"pod={name}_{ns}({meta['uid']})"}}
                            if state.get("crash_events", 0) < crashes:
                                state["crash_events"] = crashes
                                self.event(pod, K_POD, "Warning", "BackOff",
                                           f"Back-off restarting failed container {c['name']} in "
                                           f"pod {name}_{ns}({meta['uid']})")
                        else:
                            cs["state"] = {"running": {"startedAt": started_iso}}
                            cs["started"] = True
                        requeue = _min(requeue, period - ((now - started_at) % period))
                        ready_all = False
                    elif job_like:
                        run_end = started_at + self.delays.job_run
                        if now >= run_end:
                            cs["state"] = {"terminated": {"exitCode": 0, "reason": "Completed",
                                                          "startedAt": started_iso,
                                                          "finishedAt": _iso(run_end)}}
                            finished = finished or "Succeeded"
                        else:
                            cs["state"] = {"running": {"startedAt": started_iso}}
                            cs["started"] = True
                            requeue = _min(requeue, run_end - now)
                        ready_all = False
                    else:
                        cs["state"] = {"running": {"startedAt": started_iso}}
                        cs["started"] = True
                        cs["ready"] = "never-ready" not in image
                        ready_all = ready_all and cs["ready"]
            statuses.append(cs)
        status["containerStatuses"] = statuses
        for ctype in ("PodReadyToStartContainers", "Initialized"):
            _set_condition(conditions, ctype, "True", None, None)
        if finished:
            status["phase"] = finished
            _set_condition(conditions, "Ready", "False", "PodCompleted", None)
            _set_condition(conditions, "ContainersReady", "False", "PodCompleted", None)
        else:
            status["phase"] = "Running" if any("running" in cs.get("state", {}) or
                                               cs.get("restartCount") for cs in statuses) else "Pending"
            if ready_all and statuses:
                _set_condition(conditions, "Ready", "True", None, None)
                _set_condition(conditions, "ContainersReady", "True", None, None)
            else:
                not_ready = [cs["name"] for cs in statuses if not cs["ready"]]
                msg = f"containers with unready status: [{' '.join(not_ready)}]"
                _set_condition(conditions, "Ready", "False", "ContainersNotReady", msg)
                _set_condition(conditions, "ContainersReady", "False", "ContainersNotReady", msg)
        for cond in conditions:
            if cond.get("reason") is None:
                cond.pop("reason", None)
            if cond.get("message") is None:
                cond.pop("message", None)
        order = ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
        status["conditions"] = sorted(conditions, key=lambda c: order.index(c["type"])
                                      if c["type"] in order else 99)
        if status["phase"] == "Running" or finished:
            ip = state.setdefault("ip", f"10.244.0.{(hash(meta['uid']) % 250) + 2}")
            status["podIP"], status["podIPs"] = ip, [{"ip": ip}]
        if any(c["type"] == "Ready" and c["status"] == "True" for c in status["conditions"]):
            state.setdefault("ready_at", now)
        else:
            state.pop("ready_at", None)
        if status != pod["status"]:
            pod["status"] = status
            self._write_status(K_POD, pod)
        if waiting and waiting[0] == "CreateContainerConfigError":
            requeue = _min(requeue, 0.5)
        if requeue is not None:
            self.enqueue(K_POD, ns, name, requeue + 0.001)

    def _waiting_reason(self, pod, state):
        """(reason, message) that keeps every container waiting, or None."""
        ns = pod["metadata"]["namespace"]
        for c in pod["spec"].get("containers") or []:
            if "config-error" in c.get("image", ""):
                return self._config_error(pod, state, f'configmap "{c["name"]}-config" not found')
            for env in c.get("env") or []:
                source = env.get("valueFrom") or {}
                for kind_key, store_key, label in (("configMapKeyRef", K_CM, "configmap"),
                                                   ("secretKeyRef", K_SECRET, "secret")):
                    ref = source.get(kind_key)
                    if ref and not ref.get("optional"):
                        obj = self.store.peek(store_key, ns, ref.get("name"))
                        if obj is None:
                            return self._config_error(pod, state, f'{label} "{ref.get("name")}" not found')
                        data = dict(obj.get("data") or {}, **(obj.get("stringData") or {}))
                        if ref.get("key") not in data:
                            return self._config_error(pod, state, f"couldn't find key {ref.get('key')} "
                                                      f"in {label.title() if label == 'secret' else 'ConfigMap'} "
                                                      f"{ns}/{ref.get('name')}")
            for src in c.get("envFrom") or []:
                for kind_key, store_key, label in (("configMapRef", K_CM, "configmap"),
                                                   ("secretRef", K_SECRET, "secret")):
                    ref = src.get(kind_key)
                    if ref and not ref.get("optional") and self.store.peek(store_key, ns, ref.get("name")) is None:
                        return self._config_error(pod, state, f'{label} "{ref.get("name")}" not found')
        for vol in pod["spec"].get("volumes") or []:
            claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
            if claim:
                pvc = self.store.peek(K_PVC, ns, claim)
                if pvc is None or pvc["status"].get("phase") != "Bound":
                    return ("ContainerCreating", None)
        state.pop("config_error", None)
        return None

    def _config_error(self, pod, state, message):
        if state.get("config_error") != message:
            state["config_error"] = message
            self.event(pod, K_POD, "Warning", "Failed", f"Error: {message}")
        return ("CreateContainerConfigError", message)

    def _terminate_pod(self, pod):
        meta = pod["metadata"]
        if meta.get("finalizers"):
            return
        state = self.kubelet.setdefault(meta["uid"], {})
        since = state.setdefault("terminating", time.time())
        wait = since + min(self.delays.pod_terminate, meta.get("deletionGracePeriodSeconds") or 0) - time.time()
        if wait > 0:
            self.enqueue(K_POD, meta["namespace"], meta["name"], wait + 0.001)
            return
        if state.get("killed") is None and pod["status"].get("phase") == "Running":
            state["killed"] = True
            for c in pod["spec"].get("containers") or []:
                self.event(pod, K_POD, "Normal", "Killing", f"Stopping container {c['name']}")
        self.store.remove(K_POD, meta["namespace"], meta["name"], self.store.next_rv())

    # -- ReplicaSet ----------------------------------------------------------------------------
    def _new_pod(self, owner, kind, api_version, template, name=None, extra_labels=None, node=None):
        tmeta = copy.deepcopy(template.get("metadata") or {})
        labels = dict(tmeta.get("labels") or {}, **(extra_labels or {}))
        meta = {"labels": labels, "ownerReferences": [_owner_ref(owner, kind, api_version)]}
        if tmeta.get("annotations"):
            meta["annotations"] = tmeta["annotations"]
        if name:
            meta["name"] = name
        else:
            meta["generateName"] = owner["metadata"]["name"] + "-"
        spec = copy.deepcopy(template.get("spec") or {})
        if node:
            spec["nodeName"] = node
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}

    def replicaset(self, rs):
        if rs["metadata"].get("deletionTimestamp"):
            return
        ns = rs["metadata"]["namespace"]
        desired = rs["spec"].get("replicas", 1)
        pods = [p for p in self._children(rs, K_POD) if not p["metadata"].get("deletionTimestamp")]
        active = [p for p in pods if p["status"].get("phase") not in ("Succeeded", "Failed")]
        if len(active) < desired:
            for _ in range(desired - len(active)):
                created = self._create(K_POD, ns, self._new_pod(rs, "ReplicaSet", "apps/v1",
                                                                rs["spec"]["template"]))
                if created:
                    self.event(rs, K_RS, "Normal", "SuccessfulCreate",
                               f"Created pod: {created['metadata']['name']}", "replicaset-controller")
        elif len(active) > desired:
            doomed = sorted(active, key=lambda p: (_ready(p), p["metadata"]["creationTimestamp"]))
            for p in doomed[: len(active) - desired]:
                self._delete(K_POD, ns, p["metadata"]["name"])
                self.event(rs, K_RS, "Normal", "SuccessfulDelete",
                           f"Deleted pod: {p['metadata']['name']}", "replicaset-controller")
        pods = [p for p in self._children(rs, K_POD) if not p["metadata"].get("deletionTimestamp")]
        ready = sum(1 for p in pods if _ready(p))
        available = self._available(pods, rs["spec"].get("minReadySeconds", 0), (K_RS, ns, rs["metadata"]["name"]))
        status = {"replicas": len(pods), "fullyLabeledReplicas": len(pods),
                  "readyReplicas": ready, "availableReplicas": available,
                  "observedGeneration": rs["metadata"].get("generation", 1)}
        status = {k: v for k, v in status.items() if v or k in ("replicas", "observedGeneration")}
        status["terminatingReplicas"] = sum(1 for p in self._children(rs, K_POD)
                                            if p["metadata"].get("deletionTimestamp"))
        if not status["terminatingReplicas"]:
            del status["terminatingReplicas"]
        if status != rs.get("status"):
            rs["status"] = status
            self._write_status(K_RS, rs)

    def _available(self, pods, min_ready, requeue):
        """Pods Ready for at least minReadySeconds; requeue when the next one will be."""
        now, count, next_at = time.time(), 0, None
        for p in pods:
            if not _ready(p):
                continue
            ready_at = self.kubelet.get(p["metadata"]["uid"], {}).get("ready_at", 0)
            if now >= ready_at + min_ready:
                count += 1
            else:
                next_at = _min(next_at, ready_at + min_ready - now)
        if next_at is not None:
            self.enqueue(*requeue, next_at + 0.01)
        return count

    # -- Deployment ----------------------------------------------------------------------------
    def deployment(self, d):
        meta, spec = d["metadata"], d["spec"]
        if meta.get("deletionTimestamp"):
            return
        ns, name = meta["namespace"], meta["name"]
        desired = spec.get("replicas", 1)
        template = spec["template"]
        phash = admission.template_hash(template)
        rss = self._children(d, K_RS)
        new_rs = next((r for r in rss if (r["metadata"].get("labels") or {}).get("pod-template-hash") == phash), None)
        old = [r for r in rss if r is not new_rs]
        revisions = [int((r["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision", 0)) for r in rss]
        progressed = False
        created_new = False
        strategy = spec.get("strategy") or {}
        recreate = strategy.get("type") == "Recreate"
        rolling = strategy.get("rollingUpdate") or {}
        surge = 0 if recreate else _percent(rolling.get("maxSurge", "25%"), desired, True)
        max_unavailable = 0 if recreate else _percent(rolling.get("maxUnavailable", "25%"), desired, False)
        if not recreate and surge == 0 and max_unavailable == 0:
            max_unavailable = 1
        old_total = sum(r["spec"].get("replicas", 0) for r in old)
        if spec.get("paused"):
            pass
        elif recreate and (old_total or any(
                p["status"].get("phase") not in ("Succeeded", "Failed")
                for r in old for p in self._children(r, K_POD))):
            # Recreate: every old pod is gone (terminating ones too) before the new
            # ReplicaSet gets any
            for r in old:
                if r["spec"].get("replicas"):
                    self._scale_rs(d, r, 0)
                    progressed = True
        elif new_rs is None:
            start = desired if not old_total else max(0, min(desired, desired + surge - old_total))
            labels = dict(template.get("metadata", {}).get("labels") or {}, **{"pod-template-hash": phash})
            rs_template = copy.deepcopy(template)
            rs_template.setdefault("metadata", {})["labels"] = labels
            selector = copy.deepcopy(spec["selector"])
            selector.setdefault("matchLabels", {})["pod-template-hash"] = phash
            revision = str(max(revisions + [0]) + 1)
            body = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "metadata": {"name": f"{name}-{phash}", "labels": labels,
                                 "annotations": {"deployment.kubernetes.io/desired-replicas": str(desired),
                                                 "deployment.kubernetes.io/max-replicas": str(desired + surge),
                                                 "deployment.kubernetes.io/revision": revision},
                                 "ownerReferences": [_owner_ref(d, "Deployment", "apps/v1")]},
                    "spec": {"replicas": start, "minReadySeconds": spec.get("minReadySeconds", 0),
                             "selector": selector, "template": rs_template}}
            new_rs = self._create(K_RS, ns, body)
            if new_rs is None:
                return
            created_new = progressed = True
            self.event(d, K_DEPLOY, "Normal", "ScalingReplicaSet",
                       f"Scaled up replica set {new_rs['metadata']['name']} from 0 to {start}",
                       "deployment-controller")
            if (meta.get("annotations") or {}).get("deployment.kubernetes.io/revision") != revision:
                d["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/revision"] = revision
                stored = self._write(K_DEPLOY, d)
                if stored is None:
                    return
                d = copy.deepcopy(stored)
        else:
            new_spec = new_rs["spec"].get("replicas", 0)
            target = desired if recreate or new_spec > desired else \
                min(desired, new_spec + max(0, desired + surge - new_spec - old_total))
            if target != new_spec:
                self._scale_rs(d, new_rs, target)
                progressed = True
        if not recreate and new_rs is not None and not spec.get("paused") and old_total:
            progressed = self._scale_down_old(d, new_rs, old, desired, max_unavailable) or progressed
        rss = self._children(d, K_RS)
        new_rs = next((r for r in rss if (r["metadata"].get("labels") or {}).get("pod-template-hash") == phash), new_rs)
        status = copy.deepcopy(d.get("status") or {})
        before = {k: status.get(k) for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")}
        total = lambda field: sum((r.get("status") or {}).get(field, 0) for r in rss)  # noqa: E731
        status["observedGeneration"] = meta.get("generation", 1)
        status["replicas"] = total("replicas")
        status["updatedReplicas"] = (new_rs.get("status") or {}).get("replicas", 0) if new_rs else 0
        status["readyReplicas"] = total("readyReplicas")
        status["availableReplicas"] = total("availableReplicas")
        unavailable = max(0, desired - status["availableReplicas"])
        status["unavailableReplicas"] = unavailable
        for k in ("readyReplicas", "availableReplicas", "unavailableReplicas", "updatedReplicas"):
            if not status[k]:
                del status[k]
        after = {k: status.get(k) for k in before}
        if after != before:
            progressed = True
        max_unavailable = _percent((spec.get("strategy") or {}).get("rollingUpdate", {}).get("maxUnavailable", "25%"),
                                   desired, False) if (spec.get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate" else 0
        conditions = status.setdefault("conditions", [])
        if status.get("availableReplicas", 0) >= desired - max_unavailable:
            _set_condition(conditions, "Available", "True", "MinimumReplicasAvailable",
                           "Deployment has minimum availability.")
        else:
            _set_condition(conditions, "Available", "False", "MinimumReplicasUnavailable",
                           "Deployment does not have minimum availability.")
        for cond in conditions:
            cond.setdefault("lastUpdateTime", cond["lastTransitionTime"])
        rs_name = new_rs["metadata"]["name"] if new_rs else name
        complete = (new_rs is not None and status.get("updatedReplicas", 0) == desired and
                    status.get("replicas", 0) == desired and status.get("availableReplicas", 0) == desired)
        deadline = spec.get("progressDeadlineSeconds", 600)
        progressing = next((c for c in conditions if c["type"] == "Progressing"), None)
        if complete:
            _set_condition(conditions, "Progressing", "True", "NewReplicaSetAvailable",
                           f'ReplicaSet "{rs_name}" has successfully progressed.', progress=True)
        elif created_new:
            _set_condition(conditions, "Progressing", "True", "NewReplicaSetCreated",
                           f'Created new replica set "{rs_name}"', progress=True)
        elif progressed or progressing is None or (progressing.get("reason") == "NewReplicaSetAvailable"):
            _set_condition(conditions, "Progressing", "True", "ReplicaSetUpdated",
                           f'ReplicaSet "{rs_name}" is progressing.', progress=True)
        elif progressing.get("reason") != "ProgressDeadlineExceeded" and deadline is not None:
            last = _parse(progressing.get("lastUpdateTime"))
            if time.time() - last >= deadline:
                _set_condition(conditions, "Progressing", "False", "ProgressDeadlineExceeded",
                               f'ReplicaSet "{rs_name}" has timed out progressing.')
            else:
                self.enqueue(K_DEPLOY, ns, name, last + deadline - time.time() + 0.01)
        for cond in conditions:
            cond.setdefault("lastUpdateTime", cond["lastTransitionTime"])
        status["conditions"] = sorted(conditions, key=lambda c: ["Available", "Progressing"].index(c["type"])
                                      if c["type"] in ("Available", "Progressing") else 9)
        if not complete and deadline is not None and progressed:
            self.enqueue(K_DEPLOY, ns, name, deadline + 0.01)
        if status != d.get("status"):
            d["status"] = status
            self._write_status(K_DEPLOY, d)

    def _scale_down_old(self, d, new_rs, old, desired, max_unavailable):
        """The rolling update's scale-down step (as the deployment controller does it):
        never below desired - maxUnavailable available pods; unhealthy old pods go first."""
        new_rs = self.store.peek(K_RS, new_rs["metadata"]["namespace"], new_rs["metadata"]["name"]) or new_rs
        new_spec = new_rs["spec"].get("replicas", 0)
        new_available = (new_rs.get("status") or {}).get("availableReplicas", 0)
        old = sorted(old, key=lambda r: int((r["metadata"].get("annotations") or {}).get(
            "deployment.kubernetes.io/revision", 0)))
        sizes = {r["metadata"]["name"]: r["spec"].get("replicas", 0) for r in old}
        available = {r["metadata"]["name"]: min(sizes[r["metadata"]["name"]],
                                                (r.get("status") or {}).get("availableReplicas", 0)) for r in old}
        min_available = desired - max_unavailable
        budget = new_spec + sum(sizes.values()) - min_available - (new_spec - new_available)
        if budget <= 0:
            return False
        wanted = dict(sizes)
        for r in old:                                   # unhealthy old pods first
            n = r["metadata"]["name"]
            take = min(wanted[n] - available[n], budget)
            if take > 0:
                wanted[n] -= take
                budget -= take
        total = min(budget, sum(available.values()) + new_available - min_available)
        for r in old:
            n = r["metadata"]["name"]
            take = min(wanted[n], max(0, total))
            if take > 0:
                wanted[n] -= take
                total -= take
        changed = False
        for r in old:
            n = r["metadata"]["name"]
            if wanted[n] != sizes[n]:
                self._scale_rs(d, r, wanted[n])
                changed = True
        return changed

    def _scale_rs(self, d, rs, replicas):
        before = rs["spec"].get("replicas", 0)
        rs = copy.deepcopy(rs)
        rs["spec"]["replicas"] = replicas
        rs["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/desired-replicas"] = \
            str(d["spec"].get("replicas", 1))
        self._write(K_RS, rs)
        verb = "up" if replicas > before else "down"
        self.event(d, K_DEPLOY, "Normal", "ScalingReplicaSet",
                   f"Scaled {verb} replica set {rs['metadata']['name']} from {before} to {replicas}",
                   "deployment-controller")

    # -- StatefulSet ---------------------------------------------------------------------------
    def statefulset(self, sts):
        meta, spec = sts["metadata"], sts["spec"]
        if meta.get("deletionTimestamp"):
            return
        ns, name = meta["namespace"], meta["name"]
        desired = spec.get("replicas", 1)
        revision = f"{name}-{admission.template_hash(spec['template'])}"
        pods = {p["metadata"]["name"]: p for p in self._children(sts, K_POD)}
        ordered = spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady"
        for i in range(desired):
            pname = f"{name}-{i}"
            pod = pods.get(pname)
            if pod is None:
                for tmpl in spec.get("volumeClaimTemplates") or []:
                    claim = f"{tmpl['metadata']['name']}-{pname}"
                    if self.store.peek(K_PVC, ns, claim) is None:
                        self._create(K_PVC, ns, {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                                 "metadata": {"name": claim, "labels": dict(
                                                     spec["selector"].get("matchLabels") or {})},
                                                 "spec": copy.deepcopy(tmpl.get("spec") or {})})
                template = copy.deepcopy(spec["template"])
                vols = template.setdefault("spec", {}).setdefault("volumes", [])
                for tmpl in spec.get("volumeClaimTemplates") or []:
                    vols.append({"name": tmpl["metadata"]["name"], "persistentVolumeClaim": {
                        "claimName": f"{tmpl['metadata']['name']}-{pname}"}})
                if not vols:
                    del template["spec"]["volumes"]
                body = self._new_pod(sts, "StatefulSet", "apps/v1", template, pname, {
                    "controller-revision-hash": revision, "statefulset.kubernetes.io/pod-name": pname,
                    "apps.kubernetes.io/pod-index": str(i)})
                body["spec"]["hostname"] = pname
                if spec.get("serviceName"):
                    body["spec"]["subdomain"] = spec["serviceName"]
                if self._create(K_POD, ns, body):
                    self.event(sts, K_STS, "Normal", "SuccessfulCreate",
                               f"create Pod {pname} in StatefulSet {name} successful", "statefulset-controller")
                if ordered:
                    break
            elif ordered and not _ready(pod):
                break
        for pname, pod in pods.items():
            index = int(pname.rsplit("-", 1)[1]) if pname.rsplit("-", 1)[-1].isdigit() else -1
            if index >= desired and not pod["metadata"].get("deletionTimestamp"):
                self._delete(K_POD, ns, pname)
        pods = [p for p in self._children(sts, K_POD) if not p["metadata"].get("deletionTimestamp")]
        current = [p for p in pods if p["metadata"]["labels"].get("controller-revision-hash") == revision]
        stale = [p for p in pods if p not in current]
        if stale and all(_ready(p) for p in pods) and len(pods) >= desired:
            victim = max(stale, key=lambda p: p["metadata"]["name"])
            self._delete(K_POD, ns, victim["metadata"]["name"])
        ready = sum(1 for p in pods if _ready(p))
        status = copy.deepcopy(sts.get("status") or {})
        update_done = len(current) == desired and not stale
        status.update({"observedGeneration": meta.get("generation", 1), "replicas": len(pods),
                       "readyReplicas": ready, "currentReplicas": len(current) if update_done
                       else len(pods) - len(current), "updatedReplicas": len(current),
                       "availableReplicas": ready, "updateRevision": revision, "collisionCount": 0})
        if update_done or "currentRevision" not in status:
            status["currentRevision"] = revision if update_done or not stale else \
                stale[0]["metadata"]["labels"].get("controller-revision-hash")
        for k in ("readyReplicas", "currentReplicas", "updatedReplicas"):
            if not status[k]:
                del status[k]
        if status != sts.get("status"):
            sts["status"] = status
            self._write_status(K_STS, sts)

    # -- DaemonSet -----------------------------------------------------------------------------
    def daemonset(self, ds):
        meta, spec = ds["metadata"], ds["spec"]
        if meta.get("deletionTimestamp"):
            return
        ns = meta["namespace"]
        selector = (spec["template"].get("spec") or {}).get("nodeSelector") or {}
        nodes = [n["metadata"]["name"] for n in self.nodes()
                 if all((n["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())]
        revision = admission.template_hash(spec["template"])
        pods = [p for p in self._children(ds, K_POD) if not p["metadata"].get("deletionTimestamp")]
        by_node = {}
        for p in pods:
            node = p["spec"].get("nodeName")
            if node not in nodes or node in by_node:
                self._delete(K_POD, ns, p["metadata"]["name"])
                continue
            by_node[node] = p
        for p in list(by_node.values()):
            if p["metadata"]["labels"].get("controller-revision-hash") != revision:
                self._delete(K_POD, ns, p["metadata"]["name"])
                del by_node[p["spec"]["nodeName"]]
        for node in nodes:
            if node not in by_node:
                body = self._new_pod(ds, "DaemonSet", "apps/v1", spec["template"], None,
                                     {"controller-revision-hash": revision,
                                      "pod-template-generation": str(meta.get("generation", 1))}, node)
                created = self._create(K_POD, ns, body)
                if created:
                    self.event(ds, K_DS, "Normal", "SuccessfulCreate",
                               f"Created pod: {created['metadata']['name']}", "daemonset-controller")
        pods = [p for p in self._children(ds, K_POD) if not p["metadata"].get("deletionTimestamp")]
        ready = sum(1 for p in pods if _ready(p))
        updated = sum(1 for p in pods if p["metadata"]["labels"].get("controller-revision-hash") == revision)
        status = {"currentNumberScheduled": len(pods), "desiredNumberScheduled": len(nodes),
                  "numberMisscheduled": 0, "numberReady": ready, "observedGeneration": meta.get("generation", 1),
                  "updatedNumberScheduled": updated, "numberAvailable": ready,
                  "numberUnavailable": max(0, len(nodes) - ready)}
        for k in ("numberAvailable", "numberUnavailable", "updatedNumberScheduled"):
            if not status[k]:
                del status[k]
        if status != ds.get("status"):
            ds["status"] = status
            self._write_status(K_DS, ds)

    # -- Job and CronJob -----------------------------------------------------------------------
    def job(self, job):
        meta, spec = job["metadata"], job["spec"]
        if meta.get("deletionTimestamp"):
            return
        ns, name = meta["namespace"], meta["name"]
        status = copy.deepcopy(job.get("status") or {})
        conditions = status.setdefault("conditions", [])
        if any(c["type"] in ("Complete", "Failed") and c["status"] == "True" for c in conditions):
            return
        pods = self._children(job, K_POD)
        succeeded = sum(1 for p in pods if p["status"].get("phase") == "Succeeded")
        failed = sum(1 for p in pods if p["status"].get("phase") == "Failed")
        restarts = sum(cs.get("restartCount", 0) for p in pods for cs in p["status"].get("containerStatuses") or [])
        active = [p for p in pods if p["status"].get("phase") not in ("Succeeded", "Failed")
                  and not p["metadata"].get("deletionTimestamp")]
        completions = spec.get("completions", 1)
        if spec.get("suspend"):
            for p in active:
                self._delete(K_POD, ns, p["metadata"]["name"])
            _set_condition(conditions, "Suspended", "True", "JobSuspended", "Job suspended")
            active = []
        else:
            if any(c["type"] == "Suspended" for c in conditions):
                _set_condition(conditions, "Suspended", "False", "JobResumed", "Job resumed")
            status.setdefault("startTime", ts())
        backoff = spec.get("backoffLimit", 6)
        deadline = spec.get("activeDeadlineSeconds")
        fail_reason = None
        if failed + restarts > backoff:
            fail_reason = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
        elif deadline and status.get("startTime") and time.time() - _parse(status["startTime"]) >= deadline:
            fail_reason = ("DeadlineExceeded", "Job was active longer than specified deadline")
        elif deadline and status.get("startTime") and not spec.get("suspend"):
            self.enqueue(K_JOB, ns, name, _parse(status["startTime"]) + deadline - time.time() + 0.01)
        if fail_reason:
            for p in active:
                self._delete(K_POD, ns, p["metadata"]["name"])
            _set_condition(conditions, "FailureTarget", "True", *fail_reason)
            _set_condition(conditions, "Failed", "True", *fail_reason)
            self.event(job, K_JOB, "Warning", fail_reason[0], fail_reason[1], "job-controller")
            active = []
        elif succeeded >= completions:
            _set_condition(conditions, "SuccessCriteriaMet", "True", "CompletionsReached",
                           "Reached expected number of succeeded pods")
            _set_condition(conditions, "Complete", "True", "CompletionsReached",
                           "Reached expected number of succeeded pods")
            status["completionTime"] = ts()
            self.event(job, K_JOB, "Normal", "Completed", "Job completed", "job-controller")
        elif not spec.get("suspend"):
            want = min(spec.get("parallelism", 1), completions - succeeded) - len(active)
            for _ in range(max(0, want)):
                body = self._new_pod(job, "Job", "batch/v1", spec["template"])
                created = self._create(K_POD, ns, body)
                if created:
                    active.append(created)
                    self.event(job, K_JOB, "Normal", "SuccessfulCreate",
                               f"Created pod: {created['metadata']['name']}", "job-controller")
        status.update(active=len(active), succeeded=succeeded, failed=failed,
                      ready=sum(1 for p in active if _ready(p)), terminating=0,
                      uncountedTerminatedPods={})
        for k in ("active", "succeeded", "failed"):
            if not status[k]:
                del status[k]
        if not conditions:
            del status["conditions"]
        if status != job.get("status"):
            job["status"] = status
            self._write_status(K_JOB, job)

    def cronjob(self, cj):
        meta, spec = cj["metadata"], cj["spec"]
        if meta.get("deletionTimestamp"):
            return
        ns, name = meta["namespace"], meta["name"]
        jobs = self._children(cj, K_JOB)
        status = copy.deepcopy(cj.get("status") or {})
        status["active"] = [{"apiVersion": "batch/v1", "kind": "Job", "name": j["metadata"]["name"],
                             "namespace": ns, "uid": j["metadata"]["uid"],
                             "resourceVersion": j["metadata"]["resourceVersion"]}
                            for j in jobs if not _finished(j)]
        done = [j for j in jobs if _finished(j) == "Complete"]
        if done:
            status["lastSuccessfulTime"] = max(j["status"].get("completionTime", "") for j in done)
        if not status["active"]:
            del status["active"]
        interval = self.api.cronjob_interval
        if not spec.get("suspend"):
            if interval:
                last = self.cron_last.get(meta["uid"], _parse(meta["creationTimestamp"]))
                due = last + interval
            else:
                due = _next_cron(spec.get("schedule", ""), self.cron_last.get(meta["uid"], time.time()))
            if due is not None and time.time() >= due:
                self.cron_last[meta["uid"]] = due
                if not (spec.get("concurrencyPolicy") == "Forbid" and status.get("active")):
                    template = copy.deepcopy(spec.get("jobTemplate") or {})
                    job_name = f"{name}-{int(due // 60)}"
                    if any(j["metadata"]["name"] == job_name for j in jobs):
                        job_name = f"{name}-{int(due)}"
                    body = {"apiVersion": "batch/v1", "kind": "Job",
                            "metadata": dict(template.get("metadata") or {}, name=job_name,
                                             ownerReferences=[_owner_ref(cj, "CronJob", "batch/v1")]),
                            "spec": template.get("spec") or {}}
                    if self._create(K_JOB, ns, body):
                        self.event(cj, K_CRON, "Normal", "SuccessfulCreate", f"Created job {job_name}",
                                   "cronjob-controller")
                        status["lastScheduleTime"] = _iso(due)
                due = due + interval if interval else _next_cron(spec.get("schedule", ""), due)
            if due is not None:
                self.enqueue(K_CRON, ns, name, max(0.01, due - time.time()))
        for limit_key, outcome in (("successfulJobsHistoryLimit", "Complete"), ("failedJobsHistoryLimit", "Failed")):
            finished = sorted((j for j in jobs if _finished(j) == outcome),
                              key=lambda j: j["metadata"]["creationTimestamp"])
            for j in finished[: max(0, len(finished) - spec.get(limit_key, 3))]:
                self._delete(K_JOB, ns, j["metadata"]["name"])
        if status != cj.get("status"):
            cj["status"] = status
            self._write_status(K_CRON, cj)

    # -- Service, PVC ---------------------------------------------------------------------------
    def service(self, svc):
        if svc["spec"].get("type") != "LoadBalancer" or svc["metadata"].get("deletionTimestamp"):
            return
        if (svc.get("status") or {}).get("loadBalancer", {}).get("ingress"):
            return
        state = self.kubelet.setdefault(svc["metadata"]["uid"], {})
        since = state.setdefault("since", time.time())
        wait = since + self.delays.load_balancer - time.time()
        if wait > 0:
            self.enqueue(K_SVC, svc["metadata"]["namespace"], svc["metadata"]["name"], wait + 0.001)
            return
        ip = f"172.18.255.{(hash(svc['metadata']['uid']) % 250) + 2}"
        svc["status"] = {"loadBalancer": {"ingress": [{"ip": ip, "ipMode": "VIP"}]}}
        self._write_status(K_SVC, svc)
        self.event(svc, K_SVC, "Normal", "EnsuredLoadBalancer", "Ensured load balancer", "service-controller")

    def pvc(self, pvc):
        meta, spec = pvc["metadata"], pvc["spec"]
        if meta.get("deletionTimestamp") or (pvc.get("status") or {}).get("phase") == "Bound":
            return
        ns, name = meta["namespace"], meta["name"]
        sc_name = spec.get("storageClassName")
        if sc_name is None:
            default = [s for s in self.store.list(K_SC) if (s["metadata"].get("annotations") or {}).get(
                "storageclass.kubernetes.io/is-default-class") == "true"]
            if default:
                pvc["spec"]["storageClassName"] = sc_name = default[0]["metadata"]["name"]
                stored = self._write(K_PVC, pvc)
                if stored is None:
                    return
                pvc = copy.deepcopy(stored)
        sc = self.store.peek(K_SC, "", sc_name) if sc_name else None
        if sc is None:
            self.event(pvc, K_PVC, "Warning", "ProvisioningFailed",
                       f'storageclass.storage.k8s.io "{sc_name}" not found', "persistentvolume-controller")
            return
        selected = (meta.get("annotations") or {}).get("volume.kubernetes.io/selected-node")
        if sc.get("volumeBindingMode") == "WaitForFirstConsumer" and not selected:
            self.event(pvc, K_PVC, "Normal", "WaitForFirstConsumer",
                       "waiting for first consumer to be created before binding",
                       "persistentvolume-controller")
            return
        state = self.kubelet.setdefault(meta["uid"], {})
        since = state.setdefault("since", time.time())
        wait = since + self.delays.pvc_bind - time.time()
        if wait > 0:
            self.enqueue(K_PVC, ns, name, wait + 0.001)
            return
        pv_name = f"pvc-{meta['uid']}"
        size = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
        self._create(K_PV, "", {
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": pv_name, "annotations": {"pv.kubernetes.io/provisioned-by": sc.get("provisioner", "")}},
            "spec": {"accessModes": spec.get("accessModes"), "capacity": {"storage": size},
                     "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "name": name,
                                  "namespace": ns, "uid": meta["uid"]},
                     "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy", "Delete"),
                     "storageClassName": sc_name, "volumeMode": spec.get("volumeMode", "Filesystem"),
                     "hostPath": {"path": f"/var/lib/kubeapi/{pv_name}", "type": ""}}})
        pv = self.store.get(K_PV, "", pv_name)
        if pv is not None:
            pv["status"] = {"phase": "Bound"}
            self._write_status(K_PV, pv)
        pvc["spec"]["volumeName"] = pv_name
        pvc["metadata"].setdefault("annotations", {}).update({
            "pv.kubernetes.io/bind-completed": "yes", "pv.kubernetes.io/bound-by-controller": "yes"})
        stored = self._write(K_PVC, pvc)
        if stored is None:
            return
        pvc = copy.deepcopy(stored)
        pvc["status"] = {"phase": "Bound", "accessModes": spec.get("accessModes"),
                         "capacity": {"storage": size}}
        self._write_status(K_PVC, pvc)
        self.event(pvc, K_PVC, "Normal", "ProvisioningSucceeded",
                   f"Successfully provisioned volume {pv_name}", "persistentvolume-controller")

    # -- CRDs -----------------------------------------------------------------------------------
    def crd(self, crd):
        meta, spec = crd["metadata"], crd["spec"]
        name = meta["name"]
        if meta.get("deletionTimestamp"):
            return self._crd_cleanup(crd)
        if CRD_FINALIZER not in (meta.get("finalizers") or []):
            crd["metadata"]["finalizers"] = (meta.get("finalizers") or []) + [CRD_FINALIZER]
            stored = self._write(K_CRD, crd)
            if stored is None:
                return
            crd = copy.deepcopy(stored)
        status = copy.deepcopy(crd.get("status") or {})
        conditions = status.setdefault("conditions", [])
        names = copy.deepcopy(spec.get("names") or {})
        names.setdefault("singular", names.get("kind", "").lower())
        names.setdefault("listKind", names.get("kind", "") + "List")
        conflict = self._crd_conflict(crd, names)
        if conflict:
            reason, message = conflict
            _set_condition(conditions, "NamesAccepted", "False", reason, message)
            _set_condition(conditions, "Established", "False", "NotAccepted", "not all names are accepted")
        else:
            state = self.kubelet.setdefault(meta["uid"], {})
            since = state.setdefault("since", time.time())
            wait = since + self.delays.crd_establish - time.time()
            _set_condition(conditions, "NamesAccepted", "True", "NoConflicts", "no conflicts found")
            status["acceptedNames"] = names
            if wait > 0:
                self.enqueue(K_CRD, "", name, wait + 0.001)
                if not any(c["type"] == "Established" for c in conditions):
                    _set_condition(conditions, "Established", "False", "Installing",
                                   "the initial names have been accepted")
            else:
                _set_condition(conditions, "Established", "True", "InitialNamesAccepted",
                               "the initial names have been accepted")
                self._register_crd(crd, names)
        storage = [v["name"] for v in spec.get("versions") or [] if v.get("storage")]
        status["storedVersions"] = sorted(set((status.get("storedVersions") or []) + storage))
        status["conditions"] = sorted(conditions, key=lambda c: ["NamesAccepted", "Established"].index(c["type"])
                                      if c["type"] in ("NamesAccepted", "Established") else 9)
        if status != crd.get("status"):
            crd["status"] = status
            self._write_status(K_CRD, crd)

    def _crd_conflict(self, crd, names):
        group = crd["spec"]["group"]
        mine = crd["metadata"]["name"]
        own = self.cluster.registry.custom_names().get(mine) or []
        for res in self.cluster.registry.all():
            if res.group != group or res.storage_group is not None or res in own:
                continue
            if res.plural == names.get("plural"):
                return "PluralConflict", f'"{names["plural"]}" is already in use'
            if res.kind == names.get("kind"):
                return "KindConflict", f'"{names["kind"]}" is already in use'
        for other in self.store.list(K_CRD):
            if other["metadata"]["name"] == mine or other["spec"].get("group") != group:
                continue
            if other["metadata"]["creationTimestamp"] > crd["metadata"]["creationTimestamp"] or (
                    other["metadata"]["creationTimestamp"] == crd["metadata"]["creationTimestamp"]
                    and other["metadata"]["name"] > mine):
                continue
            accepted = (other.get("status") or {}).get("acceptedNames") or other["spec"].get("names") or {}
            if accepted.get("kind") == names.get("kind"):
                return "KindConflict", f'"{names["kind"]}" is already in use'
            if set(accepted.get("shortNames") or []) & set(names.get("shortNames") or []):
                return "ShortNamesConflict", f'"{sorted(set(accepted["shortNames"]) & set(names["shortNames"]))}" is already in use'
        return None

    def _register_crd(self, crd, names):
        spec = crd["spec"]
        resources = []
        for version in spec.get("versions") or []:
            if not version.get("served", True):
                continue
            subs = tuple(s for s in ("status", "scale") if s in (version.get("subresources") or {}))
            resources.append(Resource(spec["group"], version["name"], names["kind"], names["plural"],
                                      spec.get("scope") == "Namespaced", list(names.get("shortNames") or []),
                                      list(names.get("categories") or []), subs, builtin=False))
        current = self.cluster.registry.custom_names().get(crd["metadata"]["name"])
        if current != resources:
            self.cluster.registry.set_custom(crd["metadata"]["name"], resources)

    def _crd_cleanup(self, crd):
        state = self.kubelet.setdefault(crd["metadata"]["uid"], {})
        since = state.setdefault("terminating", time.time())
        wait = since + self.delays.crd_terminate - time.time()
        if wait > 0:
            _set_condition(crd.setdefault("status", {}).setdefault("conditions", []), "Terminating",
                           "True", "InstanceDeletionInProgress",
                           "CustomResource deletion is in progress")
            self._write_status(K_CRD, crd)
            self.enqueue(K_CRD, "", crd["metadata"]["name"], wait + 0.001)
            return
        names = (crd.get("status") or {}).get("acceptedNames") or crd["spec"].get("names") or {}
        key = (crd["spec"]["group"], names.get("plural"))
        for obj in list(self.store.list(key)):
            if not obj["metadata"].get("deletionTimestamp") or not obj["metadata"].get("finalizers"):
                self.store.remove(key, obj["metadata"].get("namespace"), obj["metadata"]["name"],
                                  self.store.next_rv())
        if self.store.list(key):
            self.enqueue(K_CRD, "", crd["metadata"]["name"], 0.1)
            return
        self.cluster.registry.set_custom(crd["metadata"]["name"], [])
        crd["metadata"]["finalizers"] = [f for f in crd["metadata"].get("finalizers") or [] if f != CRD_FINALIZER]
        self._write(K_CRD, crd)

    # -- Namespaces ------------------------------------------------------------------------------
    def namespace(self, ns):
        meta = ns["metadata"]
        name = meta["name"]
        if not meta.get("deletionTimestamp"):
            if self.store.peek(K_SA, name, "default") is None:
                self._create(K_SA, name, {"apiVersion": "v1", "kind": "ServiceAccount",
                                          "metadata": {"name": "default"}})
            return
        state = self.kubelet.setdefault(meta["uid"], {})
        since = state.setdefault("since", time.time())
        wait = since + self.delays.namespace_finalize - time.time()
        if wait > 0:
            self.enqueue(K_NS, "", name, wait + 0.001)
            return
        remaining = 0
        for res in self.cluster.registry.all():
            if not res.namespaced or res.storage_group is not None:
                continue
            for obj in list(self.store.list(res.key, name)):
                remaining += 1
                if not obj["metadata"].get("deletionTimestamp"):
                    self._delete(res.key, name, obj["metadata"]["name"])
        if remaining:
            self.enqueue(K_NS, "", name, 0.05)
            return
        ns["spec"]["finalizers"] = []
        self.cluster.controller_write(self._resource(K_NS), ns)
        if self.store.peek(K_NS, "", name) is not None and not meta.get("finalizers"):
            self.store.remove(K_NS, "", name, self.store.next_rv())


_REFERENCE = re.compile(r"^(?:(?P<domain>[a-zA-Z0-9.-]+(?::[0-9]+)?)/)?(?P<path>[^:@]+)"
                        r"(?::(?P<tag>[^@]+))?(?:@(?P<digest>.+))?$")
_PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$")


def _invalid_image(image):
    """Why an image reference does not parse (as the kubelet says it), or None."""
    m = _REFERENCE.match(image or "")
    if not m or not image:
        return "invalid reference format"
    path = m.group("path")
    if m.group("domain") and "." not in m.group("domain") and ":" not in m.group("domain") \
            and m.group("domain") != "localhost":
        path = m.group("domain") + "/" + path     # "user/app": no registry part
    if path != path.lower():
        return f"invalid reference format: repository name ({path}) must be lowercase"
    if not all(_PATH_COMPONENT.match(part) for part in path.split("/")):
        return "invalid reference format"
    tag = m.group("tag")
    if tag is not None and not re.match(r"^[\w][\w.-]{0,127}$", tag):
        return "invalid reference format"
    return None


def _finished(job):
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond["type"] in ("Complete", "Failed") and cond["status"] == "True":
            return cond["type"]
    return None


def _min(a, b):
    return b if a is None else min(a, b)


def _iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _parse(text):
    import calendar
    if not text:
        return time.time()
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))


def _cron_field(spec, value, low, high):
    for part in spec.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part == "*":
            start, end = low, high
        elif "-" in part:
            start, end = (int(x) for x in part.split("-", 1))
        else:
            start = end = int(part)
        if start <= value <= end and (value - start) % step == 0:
            return True
    return False


def _next_cron(schedule, after):
    """Next time (epoch seconds) after `after` matching a 5-field cron schedule, or None."""
    macros = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
              "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *",
              "@annually": "0 0 1 1 *"}
    schedule = macros.get(schedule.strip(), schedule)
    parts = schedule.split()
    if len(parts) != 5:
        return None
    t = (int(after) // 60 + 1) * 60
    for _ in range(60 * 24 * 366):
        tm = time.gmtime(t)
        try:
            if (_cron_field(parts[0], tm.tm_min, 0, 59) and _cron_field(parts[1], tm.tm_hour, 0, 23)
                    and _cron_field(parts[2], tm.tm_mday, 1, 31) and _cron_field(parts[3], tm.tm_mon, 1, 12)
                    and _cron_field(parts[4], (tm.tm_wday + 1) % 7, 0, 7)):
                return t
        except ValueError:
            return None
        t += 60
    return None


DELAY_NAMES = [f.name for f in fields(Delays)]
