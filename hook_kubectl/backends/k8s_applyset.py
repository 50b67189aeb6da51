"""Ownership with the ApplySet standard (KEP-3659).

Each deployment identity (stack id + resource name) has one parent Secret.
Its label applyset.kubernetes.io/id is computed as the KEP specifies:
``applyset-<base64url(sha256(<name>.<namespace>.<kind>.<group>))>-v1``; its
annotations list the group-kinds and extra namespaces of the members, so a
later run (on any controller node: the state is in the cluster) can find
every member by its applyset.kubernetes.io/part-of label and prune it.
"""

import base64
import dataclasses
import hashlib
import json

from hook_kubectl.deployment import LABEL_PREFIX, MANAGED_BY

ID_LABEL = "applyset.kubernetes.io/id"
PART_OF_LABEL = "applyset.kubernetes.io/part-of"
TOOLING_ANNOTATION = "applyset.kubernetes.io/tooling"
GROUP_KINDS_ANNOTATION = "applyset.kubernetes.io/contains-group-kinds"
NAMESPACES_ANNOTATION = "applyset.kubernetes.io/additional-namespaces"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
SUSPENDED_ANNOTATION = f"{LABEL_PREFIX}/suspended"
TOOLING = f"{MANAGED_BY}/v1"
PARENT_PREFIX = "heat-kubectl-"


def applyset_id(name: str, namespace: str, kind: str = "Secret", group: str = "") -> str:
    """The KEP-3659 id of a parent object (GKNN hashed, URL-safe base64)."""
    unencoded = ".".join((name, namespace, kind, group))
    digest = hashlib.sha256(unencoded.encode()).digest()
    return "applyset-{}-v1".format(base64.urlsafe_b64encode(digest).decode().rstrip("="))


def group_kind_text(group: str, kind: str) -> str:
    """`Kind.group` as contains-group-kinds spells it (core kinds: `Kind`)."""
    return f"{kind}.{group}" if group else kind


def parse_group_kind(text: str) -> tuple:
    kind, _, group = text.partition(".")
    return group, kind


@dataclasses.dataclass
class Parent:
    """The parent Secret of one deployment's ApplySet."""

    name: str
    namespace: str
    id: str
    live: dict = None  # the parent as last read or written, None if absent

    @classmethod
    def for_deployment(cls, deployment, namespace: str) -> "Parent":
        name = PARENT_PREFIX + deployment.identity.slug
        return cls(name=name, namespace=namespace, id=applyset_id(name, namespace))

    @property
    def exists(self) -> bool:
        return self.live is not None

    def _annotations(self) -> dict:
        return ((self.live or {}).get("metadata") or {}).get("annotations") or {}

    def group_kinds(self) -> set:
        """(group, kind) pairs the parent says its members have."""
        text = self._annotations().get(GROUP_KINDS_ANNOTATION) or ""
        return {parse_group_kind(part) for part in text.split(",") if part.strip()}

    def namespaces(self) -> set:
        """Every namespace members may live in (the parent's included)."""
        text = self._annotations().get(NAMESPACES_ANNOTATION) or ""
        return {self.namespace} | {part.strip() for part in text.split(",") if part.strip()}

    def suspended(self) -> dict:
        text = self._annotations().get(SUSPENDED_ANNOTATION)
        if not text:
            return {}
        try:
            value = json.loads(text)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def tooling(self) -> str:
        return self._annotations().get(TOOLING_ANNOTATION, "")

    def body(self, deployment, group_kinds: set, namespaces: set, suspended=None) -> dict:
        """The parent Secret to apply (no data: it only carries the marks)."""
        annotations = dict(deployment.annotations())
        # The parent alone records which config was applied last.
        annotations[f"{LABEL_PREFIX}/config-id"] = deployment.id
        annotations[TOOLING_ANNOTATION] = TOOLING
        annotations[GROUP_KINDS_ANNOTATION] = ",".join(
            sorted(group_kind_text(g, k) for g, k in group_kinds))
        annotations[NAMESPACES_ANNOTATION] = ",".join(sorted(set(namespaces) - {self.namespace}))
        if suspended:
            annotations[SUSPENDED_ANNOTATION] = json.dumps(suspended, sort_keys=True)
        labels = dict(deployment.labels())
        labels[ID_LABEL] = self.id
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": self.name, "namespace": self.namespace,
                         "labels": labels, "annotations": annotations},
            "type": "Opaque",
        }


def mark_member(obj: dict, deployment, parent: Parent) -> dict:
    """The object with the deployment's labels, annotations and part-of label."""
    meta = obj["metadata"]
    labels = dict(meta.get("labels") or {})
    labels.update(deployment.labels())
    labels[PART_OF_LABEL] = parent.id
    annotations = dict(meta.get("annotations") or {})
    annotations.update(deployment.annotations())
    meta["labels"] = labels
    meta["annotations"] = annotations
    return obj


def owner_conflict(live: dict, parent: Parent, adopt_unmarked: bool, identity_key: str = None):
    """Why this deployment must not take over a live object, or None."""
    meta = live.get("metadata") or {}
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    part_of = labels.get(PART_OF_LABEL)
    if part_of == parent.id:
        return None
    if identity_key and labels.get(f"{LABEL_PREFIX}/deployment") == identity_key \
            and labels.get(MANAGED_BY_LABEL) == MANAGED_BY:
        return None  # ours, from when the parent lived elsewhere (options.namespace changed)
    if part_of:
        stack = annotations.get(f"{LABEL_PREFIX}/stack-id")
        resource = annotations.get(f"{LABEL_PREFIX}/resource-name")
        if stack and resource:
            return f"it belongs to another deployment ({resource} in stack {stack})"
        return f"it belongs to another ApplySet ({part_of})"
    manager = labels.get(MANAGED_BY_LABEL)
    if manager and manager != MANAGED_BY:
        return f"it is managed by {manager}"
    if adopt_unmarked:
        return None
    return ("it already exists and is not part of this deployment "
            "(set options.force_conflicts: true to adopt it)")
