"""Readiness and live status of podman pods, in Kubernetes' terms.

podman 4.3 gives no readiness of its own: readinessProbe is ignored by
`podman kube play`, a livenessProbe becomes a podman healthcheck that only
runs from systemd timers (and an httpGet one needs curl in the image). So
the hook runs the manifest's probes itself while it waits:

- exec: `podman exec <container> <command>`;
- httpGet / tcpSocket: from this node to the pod's IP (127.0.0.1 for
  hostNetwork pods), which is how the kubelet does it too.

A container is ready when it has run for SETTLE_SECONDS and every probe it
defines (startup, readiness, liveness) passed in the same round. It has failed for good when
it exited (restartPolicy Never, or a non-zero code) or restarted
RESTART_LIMIT times while we waited (podman restarts without back-off, so
a crashing container is seen within seconds).
"""

import datetime
import http.client
import json
import socket
import ssl
import subprocess
import time
import urllib.parse
from typing import Optional

from hook_kubectl.backends.base import LOG_LINES, log_tail
from hook_kubectl.errors import BackendError

RESTART_LIMIT = 2
# A container counts as running once it has run this long: a crash loop
# shows up as restarts, not as a lucky "running" snapshot.
SETTLE_SECONDS = 2.0
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")
POLL_SECONDS = 0.5


class PodmanCommandError(BackendError):
    """A podman command failed; the message holds its stderr tail."""


def podman(args: list, input_text: Optional[str] = None, timeout: float = 120.0,
           check: bool = True) -> subprocess.CompletedProcess:
    """Run `podman <args>` (an argument list, never a shell)."""
    try:
        proc = subprocess.run(["podman", *args], input=input_text, capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise PodmanCommandError(
            f"podman {args[0]} {args[1] if len(args) > 1 else ''} did not finish "
            f"within {timeout:.0f}s") from None
    except FileNotFoundError:
        raise PodmanCommandError("podman is not installed on this node") from None
    if check and proc.returncode != 0:
        raise PodmanCommandError(
            f"podman {' '.join(args[:2])} failed: {log_tail(proc.stderr, 5) or proc.returncode}")
    return proc


def inspect_json(args: list) -> list:
    """`podman <args>` whose output is JSON: always a list (podman 4.3 prints
    one object, not a list, for a single pod)."""
    proc = podman(args, check=False)
    if proc.returncode != 0 or not proc.stdout.strip():
        return []
    data = json.loads(proc.stdout)
    return data if isinstance(data, list) else [data]


def owned_pods(label: str, value: str) -> list:
    """Pods (podman pod ps JSON) that carry label=value."""
    return inspect_json(["pod", "ps", "--format", "json", "--filter", f"label={label}={value}"])


class PodState:
    """One podman pod, inspected: the pod and each of its containers."""

    def __init__(self, pod: dict, containers: list):
        self.pod = pod
        self.name = pod.get("Name", "")
        self.id = pod.get("Id", "")
        self.labels = pod.get("Labels") or {}
        infra_id = pod.get("InfraContainerID")
        self.infra = next((c for c in containers if c.get("Id") == infra_id), None)
        self.containers = {}  # spec container name -> container inspect
        prefix = f"{self.name}-"
        for container in containers:
            if container.get("Id") == infra_id:
                continue
            name = container.get("Name", "")
            self.containers[name[len(prefix):] if name.startswith(prefix) else name] = container

    @property
    def host_network(self) -> bool:
        return bool((self.pod.get("InfraConfig") or {}).get("HostNetwork"))

    @property
    def ip(self) -> str:
        if self.host_network:
            return "127.0.0.1"
        networks = ((self.infra or {}).get("NetworkSettings") or {}).get("Networks") or {}
        for network in networks.values():
            if network.get("IPAddress"):
                return network["IPAddress"]
        return ((self.infra or {}).get("NetworkSettings") or {}).get("IPAddress") or ""

    def host_ports(self) -> dict:
        """containerPort (int) -> hostPort (int) published on this node."""
        bindings = (self.pod.get("InfraConfig") or {}).get("PortBindings") or {}
        ports = {}
        for key, binds in bindings.items():
            number = key.split("/", 1)[0]
            for bind in binds or []:
                if number.isdigit() and str(bind.get("HostPort", "")).isdigit():
                    ports[int(number)] = int(bind["HostPort"])
        return ports


def inspect_pods(pod_ids: list) -> list:
    """PodState for each pod that still exists."""
    if not pod_ids:
        return []
    pods = inspect_json(["pod", "inspect", *pod_ids])
    container_ids = [c["Id"] for p in pods for c in p.get("Containers") or []]
    containers = inspect_json(["container", "inspect", *container_ids]) if container_ids else []
    by_id = {c.get("Id"): c for c in containers}
    states = []
    for pod in pods:
        own = [by_id[c["Id"]] for c in pod.get("Containers") or [] if c["Id"] in by_id]
        states.append(PodState(pod, own))
    return states


def last_exit_code(container_id: str, since: str) -> Optional[int]:
    """The exit code of the container's last death since `since` (podman
    resets State.ExitCode when it restarts a container; its events keep it)."""
    proc = podman(["events", "--stream=false", "--since", since, "--format", "json",
                   "--filter", f"container={container_id}", "--filter", "event=died"],
                  check=False, timeout=30)
    code = None
    for line in proc.stdout.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        # podman's JSON leaves out a zero exit code (omitempty): a death
        # without one exited 0.
        code = event.get("ContainerExitCode", 0)
    return code


def container_logs(container_id: str) -> str:
    proc = podman(["logs", "--tail", str(LOG_LINES), container_id], check=False, timeout=30)
    return log_tail((proc.stdout or "") + (proc.stderr or ""))


# ---------------------------------------------------------------- probes

def run_probe(kind: str, probe: dict, container_id: str, pod: PodState,
              spec_container: dict) -> str:
    """Run one probe once; '' when it passed, else why it failed."""
    timeout = max(1.0, float(probe.get("timeoutSeconds") or 1))
    if "exec" in probe:
        command = [str(part) for part in (probe["exec"] or {}).get("command") or []]
        if not command:
            return f"{kind} exec has no command"
        try:
            proc = podman(["exec", container_id, *command], check=False, timeout=timeout + 5)
        except PodmanCommandError as exc:
            return f"{kind} exec {command}: {exc}"
        if proc.returncode == 0:
            return ""
        return f"{kind} exec {command} exited {proc.returncode}"
    if "httpGet" in probe:
        get = probe["httpGet"] or {}
        port = _port(get.get("port"), spec_container)
        host = get.get("host") or pod.ip
        scheme = str(get.get("scheme") or "HTTP").lower()
        path = get.get("path") or "/"
        url = f"{scheme}://{host}:{port}{path}"
        if port is None or not host:
            return f"{kind} httpGet {url}: no pod IP or port yet"
        return _http_probe(kind, url, get.get("httpHeaders") or [], timeout)
    if "tcpSocket" in probe:
        sock = probe["tcpSocket"] or {}
        port = _port(sock.get("port"), spec_container)
        host = sock.get("host") or pod.ip
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            return ""
        except (OSError, TypeError) as exc:
            return f"{kind} tcpSocket {host}:{port}: {exc}"
    return ""  # grpc and unknown handlers: noted by the backend's check


def _port(value, spec_container: dict) -> Optional[int]:
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return int(value)
    for port in spec_container.get("ports") or []:
        if port.get("name") == value:
            return int(port.get("containerPort"))
    return None


def _http_probe(kind: str, url: str, headers: list, timeout: float) -> str:
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme == "https":
        # The kubelet does not verify probe certificates either.
        conn = http.client.HTTPSConnection(parsed.hostname, parsed.port, timeout=timeout,
                                           context=ssl._create_unverified_context())
    else:
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=timeout)
    try:
        conn.request("GET", parsed.path + (f"?{parsed.query}" if parsed.query else ""),
                     headers={h.get("name"): h.get("value") for h in headers if h.get("name")})
        status = conn.getresponse().status
    except (OSError, http.client.HTTPException) as exc:
        return f"{kind} httpGet {url}: {exc}"
    finally:
        conn.close()
    return "" if 200 <= status < 400 else f"{kind} httpGet {url}: HTTP {status}"


# ---------------------------------------------------------------- readiness

def _started_at(container: dict) -> Optional[float]:
    text = (container.get("State") or {}).get("StartedAt") or ""
    try:
        base = text.split(".")[0].rstrip("Z")
        return datetime.datetime.fromisoformat(base).replace(
            tzinfo=datetime.timezone.utc).timestamp()
    except ValueError:
        return None


class PodCheck:
    """What the wait knows about one workload's pod between polls."""

    def __init__(self, ref: str, pod_id: str, pod_spec: dict, complete: bool = False):
        self.ref = ref  # "pod/web", "deployment/web": for messages
        self.pod_id = pod_id
        self.spec = pod_spec or {}
        self.complete = complete  # a Job: ready when every container exited 0
        self.baseline = {}  # container id -> RestartCount when the wait began
        self.ready = False
        self.failure = ""  # set: failed for good
        self.waiting = "pod not inspected yet"
        self.logs = ""


def evaluate(check: PodCheck, state: Optional[PodState], since: str) -> None:
    """One round of readiness for one pod; updates `check` in place."""
    if state is None:
        check.failure = "the pod disappeared while waiting"
        return
    restart_policy = check.spec.get("restartPolicy") or ("Never" if check.complete else "Always")
    specs = {c.get("name"): c for c in check.spec.get("containers") or []}
    inits = {c.get("name") for c in check.spec.get("initContainers") or []}
    waiting = []
    for name, container in state.containers.items():
        st = container.get("State") or {}
        status = st.get("Status", "")
        cid = container.get("Id", "")
        check.baseline.setdefault(cid, container.get("RestartCount") or 0)
        restarts = (container.get("RestartCount") or 0) - check.baseline[cid]
        if name in inits:
            if status in ("exited", "stopped") and st.get("ExitCode"):
                _fail(check, name, cid, f"init container exited with code {st['ExitCode']}")
                return
            continue
        if status in ("exited", "stopped"):
            code = st.get("ExitCode", 0)
            if code == 0 and restart_policy in ("Never", "OnFailure"):
                continue  # completed, as a Kubernetes pod's container may
            why = f"exited with code {code}" + (" (OOM killed)" if st.get("OOMKilled") else "")
            if restart_policy == "Always" and code == 0:
                why += (f" but must keep running (restartPolicy Always; restarted {restarts} "
                        "times so far): does its command stay in the foreground?")
            elif restart_policy == "Always" or (restart_policy == "OnFailure" and code):
                why += f" (restartPolicy {restart_policy}; restarted {restarts} times so far)"
            _fail(check, name, cid, why)
            return
        if restarts >= RESTART_LIMIT:
            code = last_exit_code(cid, since)
            if code is None:
                # podman's event log rotates (1 MB by default) and may have
                # dropped the deaths: say so rather than guess.
                why = (f"keeps restarting: restarted {restarts} times (its exit code is no "
                       "longer in podman's event log)")
                if restart_policy == "Always":
                    why += (": if its command ends, even with code 0, it must keep running "
                            "(restartPolicy Always): does its command stay in the foreground?")
            else:
                why = f"keeps restarting: restarted {restarts} times, last exit code {code}"
            if code == 0 and restart_policy == "Always":
                why += (": it must keep running (restartPolicy Always): "
                        "does its command stay in the foreground?")
            _fail(check, name, cid, why)
            return
        if status != "running":
            waiting.append(f"container {name} is {status or 'not started'}")
            continue
        if check.complete:
            waiting.append(f"container {name} is still running (a Job is ready when it completes)")
            continue
        spec_container = specs.get(name, {})
        started = _started_at(container)
        if started is not None and time.time() - started < SETTLE_SECONDS:
            waiting.append(f"container {name} just started")
            continue
        for kind in PROBES:
            probe = spec_container.get(kind)
            if not isinstance(probe, dict):
                continue
            delay = float(probe.get("initialDelaySeconds") or 0)
            if started is not None and time.time() - started < delay:
                waiting.append(f"container {name}: {kind} starts after {delay:.0f}s")
                break
            why = run_probe(kind, probe, cid, state, spec_container)
            if why:
                waiting.append(f"container {name}: {why}")
                break
    missing = [n for n in specs if n not in state.containers]
    waiting.extend(f"container {n} does not exist" for n in missing)
    check.waiting = "; ".join(waiting)
    check.ready = not waiting


def _fail(check: PodCheck, name: str, container_id: str, why: str) -> None:
    check.failure = f"container {name} {why}"
    check.logs = container_logs(container_id)


def wait(checks: list, deadline, on_round=None) -> None:
    """Poll until every check is ready, one has failed, or the deadline."""
    since = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    since = _minus_seconds(since, 2)
    while True:
        pending = [c for c in checks if not c.ready and not c.failure]
        states = {s.id: s for s in inspect_pods([c.pod_id for c in pending])}
        for check in pending:
            evaluate(check, states.get(check.pod_id), since)
        if any(c.failure for c in checks) or all(c.ready for c in checks):
            return
        if deadline.expired():
            for check in checks:
                if not check.ready and not check.failure:
                    check.logs = _logs_of_pod(states.get(check.pod_id))
            return
        deadline.sleep(POLL_SECONDS)


def _minus_seconds(stamp: str, seconds: int) -> str:
    moment = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")
    return (moment - datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _logs_of_pod(state: Optional[PodState]) -> str:
    if state is None:
        return ""
    parts = []
    for name, container in state.containers.items():
        logs = container_logs(container.get("Id", ""))
        if logs:
            parts.append(f"--- {name} (last {LOG_LINES} lines) ---\n{logs}")
    return "\n".join(parts)


# ---------------------------------------------------------------- live status

def _stamp(text: str) -> Optional[str]:
    if not text or text.startswith("0001-"):
        return None
    return text.split(".")[0].rstrip("Z") + "Z"


def pod_status(state: PodState, pod_spec: dict) -> dict:
    """A Kubernetes Pod status built from podman inspect."""
    restart_policy = (pod_spec or {}).get("restartPolicy") or "Always"
    inits = {c.get("name") for c in (pod_spec or {}).get("initContainers") or []}
    statuses = []
    for name, container in state.containers.items():
        if name in inits:
            continue
        st = container.get("State") or {}
        status = st.get("Status", "")
        if status == "running":
            cstate = {"running": {"startedAt": _stamp(st.get("StartedAt", ""))}}
        elif status in ("exited", "stopped"):
            cstate = {"terminated": {
                "exitCode": st.get("ExitCode", 0),
                "reason": "Completed" if st.get("ExitCode", 0) == 0 else "Error",
                "startedAt": _stamp(st.get("StartedAt", "")),
                "finishedAt": _stamp(st.get("FinishedAt", ""))}}
        else:
            cstate = {"waiting": {"reason": status.capitalize() or "ContainerCreating"}}
        statuses.append({
            "name": name,
            "ready": status == "running",
            "started": status == "running",
            "restartCount": container.get("RestartCount") or 0,
            "image": container.get("ImageName") or "",
            "imageID": container.get("Image") or "",
            "containerID": f"podman://{container.get('Id', '')}",
            "state": cstate,
        })
    running = [s for s in statuses if s["ready"]]
    terminated = [s["state"].get("terminated") for s in statuses if "terminated" in s["state"]]
    if statuses and len(running) == len(statuses):
        phase = "Running"
    elif statuses and len(terminated) == len(statuses):
        phase = "Succeeded" if all(t["exitCode"] == 0 for t in terminated) else (
            "Failed" if restart_policy != "Always" else "Running")
    else:
        phase = "Pending"
    ready = bool(statuses) and len(running) == len(statuses)
    ip = state.ip
    return {
        "phase": phase,
        "podIP": ip,
        "podIPs": [{"ip": ip}] if ip else [],
        "hostIP": "127.0.0.1",
        "startTime": _stamp(state.pod.get("Created", "")),
        "conditions": [
            {"type": "Ready", "status": "True" if ready else "False"},
            {"type": "ContainersReady", "status": "True" if ready else "False"},
        ],
        "containerStatuses": statuses,
    }
