"""The resource types the server knows: built-in ones and those added by CRDs.

A Resource is what discovery lists and what the URL router resolves: group,
version, kind, plural, scope, short names and subresources.
"""

import threading
from dataclasses import dataclass, field

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    short_names: list = field(default_factory=list)
    categories: list = field(default_factory=list)
    subresources: tuple = ()          # "status", "scale"
    verbs: list = field(default_factory=lambda: list(ALL_VERBS))
    builtin: bool = True              # built-in kinds have merge keys (strategic merge)
    storage_group: str = None         # events.k8s.io Events live with core Events

    @property
    def singular(self):
        return self.kind.lower()

    @property
    def api_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self):
        """Where the objects live in the store (independent of version)."""
        return (self.storage_group if self.storage_group is not None else self.group, self.plural)

    @property
    def qualified(self):
        """'deployments.apps' / 'pods' as used in error messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


def _r(group, version, kind, plural, namespaced=True, short=(), cats=(), sub=(), **kw):
    return Resource(group, version, kind, plural, namespaced, list(short), list(cats), tuple(sub), **kw)


NS_VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]

BUILTIN = [
    _r("", "v1", "Pod", "pods", short=["po"], cats=["all"], sub=["status", "log"]),
    _r("", "v1", "Service", "services", short=["svc"], cats=["all"], sub=["status"]),
    _r("", "v1", "ConfigMap", "configmaps", short=["cm"]),
    _r("", "v1", "Secret", "secrets"),
    _r("", "v1", "Namespace", "namespaces", namespaced=False, short=["ns"], sub=["status"], verbs=NS_VERBS),
    _r("", "v1", "Node", "nodes", namespaced=False, short=["no"], sub=["status"]),
    _r("", "v1", "Event", "events", short=["ev"]),
    _r("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", short=["pvc"], sub=["status"]),
    _r("", "v1", "PersistentVolume", "persistentvolumes", namespaced=False, short=["pv"], sub=["status"]),
    _r("", "v1", "ServiceAccount", "serviceaccounts", short=["sa"]),
    _r("", "v1", "Endpoints", "endpoints", short=["ep"]),
    _r("", "v1", "ResourceQuota", "resourcequotas", short=["quota"], sub=["status"]),
    _r("", "v1", "LimitRange", "limitranges", short=["limits"]),
    _r("apps", "v1", "Deployment", "deployments", short=["deploy"], cats=["all"], sub=["status", "scale"]),
    _r("apps", "v1", "ReplicaSet", "replicasets", short=["rs"], cats=["all"], sub=["status", "scale"]),
    _r("apps", "v1", "StatefulSet", "statefulsets", short=["sts"], cats=["all"], sub=["status", "scale"]),
    _r("apps", "v1", "DaemonSet", "daemonsets", short=["ds"], cats=["all"], sub=["status"]),
    _r("apps", "v1", "ControllerRevision", "controllerrevisions"),
    _r("batch", "v1", "Job", "jobs", cats=["all"], sub=["status"]),
    _r("batch", "v1", "CronJob", "cronjobs", short=["cj"], cats=["all"], sub=["status"]),
    _r("networking.k8s.io", "v1", "Ingress", "ingresses", short=["ing"], sub=["status"]),
    _r("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", short=["netpol"]),
    _r("networking.k8s.io", "v1", "IngressClass", "ingressclasses", namespaced=False),
    _r("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    _r("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    _r("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced=False),
    _r("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", namespaced=False),
    _r("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", short=["pdb"], sub=["status"]),
    _r("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions",
       namespaced=False, short=["crd", "crds"], sub=["status"]),
    _r("coordination.k8s.io", "v1", "Lease", "leases"),
    _r("storage.k8s.io", "v1", "StorageClass", "storageclasses", namespaced=False, short=["sc"]),
    _r("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices"),
    _r("events.k8s.io", "v1", "Event", "events", short=["ev"], storage_group=""),
    _r("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", short=["hpa"],
       cats=["all"], sub=["status"]),
]

# Group order as a real server lists them (core first, then by priority).
GROUP_ORDER = ["", "apps", "events.k8s.io", "autoscaling", "batch", "discovery.k8s.io",
               "networking.k8s.io", "policy",
               "rbac.authorization.k8s.io", "storage.k8s.io", "apiextensions.k8s.io",
               "coordination.k8s.io"]


class Registry:
    """All served resources; CRDs add and remove theirs at run time."""

    def __init__(self):
        self._lock = threading.Lock()
        self._builtin = list(BUILTIN)
        self._custom = {}   # crd name -> [Resource]

    def all(self):
        with self._lock:
            out = list(self._builtin)
            for resources in self._custom.values():
                out.extend(resources)
            return out

    def groups(self):
        """[(group, [versions, preferred first])] in discovery order (core excluded)."""
        seen = {}
        for res in self.all():
            if not res.group:
                continue
            versions = seen.setdefault(res.group, [])
            if res.version not in versions:
                versions.append(res.version)
        names = [g for g in GROUP_ORDER if g in seen] + sorted(g for g in seen if g not in GROUP_ORDER)
        return [(g, seen[g]) for g in names]

    def in_version(self, group, version):
        return [r for r in self.all() if r.group == group and r.version == version]

    def lookup(self, group, version, plural):
        for res in self.all():
            if res.group == group and res.version == version and res.plural == plural:
                return res
        return None

    def by_kind(self, group, kind):
        for res in self.all():
            if res.group == group and res.kind == kind:
                return res
        return None

    def by_key(self, key):
        """The preferred (first) resource stored under a store key."""
        for res in self.all():
            if res.key == key and res.storage_group is None:
                return res
        return None

    def set_custom(self, crd_name, resources):
        with self._lock:
            if resources:
                self._custom[crd_name] = resources
            else:
                self._custom.pop(crd_name, None)

    def custom_names(self):
        with self._lock:
            return {name: list(res) for name, res in self._custom.items()}
