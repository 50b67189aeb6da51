"""The API's semantics, independent of HTTP: create/get/list/update/patch/
delete with metadata bookkeeping, subresources, dry-run, server-side apply,
finalizers and deletion propagation. The HTTP layer (server.py) and the
controllers (controllers/) both go through this class."""

import base64
import copy
import json
import random
import re
import threading
import time
import uuid

import yaml

from . import admission, crdschema, errors, events, merge, schema
from .resources import Registry
from .storage import Store

CONTROLLER_MANAGER = "kube-controller-manager"
# Built-in kinds whose DELETE answers with the deleted object rather than a Status.
RETURNS_DELETED = {"Pod", "Service", "ServiceAccount", "PersistentVolumeClaim", "PersistentVolume",
                   "ResourceQuota", "StorageClass", "PodTemplate", "Namespace", "CustomResourceDefinition"}
# Built-in kinds whose objects have no metadata.generation on a real server.
NO_GENERATION = {"ConfigMap", "Secret", "Namespace", "Node", "Event", "Service", "ServiceAccount",
                 "Endpoints", "Lease", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding",
                 "StorageClass", "PersistentVolume", "PersistentVolumeClaim", "LimitRange",
                 "ResourceQuota", "ControllerRevision"}
_SUFFIX = "bcdfghjklmnpqrstvwxz2456789"


def now_iso(offset=0.0):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset))


def random_suffix(n=5):
    return "".join(random.choice(_SUFFIX) for _ in range(n))


def parse_body(raw, content_type=""):
    """JSON or YAML request body -> object."""
    if not raw:
        raise errors.bad_request("the body of the request is empty")
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise errors.bad_request(f"error decoding YAML: {exc}") from None


# -- selectors -------------------------------------------------------------------------------

_SET_RE = re.compile(r"^\s*(!?)([A-Za-z0-9./_-]+)\s*(?:(in|notin)\s*\(([^)]*)\)|(==|=|!=)\s*([A-Za-z0-9._-]*))?\s*$")


def _split_selector(text):
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current)
    return parts


def parse_label_selector(text):
    """'a=b,c!=d,e in (x,y),f notin (z),g,!h' -> list of predicates on labels."""
    checks = []
    for part in _split_selector(text or ""):
        m = _SET_RE.match(part)
        if not m:
            raise errors.bad_request(f"unable to parse requirement: {part!r}")
        neg, key, set_op, values, op, value = m.groups()
        if set_op:
            vals = {v.strip() for v in values.split(",") if v.strip()}
            if set_op == "in":
                checks.append(lambda labels, k=key, vs=vals: labels.get(k) in vs)
            else:
                checks.append(lambda labels, k=key, vs=vals: labels.get(k) not in vs)
        elif op in ("=", "=="):
            checks.append(lambda labels, k=key, v=value: labels.get(k) == v)
        elif op == "!=":
            checks.append(lambda labels, k=key, v=value: labels.get(k) != v)
        elif neg:
            checks.append(lambda labels, k=key: k not in labels)
        else:
            checks.append(lambda labels, k=key: k in labels)
    return checks


def selector_from_label_selector(selector):
    """A LabelSelector object (matchLabels/matchExpressions) -> predicates."""
    checks = []
    for k, v in (selector.get("matchLabels") or {}).items():
        checks.append(lambda labels, k=k, v=v: labels.get(k) == v)
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), set(expr.get("values") or [])
        if op == "In":
            checks.append(lambda labels, k=key, vs=values: labels.get(k) in vs)
        elif op == "NotIn":
            checks.append(lambda labels, k=key, vs=values: labels.get(k) not in vs)
        elif op == "Exists":
            checks.append(lambda labels, k=key: k in labels)
        elif op == "DoesNotExist":
            checks.append(lambda labels, k=key: k not in labels)
    return checks


def labels_match(checks, obj):
    labels = obj.get("metadata", {}).get("labels") or {}
    return all(check(labels) for check in checks)


def parse_field_selector(text):
    checks = []
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        m = re.match(r"^([A-Za-z0-9.]+)\s*(==|=|!=)\s*(.*)$", part)
        if not m:
            raise errors.bad_request(f"invalid selector: '{part}'; can't understand '{part}'")
        path, op, value = m.groups()
        checks.append((path.split("."), op != "!=", value))
    return checks


def fields_match(checks, obj):
    for path, equal, value in checks:
        node = obj
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        text = "" if node is None else (str(node).lower() if isinstance(node, bool) else str(node))
        if (text == value) != equal:
            return False
    return True


def _ssa_path(obj, keys):
    """A field path as server-side apply prints it: list items by their merge key."""
    out, node, name = "", obj, None
    for key in keys:
        if isinstance(key, int):
            item = node[key]
            merge_keys = merge.list_keys(name, node, True)
            if merge_keys and isinstance(item, dict):
                out += "[" + ",".join(f"{k}={json.dumps(item[k])}" for k in merge_keys if k in item) + "]"
            else:
                out += f"[{key}]"
            node = item
        else:
            out += "." + key
            node, name = node[key], key
    return out


def _without_times(obj):
    """obj with managedFields timestamps and resourceVersion blanked (no-op detection)."""
    meta = dict(obj["metadata"])
    meta.pop("resourceVersion", None)
    meta["managedFields"] = [dict(e, time=None) for e in meta.get("managedFields") or []]
    return dict(obj, metadata=meta)


def normalize_meta(obj):
    """Drop empty metadata maps and lists, as the API's Go types (omitempty) do."""
    meta = obj.get("metadata") or {}
    for field in ("labels", "annotations", "finalizers", "ownerReferences", "managedFields",
                  "generateName"):
        if field in meta and not meta[field]:
            del meta[field]
    return obj


class DeleteOptions:
    def __init__(self, propagation=None, grace=None, dry_run=False, preconditions=None):
        self.propagation = propagation
        self.grace = grace
        self.dry_run = dry_run
        self.preconditions = preconditions or {}


class Cluster:
    """State and semantics of one API server."""

    def __init__(self, registry=None, store=None):
        self.registry = registry or Registry()
        self.store = store or Store()
        self.lock = self.store.lock
        self.service_ips = set()
        self._local = threading.local()

    # -- unknown fields ----------------------------------------------------------------------
    def take_warnings(self):
        """Warnings of the calling thread's last request (and forget them)."""
        out = getattr(self._local, "warnings", [])
        self._local.warnings = []
        return out

    def _crd_schema(self, res):
        """The openAPIV3Schema of a custom resource's version, or None."""
        for crd_name, resources in self.registry.custom_names().items():
            if res in resources:
                crd = self.store.peek(("apiextensions.k8s.io", "customresourcedefinitions"), "", crd_name)
                for version in ((crd or {}).get("spec") or {}).get("versions") or []:
                    if version.get("name") == res.version:
                        return (version.get("schema") or {}).get("openAPIV3Schema")
        return None

    def _check_fields(self, res, obj, mode, apply=False):
        """Unknown fields: 400 (Strict), a warning (Warn), or dropped; custom resources are
        also pruned and validated against their CRD's schema (422)."""
        if not mode:
            return
        if res.builtin:
            found = schema.unknown_fields(obj, res.kind)
        else:
            structural = self._crd_schema(res)
            if structural is None:
                return
            pruned, causes = crdschema.check(obj, structural)
            if causes:
                raise errors.invalid(res, (obj.get("metadata") or {}).get("name") or "", causes)
            found = [(path, None) for path in pruned]     # already removed
        if not found:
            return
        if mode == "Strict":
            if apply:
                meta = obj.get("metadata") or {}
                where = f"{meta.get('namespace')}/{meta.get('name')}" if res.namespaced else meta.get("name")
                group = f"{res.group}/{res.version}" if res.group else res.version
                raise errors.bad_request(
                    f"failed to create typed patch object ({where}; {group}, Kind={res.kind}): "
                    + "; ".join(f"{_ssa_path(obj, keys) if keys else '.' + path}: field not declared in schema"
                                for path, keys in found))
            raise errors.bad_request("strict decoding error: " +
                                     ", ".join(f'unknown field "{path}"' for path, _ in found))
        for path, keys in sorted(found, key=lambda f: len(f[1] or ()), reverse=True):
            if keys:
                schema.remove(obj, keys)
        if mode == "Warn":
            warnings = getattr(self._local, "warnings", [])
            warnings.extend(f'unknown field "{path}"' for path, _ in found)
            self._local.warnings = warnings

    # -- helpers -----------------------------------------------------------------------------
    def _check_namespace(self, res, namespace, creating=False, name=""):
        if not res.namespaced:
            return
        if not namespace:
            raise errors.bad_request("the server could not find the requested resource")
        ns = self.store.peek(("", "namespaces"), "", namespace)
        if ns is None:
            raise errors.namespace_not_found(namespace)
        if creating and ns["metadata"].get("deletionTimestamp"):
            raise errors.forbidden(
                f'{res.qualified} "{name}" is forbidden: unable to create new content in '
                f"namespace {namespace} because it is being terminated",
                {"causes": [{"reason": "NamespaceTerminating",
                             "message": f"namespace {namespace} is being terminated",
                             "field": "metadata.namespace"}]})

    def _output(self, res, obj):
        """A copy of a stored object as served in res's version."""
        if res.group == events.EVENTS_GROUP:
            return copy.deepcopy(events.to_events_v1(obj))
        out = copy.deepcopy(obj)
        out["apiVersion"] = res.api_version
        out["kind"] = res.kind
        return out

    def _identify(self, res, body, namespace, name=None):
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        body.setdefault("metadata", {})
        if not isinstance(body["metadata"], dict):
            raise errors.bad_request("metadata must be an object")
        if res.group == events.EVENTS_GROUP:
            converted = events.to_core(body)
            body.clear()
            body.update(converted, apiVersion=res.api_version, kind=res.kind)
        meta = body["metadata"]
        if body.get("kind") and body["kind"] != res.kind:
            raise errors.bad_request(f"the API version in the data ({body.get('apiVersion')}) "
                                     f"does not match the expected API version ({res.api_version})"
                                     if body.get("apiVersion") != res.api_version else
                                     f"kind {body['kind']} does not match {res.kind}")
        if res.namespaced:
            if meta.get("namespace") and meta["namespace"] != namespace:
                raise errors.bad_request("the namespace of the provided object does not match "
                                         "the namespace sent on the request")
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if name is not None:
            if meta.get("name") and meta["name"] != name:
                raise errors.bad_request("the name of the object "
                                         f"({meta['name']}) does not match the name on the URL ({name})")
            meta["name"] = name
        body["apiVersion"] = res.api_version if res.group != events.EVENTS_GROUP else "v1"
        body["kind"] = res.kind

    def _validate(self, res, obj):
        try:
            if res.builtin:
                admission.validate(obj, res)
            else:
                causes = admission.validate_name(res.kind, obj["metadata"].get("name"))
                if causes:
                    raise admission.Invalid(causes)
        except admission.Invalid as exc:
            raise errors.invalid(res, obj["metadata"].get("name") or "", exc.causes) from None

    def _admit_new(self, res, obj):
        """Defaults and allocations for a new object."""
        if res.kind == "Service" and res.group == "":
            spec = obj.setdefault("spec", {})
            if spec.get("type") != "ExternalName" and not spec.get("clusterIP"):
                spec["clusterIP"] = self._allocate_ip()
                spec["clusterIPs"] = [spec["clusterIP"]]
            for port in spec.get("ports") or []:
                if spec.get("type") in ("NodePort", "LoadBalancer") and not port.get("nodePort"):
                    port["nodePort"] = random.randint(30000, 32767)
            obj.setdefault("status", {"loadBalancer": {}})
        elif res.kind == "Namespace":
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
            obj["status"] = {"phase": "Active"}
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
        elif res.kind == "Pod":
            obj.setdefault("status", {"phase": "Pending", "qosClass": "BestEffort"})
        elif res.kind == "PersistentVolumeClaim":
            obj.setdefault("status", {"phase": "Pending"})
        admission.default(obj, res)

    def _allocate_ip(self):
        while True:
            ip = f"10.96.{random.randint(0, 255)}.{random.randint(2, 254)}"
            if ip not in self.service_ips:
                self.service_ips.add(ip)
                return ip

    def _spec_changed(self, old, new):
        skip = ("metadata", "status", "apiVersion", "kind")
        return {k: v for k, v in old.items() if k not in skip} != \
            {k: v for k, v in new.items() if k not in skip}

    def _commit(self, res, obj, event_type):
        obj["metadata"]["resourceVersion"] = self.store.next_rv()
        self.store.put(res.key, obj, event_type)
        return obj

    # -- reads -------------------------------------------------------------------------------
    def get(self, res, namespace, name):
        with self.lock:
            self._check_namespace(res, namespace)
            obj = self.store.peek(res.key, namespace if res.namespaced else "", name)
            if obj is None:
                raise errors.not_found(res, name)
            return self._output(res, obj)

    def list(self, res, namespace=None, label_selector="", field_selector="", limit=0,
             continue_token=None):
        labels = parse_label_selector(label_selector)
        fields = parse_field_selector(field_selector)
        start = None
        with self.lock:
            rv = self.store.rv
            if continue_token:
                try:
                    token = json.loads(base64.b64decode(continue_token))
                    start, token_rv = tuple(token["start"]), int(token["rv"])
                except (ValueError, KeyError, TypeError):
                    raise errors.bad_request("continue key is not valid") from None
                if token_rv < self.store.compacted_rv:
                    raise errors.gone("The provided continue parameter is too old to display a "
                                      "consistent list result. You can start a new list without "
                                      "the continue parameter.")
            if namespace and res.namespaced:
                self._check_namespace(res, namespace)
            items = []
            more = 0
            last = None
            for obj in self.store.list(res.key, namespace if res.namespaced else None):
                meta = obj["metadata"]
                key = (meta.get("namespace", ""), meta["name"])
                if start is not None and key <= start:
                    continue
                if labels and not labels_match(labels, obj):
                    continue
                if fields and not fields_match(fields, obj):
                    continue
                if limit and len(items) >= limit:
                    more += 1
                    continue
                # stored objects are never changed in place (writes replace them), so a
                # shallow copy is safe to serialize after the lock is released
                out = events.to_events_v1(obj) if res.group == events.EVENTS_GROUP else dict(obj)
                if res.builtin:
                    out.pop("apiVersion", None)
                    out.pop("kind", None)
                else:
                    out["apiVersion"], out["kind"] = res.api_version, res.kind
                items.append(out)
                last = key
        body = {"kind": res.kind + "List", "apiVersion": res.api_version,
                "metadata": {"resourceVersion": str(rv)}, "items": items}
        if more:
            token = {"rv": rv, "start": list(last)}
            body["metadata"]["continue"] = base64.b64encode(json.dumps(token).encode()).decode()
            body["metadata"]["remainingItemCount"] = more
        return body

    # -- writes ------------------------------------------------------------------------------
    def create(self, res, namespace, body, manager="unknown", dry_run=False, subresource=None,
               field_validation=None):
        with self.lock:
            self._identify(res, body, namespace)
            self._check_fields(res, body, field_validation)
            meta = body["metadata"]
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = meta["generateName"] + random_suffix()
            self._check_namespace(res, namespace, creating=True, name=meta.get("name") or "")
            if self.store.peek(res.key, namespace if res.namespaced else "", meta.get("name") or "") is not None:
                raise errors.already_exists(res, meta["name"])
            for field in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
                meta.pop(field, None)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_iso()
            if not (res.builtin and res.kind in NO_GENERATION):
                meta["generation"] = 1
            self._validate(res, body)
            if res.builtin:
                self._admit_new(res, body)
            elif "status" in res.subresources:
                body.pop("status", None)
            meta.pop("managedFields", None)
            merge.record_update(None, body, manager, res.builtin, res.api_version)
            normalize_meta(body)
            if dry_run:
                return self._output(res, body)
            self._commit(res, body, "ADDED")
            return self._output(res, body)

    def update(self, res, namespace, name, body, manager="unknown", dry_run=False,
               subresource=None, operation="Update", fields_subresource=None, field_validation=None):
        """PUT. Creates when missing (as the API does for most kinds) unless subresource."""
        with self.lock:
            self._identify(res, body, namespace, name)
            if subresource is None:
                self._check_fields(res, body, field_validation)
            self._check_namespace(res, namespace)
            old = self.store.peek(res.key, namespace if res.namespaced else "", name)
            if old is None:
                if subresource:
                    raise errors.not_found(res, name)
                if body["metadata"].get("resourceVersion"):
                    raise errors.not_found(res, name)
                return self.create(res, namespace, body, manager, dry_run,
                                   field_validation=field_validation), True
            want_rv = body["metadata"].get("resourceVersion")
            if want_rv and want_rv != old["metadata"]["resourceVersion"]:
                raise errors.conflict(res, name)
            sent = body["metadata"].get("managedFields")
            new = self._merge_update(res, old, body, subresource)
            self._validate(res, new)
            if operation:
                # managedFields a client sends replace the recorded ones (kubectl uses this to
                # migrate client-side-apply ownership to server-side apply)
                base = sent if sent is not None and sent != old["metadata"].get("managedFields") else None
                if sent == []:
                    base = []
                merge.record_update(old, new, manager, res.builtin, res.api_version,
                                    subresource or fields_subresource, managed=base)
            return self._finish_update(res, old, new, dry_run), False

    def _merge_update(self, res, old, body, subresource):
        """The object that results from writing body to the main resource or a subresource."""
        new = copy.deepcopy(body)
        meta = new["metadata"]
        for field in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                      "generation"):
            if field in old["metadata"]:
                meta[field] = old["metadata"][field]
            else:
                meta.pop(field, None)
        if "managedFields" not in meta and "managedFields" in old["metadata"]:
            meta["managedFields"] = old["metadata"]["managedFields"]
        if subresource == "status":
            out = copy.deepcopy(old)
            out["status"] = new.get("status", {})
            return out
        if subresource == "finalize":       # namespaces/NAME/finalize: only spec.finalizers
            out = copy.deepcopy(old)
            out.setdefault("spec", {})["finalizers"] = (new.get("spec") or {}).get("finalizers") or []
            return out
        if "status" in res.subresources:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        if res.kind == "Service" and res.builtin:
            spec = new.setdefault("spec", {})
            for field in ("clusterIP", "clusterIPs"):
                if field in old.get("spec", {}) and not spec.get(field):
                    spec[field] = old["spec"][field]
        if res.kind == "Namespace":
            new["spec"] = old.get("spec", {})
        if res.builtin:
            admission.default(new, res)
        return new

    def _finish_update(self, res, old, new, dry_run):
        normalize_meta(new)
        if "generation" in old["metadata"] and self._spec_changed(old, new):
            new["metadata"]["generation"] = old["metadata"].get("generation", 1) + 1
        meta = new["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and \
                not (res.kind == "Namespace" and (new.get("spec") or {}).get("finalizers")) and \
                not (res.kind == "Pod" and res.builtin and meta.get("deletionGracePeriodSeconds")):
            if not dry_run:
                self.store.remove(res.key, meta.get("namespace"), meta["name"], self.store.next_rv())
            return self._output(res, new)
        if dry_run:
            return self._output(res, new)
        if _without_times(new) == _without_times(old):
            return self._output(res, old)     # no-op writes keep the resourceVersion
        self._commit(res, new, "MODIFIED")
        return self._output(res, new)

    def patch(self, res, namespace, name, patch_type, raw, manager=None, force=False,
              dry_run=False, subresource=None, field_validation=None):
        with self.lock:
            self._check_namespace(res, namespace)
            old = self.store.peek(res.key, namespace if res.namespaced else "", name)
            if patch_type == "apply":
                return self._apply(res, namespace, name, old, raw, manager, force, dry_run, subresource,
                                   field_validation)
            if old is None:
                raise errors.not_found(res, name)
            patch = parse_body(raw)
            current = self._output(res, old)
            try:
                if patch_type == "json":
                    new = merge.json_patch(current, patch)
                elif patch_type == "merge":
                    if not isinstance(patch, dict):
                        raise merge.PatchError("a merge patch must be a JSON object")
                    new = merge.json_merge_patch(current, patch)
                else:
                    if not res.builtin:
                        raise errors.unsupported_media(
                            "application/strategic-merge-patch+json",
                            ["application/json-patch+json", "application/merge-patch+json",
                             "application/apply-patch+yaml"])
                    if not isinstance(patch, dict):
                        raise merge.PatchError("a strategic merge patch must be a JSON object")
                    new = merge.strategic_merge_patch(current, patch, res.builtin)
            except merge.PatchError as exc:
                raise errors.bad_request(str(exc)) from None
            if not isinstance(new, dict):
                raise errors.bad_request("the patch did not produce an object")
            want_rv = (new.get("metadata") or {}).get("resourceVersion")
            if want_rv and want_rv != old["metadata"]["resourceVersion"]:
                raise errors.conflict(res, name)
            new.setdefault("metadata", {})["resourceVersion"] = old["metadata"]["resourceVersion"]
            obj, _ = self.update(res, namespace, name, new, manager or "unknown", dry_run, subresource,
                                 field_validation=field_validation)
            return obj, False

    def _apply(self, res, namespace, name, old, raw, manager, force, dry_run, subresource,
               field_validation=None):
        if not manager:
            raise errors.bad_request("PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: "
                                     "Required value: is required for apply patch")
        applied = parse_body(raw)
        if not isinstance(applied, dict):
            raise errors.bad_request("the apply configuration must be an object")
        if applied.get("apiVersion") != res.api_version or applied.get("kind") != res.kind:
            raise errors.bad_request(
                f"the API version in the data ({applied.get('apiVersion')}) does not match the "
                f"expected API version ({res.api_version})" if applied.get("apiVersion") != res.api_version
                else f"the kind in the data ({applied.get('kind')}) does not match the expected "
                     f"kind ({res.kind})")
        # the apiserver's field manager refuses an apply that carries managedFields (e.g. an
        # object read back from the server); null counts as absent, an empty list does not
        if (applied.get("metadata") or {}).get("managedFields") is not None:
            raise errors.bad_request("metadata.managedFields must be nil")
        self._identify(res, applied, namespace, name)
        if subresource is None:
            self._check_fields(res, applied, field_validation, apply=True)
        if old is None:
            if subresource:
                raise errors.not_found(res, name)
            body = merge.apply(None, applied, manager, force, res.builtin, res.api_version)
            body.update(apiVersion=res.api_version, kind=res.kind)
            body["metadata"].update(name=name)
            if res.namespaced:
                body["metadata"]["namespace"] = namespace
            fields = body["metadata"].pop("managedFields")
            obj = self.create(res, namespace, body, manager, dry_run=True)
            obj["metadata"]["managedFields"] = fields
            if not dry_run:
                self._commit(res, obj, "ADDED")
            return self._output(res, obj), True
        try:
            merged = merge.apply(self._output(res, old), applied, manager, force, res.builtin,
                                 res.api_version, subresource)
        except merge.ApplyConflict as exc:
            raise self._conflict_error(exc) from None
        # a resourceVersion in the apply configuration is a precondition (checked after field
        # conflicts, as the apiserver's storage does once the apply has been merged)
        want_rv = (applied.get("metadata") or {}).get("resourceVersion")
        if want_rv and want_rv != old["metadata"]["resourceVersion"]:
            raise errors.conflict(res, name)
        merged["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        obj, _ = self.update(res, namespace, name, merged, manager, dry_run, subresource,
                             operation=None)
        return obj, False

    @staticmethod
    def _conflict_error(exc):
        conflicts = exc.conflicts
        if len(conflicts) == 1:
            text = f"conflict with {conflicts[0][0]}: {conflicts[0][1]}"
        else:
            lines, by_manager = [], {}
            for manager, path in conflicts:
                by_manager.setdefault(manager, []).append(path)
            for manager in sorted(by_manager):
                lines.append(f"conflicts with {manager}:")
                lines += [f"- {p}" for p in by_manager[manager]]
            text = "\n".join(lines)
        plural = "s" if len(conflicts) > 1 else ""
        return errors.ApiError(
            409, "Conflict", f"Apply failed with {len(conflicts)} conflict{plural}: {text}",
            {"causes": [{"reason": "FieldManagerConflict", "message": f"conflict with {m}",
                         "field": p} for m, p in conflicts]})

    def delete(self, res, namespace, name, options=None):
        """Returns (body, deleted_now)."""
        options = options or DeleteOptions()
        with self.lock:
            self._check_namespace(res, namespace)
            ns = namespace if res.namespaced else ""
            obj = self.store.peek(res.key, ns, name)
            if obj is None:
                raise errors.not_found(res, name)
            pre = options.preconditions
            if pre.get("uid") and pre["uid"] != obj["metadata"]["uid"]:
                raise errors.conflict(res, name, f"Precondition failed: UID in precondition: "
                                      f"{pre['uid']}, UID in object meta: {obj['metadata']['uid']}")
            if pre.get("resourceVersion") and pre["resourceVersion"] != obj["metadata"]["resourceVersion"]:
                raise errors.conflict(res, name, "Precondition failed: ResourceVersion in "
                                      f"precondition: {pre['resourceVersion']}, ResourceVersion in "
                                      f"object meta: {obj['metadata']['resourceVersion']}")
            new = copy.deepcopy(obj)
            meta = new["metadata"]
            finalizers = list(meta.get("finalizers") or [])
            if options.propagation == "Foreground" and "foregroundDeletion" not in finalizers:
                finalizers.append("foregroundDeletion")
            elif options.propagation == "Orphan" and "orphan" not in finalizers:
                finalizers.append("orphan")
            pending = bool(finalizers)
            if res.kind == "Namespace" and res.builtin:
                pending = True
                new.setdefault("status", {})["phase"] = "Terminating"
            grace = 0
            if res.kind == "Pod" and res.builtin and obj.get("spec", {}).get("nodeName") and \
                    obj.get("status", {}).get("phase") not in ("Succeeded", "Failed"):
                grace = options.grace if options.grace is not None else \
                    obj["spec"].get("terminationGracePeriodSeconds", 30)
                if grace:
                    pending = True
            if not pending:
                if options.dry_run:
                    return self._deleted_body(res, obj), True
                gone = self.store.remove(res.key, ns, name, self.store.next_rv())
                return self._deleted_body(res, gone), True
            if not meta.get("deletionTimestamp"):
                meta["deletionTimestamp"] = now_iso(grace)
                meta["deletionGracePeriodSeconds"] = grace
            elif grace and grace < (meta.get("deletionGracePeriodSeconds") or 0):
                meta["deletionGracePeriodSeconds"] = grace
            if finalizers:
                meta["finalizers"] = finalizers
            if options.dry_run:
                return self._output(res, new), False
            if new != obj:
                self._commit(res, new, "MODIFIED")
            return self._output(res, new), False

    def _deleted_body(self, res, obj):
        """What DELETE answers when the object is gone at once: the object itself for the
        kinds whose storage returns it (as the typed clients expect), else a Status."""
        if not res.builtin or res.kind in RETURNS_DELETED:
            return self._output(res, obj)
        details = {"name": obj["metadata"]["name"], "kind": res.plural, "uid": obj["metadata"]["uid"]}
        if res.group:
            details["group"] = res.group
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": details}

    def delete_collection(self, res, namespace, label_selector="", field_selector="", options=None):
        listed = self.list(res, namespace, label_selector, field_selector)
        for item in listed["items"]:
            try:
                self.delete(res, item["metadata"].get("namespace"), item["metadata"]["name"], options)
            except errors.ApiError as exc:
                if exc.code != 404:
                    raise
        return listed

    # -- used by controllers -----------------------------------------------------------------
    def controller_write(self, res, obj, subresource=None):
        """Write obj (a modified copy of a stored object) as the controller manager does,
        unless it is gone or unchanged. Returns the stored object or None."""
        with self.lock:
            meta = obj["metadata"]
            old = self.store.peek(res.key, meta.get("namespace", ""), meta["name"])
            if old is None or old["metadata"]["uid"] != meta["uid"]:
                return None
            obj = copy.deepcopy(obj)
            obj["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
            if subresource == "status":
                candidate = copy.deepcopy(old)
                candidate["status"] = obj.get("status", {})
            else:
                candidate = obj
                if "status" in res.subresources and "status" in old:
                    candidate["status"] = old["status"]
            if candidate == old:
                return old
            merge.record_update(old, candidate, CONTROLLER_MANAGER, res.builtin, res.api_version,
                                subresource)
            return self._finish_update(res, old, candidate, False)
