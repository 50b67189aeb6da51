"""Garbage collection by ownerReferences, Services, volumes, CRDs and Namespaces."""

import copy
import time

from ..resources import Resource
from .common import (CRD_FINALIZER, K_CM, K_CRD, K_EP, K_NS, K_POD, K_PV, K_PVC, K_SA, K_SC, K_SLICE, K_SVC,
                     _owner_ref, _ready, _set_condition)


class ClusterObjects:
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

    # -- Service, PVC ---------------------------------------------------------------------------
    def service(self, svc):
        if svc["metadata"].get("deletionTimestamp"):
            return
        if svc["spec"].get("selector"):
            self._endpoints(svc)
        if svc["spec"].get("type") != "LoadBalancer":
            return
        if (svc.get("status") or {}).get("loadBalancer", {}).get("ingress"):
            return
        state = self.progress.setdefault(svc["metadata"]["uid"], {})
        since = state.setdefault("since", time.time())
        wait = since + self.delays.load_balancer - time.time()
        if wait > 0:
            self.enqueue(K_SVC, svc["metadata"]["namespace"], svc["metadata"]["name"], wait + 0.001)
            return
        ip = f"172.18.255.{(hash(svc['metadata']['uid']) % 250) + 2}"
        svc["status"] = {"loadBalancer": {"ingress": [{"ip": ip, "ipMode": "VIP"}]}}
        self._write_status(K_SVC, svc)
        self.event(svc, K_SVC, "Normal", "EnsuredLoadBalancer", "Ensured load balancer", "service-controller")

    def _endpoints(self, svc):
        """Endpoints and an EndpointSlice listing the pods the Service selects."""
        meta, spec = svc["metadata"], svc["spec"]
        ns, name = meta["namespace"], meta["name"]
        selector = spec["selector"]
        pods = [p for p in self.store.list(K_POD, ns)
                if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())
                and p["status"].get("podIP") and p["status"].get("phase") not in ("Succeeded", "Failed")]

        def target(p):
            return {"kind": "Pod", "name": p["metadata"]["name"], "namespace": ns, "uid": p["metadata"]["uid"]}

        def port_number(port, p):
            wanted = port.get("targetPort", port.get("port"))
            if isinstance(wanted, int):
                return wanted
            for c in p["spec"].get("containers") or []:
                for cp in c.get("ports") or []:
                    if cp.get("name") == wanted:
                        return cp.get("containerPort")
            return None

        ports = []
        for port in spec.get("ports") or []:
            number = next((n for n in (port_number(port, p) for p in pods) if n), None)
            if number is not None or not pods:
                entry = {"port": number if number is not None else port.get("port"),
                         "protocol": port.get("protocol", "TCP")}
                if port.get("name"):
                    entry["name"] = port["name"]
                ports.append(entry)
        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        ready = [{"ip": p["status"]["podIP"], "nodeName": p["spec"].get("nodeName"), "targetRef": target(p)}
                 for p in live if _ready(p)]
        not_ready = [{"ip": p["status"]["podIP"], "nodeName": p["spec"].get("nodeName"), "targetRef": target(p)}
                     for p in live if not _ready(p)]
        endpoints = {"apiVersion": "v1", "kind": "Endpoints",
                     "metadata": {"name": name, "namespace": ns, "labels": dict(meta.get("labels") or {})}}
        if ready or not_ready:
            subset = {"ports": ports}
            if ready:
                subset["addresses"] = ready
            if not_ready:
                subset["notReadyAddresses"] = not_ready
            endpoints["subsets"] = [subset]
        current = self.store.get(K_EP, ns, name)
        if current is None:
            self._create(K_EP, ns, endpoints)
        elif current.get("subsets") != endpoints.get("subsets"):
            current["subsets"] = endpoints.get("subsets")
            if current["subsets"] is None:
                del current["subsets"]
            self._write(K_EP, current)
        slice_endpoints = [{"addresses": [p["status"]["podIP"]],
                            "conditions": {"ready": _ready(p) and not p["metadata"].get("deletionTimestamp"),
                                           "serving": _ready(p),
                                           "terminating": bool(p["metadata"].get("deletionTimestamp"))},
                            "nodeName": p["spec"].get("nodeName"), "targetRef": target(p)} for p in pods]
        slices = self._children(svc, K_SLICE)
        if not slices:
            labels = dict(meta.get("labels") or {}, **{
                "kubernetes.io/service-name": name,
                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"})
            self._create(K_SLICE, ns, {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                                       "metadata": {"generateName": name + "-", "labels": labels,
                                                    "ownerReferences": [_owner_ref(svc, "Service", "v1")]},
                                       "addressType": "IPv4", "endpoints": slice_endpoints, "ports": ports})
        elif slices[0].get("endpoints") != slice_endpoints or slices[0].get("ports") != ports:
            updated = copy.deepcopy(slices[0])
            updated["endpoints"], updated["ports"] = slice_endpoints, ports
            self._write(K_SLICE, updated)

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
        state = self.progress.setdefault(meta["uid"], {})
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
            state = self.progress.setdefault(meta["uid"], {})
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
        state = self.progress.setdefault(crd["metadata"]["uid"], {})
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
            # every namespace holds the cluster's CA, as the root-ca-cert-publisher makes it
            if self.store.peek(K_CM, name, "kube-root-ca.crt") is None:
                self._create(K_CM, name, {"apiVersion": "v1", "kind": "ConfigMap",
                                          "metadata": {"name": "kube-root-ca.crt", "annotations": {
                                              "kubernetes.io/description": "Contains a CA bundle that can be "
                                              "used to verify the kube-apiserver when using internal endpoints "
                                              "such as the internal service IP or kubernetes.default.svc. No "
                                              "other usage is guaranteed across distributions of Kubernetes "
                                              "clusters."}},
                                          "data": {"ca.crt": self.api.ca_pem()}})
            return
        state = self.progress.setdefault(meta["uid"], {})
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
