"""The one small interface every backend implements.

A backend gets a validated Deployment and the rendered objects, does the work,
waits (readiness is the backend's own business: it knows its world), and
returns an Outcome. It never prints; it never signals. It raises HookError for
failures a user can act on before or instead of an Outcome.
"""

import abc
import dataclasses
import os
import time
from typing import Optional

from hook_kubectl.deployment import Deployment
from hook_kubectl.errors import BackendError


WORKDIR_ENV = "HEAT_KUBECTL_WORKDIR"
DEFAULT_WORKDIR = "/var/lib/heat-config-kubectl"
LOG_LINES = 20  # of a failing container's log, in deploy_stderr
LOG_CHARS = 3000


def workdir(backend: str, name: str) -> str:
    """Where a single-node backend keeps one deployment's files."""
    root = os.environ.get(WORKDIR_ENV) or DEFAULT_WORKDIR
    return os.path.join(root, backend, name)


def log_tail(text: str, lines: int = LOG_LINES, chars: int = LOG_CHARS) -> str:
    """The last `lines` lines of `text` (long lines cut), at most `chars`."""
    kept = [line[:300] for line in (text or "").strip().splitlines()[-lines:]]
    return "\n".join(kept)[-chars:]


class Deadline:
    """One deadline for the whole run: every wait draws from it."""

    def __init__(self, seconds: float, clock=time.monotonic):
        self._clock = clock
        self.seconds = seconds
        self.started = clock()
        self.at = self.started + seconds

    def remaining(self) -> float:
        return max(0.0, self.at - self._clock())

    def expired(self) -> bool:
        return self._clock() >= self.at

    def elapsed(self) -> float:
        return self._clock() - self.started

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, min(seconds, self.remaining())))


@dataclasses.dataclass
class ObjectReport:
    """What happened to one object: one line of deploy_stdout."""

    kind: str
    name: str
    namespace: Optional[str] = None
    action: str = ""  # created, configured, unchanged, deleted, pruned, stopped, started
    ready: Optional[bool] = None  # None: readiness does not apply (e.g. deleted)
    reason: str = ""  # why not ready, or a detail worth a user's eye

    @property
    def ref(self) -> str:
        where = f" in {self.namespace}" if self.namespace else ""
        return f"{self.kind}/{self.name}{where}"

    def line(self) -> str:
        state = {True: "ready", False: "NOT READY", None: ""}[self.ready]
        parts = [p for p in (self.action, state) if p]
        text = f"{self.ref}: {', '.join(parts) or 'no change'}"
        return f"{text} ({self.reason})" if self.reason else text


@dataclasses.dataclass
class Outcome:
    """The backend's answer. ok is False when anything is not ready or failed."""

    objects: list = dataclasses.field(default_factory=list)  # [ObjectReport]
    ok: bool = True
    notes: list = dataclasses.field(default_factory=list)  # deploy_stdout extras
    diagnostics: list = dataclasses.field(default_factory=list)  # deploy_stderr text
    error: str = ""  # one-line reason when not ok


class Backend(abc.ABC):
    """Implemented once per backend module (kubernetes, podman, compose)."""

    name = ""
    # "manifests": Kubernetes objects; "compose": one compose file.
    config_format = "manifests"

    def __init__(self, deployment: Deployment):
        self.deployment = deployment

    def check(self, objects: list) -> list:
        """Refuse what this backend cannot run, before anything runs (raise
        HookError); return notes on what it will honour only in part."""
        return []

    @abc.abstractmethod
    def apply(self, objects: list, deadline: Deadline) -> Outcome:
        """CREATE/UPDATE: converge the deployment's objects to `objects`,
        removing what it owns and `objects` no longer has, then wait."""

    @abc.abstractmethod
    def delete(self, deadline: Deadline) -> Outcome:
        """DELETE: remove everything the deployment owns and nothing else.
        Deleting what is already gone is a success."""

    @abc.abstractmethod
    def suspend(self, deadline: Deadline) -> Outcome:
        """SUSPEND: stop the workload, keep what is needed to resume it."""

    @abc.abstractmethod
    def resume(self, deadline: Deadline) -> Outcome:
        """RESUME: start what SUSPEND stopped, then wait until ready."""

    def dry_run(self, objects: list, deadline: Deadline) -> Outcome:
        """options.dry_run: say what apply would change, change nothing."""
        raise BackendError(f"options.dry_run: the {self.name} backend has no dry run")

    @abc.abstractmethod
    def live_object(self, kind: str, name: str, namespace: Optional[str]) -> Optional[dict]:
        """The live state of one object, in Kubernetes' shape, for outputs."""
