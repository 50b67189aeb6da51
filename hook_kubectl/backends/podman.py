"""The single-node backend: the manifests' workloads run on this node with
`podman kube play`; no cluster is needed.

What runs and how (podman 4.3, as in Debian bookworm, is the baseline):

- Pod and Deployment: one podman pod each, played from a YAML fed on stdin
  (`podman kube play -`). A Deployment runs ONE pod (podman names it
  <name>-pod-0); replicas > 1 is a note, replicas 0 runs none. Every pod
  carries the deployment's identity labels (Deployment.labels()), a
  workload label (`pod.web`, `deployment.web`) and a config-hash label; the
  annotations go onto its containers.
- StatefulSet, DaemonSet, ReplicaSet, ReplicationController and Job: played
  as one Pod named <name>-0 (the name a StatefulSet's first pod has), so
  templates written for a cluster run here unchanged. volumeClaimTemplates
  become volumes named <template>-<name>-0, as Kubernetes names the claims.
  A Job is ready when its containers exited 0 (restartPolicy defaults to
  Never) and, unchanged, is not run again on UPDATE.
- ConfigMap: played with the pods that reference it (podman reads it there).
- Secret: podman 4.3's kube play cannot use Secrets (a secretKeyRef wants a
  different storage format than kube play writes, a secret volume crashes
  it), so the hook resolves them itself: secretKeyRef / envFrom secretRef
  become container env values, secret volumes become read-only bind mounts
  of files under the work dir (0700 directory). Secret data is never
  written to the stored manifest and never printed.
- PersistentVolumeClaim: a podman volume of the same name, labelled with the
  identity. DELETE keeps it (its data) unless options.delete_volumes.
- emptyDir: podman 4.3 names the volume after the volume's name only, so
  it is renamed <kind>-<name>-<volume> to keep pods apart.
- Service: not run (there is no proxy on one node). Its live shape, for
  outputs, points at the pod it selects: spec.clusterIP is that pod's IP
  (reachable from this node and from the node's other pods at the
  targetPort) and each port carries `hostPort` where the pod publishes the
  target port on the node. So `service/web:{.spec.clusterIP}` works on both
  backends. A Pod's status is built from podman inspect (podIP, phase,
  conditions, containerStatuses); a Deployment's, StatefulSet's or
  ReplicaSet's has replicas/readyReplicas, a DaemonSet's numberReady, a
  Job's succeeded/failed and a Complete condition.
- Namespace, Ingress, NetworkPolicy, RBAC, CRDs and every other kind: not
  run, reported as a note; outputs read them as the manifest wrote them
  (no status). A CronJob is refused before anything runs (there is no
  scheduler here; its containers would silently never run).

Converging (paunch style): each workload's hash covers what is played
(ConfigMaps it uses, resolved secret values, secret files). An owned pod
with the same hash that is running is left alone; otherwise it is removed
and played again. Owned pods whose workload the config no longer has are
removed. Ownership is the identity label, never a name: a pod, container
or volume of the same name that is not ours is a conflict error and
nothing is changed.

Readiness (podman_readiness.py): every container running and its probes
passing (run by the hook); early failure on a missing image (checked with
`podman image exists`, pulled only when the pull policy allows), an exited
or restarting container (exit code and log tail in deploy_stderr), and
the deadline (options.timeout).

Files: $HEAT_KUBECTL_WORKDIR (default /var/lib/heat-config-kubectl)
/podman/<deployment slug>/ holds manifest.json (the applied objects,
Secret data removed) and secrets/ (files for secret volumes); directories
0700, files 0600 (secret files take their defaultMode).
"""

import base64
import binascii
import copy
import dataclasses
import hashlib
import json
import os
import shutil
import time
from typing import Optional

import yaml

from hook_kubectl.backends import podman_readiness as readiness
from hook_kubectl.backends.base import Backend, ObjectReport, Outcome, log_tail, workdir
from hook_kubectl.deployment import LABEL_PREFIX
from hook_kubectl.errors import BackendError, InputError

OWNER_LABEL = f"{LABEL_PREFIX}/deployment"
WORKLOAD_LABEL = f"{LABEL_PREFIX}/workload"
HASH_LABEL = f"{LABEL_PREFIX}/config-hash"
DEFAULT_GRACE = 10

# Played as one podman pod named <name>-0 (a StatefulSet's first pod's name).
AS_POD = ("StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job")
WORKLOADS = ("Pod", "Deployment") + AS_POD
PASSED = ("ConfigMap", "Secret", "PersistentVolumeClaim")
REFUSED = ("CronJob",)
KINDS = {  # what outputs may call a kind -> its Kind
    "pod": "Pod", "pods": "Pod", "po": "Pod",
    "deployment": "Deployment", "deployments": "Deployment", "deploy": "Deployment",
    "statefulset": "StatefulSet", "statefulsets": "StatefulSet", "sts": "StatefulSet",
    "daemonset": "DaemonSet", "daemonsets": "DaemonSet", "ds": "DaemonSet",
    "replicaset": "ReplicaSet", "replicasets": "ReplicaSet", "rs": "ReplicaSet",
    "replicationcontroller": "ReplicationController", "rc": "ReplicationController",
    "job": "Job", "jobs": "Job",
    "service": "Service", "services": "Service", "svc": "Service",
    "configmap": "ConfigMap", "configmaps": "ConfigMap", "cm": "ConfigMap",
    "secret": "Secret", "secrets": "Secret",
    "persistentvolumeclaim": "PersistentVolumeClaim", "pvc": "PersistentVolumeClaim",
    "persistentvolumeclaims": "PersistentVolumeClaim",
}


@dataclasses.dataclass
class Workload:
    """One Pod or Deployment as it will be played."""

    kind: str
    name: str
    obj: dict  # the manifest object, as rendered
    docs: list  # what `podman kube play` gets: ConfigMaps used + the workload
    files: dict  # secret volume files: relative path -> (bytes, mode)
    replicas: int = 1
    hash: str = ""
    claims: list = dataclasses.field(default_factory=list)  # volumes from volumeClaimTemplates

    @property
    def label(self) -> str:
        return f"{self.kind.lower()}.{self.name}"

    @property
    def ref(self) -> str:
        return f"{self.kind.lower()}/{self.name}"

    @property
    def pod_names(self) -> list:
        """The names podman gives the pod (4.3: <name>-pod-0; later: <name>-pod)."""
        if self.kind == "Pod":
            return [self.name]
        if self.kind in AS_POD:
            return [f"{self.name}-0"]
        return [f"{self.name}-pod-0", f"{self.name}-pod"]

    def container_names(self) -> list:
        spec = pod_spec_of(self.obj)
        names = [c.get("name") for c in (spec.get("containers") or []) + (spec.get("initContainers") or [])]
        return [f"{pod}-{name}" for pod in self.pod_names for name in names]


def pod_spec_of(obj: dict) -> dict:
    if obj.get("kind") == "Pod":
        return obj.get("spec") or {}
    return ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}


def pod_meta_of(obj: dict) -> dict:
    if obj.get("kind") == "Pod":
        return obj.setdefault("metadata", {})
    template = obj.setdefault("spec", {}).setdefault("template", {})
    return template.setdefault("metadata", {})


def secret_data(obj: dict) -> dict:
    """A Secret's values as bytes (data is base64, stringData wins)."""
    values = {}
    for key, value in (obj.get("data") or {}).items():
        try:
            values[key] = base64.b64decode(str(value or ""), validate=True)
        except (binascii.Error, ValueError):
            raise InputError(
                f"Secret/{obj['metadata']['name']}: data.{key} is not valid base64") from None
    for key, value in (obj.get("stringData") or {}).items():
        values[key] = str(value).encode()
    return values


def _references(value, found: dict) -> dict:
    """Names of ConfigMaps, Secrets and PVCs a pod spec refers to."""
    if isinstance(value, list):
        for item in value:
            _references(item, found)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key in ("configMapKeyRef", "configMapRef", "configMap") and isinstance(item, dict):
                found.setdefault("ConfigMap", {})[item.get("name")] = bool(item.get("optional"))
            elif key in ("secretKeyRef", "secretRef") and isinstance(item, dict):
                found.setdefault("Secret", {})[item.get("name")] = bool(item.get("optional"))
            elif key == "secret" and isinstance(item, dict):
                name = item.get("secretName") or item.get("name")
                found.setdefault("Secret", {})[name] = bool(item.get("optional"))
            elif key == "persistentVolumeClaim" and isinstance(item, dict):
                found.setdefault("PersistentVolumeClaim", {})[item.get("claimName")] = False
            _references(item, found)
    return found


class PodmanBackend(Backend):
    name = "podman"
    config_format = "manifests"

    def __init__(self, deployment):
        super().__init__(deployment)
        self.key = deployment.identity.key
        self.workdir = workdir("podman", deployment.identity.slug)

    # ------------------------------------------------------------ check

    def check(self, objects: list) -> list:
        notes, by_kind = [], {}
        for obj in objects:
            by_kind.setdefault(obj["kind"], {})[obj["metadata"]["name"]] = obj
        namespaces = {o["metadata"].get("namespace") for o in objects}
        namespaces = sorted((namespaces | {self.deployment.options["namespace"]}) - {None, ""})
        if namespaces:
            notes.append(
                f"namespaces ({', '.join(namespaces)}) are not used on podman: "
                "pod and volume names are node-wide")
        seen = {}
        for obj in objects:
            kind, name = obj["kind"], obj["metadata"]["name"]
            where = f"{kind}/{name}"
            if kind in REFUSED:
                raise InputError(
                    f"{where}: the podman backend cannot run a {kind} (there is no scheduler "
                    "on one node); use a Job or Pod, or the kubernetes backend")
            if kind in WORKLOADS:
                if (kind, name) in seen:
                    raise InputError(
                        f"{where} appears in two namespaces: podman has no namespaces, "
                        "names must be unique on the node")
                seen[(kind, name)] = True
                notes.extend(self._check_workload(obj, by_kind))
            elif kind == "Service":
                kind_of = (obj.get("spec") or {}).get("type") or "ClusterIP"
                extra = f" (type {kind_of} is not available either)" if kind_of != "ClusterIP" else ""
                notes.append(
                    f"{where}: not run on podman{extra}; reach its pods at their pod IP or "
                    "hostPort (outputs on it read the selected pod's IP as spec.clusterIP)")
            elif kind not in PASSED:
                notes.append(f"{where}: not run on podman (single node); ignored")
        return notes

    def _check_workload(self, obj: dict, by_kind: dict) -> list:
        kind, name = obj["kind"], obj["metadata"]["name"]
        where = f"{kind}/{name}"
        notes = []
        spec = pod_spec_of(obj)
        containers = spec.get("containers")
        if not isinstance(containers, list) or not containers:
            field = "spec.containers" if kind == "Pod" else "spec.template.spec.containers"
            raise InputError(f"{where}: {field} must list at least one container")
        for index, container in enumerate(containers + (spec.get("initContainers") or [])):
            if not isinstance(container, dict) or not container.get("name") or not container.get("image"):
                raise InputError(f"{where}: container {index + 1} needs a name and an image")
            for probe in readiness.PROBES:
                if isinstance(container.get(probe), dict) and "grpc" in container[probe]:
                    notes.append(f"{where}: container {container['name']} {probe} grpc is "
                                 "not checked on podman")
        if kind in ("Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"):
            replicas = (obj.get("spec") or {}).get("replicas", 1)
            if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
                raise InputError(f"{where}: spec.replicas must be a whole number >= 0")
            if replicas > 1:
                notes.append(f"{where}: replicas {replicas} requested, podman runs 1 pod on one node")
        if kind == "Job":
            if spec.get("restartPolicy") == "Always":
                raise InputError(f"{where}: spec.template.spec.restartPolicy must be Never or "
                                 "OnFailure for a Job")
            job = obj.get("spec") or {}
            if max(job.get("parallelism") or 1, job.get("completions") or 1) > 1:
                notes.append(f"{where}: runs once on podman (parallelism and completions "
                             "above 1 are not honoured)")
        if kind in AS_POD:
            notes.append(f"{where}: runs as one pod, {name}-0, on this node")
        for ref_kind, names in _references(spec, {}).items():
            for ref_name, optional in names.items():
                if ref_kind == "PersistentVolumeClaim" or optional:
                    continue
                if ref_name not in by_kind.get(ref_kind, {}):
                    raise InputError(
                        f"{where} uses {ref_kind}/{ref_name}, which is not in this deployment's "
                        f"config: on podman a {ref_kind} must be in the same config")
        return notes

    # ------------------------------------------------------------ plan

    def _plan(self, objects: list) -> tuple:
        """(workloads, other objects) for `objects`."""
        configmaps = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ConfigMap"}
        secrets = {o["metadata"]["name"]: secret_data(o) for o in objects if o["kind"] == "Secret"}
        workloads = [self._workload(o, configmaps, secrets)
                     for o in objects if o["kind"] in WORKLOADS]
        others = [o for o in objects if o["kind"] not in WORKLOADS]
        return workloads, others

    def _workload(self, obj: dict, configmaps: dict, secrets: dict) -> Workload:
        kind, name = obj["kind"], obj["metadata"]["name"]
        played = copy.deepcopy(obj)
        played["metadata"].pop("namespace", None)
        replicas = (played.get("spec") or {}).get("replicas", 1) if kind != "Pod" else 1
        claims = []
        if kind == "Deployment":
            played["spec"]["replicas"] = min(replicas, 1)
        elif kind in AS_POD:
            played, claims = self._as_pod(played)
        meta = pod_meta_of(played)
        labels = dict(meta.get("labels") or {})
        labels.update(self.deployment.labels())
        labels[WORKLOAD_LABEL] = f"{kind.lower()}.{name}"
        meta["labels"] = labels
        if played["kind"] == "Deployment":
            top = played.setdefault("metadata", {})
            top["labels"] = {**(top.get("labels") or {}), **self.deployment.labels()}
        spec = pod_spec_of(played)
        files = {}
        where = f"{kind}/{name}"
        for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
            _inline_secret_env(container, secrets, where)
            # The hook checked (or pulled) the image already: kube play must not pull.
            container["imagePullPolicy"] = "Never"
        for volume in spec.get("volumes") or []:
            if isinstance(volume.get("secret"), dict):
                files.update(self._secret_volume(volume, secrets, f"{kind.lower()}.{name}", where))
            elif "emptyDir" in volume:
                _rename_volume(spec, volume, f"{kind.lower()}-{name}-{volume['name']}")
        used = _references(spec, {}).get("ConfigMap", {})
        docs = [copy.deepcopy(configmaps[n]) for n in sorted(used) if n in configmaps]
        for doc in docs:
            doc["metadata"].pop("namespace", None)
        docs.append(played)
        digest = hashlib.sha256(json.dumps(
            {"docs": docs, "files": {p: [hashlib.sha256(d).hexdigest(), m]
                                     for p, (d, m) in sorted(files.items())}},
            sort_keys=True, default=str).encode()).hexdigest()[:16]
        meta["labels"][HASH_LABEL] = digest
        # Provenance, after hashing: the config id changes on every Heat update
        # and must not, alone, replace a pod. podman 4.3 reads a Deployment's
        # annotations from its own metadata, a Pod's from the pod.
        for target in {id(meta): meta, id(played["metadata"]): played["metadata"]}.values():
            target["annotations"] = {**(target.get("annotations") or {}),
                                     **self.deployment.annotations()}
        return Workload(kind, name, obj, docs, files, replicas, digest, claims)

    def _as_pod(self, obj: dict) -> tuple:
        """A StatefulSet, DaemonSet, ReplicaSet, ReplicationController or Job as
        the one Pod that runs it here, and the claims its volumeClaimTemplates
        make (named <template>-<name>-0, as Kubernetes names them)."""
        name = obj["metadata"]["name"]
        template = copy.deepcopy((obj.get("spec") or {}).get("template") or {})
        meta = template.get("metadata") or {}
        spec = template.get("spec") or {}
        if obj["kind"] == "Job":
            spec.setdefault("restartPolicy", "Never")
        claims = []
        for claim in (obj.get("spec") or {}).get("volumeClaimTemplates") or []:
            volume = (claim.get("metadata") or {}).get("name")
            if not volume:
                raise InputError(f"{obj['kind']}/{name}: a volumeClaimTemplate has no metadata.name")
            claim_name = f"{volume}-{name}-0"
            claims.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                           "metadata": {"name": claim_name}, "spec": claim.get("spec") or {}})
            volumes = spec.setdefault("volumes", [])
            if not any(v.get("name") == volume for v in volumes):
                volumes.append({"name": volume, "persistentVolumeClaim": {"claimName": claim_name}})
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": f"{name}-0", "labels": dict(meta.get("labels") or {}),
                            "annotations": dict(meta.get("annotations") or {})},
               "spec": spec}
        return pod, claims

    def _secret_volume(self, volume: dict, secrets: dict, label: str, where: str) -> dict:
        """Turn a secret volume into a read-only bind mount of files the hook
        writes; return those files (relative path -> (bytes, mode))."""
        source = volume.pop("secret")
        secret_name = source.get("secretName")
        data = secrets.get(secret_name)
        if data is None:
            if not source.get("optional"):
                raise InputError(f"{where}: volume {volume.get('name')} uses Secret/{secret_name}, "
                                 "which is not in this deployment's config")
            data = {}
        mode = source.get("defaultMode", 0o644)
        directory = os.path.join("secrets", label, str(volume.get("name")))
        items = source.get("items") or [{"key": k, "path": k} for k in sorted(data)]
        files = {}
        for item in items:
            path = os.path.normpath(str(item.get("path") or item.get("key")))
            if path.startswith("..") or os.path.isabs(path):
                raise InputError(f"{where}: volume {volume.get('name')} item path {path!r} "
                                 "must stay inside the volume")
            if item.get("key") not in data:
                raise InputError(f"{where}: Secret/{secret_name} has no key {item.get('key')!r}")
            files[os.path.join(directory, path)] = (data[item["key"]], int(item.get("mode", mode)))
        volume["hostPath"] = {"path": os.path.join(self.workdir, directory), "type": "Directory"}
        return files

    # ------------------------------------------------------------ podman state

    def _owned_pods(self) -> list:
        return readiness.owned_pods(OWNER_LABEL, self.key)

    def _conflicts(self, workloads: list, pvcs: list) -> list:
        """Names a workload or volume needs that something else holds."""
        problems = []
        pods = {p.get("Name"): p for p in readiness.inspect_json(["pod", "ps", "--format", "json"])}
        containers = {}
        for c in readiness.inspect_json(["ps", "-a", "--format", "json"]):
            for name in c.get("Names") or []:
                containers[name] = c
        for workload in workloads:
            for pod_name in workload.pod_names:
                pod = pods.get(pod_name)
                if pod is None:
                    continue
                labels = pod.get("Labels") or {}
                if labels.get(OWNER_LABEL) != self.key:
                    problems.append(f"{workload.ref}: a pod named {pod_name} already exists on "
                                    f"this node and {self._owner_text(labels, pod)}")
                elif labels.get(WORKLOAD_LABEL) != workload.label:
                    problems.append(f"{workload.ref}: pod {pod_name} belongs to this deployment's "
                                    f"{labels.get(WORKLOAD_LABEL, '').replace('.', '/', 1)}")
            for cname in workload.container_names():
                found = containers.get(cname)
                if found and (found.get("Labels") or {}).get(OWNER_LABEL) != self.key:
                    problems.append(f"{workload.ref}: a container named {cname} already exists "
                                    f"on this node and {self._owner_text(found.get('Labels') or {})}")
        for pvc in pvcs:
            name = pvc["metadata"]["name"]
            volume = readiness.inspect_json(["volume", "inspect", name])
            if volume and (volume[0].get("Labels") or {}).get(OWNER_LABEL) != self.key:
                problems.append(f"PersistentVolumeClaim/{name}: a podman volume named {name} "
                                f"already exists and {self._owner_text(volume[0].get('Labels') or {})}")
        return sorted(set(problems))

    def _owner_text(self, labels: dict, pod: Optional[dict] = None) -> str:
        if not labels.get(OWNER_LABEL):
            return "was not created by heat-config-kubectl"
        owner = "belongs to another deployment"
        for container in (pod or {}).get("Containers") or []:
            found = readiness.inspect_json(["container", "inspect", container.get("Id", "")])
            notes = ((found[0].get("Config") or {}).get("Annotations") or {}) if found else {}
            stack = notes.get(f"{LABEL_PREFIX}/stack-id")
            resource = notes.get(f"{LABEL_PREFIX}/resource-name")
            if stack and resource:
                return f"{owner} (stack {stack.split('/')[0]}, resource {resource})"
        return owner

    def _ensure_images(self, workloads: list, deadline, outcome: Outcome) -> None:
        """Every image is on this node, or fail now, before anything changes."""
        done = set()
        for workload in workloads:
            spec = pod_spec_of(workload.obj)
            for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
                image = str(container["image"])
                if image in done:
                    continue
                done.add(image)
                policy = container.get("imagePullPolicy") or (
                    "Always" if ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")
                    else "IfNotPresent")
                present = readiness.podman(["image", "exists", image], check=False).returncode == 0
                if present and policy != "Always":
                    continue
                if policy == "Never":
                    raise BackendError(
                        f"{workload.ref}: image {image} (container {container['name']}) not found "
                        "on this node and imagePullPolicy is Never: load it with podman first")
                proc = readiness.podman(["pull", "--quiet", image], check=False,
                                        timeout=max(5.0, deadline.remaining()))
                if proc.returncode == 0:
                    continue
                if present:
                    outcome.notes.append(f"could not pull {image}: using the copy on this node")
                    continue
                raise BackendError(
                    f"{workload.ref}: image {image} (container {container['name']}) not found on "
                    f"this node and could not be pulled: {log_tail(proc.stderr, 1)}")

    def _remove_pods(self, pods: list, grace: int) -> None:
        """Stop and remove pods by id; podman can race a restarting container."""
        ids = [p["Id"] for p in pods]
        if not ids:
            return
        readiness.podman(["pod", "stop", "--ignore", "--time", str(grace), *ids], check=False,
                         timeout=grace + 60)
        for _ in range(5):
            proc = readiness.podman(["pod", "rm", "--force", "--ignore", "--time", "0", *ids],
                                    check=False, timeout=120)
            left = [i for i in ids if readiness.podman(["pod", "exists", i], check=False).returncode == 0]
            if not left:
                return
            ids = left
            time.sleep(0.5)
        raise BackendError(f"could not remove pod(s) {', '.join(i[:12] for i in ids)}: "
                           f"{log_tail(proc.stderr, 2)}")

    def _grace(self, objects: list, deadline) -> int:
        graces = [pod_spec_of(o).get("terminationGracePeriodSeconds") for o in objects
                  if o.get("kind") in WORKLOADS]
        grace = max([g for g in graces if isinstance(g, int)] or [DEFAULT_GRACE])
        return int(max(1, min(grace, deadline.remaining() or 1)))

    # ------------------------------------------------------------ work dir

    def _stored_objects(self) -> list:
        try:
            with open(os.path.join(self.workdir, "manifest.json")) as stored:
                return json.load(stored).get("objects") or []
        except (OSError, ValueError):
            return []

    def _store(self, objects: list) -> None:
        root = os.path.dirname(os.path.dirname(self.workdir))
        os.makedirs(root, mode=0o700, exist_ok=True)
        for directory in _parents(self.workdir, root):
            os.makedirs(directory, mode=0o700, exist_ok=True)
            os.chmod(directory, 0o700)
        kept = []
        for obj in objects:
            if obj["kind"] == "Secret":
                obj = {k: v for k, v in obj.items() if k not in ("data", "stringData")}
            kept.append(obj)
        record = {"stack_id": self.deployment.identity.stack_id,
                  "resource_name": self.deployment.identity.resource_name,
                  "config_id": self.deployment.id, "objects": kept}
        _write(os.path.join(self.workdir, "manifest.json"),
               json.dumps(record, indent=1, sort_keys=True).encode(), 0o600)

    def _write_files(self, workload: Workload) -> None:
        directory = os.path.join(self.workdir, "secrets", workload.label)
        shutil.rmtree(directory, ignore_errors=True)
        for relative, (data, mode) in workload.files.items():
            path = os.path.join(self.workdir, relative)
            for parent in _parents(os.path.dirname(path), self.workdir):
                # The volume directory is mounted as is: the container's user must
                # traverse it; the work dir above stays 0700.
                os.makedirs(parent, exist_ok=True)
                os.chmod(parent, 0o700 if parent == os.path.join(self.workdir, "secrets") else 0o755)
            _write(path, data, mode)
        # Volumes with no files still need their directory.
        spec = pod_spec_of(workload.docs[-1])
        for volume in spec.get("volumes") or []:
            path = (volume.get("hostPath") or {}).get("path", "")
            if path.startswith(directory):
                os.makedirs(path, mode=0o755, exist_ok=True)

    # ------------------------------------------------------------ actions

    def apply(self, objects: list, deadline) -> Outcome:
        return self._converge(objects, deadline, dry_run=False)

    def dry_run(self, objects: list, deadline) -> Outcome:
        return self._converge(objects, deadline, dry_run=True)

    def _converge(self, objects: list, deadline, dry_run: bool) -> Outcome:
        outcome = Outcome()
        workloads, others = self._plan(objects)
        pvcs = [o for o in others if o["kind"] == "PersistentVolumeClaim"]
        problems = self._conflicts(workloads, pvcs + [c for w in workloads for c in w.claims])
        if problems:
            raise BackendError("conflict: " + "; ".join(problems)
                               + ". Nothing was changed: rename the object or remove the other one.")
        owned = {}
        for pod in self._owned_pods():
            owned.setdefault((pod.get("Labels") or {}).get(WORKLOAD_LABEL), []).append(pod)
        wanted = {w.label for w in workloads}
        prune = [p for label, pods in owned.items() if label not in wanted for p in pods]
        steps = []  # (workload, action, existing pods)
        for workload in workloads:
            existing = owned.get(workload.label, [])
            if workload.replicas == 0:
                steps.append((workload, "scaled to 0", existing))
            elif (len(existing) == 1
                  and existing[0].get("Status") in (("Running", "Exited") if workload.kind == "Job"
                                                    else ("Running",))
                  and (existing[0].get("Labels") or {}).get(HASH_LABEL) == workload.hash):
                steps.append((workload, "unchanged", []))
            else:
                steps.append((workload, "configured" if existing else "created", existing))

        if dry_run:
            for workload, action, _ in steps:
                outcome.objects.append(ObjectReport(workload.kind, workload.name,
                                                    action=f"would be {action}"))
            for pod in prune:
                outcome.objects.append(ObjectReport(*_ref_of(pod), action="would be pruned"))
            return outcome

        changing = [w for w, action, _ in steps if action in ("created", "configured")]
        self._ensure_images(changing, deadline, outcome)
        # The grace of the pods being removed is in the config they were played from.
        grace = self._grace(objects + self._stored_objects(), deadline)
        self._store(objects)
        stored = {(o["kind"], o["metadata"]["name"]): o for o in objects}
        for pod in prune:
            self._remove_pods([pod], grace)
            shutil.rmtree(os.path.join(self.workdir, "secrets",
                                       (pod.get("Labels") or {}).get(WORKLOAD_LABEL, "-")),
                          ignore_errors=True)
            outcome.objects.append(ObjectReport(*_ref_of(pod), action="pruned"))
        for obj in others:
            outcome.objects.append(self._other_report(obj))

        checks = []
        for workload, action, existing in steps:
            report = ObjectReport(workload.kind, workload.name, action=action)
            outcome.objects.append(report)
            if not outcome.ok:
                report.action, report.reason = "not applied", "an object before it failed"
                continue
            if action == "unchanged":
                pod_id = owned[workload.label][0]["Id"]
            else:
                self._remove_pods(existing, grace)
                if action == "scaled to 0":
                    report.ready = True
                    continue
                for claim in workload.claims:
                    outcome.objects.append(self._other_report(claim))
                self._write_files(workload)
                pod_id = self._play(workload, report, outcome)
                if pod_id is None:
                    continue
            checks.append((report, readiness.PodCheck(
                workload.ref, pod_id, pod_spec_of(stored[(workload.kind, workload.name)]),
                complete=workload.kind == "Job")))
        if outcome.ok:
            self._wait(checks, deadline, outcome)
        return outcome

    def _other_report(self, obj: dict) -> ObjectReport:
        kind, name = obj["kind"], obj["metadata"]["name"]
        if kind == "PersistentVolumeClaim":
            exists = readiness.podman(["volume", "exists", name], check=False).returncode == 0
            if not exists:
                labels = [arg for key, value in self.deployment.labels().items()
                          for arg in ("--label", f"{key}={value}")]
                readiness.podman(["volume", "create", *labels, name])
            return ObjectReport(kind, name, action="unchanged" if exists else "created", ready=True)
        if kind == "ConfigMap":
            return ObjectReport(kind, name, action="applied", reason="played with the pods using it")
        if kind == "Secret":
            return ObjectReport(kind, name, action="applied", reason="passed to the pods using it")
        return ObjectReport(kind, name, action="skipped", reason="not run on podman")

    def _play(self, workload: Workload, report: ObjectReport, outcome: Outcome) -> Optional[str]:
        """`podman kube play` one workload; its pod's id, or None on failure."""
        text = yaml.safe_dump_all(workload.docs, sort_keys=False)
        proc = readiness.podman(["kube", "play", "-"], input_text=text, check=False, timeout=300)
        pods = [p for p in self._owned_pods()
                if (p.get("Labels") or {}).get(WORKLOAD_LABEL) == workload.label]
        if proc.returncode == 0 and len(pods) == 1:
            return pods[0]["Id"]
        # A failed play can leave a half-made pod behind: it is ours, remove it.
        self._remove_pods(pods, 0)
        # Drop podman's systemd noise (no timers for healthchecks on this node).
        lines = [line for line in (proc.stderr or "").splitlines()
                 if line.strip() and "systemd" not in line]
        why = log_tail("\n".join(lines), 5) or f"podman kube play made {len(pods)} pods"
        first = next((line for line in why.splitlines()
                      if not line.startswith("Error: failed to start")), why.splitlines()[0])
        report.ready = False
        report.reason = "podman kube play failed"
        outcome.ok = False
        outcome.error = f"{workload.ref}: podman kube play failed: {first[:400]}"
        outcome.diagnostics.append(f"podman kube play for {workload.ref}:\n{why}")
        return None

    def _wait(self, checks: list, deadline, outcome: Outcome) -> None:
        if not checks:
            return
        if not self.deployment.options["wait"]:
            outcome.notes.append("options.wait is false: readiness was not checked")
            return
        readiness.wait([c for _, c in checks], deadline)
        timed_out = []
        for report, check in checks:
            report.ready = check.ready
            if check.ready:
                continue
            report.reason = check.failure or check.waiting
            if check.failure:
                outcome.ok = False
                outcome.error = outcome.error or f"{check.ref}: {check.failure}"
            else:
                timed_out.append(f"{check.ref}: {check.waiting}")
            if check.logs:
                outcome.diagnostics.append(f"{check.ref}: last log lines:\n{check.logs}")
        if timed_out and outcome.ok:
            outcome.ok = False
            outcome.error = (f"timed out after {deadline.seconds:g}s (options.timeout) waiting for "
                             + "; ".join(timed_out))

    def delete(self, deadline) -> Outcome:
        outcome = Outcome()
        pods = self._owned_pods()
        self._remove_pods(pods, self._grace(self._stored_objects(), deadline))
        for pod in pods:
            outcome.objects.append(ObjectReport(*_ref_of(pod), action="deleted"))
        volumes = readiness.inspect_json(["volume", "ls", "--format", "json",
                                          "--filter", f"label={OWNER_LABEL}={self.key}"])
        for volume in volumes:
            name = volume.get("Name", "")
            if self.deployment.options["delete_volumes"]:
                readiness.podman(["volume", "rm", "--force", name])
                outcome.objects.append(ObjectReport("PersistentVolumeClaim", name, action="deleted"))
            else:
                outcome.objects.append(ObjectReport(
                    "PersistentVolumeClaim", name, action="kept",
                    reason="its data stays; set options.delete_volumes to remove it"))
        shutil.rmtree(self.workdir, ignore_errors=True)
        if not pods and not volumes:
            outcome.notes.append("nothing to delete: no pod or volume on this node carries "
                                 "this deployment's label")
        return outcome

    def suspend(self, deadline) -> Outcome:
        outcome = Outcome()
        pods = self._owned_pods()
        grace = self._grace(self._stored_objects(), deadline)
        if pods:
            readiness.podman(["pod", "stop", "--ignore", "--time", str(grace),
                              *[p["Id"] for p in pods]], timeout=grace + 60)
        for pod in pods:
            outcome.objects.append(ObjectReport(*_ref_of(pod), action="stopped"))
        if not pods:
            outcome.notes.append("nothing to suspend: this deployment has no pods on this node")
        return outcome

    def resume(self, deadline) -> Outcome:
        outcome = Outcome()
        pods = self._owned_pods()
        if not pods:
            outcome.notes.append("nothing to resume: this deployment has no pods on this node")
            return outcome
        readiness.podman(["pod", "start", *[p["Id"] for p in pods]])
        stored = {(o["kind"].lower(), o["metadata"]["name"]): o for o in self._stored_objects()}
        checks = []
        for pod in pods:
            kind, name = _ref_of(pod)
            report = ObjectReport(kind, name, action="started")
            outcome.objects.append(report)
            spec = pod_spec_of(stored.get((kind.lower(), name), {}))
            checks.append((report, readiness.PodCheck(f"{kind.lower()}/{name}", pod["Id"], spec,
                                                      complete=kind == "Job")))
        self._wait(checks, deadline, outcome)
        return outcome

    # ------------------------------------------------------------ outputs

    def live_object(self, kind: str, name: str, namespace: Optional[str]) -> Optional[dict]:
        kind = KINDS.get(kind.lower(), kind)
        stored = next((o for o in self._stored_objects()
                       if o["kind"].lower() == kind.lower() and o["metadata"]["name"] == name), None)
        pods = self._owned_pods()
        if kind == "Pod" and stored is None:
            # A Deployment's pod, by the name podman gave it.
            match = [p for p in pods if p.get("Name") == name]
            if not match:
                return None
            return self._live_pod(match[0], {"apiVersion": "v1", "kind": "Pod",
                                             "metadata": {"name": name}, "spec": {}})
        if stored is None:
            return None
        # A kind not run here reads as the manifest wrote it (no status), so
        # an output on its spec works on both backends; deploy_stdout says it
        # was skipped.
        live = copy.deepcopy(stored)
        mine = [p for p in pods if (p.get("Labels") or {}).get(WORKLOAD_LABEL)
                == f"{kind.lower()}.{name}"]
        if kind == "Pod":
            return self._live_pod(mine[0], live) if mine else None
        if kind in WORKLOADS:
            return self._live_controller(kind, mine, live)
        if kind == "Service":
            return self._live_service(pods, live)
        if kind == "PersistentVolumeClaim":
            bound = readiness.podman(["volume", "exists", name], check=False).returncode == 0
            live["status"] = {"phase": "Bound" if bound else "Lost"}
            live["spec"]["volumeName"] = name
        return live

    def _live_pod(self, pod: dict, live: dict) -> Optional[dict]:
        states = readiness.inspect_pods([pod["Id"]])
        if not states:
            return None
        state = states[0]
        live["metadata"]["uid"] = state.id
        live["metadata"].setdefault("labels", {}).update(state.labels)
        live["status"] = readiness.pod_status(state, live.get("spec") or {})
        return live

    def _live_controller(self, kind: str, pods: list, live: dict) -> dict:
        """Status of a Deployment, StatefulSet, ... from the pod it runs."""
        states = readiness.inspect_pods([p["Id"] for p in pods])
        spec = dict(pod_spec_of(live))
        if kind == "Job":
            spec.setdefault("restartPolicy", "Never")
        statuses = [readiness.pod_status(s, spec) for s in states]
        ready = sum(1 for st in statuses if st["conditions"][0]["status"] == "True")
        count = len(states)
        if kind == "Job":
            phases = [st["phase"] for st in statuses]
            done = phases.count("Succeeded")
            live["status"] = {
                "active": phases.count("Running") + phases.count("Pending"),
                "succeeded": done, "failed": phases.count("Failed"),
                "conditions": ([{"type": "Complete", "status": "True"}] if done else
                               [{"type": "Failed", "status": "True"}] if "Failed" in phases else []),
            }
        elif kind == "DaemonSet":
            live["status"] = {"desiredNumberScheduled": count, "currentNumberScheduled": count,
                              "updatedNumberScheduled": count, "numberReady": ready,
                              "numberAvailable": ready, "observedGeneration": 1}
        else:
            live["status"] = {
                "observedGeneration": 1, "replicas": count, "updatedReplicas": count,
                "currentReplicas": count, "readyReplicas": ready, "availableReplicas": ready,
                "conditions": [{"type": "Available", "status": "True" if ready else "False"}],
            }
        live["status"]["podNames"] = [st.name for st in states]
        return live

    def _live_service(self, pods: list, live: dict) -> dict:
        selector = (live.get("spec") or {}).get("selector") or {}
        chosen = None
        if selector:
            for state in readiness.inspect_pods([p["Id"] for p in pods]):
                if all(state.labels.get(k) == v for k, v in selector.items()):
                    chosen = state
                    break
        spec = live.setdefault("spec", {})
        ip = chosen.ip if chosen else ""
        spec["clusterIP"] = ip
        spec["clusterIPs"] = [ip] if ip else []
        published = chosen.host_ports() if chosen else {}
        for port in spec.get("ports") or []:
            target = port.get("targetPort", port.get("port"))
            if isinstance(target, str) and chosen is not None:
                target = _named_port(target, self._stored_objects(), chosen)
            if isinstance(target, int) and target in published:
                port["hostPort"] = published[target]
        live["status"] = {"loadBalancer": {}}
        return live


def _inline_secret_env(container: dict, secrets: dict, where: str) -> None:
    """secretKeyRef / envFrom secretRef -> plain env values (podman 4.3
    cannot read the Secrets that kube play stores)."""
    derived = []
    kept_from = []
    for source in container.get("envFrom") or []:
        ref = source.get("secretRef") if isinstance(source, dict) else None
        if not isinstance(ref, dict):
            kept_from.append(source)
            continue
        data = secrets.get(ref.get("name"))
        if data is None:
            continue  # optional and absent (check() refused the rest)
        for key, value in sorted(data.items()):
            derived.append({"name": f"{source.get('prefix') or ''}{key}",
                            "value": _text(value, ref.get("name"), key, where)})
    if "envFrom" in container:
        container["envFrom"] = kept_from
        if not kept_from:
            del container["envFrom"]
    env = []
    for item in container.get("env") or []:
        ref = ((item.get("valueFrom") or {}).get("secretKeyRef")
               if isinstance(item, dict) else None)
        if isinstance(ref, dict):
            data = secrets.get(ref.get("name")) or {}
            if ref.get("key") not in data:
                if ref.get("optional"):
                    continue
                raise InputError(f"{where}: env {item.get('name')} uses key {ref.get('key')!r} "
                                 f"that Secret/{ref.get('name')} does not have")
            item = {"name": item["name"],
                    "value": _text(data[ref["key"]], ref.get("name"), ref["key"], where)}
        env.append(item)
    names = {item.get("name") for item in env}
    merged = [d for d in derived if d["name"] not in names] + env
    if merged:
        container["env"] = merged


def _text(value: bytes, secret: str, key: str, where: str) -> str:
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise InputError(f"{where}: Secret/{secret} key {key} is not text, so it cannot be an "
                         "environment variable; mount it as a secret volume") from None


def _rename_volume(spec: dict, volume: dict, new: str) -> None:
    old = volume["name"]
    volume["name"] = new
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        for mount in container.get("volumeMounts") or []:
            if mount.get("name") == old:
                mount["name"] = new


def _named_port(name: str, objects: list, state) -> Optional[int]:
    for obj in objects:
        if obj.get("kind") not in WORKLOADS:
            continue
        for container in pod_spec_of(obj).get("containers") or []:
            for port in container.get("ports") or []:
                if port.get("name") == name:
                    return port.get("containerPort")
    return None


def _ref_of(pod: dict) -> tuple:
    """(Kind, name) of the workload an owned pod runs."""
    label = (pod.get("Labels") or {}).get(WORKLOAD_LABEL) or ""
    kind, _, name = label.partition(".")
    return {k.lower(): k for k in WORKLOADS}.get(kind, "Pod"), name or pod.get("Name", "")


def _parents(directory: str, top: str) -> list:
    """Directories from just below `top` down to `directory`."""
    relative = os.path.relpath(directory, top)
    out, current = [], top
    for part in relative.split(os.sep):
        if part in ("", "."):
            continue
        current = os.path.join(current, part)
        out.append(current)
    return out


def _write(path: str, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(path, mode)


BACKEND = PodmanBackend
