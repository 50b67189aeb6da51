"""Stage 2: config + inputs -> the list of objects to apply.

Everything is checked here, before any backend touches anything. Declared
inputs are substituted as ``${name}``; ``$VAR``, ``${UNDECLARED}`` and
``$${name}`` (an escaped ``${name}``) are left for the shell or compose.
"""

import base64
import binascii
import copy
import json
import re

import yaml

from hook_kubectl.errors import InputError

PLACEHOLDER = re.compile(r"\$(\$?)\{([A-Za-z_][A-Za-z0-9_.-]*)\}")
# DNS-1123 subdomain, the rule for most object names.
NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def render(deployment, config_format: str = "manifests") -> list:
    """The deployment's objects, inputs substituted and checked."""
    documents = _load(deployment.config)
    documents = [substitute(doc, deployment.inputs) for doc in documents]
    if config_format == "compose":
        return [_compose(documents)]
    objects = []
    for index, doc in enumerate(documents):
        objects.extend(_flatten(doc, f"document {index + 1}"))
    if not objects:
        raise InputError("config holds no objects: nothing to deploy")
    seen = {}
    for where, obj in objects:
        _check_object(obj, where)
        key = object_key(obj)
        if key in seen:
            raise InputError(f"{where}: {describe(obj)} is also {seen[key]}")
        seen[key] = where
    result = [obj for _, obj in objects]
    deployment.secrets.update(secret_values(result))
    return result


def describe(obj: dict) -> str:
    """kind/name (namespace) for messages."""
    meta = obj.get("metadata") or {}
    where = f" in {meta['namespace']}" if meta.get("namespace") else ""
    return f"{obj.get('kind')}/{meta.get('name')}{where}"


def object_key(obj: dict) -> tuple:
    group = obj["apiVersion"].rpartition("/")[0]
    meta = obj["metadata"]
    return (group, obj["kind"], meta.get("namespace") or "", meta["name"])


def secret_values(objects: list) -> set:
    """Values of Secrets (plain and base64) that must never be printed."""
    values = set()
    for obj in objects:
        if obj.get("kind") != "Secret":
            continue
        for value in (obj.get("stringData") or {}).values():
            if isinstance(value, str) and len(value) >= 4:
                values.add(value)
        for value in (obj.get("data") or {}).values():
            if not isinstance(value, str) or len(value) < 4:
                continue
            values.add(value)
            try:
                decoded = base64.b64decode(value, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                continue
            if len(decoded) >= 4:
                values.add(decoded)
    return values


def substitute(value, inputs: dict):
    """Replace ``${name}`` of declared inputs in every string of `value`.

    A string that is exactly one placeholder takes the input's typed value
    (a Number stays a number, a map stays a map); inside longer text the
    value is written as text (JSON for lists and maps)."""
    if isinstance(value, dict):
        return {substitute(k, inputs): substitute(v, inputs) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(item, inputs) for item in value]
    if not isinstance(value, str) or "${" not in value:
        return value
    whole = PLACEHOLDER.fullmatch(value)
    if whole and not whole.group(1) and whole.group(2) in inputs:
        return copy.deepcopy(inputs[whole.group(2)])

    def replace(match):
        escaped, name = match.groups()
        if escaped:
            return "${" + name + "}"
        if name not in inputs:
            return match.group(0)
        return _as_text(inputs[name])

    return PLACEHOLDER.sub(replace, value)


def _as_text(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _load(config) -> list:
    """Config as the agent delivered it -> list of YAML documents."""
    if isinstance(config, (dict, list)):
        return [copy.deepcopy(config)]
    if not isinstance(config, str):
        raise InputError(
            f"config must be YAML text or a map, got {type(config).__name__}")
    try:
        documents = [doc for doc in yaml.safe_load_all(config) if doc is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"config is not valid YAML{where}: {problem}") from None
    if not documents:
        raise InputError("config is missing or empty: nothing to deploy")
    return documents


def _flatten(doc, where: str) -> list:
    """A document, a `kind: List` or a plain YAML list -> (where, object)."""
    if isinstance(doc, list):
        items = doc
    elif isinstance(doc, dict) and str(doc.get("kind", "")).endswith("List"):
        # kind: List, like kubectl also any *List (PodList, ...) with items
        items = doc.get("items")
        if not isinstance(items, list):
            raise InputError(f"{where}: kind List needs a list of items")
    else:
        return [(where, doc)]
    out = []
    for index, item in enumerate(items):
        out.extend(_flatten(item, f"{where} item {index + 1}"))
    return out


def _check_object(obj, where: str) -> None:
    if not isinstance(obj, dict):
        raise InputError(f"{where}: a Kubernetes object must be a map, got {type(obj).__name__}")
    for field in ("apiVersion", "kind"):
        if not isinstance(obj.get(field), str) or not obj[field].strip():
            raise InputError(f"{where}: object has no {field}")
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        raise InputError(f"{where}: {obj['kind']} has no metadata")
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise InputError(f"{where}: {obj['kind']} has no metadata.name")
    if not NAME.match(name):
        raise InputError(
            f"{where}: {obj['kind']} name {name!r} is not a valid name (lower-case "
            "letters, digits, '-' and '.', starting and ending with a letter or digit)")
    for field in ("labels", "annotations"):
        if meta.get(field) is not None and not isinstance(meta[field], dict):
            raise InputError(f"{where}: {describe(obj)} metadata.{field} must be a map")
    namespace = meta.get("namespace")
    if namespace is not None and (not isinstance(namespace, str) or not NAME.match(namespace)):
        raise InputError(f"{where}: {describe(obj)} has an invalid namespace {namespace!r}")


def _compose(documents: list) -> dict:
    if len(documents) != 1 or not isinstance(documents[0], dict):
        raise InputError("config must be one compose file (a map with services)")
    compose = documents[0]
    services = compose.get("services")
    if services is None and compose and all(
            isinstance(v, dict) and ("image" in v or "build" in v) for v in compose.values()):
        # heat-agents' docker-compose hook took the legacy v1 format.
        raise InputError(
            "config: compose file format v1 (services at the top level: "
            f"{', '.join(sorted(compose))}) is not supported: put them under `services:`")
    if not isinstance(services, dict) or not services:
        raise InputError("config: a compose file needs a non-empty `services:` map")
    for name, service in services.items():
        if not isinstance(service, dict):
            raise InputError(f"config: services.{name} must be a map")
        if not service.get("image") and not service.get("build"):
            raise InputError(f"config: services.{name} has no image")
    return compose
