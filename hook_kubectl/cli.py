"""The hook's entry point: stdin JSON -> stages -> exactly one JSON on stdout.

Whatever happens (bad input, a backend failure, a bug in the hook, SIGTERM),
one JSON object is printed: 55-heat-config signals Heat with it, and a hook
that prints nothing leaves the deployment hanging until the stack times out.
"""

import logging
import signal
import sys
import time
import traceback

from hook_kubectl import backends, deployment as deployment_stage, outputs, render, result
from hook_kubectl.backends.base import Deadline, Outcome
from hook_kubectl.errors import HookError

LOG = logging.getLogger("heat-config-kubectl")


class _MaskSecrets(logging.Filter):
    """Masks the run's secrets in every message of the hook's log, which
    55-heat-config copies into the node's logs."""

    def __init__(self):
        super().__init__()
        self.secrets = set()  # the deployment's own set: render adds to it

    def filter(self, record):
        if self.secrets:
            record.msg = result.redact(record.getMessage(), self.secrets)
            record.args = None
        return True


_MASK = _MaskSecrets()
LOG.addFilter(_MASK)


class Terminated(Exception):
    """The agent (or an operator) stopped the hook."""


def main(argv=None) -> int:
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO,
        format="[%(asctime)s] (heat-config-kubectl) [%(levelname)s] %(message)s")
    signal.signal(signal.SIGTERM, _terminate)
    raw = ""
    try:
        raw = sys.stdin.read()
        signal_data = run(raw)
    except BaseException as exc:  # the last line of defence: still one JSON
        secrets = _known_secrets(raw)
        sys.stderr.write(result.redact(traceback.format_exc(), secrets))
        reason = "hook terminated by a signal" if isinstance(exc, Terminated) else (
            f"internal error in heat-config-kubectl: {type(exc).__name__}: {exc}")
        signal_data = result.build(deployment_stage.declared_outputs(raw), 1, "", reason,
                                   error=reason, secrets=secrets)
    sys.stdout.write(result.to_json(signal_data) + "\n")
    sys.stdout.flush()
    return 0 if signal_data.get("deploy_status_code") == 0 else 1


def _known_secrets(raw: str) -> set:
    """Secrets of a deployment, found leniently, for masking a crash report:
    what the run had gathered, its credential inputs, its Secrets' data."""
    secrets = set(_MASK.secrets) | deployment_stage.declared_secrets(raw)
    try:
        dep = deployment_stage.parse(raw, {})
        render.render(dep, "manifests")
        secrets |= dep.secrets
    except Exception:  # an invalid deployment: what was found above is all
        pass
    return secrets


def _terminate(signum, frame):
    raise Terminated()


def run(raw: str, environ=None) -> dict:
    """The whole hook as a function: text in, signal data out."""
    started = time.monotonic()
    try:
        dep = deployment_stage.parse(raw, environ)
    except HookError as exc:
        secrets = _MASK.secrets = deployment_stage.declared_secrets(raw)
        LOG.error("%s", exc)
        declared = deployment_stage.declared_outputs(raw)
        return result.build(declared, 1, "", str(exc), error=str(exc), secrets=secrets)

    secrets = _MASK.secrets = dep.secrets
    outcome = None  # kept when an output fails: what ran and the notes still show
    try:
        backend = backends.load(dep.backend)(dep)
        deadline = Deadline(dep.timeout)
        outcome, objects = _act(dep, backend, deadline)
        values = {}
        if outcome.ok and dep.action != "DELETE" and not dep.options["dry_run"]:
            values = outputs.resolve(dep, backend, outcome, objects)
    except HookError as exc:
        LOG.error("%s", exc)
        summary = _summary(dep, outcome, started, failed=str(exc))
        return result.build(dep.outputs, 1, summary, str(exc), error=str(exc), secrets=secrets)

    summary = _summary(dep, outcome, started)
    stderr = "\n".join(outcome.diagnostics)
    if not outcome.ok:
        stderr = "\n".join(p for p in (outcome.error, stderr) if p)
    status = 0 if outcome.ok else 1
    LOG.info("%s %s: %s", dep.action, dep.identity.resource_name, "done" if status == 0 else "FAILED")
    return result.build(dep.outputs, status, summary, stderr, values,
                        error=outcome.error, secrets=secrets)


def _act(dep, backend, deadline) -> tuple:
    """Run the deployment's action on the backend."""
    if dep.action == "DELETE":
        return backend.delete(deadline), []
    if dep.action == "SUSPEND":
        return backend.suspend(deadline), []
    if dep.action == "RESUME":
        return backend.resume(deadline), []
    objects = render.render(dep, backend.config_format)
    if backend.config_format == "manifests":
        outputs.check(dep, objects)
    notes = backend.check(objects)
    if dep.options["dry_run"]:
        outcome = backend.dry_run(objects, deadline)
    else:
        outcome = backend.apply(objects, deadline)
    outcome.notes[:0] = notes
    return outcome, objects


def _summary(dep, outcome: Outcome, started: float, failed: str = "") -> str:
    """deploy_stdout: one line per object, notes, then the time taken."""
    lines = []
    if outcome is not None:
        lines.extend(report.line() for report in outcome.objects)
        lines.extend(f"note: {note}" for note in outcome.notes)
    took = time.monotonic() - started
    verdict = "FAILED" if failed or (outcome and not outcome.ok) else "done"
    lines.append(
        f"{dep.action} {dep.identity.resource_name} (stack {dep.identity.stack_name}) "
        f"on {dep.backend}: {verdict} in {took:.1f}s")
    return "\n".join(lines)
