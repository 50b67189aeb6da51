"""Readiness of Kubernetes objects: one small rule per kind, like kstatus.

Each rule looks at one live object (and, through `related`, at its pods or
storage class) and answers READY, IN_PROGRESS or FAILED with a reason.
Where kstatus falls short this table is stricter:
- a Job is ready only when Complete (kstatus counts a running Job as done);
- a LoadBalancer Service is ready only with an ingress address;
- a PVC that waits for its first consumer is ready (binding would deadlock);
- workloads' pods are inspected, so ErrImagePull, ImagePullBackOff,
  CrashLoopBackOff, CreateContainerConfigError, InvalidImageName and
  Unschedulable fail at once instead of at the progress deadline.
"""

import dataclasses

READY = "ready"
IN_PROGRESS = "in progress"
FAILED = "failed"

# Container waiting reasons that will not fix themselves.
FAILING_WAIT_REASONS = (
    "ErrImagePull", "ImagePullBackOff", "CrashLoopBackOff",
    "CreateContainerConfigError", "InvalidImageName", "CreateContainerError",
    "ErrImageNeverPull",
)


@dataclasses.dataclass
class Status:
    state: str
    reason: str = ""

    @property
    def ready(self) -> bool:
        return self.state == READY

    @property
    def failed(self) -> bool:
        return self.state == FAILED


class NoRelated:
    """What a rule may ask about an object's surroundings; by default nothing
    is known (the backend's watch cache answers for real)."""

    def pods_of(self, obj: dict) -> list:
        return []

    def storage_class(self, name):
        """The StorageClass named `name` (None: the default one), or None."""
        return None


def group_kind(obj: dict) -> tuple:
    return obj.get("apiVersion", "").rpartition("/")[0], obj.get("kind", "")


def status(obj: dict, related=None) -> Status:
    """The readiness of one live object."""
    related = related or NoRelated()
    meta = obj.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return Status(IN_PROGRESS, "being deleted")
    rule = RULES.get(group_kind(obj), generic)
    return rule(obj, related)


# --- helpers -----------------------------------------------------------------

def _status(obj: dict) -> dict:
    return obj.get("status") or {}


def _spec(obj: dict) -> dict:
    return obj.get("spec") or {}


def condition(obj: dict, kind: str):
    for cond in _status(obj).get("conditions") or []:
        if cond.get("type") == kind:
            return cond
    return None


def _is_true(obj: dict, kind: str) -> bool:
    cond = condition(obj, kind)
    return bool(cond) and cond.get("status") == "True"


def _is_false(obj: dict, kind: str) -> bool:
    cond = condition(obj, kind)
    return bool(cond) and cond.get("status") == "False"


def _explain(cond: dict) -> str:
    parts = [cond.get("reason") or "", cond.get("message") or ""]
    return ": ".join(p for p in parts if p)


def _generation_pending(obj: dict):
    """kstatus: a controller that has not seen the latest spec says nothing yet."""
    generation = (obj.get("metadata") or {}).get("generation")
    observed = _status(obj).get("observedGeneration")
    if generation is not None and observed is not None and observed < generation:
        return Status(IN_PROGRESS, f"controller has not yet observed generation {generation}")
    return None


def _int(value, default=0) -> int:
    return value if isinstance(value, int) else default


def pod_problem(pod: dict):
    """Why a pod will not get ready by itself, or None."""
    name = (pod.get("metadata") or {}).get("name", "?")
    status_ = _status(pod)
    containers = (status_.get("initContainerStatuses") or []) + (status_.get("containerStatuses") or [])
    for container in containers:
        waiting = (container.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason")
        if reason in FAILING_WAIT_REASONS:
            message = waiting.get("message") or ""
            detail = f": {message}" if message else ""
            return f"pod {name} container {container.get('name')}: {reason}{detail}"
    scheduled = condition(pod, "PodScheduled")
    if scheduled and scheduled.get("status") == "False" and scheduled.get("reason") == "Unschedulable":
        message = scheduled.get("message") or ""
        return f"pod {name}: Unschedulable{': ' + message if message else ''}"
    return None


def _first_pod_problem(obj: dict, related):
    for pod in related.pods_of(obj):
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            continue
        problem = pod_problem(pod)
        if problem:
            return problem
    return None


def _with_pods(obj: dict, related, verdict: Status) -> Status:
    """A workload that is not ready yet fails as soon as one of its pods is stuck."""
    if verdict.state != IN_PROGRESS:
        return verdict
    problem = _first_pod_problem(obj, related)
    if problem:
        return Status(FAILED, problem)
    return verdict


# --- rules -------------------------------------------------------------------

def generic(obj: dict, related) -> Status:
    """Any kind without its own rule (custom resources included): kstatus's
    generic conditions (Stalled, Reconciling, Ready) and observedGeneration."""
    pending = _generation_pending(obj)
    if pending:
        return pending
    stalled = condition(obj, "Stalled")
    if stalled and stalled.get("status") == "True":
        return Status(FAILED, _explain(stalled) or "Stalled")
    reconciling = condition(obj, "Reconciling")
    if reconciling and reconciling.get("status") == "True":
        return Status(IN_PROGRESS, _explain(reconciling) or "Reconciling")
    ready = condition(obj, "Ready")
    if ready and ready.get("status") == "False":
        return Status(IN_PROGRESS, _explain(ready) or "Ready is False")
    return Status(READY)


def deployment(obj: dict, related) -> Status:
    pending = _generation_pending(obj)
    if pending:  # which pods are current is not known yet: old ones may crash
        return pending
    progressing = condition(obj, "Progressing")
    if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
        return Status(FAILED, _explain(progressing))
    spec, st = _spec(obj), _status(obj)
    want = _int(spec.get("replicas"), 1)
    updated = _int(st.get("updatedReplicas"))
    total = _int(st.get("replicas"))
    available = _int(st.get("availableReplicas"))
    if updated < want:
        verdict = Status(IN_PROGRESS, f"{updated} of {want} replicas updated")
    elif total > updated:
        verdict = Status(IN_PROGRESS, f"{total - updated} old replicas pending termination")
    elif available < want:
        verdict = Status(IN_PROGRESS, f"{available} of {want} replicas available")
    else:
        return Status(READY, f"{available}/{want} available")
    return _with_pods(obj, related, verdict)


def replica_set(obj: dict, related) -> Status:
    pending = _generation_pending(obj)
    if pending:  # which pods are current is not known yet: old ones may crash
        return pending
    want = _int(_spec(obj).get("replicas"), 1)
    st = _status(obj)
    ready = _int(st.get("readyReplicas"))
    available = _int(st.get("availableReplicas"))
    if ready < want or available < want:
        failure = condition(obj, "ReplicaFailure")
        reason = _explain(failure) if failure and failure.get("status") == "True" else ""
        return _with_pods(obj, related, Status(
            IN_PROGRESS, reason or f"{min(ready, available)} of {want} replicas ready"))
    return Status(READY, f"{ready}/{want} ready")


def stateful_set(obj: dict, related) -> Status:
    pending = _generation_pending(obj)
    if pending:  # which pods are current is not known yet: old ones may crash
        return pending
    spec, st = _spec(obj), _status(obj)
    want = _int(spec.get("replicas"), 1)
    ready = _int(st.get("readyReplicas"))
    strategy = spec.get("updateStrategy") or {}
    partition = _int((strategy.get("rollingUpdate") or {}).get("partition"))
    if ready < want:
        verdict = Status(IN_PROGRESS, f"{ready} of {want} replicas ready")
    elif strategy.get("type", "RollingUpdate") == "RollingUpdate" and partition == 0 and \
            st.get("updateRevision") and st.get("currentRevision") != st.get("updateRevision"):
        updated = _int(st.get("updatedReplicas"))
        verdict = Status(IN_PROGRESS, f"{updated} of {want} replicas updated")
    else:
        return Status(READY, f"{ready}/{want} ready")
    return _with_pods(obj, related, verdict)


def daemon_set(obj: dict, related) -> Status:
    pending = _generation_pending(obj)
    if pending:  # which pods are current is not known yet: old ones may crash
        return pending
    st = _status(obj)
    if "desiredNumberScheduled" not in st:
        return Status(IN_PROGRESS, "controller has not reported yet")
    want = _int(st.get("desiredNumberScheduled"))
    updated = _int(st.get("updatedNumberScheduled"))
    available = _int(st.get("numberAvailable"))
    if updated < want:
        verdict = Status(IN_PROGRESS, f"{updated} of {want} pods updated")
    elif available < want:
        verdict = Status(IN_PROGRESS, f"{available} of {want} pods available")
    else:
        return Status(READY, f"{available}/{want} available")
    return _with_pods(obj, related, verdict)


def job(obj: dict, related) -> Status:
    for kind in ("Failed", "FailureTarget"):
        cond = condition(obj, kind)
        if cond and cond.get("status") == "True":
            return Status(FAILED, "Job failed: " + (_explain(cond) or kind))
    if _is_true(obj, "Complete"):
        return Status(READY, "complete")
    if _spec(obj).get("suspend") is True:
        return Status(READY, "suspended")
    st = _status(obj)
    verdict = Status(IN_PROGRESS, "running: {} active, {} succeeded, {} failed".format(
        _int(st.get("active")), _int(st.get("succeeded")), _int(st.get("failed"))))
    return _with_pods(obj, related, verdict)


def pod(obj: dict, related) -> Status:
    phase = _status(obj).get("phase")
    if phase == "Succeeded":
        return Status(READY, "succeeded")
    if phase == "Failed":
        why = _status(obj).get("reason") or _status(obj).get("message") or "phase Failed"
        return Status(FAILED, "pod failed: " + why)
    problem = pod_problem(obj)
    if problem:
        return Status(FAILED, problem)
    if _is_true(obj, "Ready"):
        return Status(READY, "running")
    return Status(IN_PROGRESS, f"phase {phase or 'unknown'}, not Ready")


def service(obj: dict, related) -> Status:
    if _spec(obj).get("type") != "LoadBalancer":
        return Status(READY)
    ingress = ((_status(obj).get("loadBalancer") or {}).get("ingress")) or []
    if not ingress:
        return Status(IN_PROGRESS, "waiting for a load balancer ingress address")
    first = ingress[0]
    return Status(READY, "ingress " + str(first.get("ip") or first.get("hostname") or ""))


def persistent_volume_claim(obj: dict, related) -> Status:
    phase = _status(obj).get("phase")
    if phase == "Bound":
        return Status(READY, "bound")
    if phase == "Lost":
        return Status(FAILED, "claim lost its volume")
    storage_class = related.storage_class(_spec(obj).get("storageClassName"))
    if storage_class and storage_class.get("volumeBindingMode") == "WaitForFirstConsumer":
        # Binding waits for a pod; waiting for binding here would deadlock.
        return Status(READY, "waits for its first consumer")
    return Status(IN_PROGRESS, f"phase {phase or 'Pending'}")


def custom_resource_definition(obj: dict, related) -> Status:
    names = condition(obj, "NamesAccepted")
    if names and names.get("status") == "False":
        return Status(FAILED, "names not accepted: " + _explain(names))
    if _is_true(obj, "Established"):
        return Status(READY, "established")
    return Status(IN_PROGRESS, "not yet established")


def namespace(obj: dict, related) -> Status:
    phase = _status(obj).get("phase")
    if phase == "Terminating":
        return Status(IN_PROGRESS, "terminating")
    return Status(READY)


def always_ready(obj: dict, related) -> Status:
    return Status(READY)


RULES = {
    ("apps", "Deployment"): deployment,
    ("apps", "ReplicaSet"): replica_set,
    ("apps", "StatefulSet"): stateful_set,
    ("apps", "DaemonSet"): daemon_set,
    ("batch", "Job"): job,
    ("batch", "CronJob"): always_ready,
    ("", "Pod"): pod,
    ("", "Service"): service,
    ("", "PersistentVolumeClaim"): persistent_volume_claim,
    ("", "Namespace"): namespace,
    ("", "ConfigMap"): always_ready,
    ("", "Secret"): always_ready,
    ("", "ServiceAccount"): always_ready,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): custom_resource_definition,
}


# --- what SUSPEND waits for ------------------------------------------------------

def stopped(obj: dict, related=None) -> Status:
    """After SUSPEND: a workload has no pods left running."""
    group, kind = group_kind(obj)
    st = _status(obj)
    if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        running = _int(st.get("replicas"))
        if running:
            return Status(IN_PROGRESS, f"{running} replicas still running")
        return Status(READY, "scaled to 0")
    if kind == "Job":
        active = _int(st.get("active"))
        if active:
            return Status(IN_PROGRESS, f"{active} pods still active")
        return Status(READY, "suspended")
    return Status(READY)
