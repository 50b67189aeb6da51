"""The scheduler and the kubelet: a pod gets a node, then its containers start, or fail
the way their image name asks (see the package's docstring), with the Events a real
kubelet records."""

import copy
import hashlib
import re
import time

from .common import (K_CM, K_NODE, K_POD, K_PVC, K_SECRET, _iso, _min, _set_condition, ts)


class Kubelet:
    # -- nodes and scheduling ---------------------------------------------------------------
    def nodes(self):
        return self.store.list(K_NODE)

    def _schedule(self, pod):
        spec, status = pod["spec"], pod["status"]
        image_fail = any("unschedulable" in c.get("image", "") for c in spec.get("containers") or [])
        selector = spec.get("nodeSelector") or {}
        nodes = [n for n in self.nodes()
                 if all((n["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())]
        reason = None
        total = len(self.nodes())
        if image_fail or not nodes:
            reason = (f"0/{total} nodes are available: {total} node(s) didn't match Pod's node "
                      f"affinity/selector. preemption: 0/{total} nodes are available: {total} "
                      f"Preemption is not helpful for scheduling.")
        for vol in spec.get("volumes") or []:
            claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
            if claim and self.store.peek(K_PVC, pod["metadata"]["namespace"], claim) is None:
                reason = f'0/{total} nodes are available: persistentvolumeclaim "{claim}" not found. ' \
                         f"preemption: 0/{total} nodes are available: {total} Preemption is not " \
                         f"helpful for scheduling."
        if reason:
            conditions = status.setdefault("conditions", [])
            before = copy.deepcopy(conditions)
            _set_condition(conditions, "PodScheduled", "False", "Unschedulable", reason)
            if conditions != before:
                self._write_status(K_POD, pod)
                self.event(pod, K_POD, "Warning", "FailedScheduling", reason, "default-scheduler")
            return
        bound = self.kubelet.setdefault(pod["metadata"]["uid"], {})
        if "seen" not in bound:
            bound["seen"] = time.time()
        wait = bound["seen"] + self.delays.schedule - time.time()
        if wait > 0:
            self.enqueue(K_POD, pod["metadata"]["namespace"], pod["metadata"]["name"], wait)
            return
        node = nodes[hash(pod["metadata"]["name"]) % len(nodes)]["metadata"]["name"]
        # WaitForFirstConsumer claims learn their node from the scheduler
        for vol in spec.get("volumes") or []:
            claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
            if claim:
                pvc = self.store.get(K_PVC, pod["metadata"]["namespace"], claim)
                notes = pvc["metadata"].setdefault("annotations", {})
                if pvc["status"].get("phase") != "Bound" and \
                        notes.get("volume.kubernetes.io/selected-node") != node:
                    notes["volume.kubernetes.io/selected-node"] = node
                    self._write(K_PVC, pvc)
        pod["spec"]["nodeName"] = node
        stored = self._write(K_POD, pod)
        if stored is None:
            return
        pod = copy.deepcopy(stored)
        _set_condition(pod["status"].setdefault("conditions", []), "PodScheduled", "True", None, None)
        for cond in pod["status"]["conditions"]:
            if cond["type"] == "PodScheduled":
                cond.pop("reason", None)
                cond.pop("message", None)
        self._write_status(K_POD, pod)
        self.event(pod, K_POD, "Normal", "Scheduled",
                   f"Successfully assigned {pod['metadata']['namespace']}/{pod['metadata']['name']} to {node}",
                   "default-scheduler")

    # -- kubelet ------------------------------------------------------------------------------
    def pod(self, pod):
        meta, spec = pod["metadata"], pod["spec"]
        ns, name = meta["namespace"], meta["name"]
        if meta.get("deletionTimestamp"):
            return self._terminate_pod(pod)
        phase = pod["status"].get("phase")
        if phase in ("Succeeded", "Failed"):
            return
        if not spec.get("nodeName"):
            return self._schedule(pod)
        state = self.kubelet.setdefault(meta["uid"], {})
        state.setdefault("seen", time.time())
        state.setdefault("bound", time.time())
        now = time.time()
        status = copy.deepcopy(pod["status"])
        status.setdefault("hostIP", "172.18.0.2")
        status.setdefault("hostIPs", [{"ip": "172.18.0.2"}])
        status.setdefault("startTime", ts())
        containers = spec.get("containers") or []
        conditions = status.setdefault("conditions", [])
        waiting = self._waiting_reason(pod, state)
        restart = spec.get("restartPolicy", "Always")
        statuses = []
        ready_all = True
        finished = None          # "Succeeded" / "Failed"
        requeue = None
        for c in containers:
            image = c.get("image", "")
            cs = {"name": c["name"], "image": image, "imageID": "", "ready": False,
                  "restartCount": 0, "started": False}
            if waiting:
                reason, message = waiting
                cs["state"] = {"waiting": {"reason": reason, "message": message} if message
                               else {"reason": reason}}
                ready_all = False
            elif _invalid_image(image):
                ready_all = False
                message = (f'Failed to apply default image tag "{image}": couldn\'t parse image name '
                           f'"{image}": {_invalid_image(image)}')
                cs["state"] = {"waiting": {"reason": "InvalidImageName", "message": message}}
                if not state.get("invalid_event"):
                    state["invalid_event"] = True
                    self.event(pod, K_POD, "Warning", "InspectFailed", message)
                    self.event(pod, K_POD, "Warning", "Failed", "Error: InvalidImageName")
            elif "pull-error" in image:
                ready_all = False
                failed_at = state.setdefault("pull_failed", now)
                if now - failed_at < self.delays.pull_backoff:
                    reason = "ErrImagePull"
                    message = (f'failed to pull and unpack image "{image}": failed to resolve '
                               f'reference "{image}": {image}: not found')
                    requeue = _min(requeue, failed_at + self.delays.pull_backoff - now)
                    if not state.get("pull_event"):
                        state["pull_event"] = True
                        self.event(pod, K_POD, "Normal", "Pulling", f'Pulling image "{image}"')
                        self.event(pod, K_POD, "Warning", "Failed", f'Failed to pull image "{image}": '
                                   f'rpc error: code = NotFound desc = {message}')
                        self.event(pod, K_POD, "Warning", "Failed", "Error: ErrImagePull")
                else:
                    reason, message = "ImagePullBackOff", f'Back-off pulling image "{image}"'
                    if not state.get("backoff_event"):
                        state["backoff_event"] = True
                        self.event(pod, K_POD, "Normal", "BackOff", f'Back-off pulling image "{image}"')
                        self.event(pod, K_POD, "Warning", "Failed", "Error: ImagePullBackOff")
                cs["state"] = {"waiting": {"reason": reason, "message": message}}
            else:
                start_after = self.delays.pod_start + (self.delays.slow_start if "slow-start" in image else 0)
                started_at = state["bound"] + start_after
                if now < started_at:
                    cs["state"] = {"waiting": {"reason": "ContainerCreating"}}
                    ready_all = False
                    requeue = _min(requeue, started_at - now)
                else:
                    if not state.get("started_event_" + c["name"]):
                        state["started_event_" + c["name"]] = True
                        self.event(pod, K_POD, "Normal", "Pulled", f'Container image "{image}" already present on machine')
                        self.event(pod, K_POD, "Normal", "Created", f"Created container: {c['name']}")
                        self.event(pod, K_POD, "Normal", "Started", f"Started container {c['name']}")
                    cs["containerID"] = "containerd://" + hashlib.sha256(
                        (meta["uid"] + c["name"]).encode()).hexdigest()
                    cs["imageID"] = "docker.io/library/" + image.split(":")[0] + "@sha256:" + \
                        hashlib.sha256(image.encode()).hexdigest()
                    started_iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started_at))
                    fails = "crashloop" in image or "job-fail" in image
                    job_like = restart in ("Never", "OnFailure")
                    if fails and (restart == "Never"):
                        run_end = started_at + (self.delays.job_run if job_like else self.delays.crash)
                        if now >= run_end:
                            cs["state"] = {"terminated": {"exitCode": 1, "reason": "Error",
                                                          "startedAt": started_iso,
                                                          "finishedAt": _iso(run_end)}}
                            finished = "Failed"
                        else:
                            cs["state"] = {"running": {"startedAt": started_iso}}
                            cs["started"] = True
                            requeue = _min(requeue, run_end - now)
                        ready_all = False
                    elif fails:
                        period = self.delays.job_run if "job-fail" in image and job_like else self.delays.crash
                        crashes = int((now - started_at) / max(period, 0.001))
                        cs["restartCount"] = crashes
                        if crashes:
                            cs["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error",
                                                              "startedAt": started_iso,
                                                              "finishedAt": ts()}}
                            cs["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message":
                                                       f"back-off {min(300, 10 * 2 ** (crashes - 1))}s "
                                                       f"restarting failed container={c['name']} "
                                                       f"pod={name}_{ns}({meta['uid']})"}}
                            if state.get("crash_events", 0) < crashes:
                                state["crash_events"] = crashes
                                self.event(pod, K_POD, "Warning", "BackOff",
                                           f"Back-off restarting failed container {c['name']} in "
                                           f"pod {name}_{ns}({meta['uid']})")
                        else:
                            cs["state"] = {"running": {"startedAt": started_iso}}
                            cs["started"] = True
                        requeue = _min(requeue, period - ((now - started_at) % period))
                        ready_all = False
                    elif job_like:
                        run_end = started_at + self.delays.job_run
                        if now >= run_end:
                            cs["state"] = {"terminated": {"exitCode": 0, "reason": "Completed",
                                                          "startedAt": started_iso,
                                                          "finishedAt": _iso(run_end)}}
                            finished = finished or "Succeeded"
                        else:
                            cs["state"] = {"running": {"startedAt": started_iso}}
                            cs["started"] = True
                            requeue = _min(requeue, run_end - now)
                        ready_all = False
                    else:
                        cs["state"] = {"running": {"startedAt": started_iso}}
                        cs["started"] = True
                        cs["ready"] = "never-ready" not in image
                        ready_all = ready_all and cs["ready"]
            statuses.append(cs)
        status["containerStatuses"] = statuses
        for ctype in ("PodReadyToStartContainers", "Initialized"):
            _set_condition(conditions, ctype, "True", None, None)
        if finished:
            status["phase"] = finished
            _set_condition(conditions, "Ready", "False", "PodCompleted", None)
            _set_condition(conditions, "ContainersReady", "False", "PodCompleted", None)
        else:
            status["phase"] = "Running" if any("running" in cs.get("state", {}) or
                                               cs.get("restartCount") for cs in statuses) else "Pending"
            if ready_all and statuses:
                _set_condition(conditions, "Ready", "True", None, None)
                _set_condition(conditions, "ContainersReady", "True", None, None)
            else:
                not_ready = [cs["name"] for cs in statuses if not cs["ready"]]
                msg = f"containers with unready status: [{' '.join(not_ready)}]"
                _set_condition(conditions, "Ready", "False", "ContainersNotReady", msg)
                _set_condition(conditions, "ContainersReady", "False", "ContainersNotReady", msg)
        for cond in conditions:
            if cond.get("reason") is None:
                cond.pop("reason", None)
            if cond.get("message") is None:
                cond.pop("message", None)
        order = ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
        status["conditions"] = sorted(conditions, key=lambda c: order.index(c["type"])
                                      if c["type"] in order else 99)
        if status["phase"] == "Running" or finished:
            ip = state.setdefault("ip", f"10.244.0.{(hash(meta['uid']) % 250) + 2}")
            status["podIP"], status["podIPs"] = ip, [{"ip": ip}]
        if any(c["type"] == "Ready" and c["status"] == "True" for c in status["conditions"]):
            state.setdefault("ready_at", now)
        else:
            state.pop("ready_at", None)
        if status != pod["status"]:
            pod["status"] = status
            self._write_status(K_POD, pod)
        if waiting and waiting[0] == "CreateContainerConfigError":
            requeue = _min(requeue, 0.5)
        if requeue is not None:
            self.enqueue(K_POD, ns, name, requeue + 0.001)

    def _waiting_reason(self, pod, state):
        """(reason, message) that keeps every container waiting, or None."""
        ns = pod["metadata"]["namespace"]
        for c in pod["spec"].get("containers") or []:
            if "config-error" in c.get("image", ""):
                return self._config_error(pod, state, f'configmap "{c["name"]}-config" not found')
            for env in c.get("env") or []:
                source = env.get("valueFrom") or {}
                for kind_key, store_key, label in (("configMapKeyRef", K_CM, "configmap"),
                                                   ("secretKeyRef", K_SECRET, "secret")):
                    ref = source.get(kind_key)
                    if ref and not ref.get("optional"):
                        obj = self.store.peek(store_key, ns, ref.get("name"))
                        if obj is None:
                            return self._config_error(pod, state, f'{label} "{ref.get("name")}" not found')
                        data = dict(obj.get("data") or {}, **(obj.get("stringData") or {}))
                        if ref.get("key") not in data:
                            return self._config_error(pod, state, f"couldn't find key {ref.get('key')} "
                                                      f"in {label.title() if label == 'secret' else 'ConfigMap'} "
                                                      f"{ns}/{ref.get('name')}")
            for src in c.get("envFrom") or []:
                for kind_key, store_key, label in (("configMapRef", K_CM, "configmap"),
                                                   ("secretRef", K_SECRET, "secret")):
                    ref = src.get(kind_key)
                    if ref and not ref.get("optional") and self.store.peek(store_key, ns, ref.get("name")) is None:
                        return self._config_error(pod, state, f'{label} "{ref.get("name")}" not found')
        for vol in pod["spec"].get("volumes") or []:
            claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
            if claim:
                pvc = self.store.peek(K_PVC, ns, claim)
                if pvc is None or pvc["status"].get("phase") != "Bound":
                    return ("ContainerCreating", None)
        state.pop("config_error", None)
        return None

    def _config_error(self, pod, state, message):
        if state.get("config_error") != message:
            state["config_error"] = message
            self.event(pod, K_POD, "Warning", "Failed", f"Error: {message}")
        return ("CreateContainerConfigError", message)

    def _terminate_pod(self, pod):
        meta = pod["metadata"]
        if meta.get("finalizers"):
            return
        state = self.kubelet.setdefault(meta["uid"], {})
        since = state.setdefault("terminating", time.time())
        wait = since + min(self.delays.pod_terminate, meta.get("deletionGracePeriodSeconds") or 0) - time.time()
        if wait > 0:
            self.enqueue(K_POD, meta["namespace"], meta["name"], wait + 0.001)
            return
        if state.get("killed") is None and pod["status"].get("phase") == "Running":
            state["killed"] = True
            for c in pod["spec"].get("containers") or []:
                self.event(pod, K_POD, "Normal", "Killing", f"Stopping container {c['name']}")
        self.store.remove(K_POD, meta["namespace"], meta["name"], self.store.next_rv())


_REFERENCE = re.compile(r"^(?:(?P<domain>[a-zA-Z0-9.-]+(?::[0-9]+)?)/)?(?P<path>[^:@]+)"
                        r"(?::(?P<tag>[^@]+))?(?:@(?P<digest>.+))?$")
_PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$")


def _invalid_image(image):
    """Why an image reference does not parse (as the kubelet says it), or None."""
    m = _REFERENCE.match(image or "")
    if not m or not image:
        return "invalid reference format"
    path = m.group("path")
    if m.group("domain") and "." not in m.group("domain") and ":" not in m.group("domain") \
            and m.group("domain") != "localhost":
        path = m.group("domain") + "/" + path     # "user/app": no registry part
    if path != path.lower():
        return f"invalid reference format: repository name ({path}) must be lowercase"
    if not all(_PATH_COMPONENT.match(part) for part in path.split("/")):
        return "invalid reference format"
    tag = m.group("tag")
    if tag is not None and not re.match(r"^[\w][\w.-]{0,127}$", tag):
        return "invalid reference format"
    return None
