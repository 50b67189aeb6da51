"""Workload controllers: Deployment -> ReplicaSet -> Pods, StatefulSet, DaemonSet, Job,
CronJob, each writing the status fields kstatus and kubectl read."""

import copy
import time

from .. import admission
from ..cluster import labels_match, selector_from_label_selector
from .common import (K_CRON, K_DEPLOY, K_DS, K_JOB, K_PDB, K_POD, K_PVC, K_RS, K_STS, ts,
                     _finished, _iso, _min, _owner_ref, _parse, _percent, _ready, _set_condition)


class Workloads:
    # -- ReplicaSet ----------------------------------------------------------------------------
    def _new_pod(self, owner, kind, api_version, template, name=None, extra_labels=None, node=None):
        tmeta = copy.deepcopy(template.get("metadata") or {})
        labels = dict(tmeta.get("labels") or {}, **(extra_labels or {}))
        meta = {"labels": labels, "ownerReferences": [_owner_ref(owner, kind, api_version)]}
        if tmeta.get("annotations"):
            meta["annotations"] = tmeta["annotations"]
        if name:
            meta["name"] = name
        else:
            meta["generateName"] = owner["metadata"]["name"] + "-"
        spec = copy.deepcopy(template.get("spec") or {})
        if node:
            spec["nodeName"] = node
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}

    def replicaset(self, rs):
        if rs["metadata"].get("deletionTimestamp"):
            return
        ns = rs["metadata"]["namespace"]
        desired = rs["spec"].get("replicas", 1)
        pods = [p for p in self._children(rs, K_POD) if not p["metadata"].get("deletionTimestamp")]
        active = [p for p in pods if p["status"].get("phase") not in ("Succeeded", "Failed")]
        if len(active) < desired:
            for _ in range(desired - len(active)):
                created = self._create(K_POD, ns, self._new_pod(rs, "ReplicaSet", "apps/v1",
                                                                rs["spec"]["template"]))
                if created:
                    self.event(rs, K_RS, "Normal", "SuccessfulCreate",
                               f"Created pod: {created['metadata']['name']}", "replicaset-controller")
        elif len(active) > desired:
            doomed = sorted(active, key=lambda p: (_ready(p), p["metadata"]["creationTimestamp"]))
            for p in doomed[: len(active) - desired]:
                self._delete(K_POD, ns, p["metadata"]["name"])
                self.event(rs, K_RS, "Normal", "SuccessfulDelete",
                           f"Deleted pod: {p['metadata']['name']}", "replicaset-controller")
        pods = [p for p in self._children(rs, K_POD) if not p["metadata"].get("deletionTimestamp")]
        ready = sum(1 for p in pods if _ready(p))
        available = self._available(pods, rs["spec"].get("minReadySeconds", 0), (K_RS, ns, rs["metadata"]["name"]))
        status = {"replicas": len(pods), "fullyLabeledReplicas": len(pods),
                  "readyReplicas": ready, "availableReplicas": available,
                  "observedGeneration": rs["metadata"].get("generation", 1)}
        status = {k: v for k, v in status.items() if v or k in ("replicas", "observedGeneration")}
        status["terminatingReplicas"] = sum(1 for p in self._children(rs, K_POD)
                                            if p["metadata"].get("deletionTimestamp"))
        if not status["terminatingReplicas"]:
            del status["terminatingReplicas"]
        if status != rs.get("status"):
            rs["status"] = status
            self._write_status(K_RS, rs)

    def _available(self, pods, min_ready, requeue):
        """Pods Ready for at least minReadySeconds; requeue when the next one will be."""
        now, count, next_at = time.time(), 0, None
        for p in pods:
            if not _ready(p):
                continue
            ready_at = self.progress.get(p["metadata"]["uid"], {}).get("ready_at", 0)
            if now >= ready_at + min_ready:
                count += 1
            else:
                next_at = _min(next_at, ready_at + min_ready - now)
        if next_at is not None:
            self.enqueue(*requeue, next_at + 0.01)
        return count

    # -- Deployment ----------------------------------------------------------------------------
    def deployment(self, d):
        meta, spec = d["metadata"], d["spec"]
        if meta.get("deletionTimestamp"):
            return
        ns, name = meta["namespace"], meta["name"]
        desired = spec.get("replicas", 1)
        template = spec["template"]
        phash = admission.template_hash(template)
        rss = self._children(d, K_RS)
        new_rs = next((r for r in rss if (r["metadata"].get("labels") or {}).get("pod-template-hash") == phash), None)
        old = [r for r in rss if r is not new_rs]
        revisions = [int((r["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision", 0)) for r in rss]
        progressed = False
        created_new = False
        strategy = spec.get("strategy") or {}
        recreate = strategy.get("type") == "Recreate"
        rolling = strategy.get("rollingUpdate") or {}
        surge = 0 if recreate else _percent(rolling.get("maxSurge", "25%"), desired, True)
        max_unavailable = 0 if recreate else _percent(rolling.get("maxUnavailable", "25%"), desired, False)
        if not recreate and surge == 0 and max_unavailable == 0:
            max_unavailable = 1
        old_total = sum(r["spec"].get("replicas", 0) for r in old)
        if spec.get("paused"):
            pass
        elif recreate and (old_total or any(
                p["status"].get("phase") not in ("Succeeded", "Failed")
                for r in old for p in self._children(r, K_POD))):
            # Recreate: every old pod is gone (terminating ones too) before the new
            # ReplicaSet gets any
            for r in old:
                if r["spec"].get("replicas"):
                    self._scale_rs(d, r, 0)
                    progressed = True
        elif new_rs is None:
            start = desired if not old_total else max(0, min(desired, desired + surge - old_total))
            labels = dict(template.get("metadata", {}).get("labels") or {}, **{"pod-template-hash": phash})
            rs_template = copy.deepcopy(template)
            rs_template.setdefault("metadata", {})["labels"] = labels
            selector = copy.deepcopy(spec["selector"])
            selector.setdefault("matchLabels", {})["pod-template-hash"] = phash
            revision = str(max(revisions + [0]) + 1)
            body = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "metadata": {"name": f"{name}-{phash}", "labels": labels,
                                 "annotations": {"deployment.kubernetes.io/desired-replicas": str(desired),
                                                 "deployment.kubernetes.io/max-replicas": str(desired + surge),
                                                 "deployment.kubernetes.io/revision": revision},
                                 "ownerReferences": [_owner_ref(d, "Deployment", "apps/v1")]},
                    "spec": {"replicas": start, "minReadySeconds": spec.get("minReadySeconds", 0),
                             "selector": selector, "template": rs_template}}
            new_rs = self._create(K_RS, ns, body)
            if new_rs is None:
                return
            created_new = progressed = True
            self.event(d, K_DEPLOY, "Normal", "ScalingReplicaSet",
                       f"Scaled up replica set {new_rs['metadata']['name']} from 0 to {start}",
                       "deployment-controller")
            if (meta.get("annotations") or {}).get("deployment.kubernetes.io/revision") != revision:
                d["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/revision"] = revision
                stored = self._write(K_DEPLOY, d)
                if stored is None:
                    return
                d = copy.deepcopy(stored)
        else:
            # a template seen before (rollout undo) becomes the newest revision again
            revision = int((new_rs["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision", 0))
            if revision < max(revisions + [0]):
                revision = str(max(revisions) + 1)
                bumped = copy.deepcopy(new_rs)
                bumped["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/revision"] = revision
                new_rs = self._write(K_RS, bumped) or new_rs
                d["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/revision"] = revision
                stored = self._write(K_DEPLOY, d)
                if stored is None:
                    return
                d = copy.deepcopy(stored)
                progressed = True
            new_spec = new_rs["spec"].get("replicas", 0)
            target = desired if recreate or new_spec > desired else \
                min(desired, new_spec + max(0, desired + surge - new_spec - old_total))
            if target != new_spec:
                self._scale_rs(d, new_rs, target)
                progressed = True
        if not recreate and new_rs is not None and not spec.get("paused") and old_total:
            progressed = self._scale_down_old(d, new_rs, old, desired, max_unavailable) or progressed
        rss = self._children(d, K_RS)
        new_rs = next((r for r in rss if (r["metadata"].get("labels") or {}).get("pod-template-hash") == phash), new_rs)
        status = copy.deepcopy(d.get("status") or {})
        before = {k: status.get(k) for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")}
        total = lambda field: sum((r.get("status") or {}).get(field, 0) for r in rss)  # noqa: E731
        status["observedGeneration"] = meta.get("generation", 1)
        status["replicas"] = total("replicas")
        status["updatedReplicas"] = (new_rs.get("status") or {}).get("replicas", 0) if new_rs else 0
        status["readyReplicas"] = total("readyReplicas")
        status["availableReplicas"] = total("availableReplicas")
        unavailable = max(0, desired - status["availableReplicas"])
        status["unavailableReplicas"] = unavailable
        for k in ("readyReplicas", "availableReplicas", "unavailableReplicas", "updatedReplicas"):
            if not status[k]:
                del status[k]
        after = {k: status.get(k) for k in before}
        if after != before:
            progressed = True
        max_unavailable = _percent((spec.get("strategy") or {}).get("rollingUpdate", {}).get("maxUnavailable", "25%"),
                                   desired, False) if (spec.get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate" else 0
        conditions = status.setdefault("conditions", [])
        if status.get("availableReplicas", 0) >= desired - max_unavailable:
            _set_condition(conditions, "Available", "True", "MinimumReplicasAvailable",
                           "Deployment has minimum availability.")
        else:
            _set_condition(conditions, "Available", "False", "MinimumReplicasUnavailable",
                           "Deployment does not have minimum availability.")
        for cond in conditions:
            cond.setdefault("lastUpdateTime", cond["lastTransitionTime"])
        rs_name = new_rs["metadata"]["name"] if new_rs else name
        complete = (new_rs is not None and status.get("updatedReplicas", 0) == desired and
                    status.get("replicas", 0) == desired and status.get("availableReplicas", 0) == desired)
        deadline = spec.get("progressDeadlineSeconds", 600)
        progressing = next((c for c in conditions if c["type"] == "Progressing"), None)
        if complete:
            _set_condition(conditions, "Progressing", "True", "NewReplicaSetAvailable",
                           f'ReplicaSet "{rs_name}" has successfully progressed.', progress=True)
        elif created_new:
            _set_condition(conditions, "Progressing", "True", "NewReplicaSetCreated",
                           f'Created new replica set "{rs_name}"', progress=True)
        elif progressed or progressing is None or (progressing.get("reason") == "NewReplicaSetAvailable"):
            _set_condition(conditions, "Progressing", "True", "ReplicaSetUpdated",
                           f'ReplicaSet "{rs_name}" is progressing.', progress=True)
        elif progressing.get("reason") != "ProgressDeadlineExceeded" and deadline is not None:
            last = _parse(progressing.get("lastUpdateTime"))
            if time.time() - last >= deadline:
                _set_condition(conditions, "Progressing", "False", "ProgressDeadlineExceeded",
                               f'ReplicaSet "{rs_name}" has timed out progressing.')
            else:
                self.enqueue(K_DEPLOY, ns, name, last + deadline - time.time() + 0.01)
        for cond in conditions:
            cond.setdefault("lastUpdateTime", cond["lastTransitionTime"])
        status["conditions"] = sorted(conditions, key=lambda c: ["Available", "Progressing"].index(c["type"])
                                      if c["type"] in ("Available", "Progressing") else 9)
        if not complete and deadline is not None and progressed:
            self.enqueue(K_DEPLOY, ns, name, deadline + 0.01)
        if status != d.get("status"):
            d["status"] = status
            self._write_status(K_DEPLOY, d)

    def _scale_down_old(self, d, new_rs, old, desired, max_unavailable):
        """The rolling update's scale-down step (as the deployment controller does it):
        never below desired - maxUnavailable available pods; unhealthy old pods go first."""
        new_rs = self.store.peek(K_RS, new_rs["metadata"]["namespace"], new_rs["metadata"]["name"]) or new_rs
        new_spec = new_rs["spec"].get("replicas", 0)
        new_available = (new_rs.get("status") or {}).get("availableReplicas", 0)
        old = sorted(old, key=lambda r: int((r["metadata"].get("annotations") or {}).get(
            "deployment.kubernetes.io/revision", 0)))
        sizes = {r["metadata"]["name"]: r["spec"].get("replicas", 0) for r in old}
        available = {r["metadata"]["name"]: min(sizes[r["metadata"]["name"]],
                                                (r.get("status") or {}).get("availableReplicas", 0)) for r in old}
        min_available = desired - max_unavailable
        budget = new_spec + sum(sizes.values()) - min_available - (new_spec - new_available)
        if budget <= 0:
            return False
        wanted = dict(sizes)
        for r in old:                                   # unhealthy old pods first
            n = r["metadata"]["name"]
            take = min(wanted[n] - available[n], budget)
            if take > 0:
                wanted[n] -= take
                budget -= take
        total = min(budget, sum(available.values()) + new_available - min_available)
        for r in old:
            n = r["metadata"]["name"]
            take = min(wanted[n], max(0, total))
            if take > 0:
                wanted[n] -= take
                total -= take
        changed = False
        for r in old:
            n = r["metadata"]["name"]
            if wanted[n] != sizes[n]:
                self._scale_rs(d, r, wanted[n])
                changed = True
        return changed

    def _scale_rs(self, d, rs, replicas):
        before = rs["spec"].get("replicas", 0)
        rs = copy.deepcopy(rs)
        rs["spec"]["replicas"] = replicas
        rs["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/desired-replicas"] = \
            str(d["spec"].get("replicas", 1))
        self._write(K_RS, rs)
        verb = "up" if replicas > before else "down"
        self.event(d, K_DEPLOY, "Normal", "ScalingReplicaSet",
                   f"Scaled {verb} replica set {rs['metadata']['name']} from {before} to {replicas}",
                   "deployment-controller")

    # -- StatefulSet ---------------------------------------------------------------------------
    def statefulset(self, sts):
        meta, spec = sts["metadata"], sts["spec"]
        if meta.get("deletionTimestamp"):
            return
        ns, name = meta["namespace"], meta["name"]
        desired = spec.get("replicas", 1)
        revision = f"{name}-{admission.template_hash(spec['template'])}"
        pods = {p["metadata"]["name"]: p for p in self._children(sts, K_POD)}
        ordered = spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady"
        for i in range(desired):
            pname = f"{name}-{i}"
            pod = pods.get(pname)
            if pod is None:
                for tmpl in spec.get("volumeClaimTemplates") or []:
                    claim = f"{tmpl['metadata']['name']}-{pname}"
                    if self.store.peek(K_PVC, ns, claim) is None:
                        self._create(K_PVC, ns, {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                                 "metadata": {"name": claim, "labels": dict(
                                                     spec["selector"].get("matchLabels") or {})},
                                                 "spec": copy.deepcopy(tmpl.get("spec") or {})})
                template = copy.deepcopy(spec["template"])
                vols = template.setdefault("spec", {}).setdefault("volumes", [])
                for tmpl in spec.get("volumeClaimTemplates") or []:
                    vols.append({"name": tmpl["metadata"]["name"], "persistentVolumeClaim": {
                        "claimName": f"{tmpl['metadata']['name']}-{pname}"}})
                if not vols:
                    del template["spec"]["volumes"]
                body = self._new_pod(sts, "StatefulSet", "apps/v1", template, pname, {
                    "controller-revision-hash": revision, "statefulset.kubernetes.io/pod-name": pname,
                    "apps.kubernetes.io/pod-index": str(i)})
                body["spec"]["hostname"] = pname
                if spec.get("serviceName"):
                    body["spec"]["subdomain"] = spec["serviceName"]
                if self._create(K_POD, ns, body):
                    self.event(sts, K_STS, "Normal", "SuccessfulCreate",
                               f"create Pod {pname} in StatefulSet {name} successful", "statefulset-controller")
                if ordered:
                    break
            elif ordered and not _ready(pod):
                break
        for pname, pod in pods.items():
            index = int(pname.rsplit("-", 1)[1]) if pname.rsplit("-", 1)[-1].isdigit() else -1
            if index >= desired and not pod["metadata"].get("deletionTimestamp"):
                self._delete(K_POD, ns, pname)
        pods = [p for p in self._children(sts, K_POD) if not p["metadata"].get("deletionTimestamp")]
        current = [p for p in pods if p["metadata"]["labels"].get("controller-revision-hash") == revision]
        stale = [p for p in pods if p not in current]
        if stale and all(_ready(p) for p in pods) and len(pods) >= desired:
            victim = max(stale, key=lambda p: p["metadata"]["name"])
            self._delete(K_POD, ns, victim["metadata"]["name"])
        ready = sum(1 for p in pods if _ready(p))
        status = copy.deepcopy(sts.get("status") or {})
        update_done = len(current) == desired and not stale
        status.update({"observedGeneration": meta.get("generation", 1), "replicas": len(pods),
                       "readyReplicas": ready, "currentReplicas": len(current) if update_done
                       else len(pods) - len(current), "updatedReplicas": len(current),
                       "availableReplicas": ready, "updateRevision": revision, "collisionCount": 0})
        if update_done or "currentRevision" not in status:
            status["currentRevision"] = revision if update_done or not stale else \
                stale[0]["metadata"]["labels"].get("controller-revision-hash")
        for k in ("readyReplicas", "currentReplicas", "updatedReplicas"):
            if not status[k]:
                del status[k]
        if status != sts.get("status"):
            sts["status"] = status
            self._write_status(K_STS, sts)

    # -- DaemonSet -----------------------------------------------------------------------------
    def daemonset(self, ds):
        meta, spec = ds["metadata"], ds["spec"]
        if meta.get("deletionTimestamp"):
            return
        ns = meta["namespace"]
        selector = (spec["template"].get("spec") or {}).get("nodeSelector") or {}
        nodes = [n["metadata"]["name"] for n in self.nodes()
                 if all((n["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())]
        revision = admission.template_hash(spec["template"])
        pods = [p for p in self._children(ds, K_POD) if not p["metadata"].get("deletionTimestamp")]
        by_node = {}
        for p in pods:
            node = p["spec"].get("nodeName")
            if node not in nodes or node in by_node:
                self._delete(K_POD, ns, p["metadata"]["name"])
                continue
            by_node[node] = p
        for p in list(by_node.values()):
            if p["metadata"]["labels"].get("controller-revision-hash") != revision:
                self._delete(K_POD, ns, p["metadata"]["name"])
                del by_node[p["spec"]["nodeName"]]
        for node in nodes:
            if node not in by_node:
                body = self._new_pod(ds, "DaemonSet", "apps/v1", spec["template"], None,
                                     {"controller-revision-hash": revision,
                                      "pod-template-generation": str(meta.get("generation", 1))}, node)
                created = self._create(K_POD, ns, body)
                if created:
                    self.event(ds, K_DS, "Normal", "SuccessfulCreate",
                               f"Created pod: {created['metadata']['name']}", "daemonset-controller")
        pods = [p for p in self._children(ds, K_POD) if not p["metadata"].get("deletionTimestamp")]
        ready = sum(1 for p in pods if _ready(p))
        updated = sum(1 for p in pods if p["metadata"]["labels"].get("controller-revision-hash") == revision)
        status = {"currentNumberScheduled": len(pods), "desiredNumberScheduled": len(nodes),
                  "numberMisscheduled": 0, "numberReady": ready, "observedGeneration": meta.get("generation", 1),
                  "updatedNumberScheduled": updated, "numberAvailable": ready,
                  "numberUnavailable": max(0, len(nodes) - ready)}
        for k in ("numberAvailable", "numberUnavailable", "updatedNumberScheduled"):
            if not status[k]:
                del status[k]
        if status != ds.get("status"):
            ds["status"] = status
            self._write_status(K_DS, ds)

    # -- Job and CronJob -----------------------------------------------------------------------
    def job(self, job):
        meta, spec = job["metadata"], job["spec"]
        if meta.get("deletionTimestamp"):
            return
        ns, name = meta["namespace"], meta["name"]
        status = copy.deepcopy(job.get("status") or {})
        conditions = status.setdefault("conditions", [])
        if any(c["type"] in ("Complete", "Failed") and c["status"] == "True" for c in conditions):
            return
        pods = self._children(job, K_POD)
        succeeded = sum(1 for p in pods if p["status"].get("phase") == "Succeeded")
        failed = sum(1 for p in pods if p["status"].get("phase") == "Failed")
        restarts = sum(cs.get("restartCount", 0) for p in pods for cs in p["status"].get("containerStatuses") or [])
        active = [p for p in pods if p["status"].get("phase") not in ("Succeeded", "Failed")
                  and not p["metadata"].get("deletionTimestamp")]
        completions = spec.get("completions", 1)
        if spec.get("suspend"):
            for p in active:
                self._delete(K_POD, ns, p["metadata"]["name"])
            _set_condition(conditions, "Suspended", "True", "JobSuspended", "Job suspended")
            active = []
        else:
            if any(c["type"] == "Suspended" for c in conditions):
                _set_condition(conditions, "Suspended", "False", "JobResumed", "Job resumed")
            status.setdefault("startTime", ts())
        backoff = spec.get("backoffLimit", 6)
        deadline = spec.get("activeDeadlineSeconds")
        fail_reason = None
        if failed + restarts > backoff:
            fail_reason = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
        elif deadline and status.get("startTime") and time.time() - _parse(status["startTime"]) >= deadline:
            fail_reason = ("DeadlineExceeded", "Job was active longer than specified deadline")
        elif deadline and status.get("startTime") and not spec.get("suspend"):
            self.enqueue(K_JOB, ns, name, _parse(status["startTime"]) + deadline - time.time() + 0.01)
        if fail_reason:
            for p in active:
                self._delete(K_POD, ns, p["metadata"]["name"])
            _set_condition(conditions, "FailureTarget", "True", *fail_reason)
            _set_condition(conditions, "Failed", "True", *fail_reason)
            self.event(job, K_JOB, "Warning", fail_reason[0], fail_reason[1], "job-controller")
            active = []
        elif succeeded >= completions:
            _set_condition(conditions, "SuccessCriteriaMet", "True", "CompletionsReached",
                           "Reached expected number of succeeded pods")
            _set_condition(conditions, "Complete", "True", "CompletionsReached",
                           "Reached expected number of succeeded pods")
            status["completionTime"] = ts()
            self.event(job, K_JOB, "Normal", "Completed", "Job completed", "job-controller")
        elif not spec.get("suspend"):
            want = min(spec.get("parallelism", 1), completions - succeeded) - len(active)
            for _ in range(max(0, want)):
                body = self._new_pod(job, "Job", "batch/v1", spec["template"])
                created = self._create(K_POD, ns, body)
                if created:
                    active.append(created)
                    self.event(job, K_JOB, "Normal", "SuccessfulCreate",
                               f"Created pod: {created['metadata']['name']}", "job-controller")
        status.update(active=len(active), succeeded=succeeded, failed=failed,
                      ready=sum(1 for p in active if _ready(p)), terminating=0,
                      uncountedTerminatedPods={})
        for k in ("active", "succeeded", "failed"):
            if not status[k]:
                del status[k]
        if not conditions:
            del status["conditions"]
        if status != job.get("status"):
            job["status"] = status
            self._write_status(K_JOB, job)

    def cronjob(self, cj):
        meta, spec = cj["metadata"], cj["spec"]
        if meta.get("deletionTimestamp"):
            return
        ns, name = meta["namespace"], meta["name"]
        jobs = self._children(cj, K_JOB)
        status = copy.deepcopy(cj.get("status") or {})
        status["active"] = [{"apiVersion": "batch/v1", "kind": "Job", "name": j["metadata"]["name"],
                             "namespace": ns, "uid": j["metadata"]["uid"],
                             "resourceVersion": j["metadata"]["resourceVersion"]}
                            for j in jobs if not _finished(j)]
        done = [j for j in jobs if _finished(j) == "Complete"]
        if done:
            status["lastSuccessfulTime"] = max(j["status"].get("completionTime", "") for j in done)
        if not status["active"]:
            del status["active"]
        interval = self.api.cronjob_interval
        if not spec.get("suspend"):
            if interval:
                last = self.cron_last.get(meta["uid"], _parse(meta["creationTimestamp"]))
                due = last + interval
            else:
                due = _next_cron(spec.get("schedule", ""), self.cron_last.get(meta["uid"], time.time()))
            if due is not None and time.time() >= due:
                self.cron_last[meta["uid"]] = due
                if not (spec.get("concurrencyPolicy") == "Forbid" and status.get("active")):
                    template = copy.deepcopy(spec.get("jobTemplate") or {})
                    job_name = f"{name}-{int(due // 60)}"
                    if any(j["metadata"]["name"] == job_name for j in jobs):
                        job_name = f"{name}-{int(due)}"
                    body = {"apiVersion": "batch/v1", "kind": "Job",
                            "metadata": dict(template.get("metadata") or {}, name=job_name,
                                             ownerReferences=[_owner_ref(cj, "CronJob", "batch/v1")]),
                            "spec": template.get("spec") or {}}
                    if self._create(K_JOB, ns, body):
                        self.event(cj, K_CRON, "Normal", "SuccessfulCreate", f"Created job {job_name}",
                                   "cronjob-controller")
                        status["lastScheduleTime"] = _iso(due)
                due = due + interval if interval else _next_cron(spec.get("schedule", ""), due)
            if due is not None:
                self.enqueue(K_CRON, ns, name, max(0.01, due - time.time()))
        for limit_key, outcome in (("successfulJobsHistoryLimit", "Complete"), ("failedJobsHistoryLimit", "Failed")):
            finished = sorted((j for j in jobs if _finished(j) == outcome),
                              key=lambda j: j["metadata"]["creationTimestamp"])
            for j in finished[: max(0, len(finished) - spec.get(limit_key, 3))]:
                self._delete(K_JOB, ns, j["metadata"]["name"])
        if status != cj.get("status"):
            cj["status"] = status
            self._write_status(K_CRON, cj)

    # -- PodDisruptionBudget ------------------------------------------------------------------
    def disruption_budget(self, pdb):
        """status as the disruption controller writes it (kstatus reads currentHealthy and
        desiredHealthy)."""
        meta, spec = pdb["metadata"], pdb.get("spec") or {}
        checks = selector_from_label_selector(spec.get("selector") or {})
        pods = [p for p in self.store.list(K_POD, meta["namespace"])
                if labels_match(checks, p) and not p["metadata"].get("deletionTimestamp")
                and p["status"].get("phase") not in ("Succeeded", "Failed")]
        expected = len(pods)
        healthy = sum(1 for p in pods if _ready(p))
        if "minAvailable" in spec:
            desired = _percent(spec["minAvailable"], expected, True)
        elif "maxUnavailable" in spec:
            desired = max(0, expected - _percent(spec["maxUnavailable"], expected, True))
        else:
            desired = expected
        allowed = max(0, healthy - desired)
        status = copy.deepcopy(pdb.get("status") or {})
        status.update(observedGeneration=meta.get("generation", 1), expectedPods=expected,
                      currentHealthy=healthy, desiredHealthy=desired, disruptionsAllowed=allowed)
        conditions = status.setdefault("conditions", [])
        if allowed:
            _set_condition(conditions, "DisruptionAllowed", "True", "SufficientPods", "")
        else:
            _set_condition(conditions, "DisruptionAllowed", "False", "InsufficientPods", "")
        for cond in conditions:
            cond["observedGeneration"] = meta.get("generation", 1)
        if status != pdb.get("status"):
            pdb["status"] = status
            self._write_status(K_PDB, pdb)


def _cron_field(spec, value, low, high):
    for part in spec.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part == "*":
            start, end = low, high
        elif "-" in part:
            start, end = (int(x) for x in part.split("-", 1))
        else:
            start = end = int(part)
        if start <= value <= end and (value - start) % step == 0:
            return True
    return False


def _next_cron(schedule, after):
    """Next time (epoch seconds) after `after` matching a 5-field cron schedule, or None."""
    macros = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
              "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *",
              "@annually": "0 0 1 1 *"}
    schedule = macros.get(schedule.strip(), schedule)
    parts = schedule.split()
    if len(parts) != 5:
        return None
    t = (int(after) // 60 + 1) * 60
    for _ in range(60 * 24 * 366):
        tm = time.gmtime(t)
        try:
            if (_cron_field(parts[0], tm.tm_min, 0, 59) and _cron_field(parts[1], tm.tm_hour, 0, 23)
                    and _cron_field(parts[2], tm.tm_mday, 1, 31) and _cron_field(parts[3], tm.tm_mon, 1, 12)
                    and _cron_field(parts[4], (tm.tm_wday + 1) % 7, 0, 7)):
                return t
        except ValueError:
            return None
        t += 60
    return None
