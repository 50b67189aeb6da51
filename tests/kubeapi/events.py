"""events.k8s.io/v1 Events are the core v1 Events seen through another shape
(as on a real server: one storage, two APIs)."""

EVENTS_GROUP = "events.k8s.io"


def to_events_v1(core):
    """core/v1 Event -> events.k8s.io/v1 Event."""
    out = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": core.get("metadata", {})}
    source = core.get("source") or {}
    mapping = {"eventTime": core.get("eventTime"),
               "reportingController": core.get("reportingComponent") or source.get("component"),
               "reportingInstance": core.get("reportingInstance") or source.get("host"),
               "action": core.get("action"), "reason": core.get("reason"),
               "regarding": core.get("involvedObject"), "related": core.get("related"),
               "note": core.get("message"), "type": core.get("type"),
               "deprecatedSource": source or None,
               "deprecatedFirstTimestamp": core.get("firstTimestamp"),
               "deprecatedLastTimestamp": core.get("lastTimestamp"),
               "deprecatedCount": core.get("count"), "series": core.get("series")}
    out.update({k: v for k, v in mapping.items() if v not in (None, "", {})})
    return out


def to_core(event):
    """events.k8s.io/v1 Event -> core/v1 Event (for writes through events.k8s.io)."""
    if "regarding" not in event and "note" not in event and "reportingController" not in event:
        return event
    out = {"apiVersion": "v1", "kind": "Event", "metadata": event.get("metadata", {})}
    mapping = {"eventTime": event.get("eventTime"), "reportingComponent": event.get("reportingController"),
               "reportingInstance": event.get("reportingInstance"), "action": event.get("action"),
               "reason": event.get("reason"), "involvedObject": event.get("regarding"),
               "related": event.get("related"), "message": event.get("note"), "type": event.get("type"),
               "source": event.get("deprecatedSource") or (
                   {"component": event["reportingController"]} if event.get("reportingController") else None),
               "firstTimestamp": event.get("deprecatedFirstTimestamp"),
               "lastTimestamp": event.get("deprecatedLastTimestamp"),
               "count": event.get("deprecatedCount"), "series": event.get("series")}
    out.update({k: v for k, v in mapping.items() if v not in (None, "")})
    return out
