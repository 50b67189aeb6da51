"""The per-kind readiness rules, table-driven over object dicts."""

import pytest

from hook_kubectl.backends import k8s_readiness as readiness
from hook_kubectl.backends.k8s_readiness import FAILED, IN_PROGRESS, READY


def obj(api_version, kind, spec=None, status=None, generation=1, **meta):
    meta.setdefault("name", "x")
    meta["generation"] = generation
    return {"apiVersion": api_version, "kind": kind, "metadata": meta,
            "spec": spec or {}, "status": status or {}}


def cond(kind, status="True", reason="", message=""):
    return {"type": kind, "status": status, "reason": reason, "message": message}


def waiting_pod(reason, message="boom", name="p-1"):
    return obj("v1", "Pod", name=name, status={
        "phase": "Pending",
        "containerStatuses": [{"name": "main", "state": {"waiting": {"reason": reason, "message": message}}}]})


class Pods(readiness.NoRelated):
    def __init__(self, pods=(), storage_classes=None):
        self.pods = list(pods)
        self.classes = storage_classes or {}

    def pods_of(self, obj):
        return self.pods

    def storage_class(self, name):
        return self.classes.get(name)


def deploy(want=2, **status):
    status.setdefault("observedGeneration", 1)
    return obj("apps/v1", "Deployment", {"replicas": want}, status)


CASES = [
    # (id, object, related, expected state, words expected in the reason)
    ("deployment-new", deploy(), None, IN_PROGRESS, "0 of 2 replicas updated"),
    ("deployment-old-generation", obj("apps/v1", "Deployment", {"replicas": 1},
                                      {"observedGeneration": 1, "updatedReplicas": 1,
                                       "replicas": 1, "availableReplicas": 1}, generation=2),
     None, IN_PROGRESS, "generation 2"),
    ("deployment-available", deploy(updatedReplicas=2, replicas=2, availableReplicas=2), None, READY, "2/2"),
    ("deployment-old-pods", deploy(updatedReplicas=2, replicas=3, availableReplicas=2), None,
     IN_PROGRESS, "old replicas"),
    ("deployment-unavailable", deploy(updatedReplicas=2, replicas=2, availableReplicas=1), None,
     IN_PROGRESS, "1 of 2"),
    ("deployment-deadline", deploy(conditions=[cond("Progressing", "False", "ProgressDeadlineExceeded",
                                                    "ReplicaSet web has timed out progressing")]),
     None, FAILED, "ProgressDeadlineExceeded"),
    ("deployment-zero-replicas", deploy(want=0), None, READY, ""),
    ("deployment-image-pull-backoff", deploy(), Pods([waiting_pod("ImagePullBackOff")]), FAILED,
     "ImagePullBackOff"),
    ("deployment-err-image-pull", deploy(), Pods([waiting_pod("ErrImagePull")]), FAILED, "ErrImagePull"),
    ("deployment-crash-loop", deploy(), Pods([waiting_pod("CrashLoopBackOff")]), FAILED, "CrashLoopBackOff"),
    ("deployment-config-error", deploy(), Pods([waiting_pod("CreateContainerConfigError",
                                                            'secret "x" not found')]),
     FAILED, "CreateContainerConfigError"),
    ("deployment-invalid-image", deploy(), Pods([waiting_pod("InvalidImageName")]), FAILED,
     "InvalidImageName"),
    ("deployment-unschedulable", deploy(), Pods([obj("v1", "Pod", name="p", status={
        "phase": "Pending", "conditions": [cond("PodScheduled", "False", "Unschedulable",
                                                 "0/1 nodes are available")]})]),
     FAILED, "Unschedulable"),
    # Right after an update the controller has not picked the new pods yet:
    # the old ones crashing says nothing about the new spec.
    ("deployment-update-not-observed-ignores-pods", obj("apps/v1", "Deployment", {"replicas": 1},
                                                        {"observedGeneration": 1}, generation=2),
     Pods([waiting_pod("CrashLoopBackOff")]), IN_PROGRESS, "generation 2"),
    ("deployment-container-creating", deploy(), Pods([waiting_pod("ContainerCreating")]), IN_PROGRESS, ""),
    ("deployment-ready-ignores-old-crash",
     deploy(updatedReplicas=2, replicas=2, availableReplicas=2), Pods([waiting_pod("CrashLoopBackOff")]),
     READY, ""),
    ("deployment-terminating-pod-ignored", deploy(), Pods([dict(waiting_pod("CrashLoopBackOff"), metadata={
        "name": "old", "deletionTimestamp": "2024-01-01T00:00:00Z"})]), IN_PROGRESS, ""),
    ("statefulset-ready", obj("apps/v1", "StatefulSet", {"replicas": 2},
                              {"observedGeneration": 1, "readyReplicas": 2, "currentRevision": "a",
                               "updateRevision": "a"}), None, READY, ""),
    ("statefulset-rolling", obj("apps/v1", "StatefulSet", {"replicas": 2},
                                {"observedGeneration": 1, "readyReplicas": 2, "updatedReplicas": 1,
                                 "currentRevision": "a", "updateRevision": "b"}), None, IN_PROGRESS,
     "1 of 2 replicas updated"),
    ("statefulset-crash", obj("apps/v1", "StatefulSet", {"replicas": 1}, {"observedGeneration": 1}),
     Pods([waiting_pod("CrashLoopBackOff")]), FAILED, "CrashLoopBackOff"),
    ("daemonset-unreported", obj("apps/v1", "DaemonSet", status={"observedGeneration": 1}), None,
     IN_PROGRESS, ""),
    ("daemonset-ready", obj("apps/v1", "DaemonSet", status={
        "observedGeneration": 1, "desiredNumberScheduled": 1, "updatedNumberScheduled": 1,
        "numberAvailable": 1}), None, READY, ""),
    ("daemonset-image", obj("apps/v1", "DaemonSet", status={
        "observedGeneration": 1, "desiredNumberScheduled": 1, "updatedNumberScheduled": 1,
        "numberAvailable": 0}), Pods([waiting_pod("ImagePullBackOff")]), FAILED, "ImagePullBackOff"),
    # kstatus counts a running Job as Current; here it must Complete.
    ("job-running", obj("batch/v1", "Job", status={"active": 1}), None, IN_PROGRESS, "1 active"),
    ("job-complete", obj("batch/v1", "Job", status={"succeeded": 1, "conditions": [cond("Complete")]}),
     None, READY, "complete"),
    ("job-failed", obj("batch/v1", "Job", status={"failed": 3, "conditions": [
        cond("Failed", reason="BackoffLimitExceeded", message="Job has reached the specified backoff limit")]}),
     None, FAILED, "BackoffLimitExceeded"),
    ("job-image", obj("batch/v1", "Job", status={"active": 1}), Pods([waiting_pod("ErrImagePull")]),
     FAILED, "ErrImagePull"),
    ("job-suspended", obj("batch/v1", "Job", {"suspend": True}), None, READY, "suspended"),
    ("cronjob", obj("batch/v1", "CronJob"), None, READY, ""),
    # kstatus counts a LoadBalancer without ingress as Current; here it waits.
    ("service-cluster-ip", obj("v1", "Service", {"type": "ClusterIP"}), None, READY, ""),
    ("service-lb-pending", obj("v1", "Service", {"type": "LoadBalancer"}), None, IN_PROGRESS, "ingress"),
    ("service-lb-ready", obj("v1", "Service", {"type": "LoadBalancer"},
                             {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}), None, READY, "192.0.2.10"),
    ("pvc-bound", obj("v1", "PersistentVolumeClaim", status={"phase": "Bound"}), None, READY, ""),
    ("pvc-pending", obj("v1", "PersistentVolumeClaim", {"storageClassName": "fast"}, {"phase": "Pending"}),
     Pods(storage_classes={"fast": {"volumeBindingMode": "Immediate"}}), IN_PROGRESS, "Pending"),
    # A claim that waits for its first consumer would deadlock a wait for Bound.
    ("pvc-wait-for-consumer", obj("v1", "PersistentVolumeClaim", {"storageClassName": "local"},
                                  {"phase": "Pending"}),
     Pods(storage_classes={"local": {"volumeBindingMode": "WaitForFirstConsumer"}}), READY, "first consumer"),
    ("pvc-default-class-wait", obj("v1", "PersistentVolumeClaim", {}, {"phase": "Pending"}),
     Pods(storage_classes={None: {"volumeBindingMode": "WaitForFirstConsumer"}}), READY, "first consumer"),
    ("pvc-lost", obj("v1", "PersistentVolumeClaim", status={"phase": "Lost"}), None, FAILED, "lost"),
    ("crd-established", obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", status={
        "conditions": [cond("NamesAccepted"), cond("Established")]}), None, READY, ""),
    ("crd-pending", obj("apiextensions.k8s.io/v1", "CustomResourceDefinition"), None, IN_PROGRESS, ""),
    ("crd-names-rejected", obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", status={
        "conditions": [cond("NamesAccepted", "False", "MultipleNamesNotAllowed", "plural in use")]}),
     None, FAILED, "MultipleNamesNotAllowed"),
    ("namespace-active", obj("v1", "Namespace", status={"phase": "Active"}), None, READY, ""),
    ("namespace-terminating", obj("v1", "Namespace", status={"phase": "Terminating"}), None,
     IN_PROGRESS, "terminating"),
    ("pod-running", obj("v1", "Pod", status={"phase": "Running", "conditions": [cond("Ready")]}), None,
     READY, ""),
    ("pod-failed", obj("v1", "Pod", status={"phase": "Failed", "reason": "Evicted"}), None, FAILED, "Evicted"),
    ("pod-init-crash", obj("v1", "Pod", status={"phase": "Pending", "initContainerStatuses": [
        {"name": "init", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}), None, FAILED,
     "container init: CrashLoopBackOff"),
    ("configmap", obj("v1", "ConfigMap"), None, READY, ""),
    ("custom-no-status", obj("example.com/v1", "Widget"), None, READY, ""),
    ("custom-ready-false", obj("example.com/v1", "Widget", status={
        "conditions": [cond("Ready", "False", "Waiting", "for backend")]}), None, IN_PROGRESS, "for backend"),
    ("custom-stalled", obj("example.com/v1", "Widget", status={
        "conditions": [cond("Stalled", "True", "BadSpec")]}), None, FAILED, "BadSpec"),
    ("custom-reconciling", obj("example.com/v1", "Widget", status={
        "conditions": [cond("Reconciling", "True", "Working")]}), None, IN_PROGRESS, "Working"),
    ("custom-observed-old", obj("example.com/v1", "Widget", status={"observedGeneration": 1}, generation=3),
     None, IN_PROGRESS, "generation 3"),
    ("being-deleted", obj("v1", "ConfigMap", deletionTimestamp="2024-01-01T00:00:00Z"), None,
     IN_PROGRESS, "deleted"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_rule(case):
    _, live, related, state, words = case
    verdict = readiness.status(live, related)
    assert verdict.state == state, verdict
    assert words in verdict.reason


STOPPED = [
    ("deployment-running", obj("apps/v1", "Deployment", {"replicas": 0}, {"replicas": 2}), IN_PROGRESS),
    ("deployment-stopped", obj("apps/v1", "Deployment", {"replicas": 0}, {}), READY),
    ("job-active", obj("batch/v1", "Job", {"suspend": True}, {"active": 1}), IN_PROGRESS),
    ("job-stopped", obj("batch/v1", "Job", {"suspend": True}, {}), READY),
]


@pytest.mark.parametrize("case", STOPPED, ids=[c[0] for c in STOPPED])
def test_stopped(case):
    _, live, state = case
    assert readiness.stopped(live).state == state
