"""What to tell a user when objects are not ready: reasons, Warning events
for each object and its pods, and the last lines of the failing container's
log. Everything is bounded so deploy_stderr stays readable and small."""

import logging

from hook_kubectl.backends import k8s_readiness as readiness

LOG = logging.getLogger("heat-config-kubectl")

MAX_EVENTS = 5  # per object
LOG_LINES = 20
MAX_LOG_CHARS = 2000
MAX_OBJECTS = 20
MAX_PODS = 5  # per object, looked at for a failing container's log


def explain(connection, not_ready: list, related) -> list:
    """Diagnostic lines for [(ref, live object or None, Status)]."""
    lines = []
    events_by_namespace = {}
    for ref, live, verdict in not_ready[:MAX_OBJECTS]:
        if verdict.failed:  # its reason already leads deploy_stderr
            lines.append(f"{ref}: failed")
        else:
            lines.append(f"{ref}: {verdict.state}: {verdict.reason or 'not ready'}")
        if live is None:
            continue
        try:
            lines.extend(_object_details(connection, live, related, events_by_namespace))
        except Exception as exc:  # diagnostics must never hide the failure itself
            LOG.info("could not gather diagnostics for %s: %s", ref, exc)
    if len(not_ready) > MAX_OBJECTS:
        lines.append(f"... and {len(not_ready) - MAX_OBJECTS} more objects not ready")
    return lines


def _object_details(connection, live, related, events_by_namespace) -> list:
    meta = live.get("metadata") or {}
    namespace = meta.get("namespace")
    pods = [] if live.get("kind") == "Pod" else related.pods_of(live)
    subjects = [live] + pods
    lines = []
    if namespace:
        if namespace not in events_by_namespace:
            events_by_namespace[namespace] = _warning_events(connection, namespace)
        uids = {(s.get("metadata") or {}).get("uid") for s in subjects} - {None}
        keys = {(s.get("kind"), (s.get("metadata") or {}).get("name")) for s in subjects}
        mine = [e for e in events_by_namespace[namespace]
                if (e.get("involvedObject") or {}).get("uid") in uids
                or ((e.get("involvedObject") or {}).get("kind"),
                    (e.get("involvedObject") or {}).get("name")) in keys]
        for event in mine[-MAX_EVENTS:]:
            involved = event.get("involvedObject") or {}
            count = event.get("count") or 1
            lines.append(
                f"  event Warning {event.get('reason')} on {involved.get('kind')}/{involved.get('name')}"
                f"{' (x' + str(count) + ')' if count > 1 else ''}: {(event.get('message') or '').strip()[:300]}")
    for pod in ([live] if live.get("kind") == "Pod" else pods[:MAX_PODS]):
        log = _failing_container_log(connection, pod)
        if log:
            lines.append(log)
            break  # one log is enough to see why; more would drown it
    return lines


def _warning_events(connection, namespace: str) -> list:
    resource = connection.resource("v1", "Event")
    if resource is None:
        return []
    items = connection.list(resource, namespace=namespace).get("items") or []
    warnings = [e for e in items if e.get("type") == "Warning"]
    warnings.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    return warnings


def _failing_container_log(connection, pod: dict):
    """The tail of the log of a container that crashed or exited in error."""
    meta = pod.get("metadata") or {}
    status = pod.get("status") or {}
    for container in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        state = container.get("state") or {}
        waiting = (state.get("waiting") or {}).get("reason")
        terminated = state.get("terminated") or {}
        crashed = waiting == "CrashLoopBackOff" or (terminated and terminated.get("exitCode", 0) != 0)
        if not crashed:
            continue
        # After a crash the useful log is the previous instance's.
        query = [("container", container.get("name")), ("tailLines", LOG_LINES)]
        for previous in (True, False):
            try:
                text = connection.raw_get(
                    f"/api/v1/namespaces/{meta.get('namespace')}/pods/{meta.get('name')}/log",
                    query + ([("previous", "true")] if previous else []))
            except Exception:  # an old instance may have no log; try the current one
                continue
            text = text.strip()
            if text:
                if len(text) > MAX_LOG_CHARS:
                    text = "..." + text[-MAX_LOG_CHARS:]
                body = "\n".join("    " + line for line in text.splitlines()[-LOG_LINES:])
                return f"  last log lines of pod {meta.get('name')} container {container.get('name')}:\n{body}"
    return None


def not_ready_summary(statuses: dict) -> list:
    """[(ref, status)] of everything not ready, failures first."""
    bad = [(ref, st) for ref, st in statuses.items() if not st.ready]
    bad.sort(key=lambda item: item[1].state != readiness.FAILED)
    return bad
