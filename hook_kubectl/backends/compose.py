"""The docker-compose backend: one compose project per deployment, on one node.

The config is one compose file (v2, v3 or the Compose Specification, with
or without `version:`). Each deployment gets a project directory
``$HEAT_KUBECTL_WORKDIR/compose/<project>`` (default base
/var/lib/heat-config-kubectl; directories 0700, files 0600) holding
``docker-compose.yml`` and its env files. The project name is the
deployment identity's slug, so two deployments never collide and every
update of one deployment reuses its project.

Env files come from inputs, two ways:
- a service's ``env_file`` entry that names a declared input
  (``env_file: db_env`` or ``env_file: [db_env]``) is written into the
  project directory from that input, which holds ``KEY=VALUE`` lines or a
  map of KEY: VALUE;
- heat-agents' docker-compose hook convention: an input named ``env_files``
  holding a list of ``{file_name, content}`` (or a map of file name to
  content); an ``env_file`` entry equal to a file_name is written from it
  (relative paths inside the project directory only).
Any other relative ``env_file`` is refused before anything runs; absolute
paths are the node's own files. Every value in an env file is treated as a
secret and masked in deploy_stdout/deploy_stderr (so a short value such as
a user name is masked too, wherever it appears). Env files an earlier run
wrote and the new config no longer uses are removed (only those).

Commands: ``docker compose`` (v2 plugin) when it answers, else Debian's
``docker-compose`` (1.29); HEAT_KUBECTL_COMPOSE overrides (for example
"docker-compose"). Always an argument list, never a shell.

- CREATE/UPDATE: ``up -d --remove-orphans``, then wait.
- DELETE: ``down --remove-orphans`` (``-v`` with options.delete_volumes), then
  remove, through the engine API, any container still labelled with the
  project and this deployment (also when the project directory is gone).
- SUSPEND: ``stop``; RESUME: ``start``, then wait.

Waiting talks to the engine API (DOCKER_HOST, as compose does; unset, the
Docker socket or else podman's /run/podman/podman.sock): every service the
file enables (no inactive profile, not scaled to 0) must have its containers
running, and healthy where a healthcheck is configured (without one, running
for STABLE_SECONDS). A one-shot service that others depend on with
``service_completed_successfully`` may exit 0. A container that exits (or dies) fails the run
at once, naming the service, its exit code and its last log lines; an image
that cannot be found fails when compose does. podman only runs healthchecks
from systemd timers, which a node without systemd never fires, so on a
podman engine the hook runs each check itself (libpod's healthcheck
endpoint) at the check's interval while it waits.

Compatibility, found on Debian's docker-compose 1.29.2 against podman 4.3.1's
Docker API (tests/backends/compose):
- compose files without ``version:`` (Compose Specification), ``"2.4"`` and
  ``"3.8"`` all work, networks and ``depends_on`` conditions included
  (service_healthy, service_completed_successfully);
- podman runs healthchecks only from systemd timers (podman#19326): the hook
  runs them (see above), without which ``up`` waits for ever on
  ``service_healthy``;
- podman's Docker API joins a ``["CMD", ...]`` healthcheck and splits it again
  at spaces (podman#26519, fixed upstream by podman PR #27818), so ``["CMD", "sh", "-c",
  "a b"]`` would run ``sh -c a`` and pass falsely: on podman such checks are
  rewritten to CMD-SHELL (noted in deploy_stdout);
- docker-compose 1.29 starts a service whose ``service_healthy`` dependency
  exited instead of failing: the hook sees the exited dependency and fails;
- a missing image: compose tries to pull it and fails with "no such image"
  for that service, which becomes the error.
``docker compose`` (v2) is used the same way but is not installed here, so
it is untested.

Outputs: ``service/<compose service>:{path}`` addresses this shape::

    {"kind": "Service", "metadata": {"name": "web", "project": ...},
     "spec": {"image": ...},
     "status": {"phase": "Running", "ready": true, "health": "healthy",
                "replicas": 1, "readyReplicas": 1,
                "podIP": "10.89.0.5", "podIPs": [{"ip": ...}],
                "networks": {"default": {"ip": ...}, ...},
                "ports": [{"containerPort": 8080, "protocol": "tcp",
                           "hostIP": "127.0.0.1", "hostPort": 18081}],
                "containers": [{"name", "id", "state", "health", "exitCode",
                                "ip", "restartCount"}]}}

for example ``service/web:{.status.podIP}``,
``service/web:{.status.ports[?(@.containerPort==8080)].hostPort}``,
``service/db:{.status.health}``, ``service/web:{.status.networks.front.ip}``.
``container/<service>:{path}`` is the engine's raw inspect of the service's
first container (``{.NetworkSettings.Ports}``, ``{.State.Health.Status}``).
"""

import datetime
import http.client
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
from typing import Optional

import yaml

from hook_kubectl import outputs as outputs_stage
from hook_kubectl.backends.base import (
    LOG_LINES, WORKDIR_ENV, Backend, Deadline, ObjectReport, Outcome, log_tail, workdir)
from hook_kubectl.errors import BackendError, InputError

COMPOSE_ENV = "HEAT_KUBECTL_COMPOSE"
COMPOSE_FILE = "docker-compose.yml"
WRITTEN = ".heat-env-files.json"  # the env files the hook wrote, to clean up later
# heat-agents' docker-compose hook reads env files from this input: a list of
# {file_name, content}; accepted too, so its templates keep working.
ENV_FILES_INPUT = "env_files"
OUTPUT_KINDS = ("service", "services", "svc", "container", "containers")
DEFAULT_SOCKETS = ("/var/run/docker.sock", "/run/podman/podman.sock")
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
API = "/v1.40"
LIBPOD_API = "/v4.0.0/libpod"
POLL_SECONDS = 0.5
RESTART_LIMIT = 2  # restarts seen while waiting that mean a crash loop
STABLE_SECONDS = 1.0  # a container without healthcheck must run this long
OUTPUT_LINES = 30
ENV_FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
DEFAULT_HEALTH_INTERVAL = 30.0
# docker-compose 1.x names what failed in `ERROR: for <service>  <message>`.
COMPOSE_ERROR = re.compile(r"^ERROR: for (\S+)\s+(.*)$")


# --- the engine API (Docker's, which podman's service speaks too) -----------

class EngineError(BackendError):
    """The container engine could not be reached or refused a request."""


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def docker_host(environ=None) -> str:
    """DOCKER_HOST, else Docker's socket, else podman's system socket (the
    one podman.socket listens on), so a podman node needs no setting."""
    environ = os.environ if environ is None else environ
    if environ.get("DOCKER_HOST"):
        return environ["DOCKER_HOST"]
    for path in DEFAULT_SOCKETS:
        if os.path.exists(path):
            return f"unix://{path}"
    return f"unix://{DEFAULT_SOCKETS[0]}"


class Engine:
    """A few calls of the Docker Engine API over DOCKER_HOST (unix or tcp)."""

    def __init__(self, host: Optional[str] = None):
        self.host = host or docker_host()
        url = urllib.parse.urlparse(self.host)
        if url.scheme == "unix":
            self._connect = lambda timeout: _UnixConnection(url.path, timeout)
        elif url.scheme in ("tcp", "http"):
            if os.environ.get("DOCKER_TLS_VERIFY"):
                raise EngineError(
                    "DOCKER_TLS_VERIFY is set: the compose backend talks to the engine "
                    "over a unix socket or plain tcp only")
            self._connect = lambda timeout: http.client.HTTPConnection(
                url.hostname, url.port or 2375, timeout=timeout)
        else:
            raise EngineError(f"DOCKER_HOST {self.host!r}: expected unix:// or tcp://")
        self._podman = None

    def call(self, method: str, path: str, query: Optional[dict] = None,
             timeout: float = 30.0, ok=(200, 201, 204, 304)) -> tuple:
        """(status, body bytes). Raises EngineError when unreachable."""
        if query:
            path = f"{path}?{urllib.parse.urlencode(query)}"
        conn = self._connect(timeout)
        try:
            conn.request(method, path)
            response = conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise EngineError(
                f"cannot reach the container engine at DOCKER_HOST={self.host}: {exc}") from None
        finally:
            conn.close()
        status = response.status
        if status == 500 and "no such " in _api_message(body).lower():
            # podman's answer for an object removed while we looked at it
            status = 404
        if status not in ok and status != 404:
            raise EngineError(
                f"container engine: {method} {path.split('?')[0]} answered "
                f"{response.status}: {_api_message(body)}")
        return status, body

    def get(self, path: str, query: Optional[dict] = None):
        status, body = self.call("GET", API + path, query)
        return None if status == 404 else json.loads(body or b"null")

    @property
    def is_podman(self) -> bool:
        if self._podman is None:
            version = self.get("/version") or {}
            names = [c.get("Name", "") for c in version.get("Components") or []]
            self._podman = any("podman" in name.lower() for name in names)
        return self._podman

    def containers(self, labels: dict) -> list:
        """Inspect data of every container (running or not) with `labels`."""
        filters = json.dumps({"label": [f"{k}={v}" for k, v in labels.items()]})
        found = self.get("/containers/json", {"all": "1", "filters": filters}) or []
        inspected = []
        for summary in found:
            data = self.inspect(summary["Id"])
            if data is not None:
                inspected.append(data)
        return inspected

    def inspect(self, container_id: str) -> Optional[dict]:
        """A container's inspect data; None when it is gone (removed between
        a listing and now)."""
        return self.get(f"/containers/{container_id}/json")

    def logs(self, container_id: str, lines: int = LOG_LINES) -> str:
        status, body = self.call(
            "GET", f"{API}/containers/{container_id}/logs",
            {"stdout": "1", "stderr": "1", "tail": str(lines)})
        return "" if status == 404 else _demultiplex(body)

    def run_healthcheck(self, container_id: str, timeout: float) -> None:
        """podman only: run the container's healthcheck now (systemd timers
        would otherwise be the only thing that runs it)."""
        try:
            self.call("GET", f"{LIBPOD_API}/containers/{container_id}/healthcheck",
                      timeout=timeout, ok=(200, 409, 500))
        except EngineError:
            pass  # a slow check: the wait loop still sees the state it left

    def remove_container(self, container_id: str, volumes: bool) -> None:
        self.call("DELETE", f"{API}/containers/{container_id}",
                  {"force": "1", "v": "1" if volumes else "0"}, timeout=120.0)

    def stop_container(self, container_id: str) -> None:
        self.call("POST", f"{API}/containers/{container_id}/stop", {"t": "10"},
                  timeout=120.0)

    def networks(self, labels: dict) -> list:
        filters = json.dumps({"label": [f"{k}={v}" for k, v in labels.items()]})
        return self.get("/networks", {"filters": filters}) or []

    def remove_network(self, network_id: str) -> None:
        self.call("DELETE", f"{API}/networks/{network_id}", ok=(200, 204, 409))

    def volumes(self, labels: dict) -> list:
        filters = json.dumps({"label": [f"{k}={v}" for k, v in labels.items()]})
        return (self.get("/volumes", {"filters": filters}) or {}).get("Volumes") or []

    def remove_volume(self, name: str) -> None:
        self.call("DELETE", f"{API}/volumes/{urllib.parse.quote(name, safe='')}",
                  ok=(200, 204, 409))


def _api_message(body: bytes) -> str:
    try:
        return json.loads(body).get("message") or body.decode(errors="replace")[:300]
    except (ValueError, AttributeError):
        return body.decode(errors="replace")[:300]


def _demultiplex(body: bytes) -> str:
    """Docker's log stream: 8-byte frame headers unless the container has a TTY."""
    if len(body) < 8 or body[0] not in (0, 1, 2) or body[1:4] != b"\0\0\0":
        return body.decode(errors="replace")
    out, i = [], 0
    while i + 8 <= len(body):
        size = int.from_bytes(body[i + 4:i + 8], "big")
        out.append(body[i + 8:i + 8 + size])
        i += 8 + size
    return b"".join(out).decode(errors="replace")


# --- the compose command -----------------------------------------------------

def compose_command() -> list:
    """`docker compose` when the v2 plugin answers, else `docker-compose`."""
    override = os.environ.get(COMPOSE_ENV, "").strip()
    if override:
        return shlex.split(override)
    if shutil.which("docker"):
        try:
            probe = subprocess.run(["docker", "compose", "version"], capture_output=True,
                                   timeout=30)
            if probe.returncode == 0:
                return ["docker", "compose"]
        except (OSError, subprocess.TimeoutExpired):
            pass
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise BackendError(
        "neither `docker compose` nor `docker-compose` is installed on this node "
        f"(install docker-compose, or set {COMPOSE_ENV})")


# --- the backend ---------------------------------------------------------------

class ComposeBackend(Backend):
    name = "compose"
    config_format = "compose"

    def __init__(self, deployment):
        super().__init__(deployment)
        self.project = deployment.identity.slug
        self.directory = workdir("compose", self.project)
        self.compose_file = os.path.join(self.directory, COMPOSE_FILE)
        self._engine = None
        self._env_files = {}

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = Engine()
        return self._engine

    def owned(self) -> dict:
        """Labels on every container this deployment's project runs."""
        labels = {PROJECT_LABEL: self.project}
        labels.update(self.deployment.labels())
        return labels

    # -- checks before anything runs --

    def check(self, objects: list) -> list:
        compose = objects[0]
        self._env_files = {}
        bundle = _env_files_bundle(self.deployment.inputs.get(ENV_FILES_INPUT))
        for service, spec in compose["services"].items():
            entries = spec.get("env_file")
            if entries is None:
                continue
            entries = entries if isinstance(entries, list) else [entries]
            for index, entry in enumerate(entries):
                path = entry.get("path") if isinstance(entry, dict) else entry
                where = f"config: services.{service}.env_file"
                if not isinstance(path, str) or not path.strip():
                    raise InputError(f"{where}: entry {index + 1} must be a file name")
                relative = os.path.normpath(path)
                if path in self.deployment.inputs and path != ENV_FILES_INPUT:
                    if not ENV_FILE_NAME.match(path) or path in (COMPOSE_FILE, WRITTEN):
                        raise InputError(
                            f"{where}: input name {path!r} cannot be a file name "
                            "(letters, digits, '_', '.', '-')")
                    self._env_files[path] = _env_file_text(
                        f"input {path}", self.deployment.inputs[path], self.deployment.secrets)
                elif relative in bundle:
                    self._env_files[relative] = _env_file_text(
                        f"input {ENV_FILES_INPUT}: {path}", bundle[relative],
                        self.deployment.secrets)
                elif not os.path.isabs(path):
                    raise InputError(
                        f"{where}: {path!r} is not a declared input; name an input that "
                        "holds the env file (KEY=VALUE lines or a map), list it in the "
                        f"{ENV_FILES_INPUT} input, or give an absolute path on the node")
        for output, expression in outputs_stage.expressions(self.deployment).items():
            kind, name, namespace, _ = outputs_stage.parse_reference(output, expression, [])
            name = name if namespace is None else f"{name}.{namespace}"
            if kind.lower() not in OUTPUT_KINDS:
                raise InputError(
                    f"options.outputs.{output}: the compose backend has outputs of kind "
                    f"service or container, not {kind!r}")
            if name not in compose["services"]:
                raise InputError(
                    f"options.outputs.{output}: the compose file has no service {name!r}")
        return []

    # -- actions --

    def apply(self, objects: list, deadline: Deadline) -> Outcome:
        self.check(objects)  # the env files to write (cli ran it too: cheap)
        compose = self._with_labels(objects[0])
        outcome = Outcome()
        if self.engine.is_podman:
            outcome.notes.extend(_podman_healthchecks(compose))
        self._write_project(compose)
        expected = _enabled_services(compose)
        before = self._by_service(self.engine.containers(self.owned()))
        known, may_complete = set(_ids(before)), _completion_dependencies(compose)

        def failed(container):  # a container of this run that died
            service = (container["Config"].get("Labels") or {}).get(SERVICE_LABEL)
            return (container["Id"] not in known and _exited(container) and not (
                service in may_complete and container["State"].get("ExitCode") == 0))

        ran = self._compose(["up", "-d", "--remove-orphans"], deadline,
                            failed=failed, outcome=outcome)
        after = self._by_service(self.engine.containers(self.owned()))
        if not ran:  # still say where each service got to
            now = time.time()
            for service in expected:
                found = after.get(service, [])
                state, _ = _service_state(found, service in may_complete, now)
                outcome.objects.append(ObjectReport(
                    "service", service, action=_action(before.get(service), found),
                    ready=not state, reason=state))
            return outcome
        for service in sorted(set(before) - set(compose["services"])):
            gone = service not in after
            outcome.objects.append(ObjectReport(
                "service", service, action="pruned" if gone else "prune failed"))
            if not gone:
                outcome.ok = False
                outcome.error = f"service {service}: still running after --remove-orphans"
        reports = {}
        for service in expected:
            action = _action(before.get(service), after.get(service))
            reports[service] = ObjectReport("service", service, action=action)
        outcome.objects.extend(reports.values())
        if outcome.ok and self.deployment.options["wait"]:
            self._wait(expected, reports, deadline, outcome, compose)
        return outcome

    def delete(self, deadline: Deadline) -> Outcome:
        outcome = Outcome()
        volumes = self.deployment.options["delete_volumes"]
        before = self._by_service(self.engine.containers(self.owned()))
        project = {PROJECT_LABEL: self.project}
        networks = {n["Id"]: n["Name"] for n in self.engine.networks(project)}
        if os.path.isfile(self.compose_file):
            args = ["down", "--remove-orphans"] + (["-v"] if volumes else [])
            down = Outcome()
            if not self._compose(args, deadline, outcome=down):
                # Not fatal: the sweep below removes what is ours anyway.
                outcome.notes.append(
                    f"compose down failed ({down.error}); removed through the engine API")
        leftovers = self.engine.containers(self.owned())
        for container in leftovers:
            self.engine.remove_container(container["Id"], volumes)
        for network in self.engine.networks(project):
            self.engine.remove_network(network["Id"])
        left = {n["Id"] for n in self.engine.networks(project)}
        for network_id, name in sorted(networks.items(), key=lambda item: item[1]):
            outcome.objects.append(ObjectReport(
                "network", name, action="deleted" if network_id not in left else "still in use"))
        if volumes:
            for volume in self.engine.volumes(project):
                self.engine.remove_volume(volume["Name"])
                outcome.objects.append(ObjectReport("volume", volume["Name"], action="deleted"))
        for service in sorted(before):
            outcome.objects.insert(0, ObjectReport("service", service, action="deleted"))
        remaining = self.engine.containers(self.owned())
        if remaining:
            outcome.ok = False
            outcome.error = "containers still present after delete: " + ", ".join(
                _name(c) for c in remaining)
            return outcome
        if not before:
            outcome.notes.append(f"project {self.project} had no containers: nothing to delete")
        shutil.rmtree(self.directory, ignore_errors=True)
        return outcome

    def suspend(self, deadline: Deadline) -> Outcome:
        outcome = Outcome()
        containers = self.engine.containers(self.owned())
        if not containers:
            outcome.notes.append(f"project {self.project} has no containers: nothing to stop")
            return outcome
        if os.path.isfile(self.compose_file):
            if not self._compose(["stop"], deadline, outcome=outcome):
                return outcome
        else:
            for container in containers:
                self.engine.stop_container(container["Id"])
        for service, found in sorted(self._by_service(
                self.engine.containers(self.owned())).items()):
            running = [c for c in found if c["State"].get("Running")]
            outcome.objects.append(ObjectReport(
                "service", service, action="stopped" if not running else "stop failed"))
            if running:
                outcome.ok = False
                outcome.error = f"service {service}: still running after stop"
        return outcome

    def resume(self, deadline: Deadline) -> Outcome:
        outcome = Outcome()
        if not os.path.isfile(self.compose_file):
            raise BackendError(
                f"nothing to resume: project {self.project} has no compose file in "
                f"{self.directory} (was the deployment ever created on this node?)")
        with open(self.compose_file) as stream:
            compose = yaml.safe_load(stream)
        expected = _enabled_services(compose)
        present = self._by_service(self.engine.containers(self.owned()))
        missing = [s for s in expected if s not in present]
        if missing:
            raise BackendError(
                f"cannot resume: service {', '.join(missing)} has no container in project "
                f"{self.project} (removed by hand?); an UPDATE recreates it")
        if not self._compose(["start"], deadline, outcome=outcome):
            return outcome
        reports = {s: ObjectReport("service", s, action="started") for s in expected}
        outcome.objects.extend(reports.values())
        if self.deployment.options["wait"]:
            self._wait(expected, reports, deadline, outcome, compose)
        return outcome

    def dry_run(self, objects: list, deadline: Deadline) -> Outcome:
        """Check the file with `compose config -q` (in a scratch directory,
        env files included) and say which services `up` would create,
        converge or prune; nothing is written to the project or the engine."""
        self.check(objects)
        compose = self._with_labels(objects[0])
        outcome = Outcome()
        scratch = tempfile.mkdtemp(prefix="heat-compose-dry-run-")
        try:
            os.chmod(scratch, 0o700)
            for name, text in self._env_files.items():
                _write_private(os.path.join(scratch, name), text)
            _write_private(os.path.join(scratch, COMPOSE_FILE), yaml.safe_dump(compose))
            if not self._compose(["config", "-q"], deadline, outcome=outcome,
                                 directory=scratch):
                return outcome
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        present = self._by_service(self.engine.containers(self.owned()))
        for service in _enabled_services(compose):
            action = "would converge" if service in present else "would create"
            outcome.objects.append(ObjectReport("service", service, action=action))
        for service in sorted(set(present) - set(compose["services"])):
            outcome.objects.append(ObjectReport("service", service, action="would prune"))
        return outcome

    def live_object(self, kind: str, name: str, namespace: Optional[str]) -> Optional[dict]:
        kind = kind.lower()
        name = name if namespace is None else f"{name}.{namespace}"  # no namespaces here
        if kind not in OUTPUT_KINDS:
            raise InputError(
                f"the compose backend has outputs of kind service or container, not {kind!r}")
        labels = dict(self.owned(), **{SERVICE_LABEL: name})
        containers = sorted(self.engine.containers(labels), key=_number)
        if not containers:
            return None
        if kind.startswith("container"):
            return containers[0]
        return _service_object(self.project, name, containers)

    # -- helpers --

    def _with_labels(self, compose: dict) -> dict:
        """The compose file with the deployment's ownership labels on every
        service, so cleanup never needs to trust a name alone."""
        compose = dict(compose)
        services = {}
        for name, spec in compose["services"].items():
            spec = dict(spec)
            labels = spec.get("labels") or {}
            if isinstance(labels, list):
                labels = dict(item.split("=", 1) if "=" in item else (item, "")
                              for item in labels)
            elif not isinstance(labels, dict):
                raise InputError(f"config: services.{name}.labels must be a map or a list")
            spec["labels"] = dict(labels, **self.deployment.labels())
            services[name] = spec
        compose["services"] = services
        return compose

    def _write_project(self, compose: dict) -> None:
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            os.chmod(self.directory, 0o700)
            # Remove env files an earlier run wrote and this one does not:
            # only those (listed in WRITTEN), never what containers put here.
            written = os.path.join(self.directory, WRITTEN)
            if os.path.isfile(written):
                with open(written) as stream:
                    for name in json.load(stream):
                        path = os.path.join(self.directory, name)
                        if name not in self._env_files and os.path.isfile(path):
                            os.unlink(path)
            for name, text in self._env_files.items():
                path = os.path.join(self.directory, name)
                os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
                _write_private(path, text)
            _write_private(written, json.dumps(sorted(self._env_files)))
            _write_private(self.compose_file,
                           yaml.safe_dump(compose, default_flow_style=False, sort_keys=False))
        except OSError as exc:
            raise BackendError(
                f"cannot write the compose project to {self.directory} ({exc.strerror}); "
                f"set {WORKDIR_ENV} to a writable directory") from None

    def _compose(self, args: list, deadline: Deadline, outcome: Outcome,
                 failed=None, directory: Optional[str] = None) -> bool:
        """Run one compose command within the deadline. While `up` or `start`
        runs (they wait for healthy dependencies), drive podman healthchecks
        and stop at the first container for which failed(container) holds.
        False (and the outcome failed) on failure."""
        cwd = directory or self.directory
        command = compose_command() + [
            "--ansi", "never", "--project-name", self.project,
            "--project-directory", cwd, "--file", os.path.join(cwd, COMPOSE_FILE), *args]
        health = _HealthDriver(self.engine, deadline)
        with tempfile.TemporaryFile("w+") as output:
            environ = dict(os.environ, DOCKER_HOST=self.engine.host)
            try:
                proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=output,
                                        stderr=subprocess.STDOUT, cwd=cwd,
                                        env=environ, text=True, start_new_session=True)
            except OSError as exc:
                raise BackendError(f"cannot run {command[0]}: {exc.strerror}") from None
            failure = ""
            try:
                while proc.poll() is None:
                    if deadline.expired():
                        failure = (f"timed out after {deadline.seconds:g}s while "
                                   f"`{' '.join(command[:1] + args)}` was running")
                        break
                    if args[0] in ("up", "start"):  # they may wait on a healthy dependency
                        containers = self.engine.containers(self.owned())
                        health.drive(containers)
                        broken = [c for c in containers if failed and failed(c)]
                        if broken:
                            failure = self._failure(broken, outcome)
                            break
                    deadline.sleep(POLL_SECONDS)
            finally:  # also when the hook itself is stopped (SIGTERM) or fails
                if proc.poll() is None:
                    _stop(proc)
            output.seek(0)
            text = output.read()
        if not failure and proc.returncode == 0:
            return True
        outcome.ok = False
        outcome.error = failure or _compose_error(text, args[0], proc.returncode, self.project)
        outcome.diagnostics.append(
            f"{' '.join(command[:1] + args)} output:\n{log_tail(text, OUTPUT_LINES)}")
        return False

    def _by_service(self, containers: list) -> dict:
        found = {}
        for container in containers:
            service = (container["Config"].get("Labels") or {}).get(SERVICE_LABEL)
            if service:
                found.setdefault(service, []).append(container)
        return found

    def _wait(self, expected: list, reports: dict, deadline: Deadline,
              outcome: Outcome, compose: dict) -> None:
        """Until every expected service is running (and healthy where it has
        a healthcheck); fail at once on a container that exited."""
        health = _HealthDriver(self.engine, deadline)
        completed_ok = _completion_dependencies(compose)
        restarts = {}  # container id -> restart count when first seen
        while True:
            by_service = self._by_service(self.engine.containers(self.owned()))
            health.drive([c for found in by_service.values() for c in found])
            waiting, failed = {}, []
            for service in expected:
                containers = by_service.get(service, [])
                state, broken = _service_state(containers, service in completed_ok, time.time())
                for container in containers:
                    count = container.get("RestartCount") or 0
                    if count - restarts.setdefault(container["Id"], count) >= RESTART_LIMIT:
                        broken = container  # a restart policy hides a crash loop
                if broken:
                    failed.append(broken)
                    state = "exited" if _exited(broken) else "restarting"
                if state:
                    waiting[service] = state
                reports[service].ready = not state
                reports[service].reason = state
            if failed:
                outcome.ok = False
                outcome.error = self._failure(failed, outcome)
                return
            if not waiting:
                return
            if deadline.expired():
                outcome.ok = False
                outcome.error = (
                    f"timed out after {deadline.seconds:g}s waiting for "
                    + "; ".join(f"service {s} ({why})" for s, why in waiting.items()))
                for service in waiting:
                    for container in by_service.get(service, []):
                        outcome.diagnostics.append(_health_log(container))
                return
            deadline.sleep(POLL_SECONDS)

    def _failure(self, containers: list, outcome: Outcome) -> str:
        """The error for containers that failed for good: the first to stop
        is named (a dependency that died takes its dependants with it);
        each gets its last log lines in deploy_stderr."""
        containers = sorted(containers, key=lambda c: _timestamp(c["State"].get("FinishedAt")))
        messages = [self._exit_message(c, outcome) for c in containers[:3]]
        return messages[0]

    def _exit_message(self, container: dict, outcome: Outcome) -> str:
        service = (container["Config"].get("Labels") or {}).get(SERVICE_LABEL, "?")
        state = container["State"]
        what = f"exited with code {state.get('ExitCode')}"
        if not _exited(container):
            # (a running container's ExitCode is 0 on podman: not worth a word)
            what = f"keeps restarting ({container.get('RestartCount')} restarts while waiting)"
        logs = log_tail(self.engine.logs(container["Id"]))
        outcome.diagnostics.append(
            f"service {service}: container {_name(container)} {what}; "
            f"last log lines:\n{logs or '(no output)'}")
        last = logs.splitlines()[-1] if logs else "no output"
        return f"service {service}: container {_name(container)} {what} ({last})"


class _HealthDriver:
    """On a podman engine, run each waiting container's healthcheck at its
    interval: podman leaves that to systemd timers, which need systemd."""

    def __init__(self, engine: Engine, deadline: Deadline):
        self.engine = engine
        self.deadline = deadline
        self.last = {}

    def drive(self, containers: list) -> None:
        now = time.monotonic()
        for container in containers:
            health = container["State"].get("Health") or {}
            check = container["Config"].get("Healthcheck") or {}
            if not container["State"].get("Running") or not _has_healthcheck(check):
                continue
            if health.get("Status") == "healthy":
                continue
            interval = (check.get("Interval") or 0) / 1e9 or DEFAULT_HEALTH_INTERVAL
            previous = self.last.get(container["Id"])
            if previous is not None and now - previous < interval:
                continue
            if not self.engine.is_podman:
                return
            if self.deadline.remaining() < 1:
                return
            self.last[container["Id"]] = now
            self.engine.run_healthcheck(container["Id"], self.deadline.remaining())


# --- pure helpers --------------------------------------------------------------

def _env_files_bundle(value) -> dict:
    """heat-agents' `env_files` input ([{file_name, content}], or a map of
    file name -> content) -> {relative path: content}."""
    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list) and all(isinstance(i, dict) for i in value):
        items = [(i.get("file_name"), i.get("content")) for i in value]
    else:
        raise InputError(f"input {ENV_FILES_INPUT}: expected a list of "
                         "{file_name, content} or a map of file name to content")
    bundle = {}
    for name, content in items:
        relative = os.path.normpath(name) if isinstance(name, str) and name else ""
        if (not relative or os.path.isabs(relative) or relative.split(os.sep)[0] == ".."
                or relative in (COMPOSE_FILE, WRITTEN)):
            raise InputError(f"input {ENV_FILES_INPUT}: {name!r} is not a relative file "
                             "name inside the project directory")
        bundle[relative] = content
    return bundle


def _env_file_text(name: str, value, secrets: set) -> str:
    """An input's value as env file text (`name` says where it came from,
    for errors); its values join the secrets."""
    if isinstance(value, dict):
        lines = []
        for key, item in value.items():
            if not isinstance(key, str) or not ENV_KEY.match(key):
                raise InputError(f"{name}: {key!r} is not a valid variable name")
            text = "" if item is None else (
                json.dumps(item) if isinstance(item, (dict, list)) else
                ("true" if item is True else "false" if item is False else str(item)))
            if "\n" in text:
                raise InputError(f"{name}: the value of {key} spans lines; "
                                 "an env file holds one line per variable")
            lines.append(f"{key}={text}")
            if len(text) >= 4:
                secrets.add(text)
        return "\n".join(lines) + "\n"
    if isinstance(value, list):
        value = "\n".join(str(item) for item in value)
    if not isinstance(value, str):
        raise InputError(f"{name}: an env file must be KEY=VALUE lines or a map")
    for line in value.splitlines():
        key, sep, text = line.partition("=")
        if sep and not key.strip().startswith("#") and len(text.strip()) >= 4:
            secrets.add(text.strip())
            secrets.add(text)
    return value if value.endswith("\n") else value + "\n"


def _write_private(path: str, text: str) -> None:
    """Write a 0600 file atomically (never world-readable, even briefly)."""
    directory = os.path.dirname(path)
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w") as stream:
            stream.write(text)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _enabled_services(compose: dict) -> list:
    """Services `up` starts: not behind a profile, not scaled to zero."""
    enabled = []
    for name, spec in compose["services"].items():
        if spec.get("profiles"):
            continue
        replicas = spec.get("scale", (spec.get("deploy") or {}).get("replicas", 1))
        if replicas == 0:
            continue
        enabled.append(name)
    return enabled


def _completion_dependencies(compose: dict) -> set:
    """Services others wait on with condition service_completed_successfully:
    for those, exiting 0 is the goal, not a failure."""
    done = set()
    for spec in compose["services"].values():
        depends = spec.get("depends_on")
        if isinstance(depends, dict):
            for name, rule in depends.items():
                condition = rule.get("condition") if isinstance(rule, dict) else None
                if condition == "service_completed_successfully":
                    done.add(name)
    return done


def _has_healthcheck(check: dict) -> bool:
    test = check.get("Test") or []
    return bool(test) and test[0] != "NONE"


def _exited(container: dict) -> bool:
    state = container["State"]
    return state.get("Status") in ("exited", "dead") and not state.get("Restarting")


def _service_state(containers: list, may_complete: bool, now: float) -> tuple:
    """("" when ready, else why not; a container that failed for good or None)."""
    if not containers:
        return "no container yet", None
    for container in containers:
        state = container["State"]
        if _exited(container):
            if may_complete and state.get("ExitCode") == 0:
                continue
            return "exited", container
        if not state.get("Running") or state.get("Restarting"):
            return f"container {_name(container)} is {state.get('Status')}", None
        if _has_healthcheck(container["Config"].get("Healthcheck") or {}):
            health = (state.get("Health") or {}).get("Status") or "starting"
            if health != "healthy":
                return f"health: {health}", None
        elif now - _started_at(state) < STABLE_SECONDS:
            # No healthcheck: running for a moment is the only evidence
            # (most bad configurations crash at once).
            return "just started", None
    return "", None


def _started_at(state: dict) -> float:
    return _timestamp(state.get("StartedAt"))


def _timestamp(text) -> float:
    """An engine time (RFC 3339, maybe with nanoseconds) as a Unix time."""
    text = text or ""
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", text)
    if not match:
        return 0.0
    stamp = match.group(1) + (match.group(2) or "")[:7] + match.group(3).replace("Z", "+00:00")
    try:
        return datetime.datetime.fromisoformat(stamp).timestamp()
    except ValueError:
        return 0.0


def _podman_healthchecks(compose: dict) -> list:
    """podman's Docker API (podman 4.3 here) joins a CMD healthcheck's
    arguments and splits them again at spaces (podman#26519), so
    ["CMD", "sh", "-c", "a b"] would run `sh -c a`. Such checks are run as
    CMD-SHELL, which keeps them whole; returns notes for deploy_stdout."""
    notes = []
    for name, spec in compose["services"].items():
        check = spec.get("healthcheck")
        test = check.get("test") if isinstance(check, dict) else None
        if (isinstance(test, list) and len(test) > 1 and test[0] == "CMD"
                and any(re.search(r"\s", str(arg)) for arg in test[1:])):
            spec["healthcheck"] = dict(check, test=["CMD-SHELL", shlex.join(map(str, test[1:]))])
            notes.append(f"services.{name}.healthcheck: run as CMD-SHELL, because podman's "
                         "Docker API splits CMD arguments at spaces")
    return notes


def _health_log(container: dict) -> str:
    entries = ((container["State"].get("Health") or {}).get("Log")) or []
    if not entries:
        return f"container {_name(container)}: no healthcheck result yet"
    last = entries[-1]
    return (f"container {_name(container)}: last healthcheck exit code "
            f"{last.get('ExitCode')}: {log_tail(last.get('Output') or '', 5, 500)}")


def _service_object(project: str, service: str, containers: list) -> dict:
    """A service's containers in a Kubernetes-like shape, for outputs."""
    summaries, ports, networks = [], [], {}
    for container in containers:
        state = container["State"]
        attached = (container.get("NetworkSettings") or {}).get("Networks") or {}
        ip = next((n.get("IPAddress") for n in attached.values() if n.get("IPAddress")), "")
        for network, data in attached.items():
            short = network[len(project) + 1:] if network.startswith(project + "_") else network
            networks.setdefault(short, {"ip": data.get("IPAddress", ""),
                                        "name": network,
                                        "aliases": data.get("Aliases") or []})
        health = (state.get("Health") or {}).get("Status") if _has_healthcheck(
            container["Config"].get("Healthcheck") or {}) else "none"
        summaries.append({
            "name": _name(container), "id": container["Id"],
            "state": state.get("Status"), "health": health,
            "exitCode": state.get("ExitCode"), "ip": ip,
            "restartCount": container.get("RestartCount", 0),
        })
        for key, bindings in ((container.get("NetworkSettings") or {}).get("Ports") or {}).items():
            port, _, protocol = key.partition("/")
            for binding in bindings or []:
                ports.append({
                    "containerPort": int(port), "protocol": protocol or "tcp",
                    "hostIP": binding.get("HostIp") or "",
                    "hostPort": int(binding["HostPort"]) if binding.get("HostPort") else None,
                })
    ready = [s for s in summaries if s["state"] == "running" and s["health"] in ("healthy", "none")]
    worst = next((s["health"] for s in summaries if s["health"] not in ("healthy", "none")),
                 summaries[0]["health"])
    return {
        "apiVersion": "compose/v1",
        "kind": "Service",
        "metadata": {"name": service, "project": project,
                     "labels": containers[0]["Config"].get("Labels") or {}},
        "spec": {"image": containers[0]["Config"].get("Image")},
        "status": {
            "phase": "Running" if len(ready) == len(summaries) else "NotReady",
            "ready": len(ready) == len(summaries),
            "health": worst,
            "replicas": len(summaries),
            "readyReplicas": len(ready),
            "podIP": summaries[0]["ip"],
            "podIPs": [{"ip": s["ip"]} for s in summaries if s["ip"]],
            "networks": networks,
            "ports": ports,
            "containers": summaries,
        },
    }


def _name(container: dict) -> str:
    return (container.get("Name") or container["Id"][:12]).lstrip("/")


def _number(container: dict) -> int:
    labels = container["Config"].get("Labels") or {}
    try:
        return int(labels.get("com.docker.compose.container-number", 0))
    except ValueError:
        return 0


def _action(before: Optional[list], after: Optional[list]) -> str:
    """What `up` did to a service, from its container ids before and after."""
    old, new = {c["Id"] for c in before or []}, {c["Id"] for c in after or []}
    if not new:
        return "not created"
    if not old:
        return "created"
    return "configured" if old != new else "unchanged"


def _ids(by_service: dict) -> list:
    return [c["Id"] for found in by_service.values() for c in found]


def _stop(proc: subprocess.Popen) -> None:
    """Stop a compose command we gave up on (its whole process group)."""
    try:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, 9)
        except OSError:
            pass
        proc.wait()


def _compose_error(output: str, command: str, code: int, project: str) -> str:
    """One line for a failed compose command: the per-service errors of
    docker-compose 1.x when present, else compose's last line."""
    errors = {}
    for line in output.splitlines():
        match = COMPOSE_ERROR.match(line.strip())
        if match:
            errors.setdefault(match.group(1), match.group(2).strip())
    # 1.x says each error twice: for the container and for the service.
    services = {k: v for k, v in errors.items() if not k.startswith(project + "_")}
    errors = services or errors
    if errors:
        return "; ".join(f"service {where}: {why}" for where, why in sorted(errors.items()))
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return f"compose {command} failed (exit code {code}): {lines[-1] if lines else 'no output'}"


BACKEND = ComposeBackend
