"""The Kubernetes backend: apply, order, own, wait, prune, delete, suspend.

CREATE/UPDATE: objects are applied with server-side apply (field manager
heat-config-kubectl; options.force_conflicts forces field conflicts):
Namespaces and CRDs first (then the CRDs must be Established and discovery
is refreshed), then what pods use (ConfigMaps, Secrets, claims, ...), then
workloads; each tier concurrently with at most options.concurrency requests.
Namespaced objects without a namespace go to options.namespace, else the
kubeconfig context's, else "default". Then members the config no longer has
are pruned, and (unless options.wait is false) the hook waits until every
object is ready or one has clearly failed, within options.timeout.

Ownership follows the ApplySet standard (k8s_applyset): a parent Secret per
deployment identity, in the default namespace above, records which
group-kinds and namespaces hold members; members carry its id. An object
that exists but is not a member is a conflict (another deployment's or
tool's never; an unmarked one is adopted only with options.force_conflicts).

DELETE removes the members (foreground propagation) in reverse order, waits
until they are gone, then the parent; StatefulSet volume claims only with
options.delete_volumes. SUSPEND scales Deployments/StatefulSets/ReplicaSets
to 0 and suspends Jobs/CronJobs, recording what it changed on the parent;
RESUME restores it and waits. options.dry_run applies with dryRun=All and
shows a diff against the live objects.

Readiness is the per-kind table in k8s_readiness, evaluated from watches
(k8s_watch); failures are explained by k8s_diagnose.
"""

import concurrent.futures
import dataclasses
import difflib
import logging
import re
from typing import Optional

import yaml

from hook_kubectl.backends import k8s_applyset as applyset
from hook_kubectl.backends import k8s_diagnose as diagnose
from hook_kubectl.backends import k8s_readiness as readiness
from hook_kubectl.backends.base import Backend, Deadline, ObjectReport, Outcome
from hook_kubectl.backends.k8s_client import FIELD_MANAGER, ApiError, Connection, server_message
from hook_kubectl.backends.k8s_watch import WORKLOAD_KINDS, Related, Snapshot, WatchCache
from hook_kubectl.errors import BackendError
from hook_kubectl.render import describe

LOG = logging.getLogger("heat-config-kubectl")

CRD = ("apiextensions.k8s.io", "CustomResourceDefinition")
NAMESPACE = ("", "Namespace")
SUSPEND_MANAGER = "heat-config-kubectl-suspend"
OUR_MANAGERS = (FIELD_MANAGER, SUSPEND_MANAGER)
SCALABLE = {("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "ReplicaSet")}
WORKLOADS = SCALABLE | {("apps", "DaemonSet"), ("batch", "Job"), ("batch", "CronJob"),
                        ("", "Pod"), ("", "ReplicationController")}
SUSPENDABLE = {("batch", "CronJob"), ("batch", "Job")}
DIAGNOSE_GRACE = 15.0  # seconds to gather diagnostics after the deadline
DISCOVERY_PATIENCE = 15.0  # seconds a new CRD's kind may take to appear in discovery
CONFLICT_MANAGER = re.compile(r'conflicts? with "([^"]+)"')
# Fields no diff should show: the server's bookkeeping and our config id.
NOISE_METADATA = ("managedFields", "resourceVersion", "uid", "creationTimestamp",
                  "generation", "selfLink")


@dataclasses.dataclass(eq=False)
class Item:
    """One object of the deployment on its way to the cluster."""

    body: dict
    resource: object = None
    live: Optional[dict] = None  # before apply: the existing object, then the applied one
    report: ObjectReport = None

    @property
    def group(self) -> str:
        return self.body["apiVersion"].rpartition("/")[0]

    @property
    def kind(self) -> str:
        return self.body["kind"]

    @property
    def name(self) -> str:
        return self.body["metadata"]["name"]

    @property
    def namespace(self):
        return self.body["metadata"].get("namespace")

    @property
    def first(self) -> bool:
        """Applied before everything else (and deleted after it)."""
        return (self.group, self.kind) in (CRD, NAMESPACE)

    @property
    def workload(self) -> bool:
        """Runs pods: applied after the ConfigMaps, Secrets, claims and
        accounts its pods may need (else a pod may start before its
        ConfigMap exists and fail fast for nothing), deleted before them."""
        return (self.group, self.kind) in WORKLOADS

    @property
    def ref(self) -> str:
        return describe(self.body)

    def key(self) -> str:
        return "/".join((self.group, self.kind, self.namespace or "", self.name))


def _item_from_live(live: dict, resource) -> Item:
    meta = live.get("metadata") or {}
    body = {"apiVersion": live.get("apiVersion") or resource.group_version,
            "kind": live.get("kind") or resource.kind,
            "metadata": {"name": meta.get("name")}}
    if meta.get("namespace"):
        body["metadata"]["namespace"] = meta["namespace"]
    item = Item(body=body, resource=resource, live=live)
    item.report = ObjectReport(kind=item.kind, name=item.name, namespace=item.namespace)
    return item


class KubernetesBackend(Backend):
    name = "kubernetes"
    config_format = "manifests"

    def __init__(self, deployment):
        super().__init__(deployment)
        self.options = deployment.options
        self._connection = None
        self._items = []

    # --- the Backend interface -----------------------------------------

    def apply(self, objects: list, deadline: Deadline) -> Outcome:
        conn, items, parent, deferred, outcome = self._prepare(objects, deadline)
        if not outcome.ok:
            return outcome

        first = [i for i in items if i.first]
        rest = [i for i in items if not i.first]
        previous_kinds, previous_namespaces = parent.group_kinds(), parent.namespaces()
        kinds = {(i.group, i.kind) for i in items}
        namespaces = {i.namespace for i in items if i.namespace}
        created_namespaces = {i.name for i in first if (i.group, i.kind) == NAMESPACE}
        # Record the superset of kinds before applying, so an interrupted run
        # still knows every kind it may have created.
        parent_written = False
        if parent.namespace not in created_namespaces or self._namespace_exists(conn, parent.namespace):
            self._write_parent(conn, parent, kinds | previous_kinds, namespaces | previous_namespaces)
            parent_written = True

        failed = self._apply_all(conn, first)
        if not parent_written and not failed:
            self._write_parent(conn, parent, kinds | previous_kinds, namespaces | previous_namespaces)
        if not failed and any((i.group, i.kind) == CRD for i in first):
            established = self._wait(conn, [i for i in first if (i.group, i.kind) == CRD],
                                     deadline, readiness.status)
            if not established.ok:
                established.objects = outcome.objects
                return established
            self._resolve_new_kinds(conn, deferred, deadline)
            conflicts = self._check_owners(conn, deferred, parent)
            if conflicts:
                return self._refused(outcome, conflicts, "only Namespaces and CRDs were applied")
        # Then what pods need, then the workloads: each tier concurrently.
        for tier in ([i for i in rest if not i.workload], [i for i in rest if i.workload]):
            if failed:
                for item in tier:
                    item.report.reason = "not applied: an earlier object failed"
            else:
                failed = self._apply_all(conn, tier)
        if failed:
            outcome.ok = False
            outcome.error = "; ".join(f"{i.ref}: {i.report.reason}" for i in failed
                                      if i.report.action == "failed")
            return outcome

        pruned = self._prune(conn, parent, previous_kinds, items)
        outcome.objects.extend(pruned)
        self._write_parent(conn, parent, kinds, namespaces)

        if not self.options["wait"]:
            outcome.notes.append("options.wait is false: readiness not checked")
            return outcome
        waited = self._wait(conn, items, deadline, readiness.status)
        waited.objects = outcome.objects  # the same reports, now with readiness, plus pruned
        waited.notes[:0] = outcome.notes
        return waited

    def delete(self, deadline: Deadline) -> Outcome:
        conn = self._connect(deadline)
        parent = self._parent(conn)
        if not parent.exists:
            return Outcome(notes=["nothing to delete: no objects are recorded for this deployment"])
        members = self._members(conn, parent)
        outcome = Outcome(objects=[m.report for m in members])
        # Reverse of the apply order: workloads, what they use, CRDs, Namespaces.
        stages = [[m for m in members if m.workload],
                  [m for m in members if not m.first and not m.workload],
                  [m for m in members if (m.group, m.kind) == CRD],
                  [m for m in members if (m.group, m.kind) == NAMESPACE]]
        claims = self._stateful_set_claims(conn, stages[0])
        if claims and self.options["delete_volumes"]:
            stages[0:1] = [stages[0], claims]
            outcome.objects.extend(c.report for c in claims)
        elif claims:
            outcome.notes.append(
                f"kept {len(claims)} volume claim(s) of StatefulSets: "
                + ", ".join(c.name for c in claims) + " (options.delete_volumes: true removes them)")
        for stage in stages:
            if not stage:
                continue
            self._pool(lambda m: self._delete_one(conn, m), stage)
            gone = self._wait(conn, stage, deadline, _gone, what="gone")
            if not gone.ok:
                gone.objects = outcome.objects
                gone.error = "not all objects were deleted: " + gone.error
                return gone
        self._delete_parent(conn, parent)
        return outcome

    def _stateful_set_claims(self, conn, members) -> list:
        """PVCs a member StatefulSet's volumeClaimTemplates created: not
        members themselves, and Kubernetes keeps them after the StatefulSet."""
        claims = []
        resource = conn.resource("v1", "PersistentVolumeClaim")
        for member in members:
            if (member.group, member.kind) != ("apps", "StatefulSet") or resource is None:
                continue
            templates = ((member.live or {}).get("spec") or {}).get("volumeClaimTemplates") or []
            names = [((t.get("metadata") or {}).get("name")) for t in templates]
            patterns = [re.compile(rf"^{re.escape(n)}-{re.escape(member.name)}-\d+$") for n in names if n]
            if not patterns:
                continue
            for live in conn.list(resource, namespace=member.namespace).get("items") or []:
                name = (live.get("metadata") or {}).get("name", "")
                if any(p.match(name) for p in patterns):
                    live.setdefault("apiVersion", "v1")
                    live.setdefault("kind", "PersistentVolumeClaim")
                    claims.append(_item_from_live(live, resource))
        return claims

    def suspend(self, deadline: Deadline) -> Outcome:
        conn = self._connect(deadline)
        parent = self._parent(conn)
        if not parent.exists:
            return Outcome(notes=["nothing to suspend: no objects are recorded for this deployment"])
        members = self._members(conn, parent)
        record = dict(parent.suspended())
        to_stop = []
        notes = []
        for member in members:
            spec = (member.live or {}).get("spec") or {}
            group_kind = (member.group, member.kind)
            if group_kind in SCALABLE:
                replicas = spec.get("replicas", 1)
                if replicas != 0 or member.key() not in record:
                    record[member.key()] = {"replicas": replicas}
                to_stop.append((member, {"spec": {"replicas": 0}}))
            elif group_kind in SUSPENDABLE:
                complete = readiness.condition(member.live or {}, "Complete")
                if complete and complete.get("status") == "True":
                    continue  # nothing left to run
                if spec.get("suspend") is not True or member.key() not in record:
                    record[member.key()] = {"suspend": bool(spec.get("suspend", False))}
                to_stop.append((member, {"spec": {"suspend": True}}))
            elif group_kind == ("apps", "DaemonSet"):
                notes.append(f"{member.ref}: a DaemonSet cannot be scaled to zero; left running")
        # The old counts go on the parent before anything is stopped, so an
        # interrupted SUSPEND can still be resumed.
        self._write_parent(conn, parent, parent.group_kinds(), parent.namespaces(), record)
        for member, patch in to_stop:
            self._patch(conn, member, patch)
            member.report.action = "stopped"
        outcome = self._wait(conn, [m for m, _ in to_stop], deadline, readiness.stopped, what="stopped")
        outcome.objects = [m.report for m in members]
        outcome.notes[:0] = notes
        return outcome

    def resume(self, deadline: Deadline) -> Outcome:
        conn = self._connect(deadline)
        parent = self._parent(conn)
        if not parent.exists:
            return Outcome(notes=["nothing to resume: no objects are recorded for this deployment"])
        members = self._members(conn, parent)
        record = parent.suspended()
        for member in members:
            saved = record.get(member.key())
            if not saved:
                continue
            if "replicas" in saved:
                self._patch(conn, member, {"spec": {"replicas": saved["replicas"]}})
            if "suspend" in saved:
                self._patch(conn, member, {"spec": {"suspend": saved["suspend"]}})
            member.report.action = "started"
        self._write_parent(conn, parent, parent.group_kinds(), parent.namespaces())
        if not self.options["wait"]:
            return Outcome(objects=[m.report for m in members])
        outcome = self._wait(conn, members, deadline, readiness.status)
        outcome.objects = [m.report for m in members]
        return outcome

    def dry_run(self, objects: list, deadline: Deadline) -> Outcome:
        conn, items, parent, deferred, outcome = self._prepare(objects, deadline)
        if not outcome.ok:
            return outcome
        created_namespaces = {i.name for i in items if (i.group, i.kind) == NAMESPACE and i.live is None}
        diffs = []
        for item in items:
            if item in deferred:
                item.report.action = "would create"
                item.report.reason = "its CRD is created by this config: not validated"
                continue
            body = applyset.mark_member(item.body, self.deployment, parent)
            try:
                after = conn.apply(item.resource, body, force=self.options["force_conflicts"],
                                   dry_run=True)
            except ApiError as exc:
                if exc.status == 404 and item.namespace in created_namespaces:
                    item.report.action = "would create"
                    item.report.reason = f"namespace {item.namespace} is created by this config: not validated"
                    continue
                item.report.action = "failed"
                item.report.reason = _apply_error(exc)
                outcome.ok = False
                continue
            before_text = _diff_text(item.live)
            after_text = _diff_text(after, item.live)
            if item.live is None:
                item.report.action = "would create"
            elif before_text == after_text:
                item.report.action = "unchanged"
                continue
            else:
                item.report.action = "would configure"
            diffs.extend(difflib.unified_diff(
                before_text.splitlines(), after_text.splitlines(),
                f"live {item.ref}", f"applied {item.ref}", lineterm="", n=2))
        desired = {i.key() for i in items}
        if parent.exists:
            for member in self._members(conn, parent, parent.group_kinds()):
                if member.key() not in desired:
                    member.report.action = "would prune"
                    outcome.objects.append(member.report)
        if not outcome.ok:
            outcome.error = "; ".join(f"{i.ref}: {i.report.reason}" for i in items if i.report.action == "failed")
        outcome.notes.append("dry run: nothing was changed")
        if diffs:
            outcome.notes.append("diff against the live objects:\n" + "\n".join(diffs))
        return outcome

    def live_object(self, kind: str, name: str, namespace: Optional[str]) -> Optional[dict]:
        conn = self._connection
        if conn is None:
            raise BackendError("no connection to the cluster")
        wanted = kind.lower()
        for item in self._items:
            names = {item.kind.lower()}
            if item.resource is not None:
                names |= {item.resource.name.lower(),
                          (getattr(item.resource, "singular_name", "") or "").lower()}
                names |= {n.lower() for n in getattr(item.resource, "short_names", None) or []}
            if wanted in names and item.name == name and (namespace in (None, item.namespace)):
                return conn.get(item.resource, name, item.namespace)
        resource = conn.find_kind(kind)
        if resource is None:
            return None
        if resource.namespaced:
            namespace = namespace or conn.namespace
        else:
            namespace = None
        return conn.get(resource, name, namespace)

    # --- steps -------------------------------------------------------------

    def _prepare(self, objects: list, deadline: Deadline) -> tuple:
        """What apply and dry_run share: connect, resolve each object's kind,
        read the parent, refuse objects this deployment must not touch.
        The outcome is not ok when something was refused."""
        conn = self._connect(deadline)
        items = self._items = [self._item(obj) for obj in objects]
        parent = self._parent(conn)
        deferred = self._resolve(conn, items)
        outcome = Outcome(objects=[item.report for item in items])
        conflicts = self._check_owners(conn, [i for i in items if i not in deferred], parent)
        if conflicts:
            outcome = self._refused(outcome, conflicts)
        return conn, items, parent, deferred, outcome

    def _connect(self, deadline) -> Connection:
        if self._connection is None:
            self._connection = Connection(self.options, deadline)
        self._connection.deadline = deadline
        return self._connection

    def _item(self, obj: dict) -> Item:
        # A manifest saved with `kubectl get -o yaml` carries the server's
        # bookkeeping: a stale resourceVersion would fail the apply and
        # managedFields may not be sent; status is not ours to apply.
        obj = {k: v for k, v in obj.items() if k != "status"}
        obj["metadata"] = {k: v for k, v in obj["metadata"].items() if k not in NOISE_METADATA}
        item = Item(body=obj)
        item.report = ObjectReport(kind=item.kind, name=item.name, namespace=item.namespace)
        return item

    def _parent(self, conn) -> applyset.Parent:
        parent = applyset.Parent.for_deployment(self.deployment, conn.namespace)
        secrets = conn.resource("v1", "Secret")
        parent.live = conn.get(secrets, parent.name, parent.namespace)
        tooling = parent.tooling()
        if parent.exists and tooling and tooling.split("/")[0] != applyset.TOOLING.split("/")[0]:
            raise BackendError(
                f"Secret/{parent.name} in {parent.namespace}: this deployment's ApplySet parent "
                f"is managed by {tooling}, not heat-config-kubectl")
        return parent

    def _resolve(self, conn, items) -> list:
        """Find each object's API resource; return those whose kind is
        defined by a CRD in this same config (resolved once it exists)."""
        crds = {}
        for item in items:
            if (item.group, item.kind) == CRD:
                spec = item.body.get("spec") or {}
                kind = (spec.get("names") or {}).get("kind")
                crds[(spec.get("group"), kind)] = item
        deferred = []
        for item in items:
            if not self._resolve_one(conn, item, required=(item.group, item.kind) not in crds):
                deferred.append(item)
        return deferred

    def _resolve_new_kinds(self, conn, deferred, deadline):
        """Resolve custom resources once their CRDs are Established. An API
        server may serve a new kind in discovery a moment after that."""
        patience = Deadline(min(DISCOVERY_PATIENCE, deadline.remaining()))
        while True:
            conn.refresh()
            pending = [i for i in deferred if not self._resolve_one(conn, i, required=False)]
            if not pending:
                return
            if patience.expired():
                self._resolve_one(conn, pending[0], required=True)  # raises, naming it
            patience.sleep(0.5)

    def _resolve_one(self, conn, item, required: bool) -> bool:
        resource = conn.resource(item.body["apiVersion"], item.kind)
        if resource is None:
            if not required:
                return False
            raise BackendError(
                f"{item.ref}: the API server has no kind {item.kind} in {item.body['apiVersion']} "
                "(is its CRD installed?)")
        item.resource = resource
        meta = item.body["metadata"]
        if resource.namespaced:
            meta.setdefault("namespace", conn.namespace)
        else:
            meta.pop("namespace", None)
        item.report.namespace = item.namespace
        return True

    def _check_owners(self, conn, items, parent) -> list:
        """Read what exists; [(item, why)] for objects this deployment must not take."""
        def check(item):
            item.live = conn.get(item.resource, item.name, item.namespace)
            if item.live is None:
                return None
            why = applyset.owner_conflict(item.live, parent, self.options["force_conflicts"],
                                          self.deployment.identity.key)
            return (item, why) if why else None

        return [found for found in self._pool(check, items) if found]

    def _refused(self, outcome, conflicts, changed="nothing was changed") -> Outcome:
        for item, why in conflicts:
            item.report.action = "conflict"
            item.report.reason = why
        outcome.ok = False
        outcome.error = f"ownership conflict, {changed}: " + "; ".join(
            f"{item.ref}: {why}" for item, why in conflicts)
        return outcome

    def _namespace_exists(self, conn, name) -> bool:
        return conn.get(conn.resource("v1", "Namespace"), name, None) is not None

    def _write_parent(self, conn, parent, kinds, namespaces, suspended=None):
        body = parent.body(self.deployment, kinds, namespaces, suspended)
        parent.live = conn.apply(conn.resource("v1", "Secret"), body, force=True)

    def _delete_parent(self, conn, parent):
        conn.delete(conn.resource("v1", "Secret"), parent.name, parent.namespace, "Background")
        parent.live = None

    def _apply_all(self, conn, items) -> list:
        """Apply concurrently; the items that failed."""
        marked = applyset.Parent.for_deployment(self.deployment, conn.namespace)
        return [item for item in self._pool(lambda i: self._apply_one(conn, i, marked), items) if item]

    def _apply_one(self, conn, item, parent):
        body = applyset.mark_member(item.body, self.deployment, parent)
        before = item.live
        try:
            try:
                after = conn.apply(item.resource, body, force=self.options["force_conflicts"])
            except ApiError as exc:
                # A conflict only with ourselves (SUSPEND/RESUME patched the
                # replicas) is no conflict: take the fields back.
                if exc.status != 409 or not _only_our_conflicts(exc):
                    raise
                after = conn.apply(item.resource, body, force=True)
        except ApiError as exc:
            item.report.action = "failed"
            item.report.reason = _apply_error(exc)
            LOG.error("%s: %s", item.ref, item.report.reason)
            return item
        item.live = after
        if before is None:
            item.report.action = "created"
        elif _version(before) == _version(after):
            item.report.action = "unchanged"
        else:
            item.report.action = "configured"
        return None

    def _members(self, conn, parent, kinds=None) -> list:
        """Every live object labelled as a member of the parent's set."""
        selector = f"{applyset.PART_OF_LABEL}={parent.id}"
        members = []
        for group, kind in sorted(kinds if kinds is not None else parent.group_kinds()):
            resource = conn.resource_for_group_kind(group, kind)
            if resource is None:
                continue  # the kind is gone (its CRD was deleted): so are its objects
            scopes = sorted(parent.namespaces()) if resource.namespaced else [None]
            for namespace in scopes:
                for live in conn.list(resource, namespace=namespace, label_selector=selector).get("items") or []:
                    live.setdefault("apiVersion", resource.group_version)
                    live.setdefault("kind", resource.kind)
                    members.append(_item_from_live(live, resource))
        return members

    def _prune(self, conn, parent, previous_kinds, items) -> list:
        """Delete members the config no longer has; their reports."""
        if not parent.exists or not previous_kinds:
            return []
        desired = {i.key() for i in items}
        stale = [m for m in self._members(conn, parent, previous_kinds) if m.key() not in desired]
        stale.sort(key=lambda m: (m.first, not m.workload))
        for member in stale:
            if self._delete_one(conn, member):
                member.report.action = "pruned"
        return [m.report for m in stale]

    def _delete_one(self, conn, member) -> bool:
        existed = conn.delete(member.resource, member.name, member.namespace, "Foreground")
        member.report.action = "deleted" if existed else "already gone"
        return existed

    def _patch(self, conn, member, patch):
        member.live = conn.patch(member.resource, member.name, member.namespace, patch, SUSPEND_MANAGER)

    def _pool(self, fn, items) -> list:
        if not items:
            return []
        workers = min(self.options["concurrency"], len(items))
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(fn, items))

    # --- waiting -----------------------------------------------------------

    def _wait(self, conn, items, deadline, rule, what="ready") -> Outcome:
        """Watch until every item satisfies `rule`, one fails, or time is up."""
        outcome = Outcome(objects=[i.report for i in items])
        if not items:
            return outcome
        cache = WatchCache(conn)
        pods = conn.resource("v1", "Pod")
        replica_sets = conn.resource("apps/v1", "ReplicaSet")
        keys = {}
        for item in items:
            keys[item] = cache.ensure(item.resource, item.namespace)
            if (item.group, item.kind) in WORKLOAD_KINDS and pods is not None and rule is readiness.status:
                cache.ensure(pods, item.namespace)
                if item.kind == "Deployment" and replica_sets is not None:
                    cache.ensure(replica_sets, item.namespace)
        related = Related(cache, pods, replica_sets)
        try:
            with cache.changed:
                while True:
                    statuses = {item: self._evaluate(cache, keys[item], item, rule, related) for item in items}
                    failed = [i for i, s in statuses.items() if s.failed]
                    waiting = [i for i, s in statuses.items() if not s.ready]
                    if not waiting or failed or deadline.expired():
                        break
                    cache.changed.wait(timeout=min(max(deadline.remaining(), 0.05), 5.0))
                lives = {item: cache.get(keys[item], item.namespace, item.name) for item in items}
            for item, verdict in statuses.items():
                item.report.ready = verdict.ready if rule is readiness.status else None
                if verdict.reason and (not verdict.ready or rule is readiness.status):
                    item.report.reason = verdict.reason
            if not waiting:
                return outcome
            outcome.ok = False
            if failed:
                outcome.error = "; ".join(f"{i.ref}: {statuses[i].reason}" for i in failed)
            else:
                outcome.error = (f"timed out after {deadline.elapsed():.0f}s waiting until {what}: "
                                 + "; ".join(f"{i.ref} ({statuses[i].reason or 'not ' + what})"
                                             for i in waiting[:10]))
            bad = sorted(waiting, key=lambda i: not statuses[i].failed)
            conn.deadline = Deadline(DIAGNOSE_GRACE)
            try:
                now = Related(Snapshot(conn, pods, replica_sets), pods, replica_sets)
                outcome.diagnostics = diagnose.explain(
                    conn, [(i.ref, lives[i], statuses[i]) for i in bad], now)
            finally:
                conn.deadline = deadline
            return outcome
        finally:
            cache.close()
            if cache.cuts:
                LOG.info("%d watch(es) were cut and resumed while waiting", cache.cuts)

    @staticmethod
    def _evaluate(cache, key, item, rule, related) -> readiness.Status:
        problem = cache.failure(key)
        if not cache.synced(key):
            if problem:
                return readiness.Status(readiness.FAILED, problem)
            return readiness.Status(readiness.IN_PROGRESS, "waiting for the first list")
        live = cache.get(key, item.namespace, item.name)
        if rule is _gone:
            return _gone(live)
        if live is None:
            return readiness.Status(readiness.IN_PROGRESS, "not found")
        return rule(live, related)


def _version(obj: dict):
    return (obj.get("metadata") or {}).get("resourceVersion")


def _gone(live, related=None) -> readiness.Status:
    if live is None:
        return readiness.Status(readiness.READY, "")
    finalizers = (live.get("metadata") or {}).get("finalizers") or []
    extra = f" (finalizers: {', '.join(finalizers)})" if finalizers else ""
    return readiness.Status(readiness.IN_PROGRESS, "still being deleted" + extra)


def _only_our_conflicts(exc) -> bool:
    managers = set(CONFLICT_MANAGER.findall(server_message(exc)))
    return bool(managers) and managers <= set(OUR_MANAGERS)


def _apply_error(exc: ApiError) -> str:
    text = server_message(exc) or str(exc)
    if exc.status == 409:
        return (f"field conflict: {text} (another field manager owns these fields; "
                "set options.force_conflicts: true to take them over)")
    return f"{exc.status} {exc.reason}: {text}" if exc.status else text


def _diff_text(obj, before=None) -> str:
    """YAML of an object for a diff: no server bookkeeping, no status, no
    Secret values (only whether each changed against `before`)."""
    if obj is None:
        return ""
    obj = {k: v for k, v in obj.items() if k != "status"}
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in NOISE_METADATA}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if not k.endswith("/config-id")}
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    obj["metadata"] = meta
    if obj.get("kind") == "Secret":
        for field in ("data", "stringData"):
            if isinstance(obj.get(field), dict):
                old = (before or {}).get(field) or {}
                obj[field] = {key: "<hidden>" if before is None or old.get(key) == value
                              else "<hidden, changed>" for key, value in obj[field].items()}
    return yaml.safe_dump(obj, sort_keys=True, default_flow_style=False)


BACKEND = KubernetesBackend
