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
        bound = self.progress.setdefault(pod["metadata"]["uid"], {})
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
        if meta.get("deletionTimestamp"):
            return self._terminate_pod(pod)
        if pod["status"].get("phase") in ("Succeeded", "Failed"):
            return
        if not spec.get("nodeName"):
            return self._schedule(pod)
        state = self.progress.setdefault(meta["uid"], {})
        state.setdefault("bound", time.time())
        now = time.time()
        status = copy.deepcopy(pod["status"])
        status.setdefault("hostIP", "172.18.0.2")
        status.setdefault("hostIPs", [{"ip": "172.18.0.2"}])
        status.setdefault("startTime", ts())
        waiting = self._waiting_reason(pod, state)
        statuses, requeue, finished = [], None, None
        for container in spec.get("containers") or []:
            cs, again, outcome = self._container(pod, container, state, now, waiting)
            statuses.append(cs)
            requeue = _min(requeue, again) if again is not None else requeue
            if outcome == "Failed" or (outcome and not finished):
                finished = outcome
        status["containerStatuses"] = statuses
        self._pod_phase_and_conditions(status, statuses, finished)
        if status["phase"] == "Running" or finished:
            ip = state.setdefault("ip", self._pod_ip())
            status["podIP"], status["podIPs"] = ip, [{"ip": ip}]
        if any(c["type"] == "Ready" and c["status"] == "True" for c in status["conditions"]):
            state.setdefault("ready_at", now)
        else:
            state.pop("ready_at", None)
        if status != pod["status"]:
            pod["status"] = status
            self._write_status(K_POD, pod)
        if waiting and waiting[0] == "CreateContainerConfigError":
            requeue = _min(requeue, 0.5)       # the missing ConfigMap/Secret may appear
        if requeue is not None:
            self.enqueue(K_POD, meta["namespace"], meta["name"], requeue + 0.001)

    def _pod_ip(self):
        self._pod_ips = getattr(self, "_pod_ips", 0) + 1
        return f"10.244.{self._pod_ips // 250}.{self._pod_ips % 250 + 2}"

    @staticmethod
    def _pod_phase_and_conditions(status, statuses, finished):
        conditions = status.setdefault("conditions", [])
        for ctype in ("PodReadyToStartContainers", "Initialized"):
            _set_condition(conditions, ctype, "True", None, None)
        if finished:
            status["phase"] = finished
            _set_condition(conditions, "Ready", "False", "PodCompleted", None)
            _set_condition(conditions, "ContainersReady", "False", "PodCompleted", None)
        else:
            status["phase"] = "Running" if any("running" in cs.get("state", {}) or cs.get("restartCount")
                                               for cs in statuses) else "Pending"
            if statuses and all(cs["ready"] for cs in statuses):
                _set_condition(conditions, "Ready", "True", None, None)
                _set_condition(conditions, "ContainersReady", "True", None, None)
            else:
                not_ready = [cs["name"] for cs in statuses if not cs["ready"]]
                msg = f"containers with unready status: [{' '.join(not_ready)}]"
                _set_condition(conditions, "Ready", "False", "ContainersNotReady", msg)
                _set_condition(conditions, "ContainersReady", "False", "ContainersNotReady", msg)
        for cond in conditions:
            for field in ("reason", "message"):
                if cond.get(field) is None:
                    cond.pop(field, None)
        order = ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
        status["conditions"] = sorted(conditions, key=lambda c: order.index(c["type"])
                                      if c["type"] in order else 99)

    def _container(self, pod, container, state, now, waiting):
        """(containerStatus, seconds until it changes or None, "Succeeded"/"Failed"/None)."""
        image = container.get("image", "")
        cs = {"name": container["name"], "image": image, "imageID": "", "ready": False,
              "restartCount": 0, "started": False}
        if waiting:
            reason, message = waiting
            cs["state"] = {"waiting": {"reason": reason, "message": message} if message else {"reason": reason}}
            return cs, None, None
        if _invalid_image(image):
            message = (f'Failed to apply default image tag "{image}": couldn\'t parse image name '
                       f'"{image}": {_invalid_image(image)}')
            cs["state"] = {"waiting": {"reason": "InvalidImageName", "message": message}}
            if not state.get("invalid_event"):
                state["invalid_event"] = True
                self.event(pod, K_POD, "Warning", "InspectFailed", message)
                self.event(pod, K_POD, "Warning", "Failed", "Error: InvalidImageName")
            return cs, None, None
        if "pull-error" in image:
            return self._pull_error(pod, cs, image, state, now)
        started_at = state["bound"] + self.delays.pod_start + \
            (self.delays.slow_start if "slow-start" in image else 0)
        if now < started_at:
            cs["state"] = {"waiting": {"reason": "ContainerCreating"}}
            return cs, started_at - now, None
        return self._running(pod, container, cs, state, now, started_at)

    def _pull_error(self, pod, cs, image, state, now):
        failed_at = state.setdefault("pull_failed", now)
        again = None
        if now - failed_at < self.delays.pull_backoff:
            reason = "ErrImagePull"
            message = (f'failed to pull and unpack image "{image}": failed to resolve '
                       f'reference "{image}": {image}: not found')
            again = failed_at + self.delays.pull_backoff - now
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
        return cs, again, None

    def _running(self, pod, container, cs, state, now, started_at):
        """A started container: running, crashing, or done (exit 0 or 1)."""
        meta, name, image = pod["metadata"], container["name"], container.get("image", "")
        if not state.get("started_event_" + name):
            state["started_event_" + name] = True
            self.event(pod, K_POD, "Normal", "Pulled", f'Container image "{image}" already present on machine')
            self.event(pod, K_POD, "Normal", "Created", f"Created container: {name}")
            self.event(pod, K_POD, "Normal", "Started", f"Started container {name}")
        cs["containerID"] = "containerd://" + hashlib.sha256((meta["uid"] + name).encode()).hexdigest()
        cs["imageID"] = "docker.io/library/" + image.split(":")[0] + "@sha256:" + \
            hashlib.sha256(image.encode()).hexdigest()
        started = _iso(started_at)
        running = {"running": {"startedAt": started}}
        restart = pod["spec"].get("restartPolicy", "Always")
        job_like = restart in ("Never", "OnFailure")
        fails = "crashloop" in image or "job-fail" in image
        if fails and restart != "Never":               # restarted again and again
            period = self.delays.job_run if "job-fail" in image and job_like else self.delays.crash
            crashes = int((now - started_at) / max(period, 0.001))
            cs["restartCount"] = crashes
            if crashes:
                cs["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": started,
                                                  "finishedAt": ts()}}
                where = f"{meta['name']}_{meta['namespace']}({meta['uid']})"
                cs["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message":
                                           f"back-off {min(300, 10 * 2 ** (crashes - 1))}s restarting "
                                           f"failed container={name} pod={where}"}}
                if state.get("crash_events", 0) < crashes:
                    state["crash_events"] = crashes
                    self.event(pod, K_POD, "Warning", "BackOff",
                               f"Back-off restarting failed container {name} in pod {where}")
            else:
                cs["state"], cs["started"] = running, True
            return cs, period - ((now - started_at) % period), None
        if fails or job_like:                          # runs once, then exits 1 or 0
            run_end = started_at + (self.delays.job_run if job_like else self.delays.crash)
            if now < run_end:
                cs["state"], cs["started"] = running, True
                return cs, run_end - now, None
            code = 1 if fails else 0
            cs["state"] = {"terminated": {"exitCode": code, "reason": "Error" if code else "Completed",
                                          "startedAt": started, "finishedAt": _iso(run_end)}}
            return cs, None, "Failed" if code else "Succeeded"
        cs["state"], cs["started"] = running, True
        cs["ready"] = "never-ready" not in image
        return cs, None, None

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
        state = self.progress.setdefault(meta["uid"], {})
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
