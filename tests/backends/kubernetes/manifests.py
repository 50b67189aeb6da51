"""Small builders for the manifests the tests deploy."""

import yaml


def dump(*objects) -> str:
    return yaml.safe_dump_all(list(objects), sort_keys=False)


def deployment(name, image, replicas=1, container=None, pod=None, labels=None):
    spec_container = {"name": "main", "image": image, "command": ["sh", "-c", "sleep 3600"]}
    spec_container.update(container or {})
    pod_spec = {"containers": [spec_container], "terminationGracePeriodSeconds": 0}
    pod_spec.update(pod or {})
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": dict(labels or {})},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec}},
    }


def service(name, kind="ClusterIP"):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": kind, "selector": {"app": name}, "ports": [{"port": 80}]}}


def config_map(name, labels=None, **data):
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": dict(labels or {})}, "data": data or {"k": "v"}}


def job(name, image, command=None, backoff_limit=0):
    return {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
        "spec": {"backoffLimit": backoff_limit, "template": {"spec": {
            "restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
            "containers": [{"name": "main", "image": image,
                            "command": command or ["sh", "-c", "echo done"]}]}}},
    }


def cron_job(name, image):
    return {
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name},
        "spec": {"schedule": "*/30 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": image, "command": ["true"]}]}}}}},
    }


def stateful_set(name, image, replicas=1):
    return {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
        "spec": {"replicas": replicas, "serviceName": name, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {
                     "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "main", "image": image,
                                     "command": ["sh", "-c", "sleep 3600"]}]}}},
    }


def crd(group="widgets.example.com", kind="Widget", plural="widgets"):
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {"group": group, "scope": "Namespaced",
                 "names": {"kind": kind, "plural": plural, "singular": kind.lower(),
                           "listKind": kind + "List"},
                 "versions": [{"name": "v1", "served": True, "storage": True,
                               "schema": {"openAPIV3Schema": {
                                   "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]},
    }


def daemon_set(name, image):
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {
                     "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "main", "image": image,
                                     "command": ["sh", "-c", "sleep 3600"]}]}}},
    }
