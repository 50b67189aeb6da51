"""What every controller shares: object keys, delays, condition and owner helpers."""

import calendar
import time
from dataclasses import dataclass, fields

from ..cluster import now_iso

K_POD = ("", "pods")
K_NODE = ("", "nodes")
K_NS = ("", "namespaces")
K_EVENT = ("", "events")
K_PVC = ("", "persistentvolumeclaims")
K_PV = ("", "persistentvolumes")
K_SVC = ("", "services")
K_EP = ("", "endpoints")
K_PDB = ("policy", "poddisruptionbudgets")
K_SLICE = ("discovery.k8s.io", "endpointslices")
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
    controller: float = 0.0        # an owner's reaction to a change of what it owns
    job_sync: float = 0.2          # a Job's reaction to its pods (real: batched, up to 1 s)


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
    if not text:
        return time.time()
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))


DELAY_NAMES = [f.name for f in fields(Delays)]
