"""Validation (422 Invalid with field causes) and defaulting of incoming objects."""

import base64
import hashlib
import re

LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
             "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
             "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                 "characters, '-' or '.', and must start and end with an alphanumeric character "
                 "(e.g. 'example.com', regex used for validation is "
                 "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
# Kinds whose names must be DNS labels rather than subdomains.
LABEL_NAMED = {"Namespace", "Service"}


class Invalid(Exception):
    """causes: [(field, reason, message)] -> 422 Invalid."""

    def __init__(self, causes):
        super().__init__(causes)
        self.causes = causes


def required(field):
    return (field, "FieldValueRequired", "Required value")


def invalid(field, value, detail):
    return (field, "FieldValueInvalid", f"Invalid value: {_go_repr(value)}: {detail}")


def _go_repr(value):
    if isinstance(value, str):
        return '"' + value + '"'
    if isinstance(value, dict):
        return "map[string]string{" + ", ".join(f'"{k}":"{v}"' for k, v in value.items()) + "}"
    return str(value)


def validate_name(kind, name, field="metadata.name"):
    if not name:
        return [(field, "FieldValueRequired", "Required value: name or generateName is required")]
    if kind in LABEL_NAMED:
        if len(name) > 63:
            return [invalid(field, name, "must be no more than 63 characters")]
        if not LABEL_RE.match(name):
            return [invalid(field, name, LABEL_MSG)]
    else:
        if len(name) > 253:
            return [invalid(field, name, "must be no more than 253 characters")]
        if not SUBDOMAIN_RE.match(name):
            return [invalid(field, name, SUBDOMAIN_MSG)]
    return []


def _containers(spec, prefix):
    causes = []
    containers = spec.get("containers")
    if not containers:
        return [required(prefix + ".containers")]
    seen = set()
    for i, c in enumerate(containers):
        path = f"{prefix}.containers[{i}]"
        if not isinstance(c, dict):
            causes.append(invalid(path, c, "must be an object"))
            continue
        if not c.get("name"):
            causes.append(required(path + ".name"))
        elif not LABEL_RE.match(c["name"]):
            causes.append(invalid(path + ".name", c["name"], LABEL_MSG))
        elif c["name"] in seen:
            causes.append((path + ".name", "FieldValueDuplicate", f'Duplicate value: "{c["name"]}"'))
        seen.add(c.get("name"))
        if not c.get("image"):
            causes.append(required(path + ".image"))
    return causes


def _template(spec, prefix, restart_policies=None):
    template = spec.get("template")
    if not isinstance(template, dict):
        return [required(prefix + ".template")]
    pod = template.get("spec") or {}
    causes = _containers(pod, prefix + ".template.spec")
    if restart_policies and pod.get("restartPolicy") not in restart_policies:
        values = ", ".join(f'"{v}"' for v in restart_policies)
        causes.append((prefix + ".template.spec.restartPolicy", "FieldValueNotSupported",
                       f'Unsupported value: "{pod.get("restartPolicy")}": supported values: {values}'))
    return causes


def _selector_matches_template(spec, prefix):
    selector = spec.get("selector")
    if not isinstance(selector, dict) or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        return [required(prefix + ".selector")]
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return [invalid(prefix + ".template.metadata.labels", labels,
                            "`selector` does not match template `labels`")]
    return []


def validate(obj, resource):
    """Raise Invalid for a malformed object of a built-in kind."""
    kind = resource.kind
    meta = obj.get("metadata") or {}
    causes = validate_name(kind, meta.get("name"))
    for key in (meta.get("labels") or {}):
        if not re.match(r"^([a-z0-9.-]+/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$", key):
            causes.append(invalid("metadata.labels", key, "name part must consist of alphanumeric "
                                  "characters, '-', '_' or '.', and must start and end with an "
                                  "alphanumeric character"))
    spec = obj.get("spec") or {}
    if kind == "Pod":
        causes += _containers(spec, "spec")
    elif kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"):
        causes += _selector_matches_template(spec, "spec") + _template(spec, "spec")
        if kind == "Deployment" and spec.get("replicas", 0) < 0:
            causes.append(invalid("spec.replicas", spec["replicas"],
                                  "must be greater than or equal to 0"))
    elif kind == "Job":
        causes += _template(spec, "spec", ["OnFailure", "Never"])
    elif kind == "CronJob":
        schedule = spec.get("schedule")
        if not schedule:
            causes.append(required("spec.schedule"))
        elif not schedule.startswith("@") and len(schedule.split()) != 5:
            causes.append(invalid("spec.schedule", schedule,
                                  f"expected exactly 5 fields, found {len(schedule.split())}: {schedule}"))
        causes += _template((spec.get("jobTemplate") or {}).get("spec") or {},
                            "spec.jobTemplate.spec", ["OnFailure", "Never"])
    elif kind == "Service":
        if spec.get("type") != "ExternalName" and not spec.get("ports") \
                and spec.get("clusterIP") != "None":
            causes.append(required("spec.ports"))
    elif kind == "PersistentVolumeClaim":
        if not spec.get("accessModes"):
            causes.append(required("spec.accessModes"))
        if not ((spec.get("resources") or {}).get("requests") or {}).get("storage"):
            causes.append(required("spec.resources[storage]"))
    elif kind == "CustomResourceDefinition":
        causes += _validate_crd(obj)
    if kind == "Secret":
        for key, value in (obj.get("data") or {}).items():
            try:
                base64.b64decode(value or "", validate=True)
            except (ValueError, TypeError):
                causes.append(invalid(f"data[{key}]", "<value>", "illegal base64 data"))
    if kind in ("ConfigMap", "Secret"):
        for section in ("data", "binaryData", "stringData"):
            for key in (obj.get(section) or {}):
                if not re.match(r"^[-._a-zA-Z0-9]+$", key):
                    causes.append(invalid(f"{section}[{key}]", key, "a valid config key must "
                                          "consist of alphanumeric characters, '-', '_' or '.'"))
    if causes:
        raise Invalid(causes)


def _validate_crd(obj):
    spec = obj.get("spec") or {}
    names = spec.get("names") or {}
    causes = []
    for field in ("group", "scope"):
        if not spec.get(field):
            causes.append(required("spec." + field))
    for field in ("plural", "kind"):
        if not names.get(field):
            causes.append(required("spec.names." + field))
    if not spec.get("versions"):
        causes.append(required("spec.versions"))
    elif sum(1 for v in spec["versions"] if v.get("storage")) != 1:
        causes.append(invalid("spec.versions", spec["versions"][0].get("name"),
                              "must have exactly one version marked as storage version"))
    expected = f'{names.get("plural")}.{spec.get("group")}'
    if names.get("plural") and spec.get("group") and obj["metadata"].get("name") != expected:
        causes.append(invalid("metadata.name", obj["metadata"].get("name"),
                              "must be spec.names.plural+\".\"+spec.group"))
    return causes


# -- defaulting -------------------------------------------------------------------------

def _default_container(c):
    image = c.get("image", "")
    tag = image.rsplit("/", 1)[-1]
    c.setdefault("imagePullPolicy", "Always" if (":" not in tag or tag.endswith(":latest"))
                 and "@" not in tag else "IfNotPresent")
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("resources", {})
    for port in c.get("ports") or []:
        port.setdefault("protocol", "TCP")


def default_pod_spec(spec):
    for c in spec.get("containers") or []:
        _default_container(c)
    for c in spec.get("initContainers") or []:
        _default_container(c)
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")


def default(obj, resource):
    kind = resource.kind
    spec = obj.get("spec")
    if kind == "Pod" and isinstance(spec, dict):
        default_pod_spec(spec)
        spec.setdefault("enableServiceLinks", True)
    elif kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job") and isinstance(spec, dict):
        if kind != "DaemonSet" and kind != "Job":
            spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10) if kind != "Job" and kind != "ReplicaSet" else None
        if kind == "Deployment":
            spec.setdefault("strategy", {"type": "RollingUpdate",
                                         "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
            spec.setdefault("progressDeadlineSeconds", 600)
        if kind == "StatefulSet":
            spec.setdefault("podManagementPolicy", "OrderedReady")
            spec.setdefault("updateStrategy", {"type": "RollingUpdate",
                                               "rollingUpdate": {"partition": 0}})
        if kind == "DaemonSet":
            spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate":
                                               {"maxUnavailable": 1, "maxSurge": 0}})
        if kind == "Job":
            spec.setdefault("parallelism", 1)
            spec.setdefault("completions", 1)
            spec.setdefault("backoffLimit", 6)
            spec.setdefault("completionMode", "NonIndexed")
            spec.setdefault("suspend", False)
        template = spec.get("template")
        if isinstance(template, dict):
            template.setdefault("metadata", {})
            if kind == "Job":
                labels = template["metadata"].setdefault("labels", {})
                uid = obj["metadata"].get("uid", "")
                spec.setdefault("selector", {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}})
                labels.setdefault("batch.kubernetes.io/controller-uid", uid)
                labels.setdefault("batch.kubernetes.io/job-name", obj["metadata"]["name"])
                labels.setdefault("controller-uid", uid)
                labels.setdefault("job-name", obj["metadata"]["name"])
            default_pod_spec(template.setdefault("spec", {}))
    elif kind == "CronJob" and isinstance(spec, dict):
        spec.setdefault("suspend", False)
        spec.setdefault("concurrencyPolicy", "Allow")
        spec.setdefault("successfulJobsHistoryLimit", 3)
        spec.setdefault("failedJobsHistoryLimit", 1)
    elif kind == "Service" and isinstance(spec, dict):
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        for port in spec.get("ports") or []:
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    elif kind == "PersistentVolumeClaim" and isinstance(spec, dict):
        spec.setdefault("volumeMode", "Filesystem")
    elif kind == "Secret":
        obj.setdefault("type", "Opaque")
        # stringData is write-only: the API merges it into data (base64) and drops it
        string_data = obj.pop("stringData", None) or {}
        if string_data:
            data = obj.setdefault("data", {}) or {}
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode()).decode()
            obj["data"] = data


def template_hash(template):
    """pod-template-hash label value for a pod template."""
    import json
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    n = int(digest[:16], 16)
    out = ""
    for _ in range(10):
        out += alphabet[n % len(alphabet)]
        n //= len(alphabet)
    return out
