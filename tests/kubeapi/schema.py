"""Which fields the built-in kinds have, so unknown ones are treated as a real server
treats them: `fieldValidation=Strict` -> 400, `Warn` (the default) -> a Warning header,
`Ignore` -> silently; in every case an unknown field of a built-in kind is not stored.
Only field names are modelled (not types); kinds not listed here are not checked.
"""

ANY = None        # a field whose content is not checked
MAP = None

META = {k: ANY for k in ("name", "generateName", "namespace", "selfLink", "uid", "resourceVersion",
                         "generation", "creationTimestamp", "deletionTimestamp",
                         "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences",
                         "finalizers", "managedFields")}


def _fields(*names, **nested):
    out = {n: ANY for n in names}
    out.update(nested)
    return out


CONTAINER = _fields("name", "image", "command", "args", "workingDir", "ports", "envFrom", "env",
                    "resources", "resizePolicy", "restartPolicy", "restartPolicyRules", "volumeMounts",
                    "volumeDevices", "livenessProbe", "readinessProbe", "startupProbe", "lifecycle",
                    "terminationMessagePath", "terminationMessagePolicy", "imagePullPolicy",
                    "securityContext", "stdin", "stdinOnce", "tty")
POD_SPEC = _fields("volumes", "ephemeralContainers", "restartPolicy", "terminationGracePeriodSeconds",
                   "activeDeadlineSeconds", "dnsPolicy", "nodeSelector", "serviceAccountName",
                   "serviceAccount", "automountServiceAccountToken", "nodeName", "hostNetwork", "hostPID",
                   "hostIPC", "shareProcessNamespace", "securityContext", "imagePullSecrets", "hostname",
                   "subdomain", "affinity", "schedulerName", "tolerations", "hostAliases",
                   "priorityClassName", "priority", "dnsConfig", "readinessGates", "runtimeClassName",
                   "enableServiceLinks", "preemptionPolicy", "overhead", "topologySpreadConstraints",
                   "setHostnameAsFQDN", "os", "hostUsers", "schedulingGates", "resourceClaims",
                   "resources", "hostnameOverride",
                   containers=[CONTAINER], initContainers=[CONTAINER])
TEMPLATE = {"metadata": META, "spec": POD_SPEC}
JOB_SPEC = _fields("parallelism", "completions", "activeDeadlineSeconds", "podFailurePolicy",
                   "successPolicy", "backoffLimit", "backoffLimitPerIndex", "maxFailedIndexes",
                   "selector", "manualSelector", "ttlSecondsAfterFinished", "completionMode",
                   "suspend", "podReplacementPolicy", "managedBy", template=TEMPLATE)


def _kind(**top):
    return dict({"apiVersion": ANY, "kind": ANY, "metadata": META, "status": ANY}, **top)


KINDS = {
    "Deployment": _kind(spec=_fields("replicas", "selector", "strategy", "minReadySeconds",
                                     "revisionHistoryLimit", "paused", "progressDeadlineSeconds",
                                     template=TEMPLATE)),
    "ReplicaSet": _kind(spec=_fields("replicas", "selector", "minReadySeconds", template=TEMPLATE)),
    "StatefulSet": _kind(spec=_fields("replicas", "selector", "volumeClaimTemplates", "serviceName",
                                      "podManagementPolicy", "updateStrategy", "revisionHistoryLimit",
                                      "minReadySeconds", "persistentVolumeClaimRetentionPolicy",
                                      "ordinals", template=TEMPLATE)),
    "DaemonSet": _kind(spec=_fields("selector", "updateStrategy", "minReadySeconds",
                                    "revisionHistoryLimit", template=TEMPLATE)),
    "Job": _kind(spec=JOB_SPEC),
    "CronJob": _kind(spec=_fields("schedule", "timeZone", "startingDeadlineSeconds", "concurrencyPolicy",
                                  "suspend", "successfulJobsHistoryLimit", "failedJobsHistoryLimit",
                                  jobTemplate={"metadata": META, "spec": JOB_SPEC})),
    "Pod": _kind(spec=POD_SPEC),
    "Service": _kind(spec=_fields("ports", "selector", "clusterIP", "clusterIPs", "type", "externalIPs",
                                  "sessionAffinity", "loadBalancerIP", "loadBalancerSourceRanges",
                                  "externalName", "externalTrafficPolicy", "healthCheckNodePort",
                                  "publishNotReadyAddresses", "sessionAffinityConfig", "ipFamilies",
                                  "ipFamilyPolicy", "allocateLoadBalancerNodePorts", "loadBalancerClass",
                                  "internalTrafficPolicy", "trafficDistribution")),
    "ConfigMap": _kind(data=MAP, binaryData=MAP, immutable=ANY),
    "Secret": _kind(data=MAP, stringData=MAP, type=ANY, immutable=ANY),
    "PersistentVolumeClaim": _kind(spec=_fields("accessModes", "selector", "resources", "volumeName",
                                                "storageClassName", "volumeMode", "dataSource",
                                                "dataSourceRef", "volumeAttributesClassName")),
    "Namespace": _kind(spec=ANY),
    "ServiceAccount": _kind(secrets=ANY, imagePullSecrets=ANY, automountServiceAccountToken=ANY),
}


def unknown_fields(obj, kind):
    """[(path, keys)] of fields a built-in kind does not have: path as the decoder
    names it ("spec.template.spec.containers[0].imagee"), keys to remove it."""
    schema = KINDS.get(kind)
    if schema is None or not isinstance(obj, dict):
        return []
    out = []
    _walk(obj, schema, "", (), out)
    return out


def _walk(node, schema, path, keys, out):
    if schema is ANY or not isinstance(node, (dict, list)):
        return
    if isinstance(schema, list):
        if isinstance(node, list):
            for i, item in enumerate(node):
                _walk(item, schema[0], f"{path}[{i}]", keys + (i,), out)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        sub = f"{path}.{key}" if path else key
        if key not in schema:
            out.append((sub, keys + (key,)))
        else:
            _walk(value, schema[key], sub, keys + (key,), out)


def remove(obj, keys):
    node = obj
    for k in keys[:-1]:
        node = node[k]
    del node[keys[-1]]
