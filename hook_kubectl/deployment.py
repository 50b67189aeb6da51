"""Stage 1: the deployment JSON on stdin -> a validated Deployment.

Every error names the field at fault so a stack user can fix the template.
"""

import ast
import dataclasses
import hashlib
import json
import os
import re
from typing import Any

from hook_kubectl.errors import InputError

ACTIONS = ("CREATE", "UPDATE", "DELETE", "SUSPEND", "RESUME")
BACKENDS = ("kubernetes", "podman", "compose")
DEFAULT_BACKEND = "kubernetes"
BACKEND_ENV = "HEAT_KUBECTL_BACKEND"
DEFAULT_TIMEOUT = 300.0
MAX_TIMEOUT = 24 * 3600.0

# Inputs Heat adds to every deployment; never substituted into manifests.
HEAT_INPUT_PREFIX = "deploy_"
# Inputs whose values are credentials: kept out of every message.
SECRET_INPUT = re.compile(r"password|secret|token|credential|private|key$", re.I)

MANAGED_BY = "heat-config-kubectl"
LABEL_PREFIX = "kubectl.heat.openstack.org"

# option name -> (type, default). Types are checked, with the string forms
# that a template parameter may hand over ("300", "true") accepted.
OPTIONS = {
    "backend": (str, None),
    "timeout": (float, DEFAULT_TIMEOUT),
    "namespace": (str, None),
    "kubeconfig": (str, None),
    "context": (str, None),
    "outputs": (dict, {}),
    "wait": (bool, True),
    "dry_run": (bool, False),
    "force_conflicts": (bool, False),
    "delete_volumes": (bool, False),
    "concurrency": (int, 4),
}


@dataclasses.dataclass(frozen=True)
class Identity:
    """The stable identity of a deployment: Heat changes the config id on
    every update, but never the (stack id, resource name) pair."""

    stack_id: str
    resource_name: str

    @property
    def stack_name(self) -> str:
        return self.stack_id.split("/", 1)[0]

    @property
    def key(self) -> str:
        """A short, label-safe digest of the identity."""
        raw = f"{self.stack_id}\n{self.resource_name}".encode()
        return hashlib.sha256(raw).hexdigest()[:20]

    @property
    def slug(self) -> str:
        """A readable, name-safe handle: resource name plus the digest."""
        name = re.sub(r"[^a-z0-9]+", "-", self.resource_name.lower()).strip("-")
        return f"{name[:30] or 'deployment'}-{self.key[:12]}"


@dataclasses.dataclass
class Output:
    name: str
    type: str = "String"
    error_output: bool = False


@dataclasses.dataclass
class Deployment:
    id: str
    name: str
    group: str
    config: Any
    options: dict
    inputs: dict  # declared inputs (not Heat's deploy_*): name -> value
    heat_inputs: dict  # deploy_* inputs
    outputs: list
    action: str
    identity: Identity
    backend: str
    secrets: set = dataclasses.field(default_factory=set)

    @property
    def timeout(self) -> float:
        return self.options["timeout"]

    def labels(self) -> dict:
        """Labels every object the deployment owns carries."""
        return {
            "app.kubernetes.io/managed-by": MANAGED_BY,
            f"{LABEL_PREFIX}/deployment": self.identity.key,
        }

    def annotations(self) -> dict:
        """Human-readable provenance; labels cannot hold these values. Only
        what stays the same across updates: a changing value (the config id)
        would make every UPDATE rewrite every object."""
        return {
            f"{LABEL_PREFIX}/stack-id": self.identity.stack_id,
            f"{LABEL_PREFIX}/resource-name": self.identity.resource_name,
            f"{LABEL_PREFIX}/deployment-name": self.name,
        }


def parse(raw: str, environ=None) -> Deployment:
    """Parse and validate the text the agent piped to the hook."""
    environ = os.environ if environ is None else environ
    if not raw or not raw.strip():
        raise InputError("no deployment on stdin: expected one JSON object")
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise InputError(f"stdin is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(
            f"stdin must be a JSON object (a deployment), got {type(data).__name__}")

    inputs, heat_inputs, secrets = _parse_inputs(data.get("inputs", []))
    outputs = _parse_outputs(data.get("outputs", []))
    options = _parse_options(data.get("options"))
    backend = options["backend"] or environ.get(BACKEND_ENV) or DEFAULT_BACKEND
    if backend not in BACKENDS:
        source = "options.backend" if options["backend"] else BACKEND_ENV
        raise InputError(
            f"{source}: unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")

    action = heat_inputs.get("deploy_action") or "CREATE"
    if not isinstance(action, str) or action.upper() not in ACTIONS:
        raise InputError(
            f"input deploy_action: unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
    action = action.upper()

    identity = Identity(
        stack_id=_required_text(heat_inputs, "deploy_stack_id"),
        resource_name=_required_text(heat_inputs, "deploy_resource_name"),
    )

    config = data.get("config")
    if action != "DELETE" and _is_empty(config):
        raise InputError("config is missing or empty: nothing to deploy")

    return Deployment(
        id=str(data.get("id") or ""),
        name=str(data.get("name") or identity.resource_name),
        group=str(data.get("group") or ""),
        config=config,
        options=options,
        inputs=inputs,
        heat_inputs=heat_inputs,
        outputs=outputs,
        action=action,
        identity=identity,
        backend=backend,
        secrets=secrets,
    )


def declared_outputs(raw: str) -> list:
    """The outputs a deployment declares, read leniently: when the rest of
    the deployment is invalid, Heat still gets one key per output."""
    try:
        data = json.loads(raw)
        return _parse_outputs(data.get("outputs", []))
    except (ValueError, AttributeError, InputError):
        return []


def declared_secrets(raw: str) -> set:
    """The secret input values of a deployment, read leniently: when the rest
    of the deployment is invalid, an error that quotes one must still mask it."""
    try:
        return _parse_inputs(json.loads(raw).get("inputs", []))[2]
    except (ValueError, AttributeError, InputError):
        return set()


def literal(value: Any) -> Any:
    """Read back a value that 55-heat-config str()ed (a list, dict, bool or
    None becomes its Python repr). Only literals are read, never code."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text[:1] in ("[", "{") or text in ("True", "False", "None"):
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            pass
        try:
            return json.loads(text)
        except ValueError:
            pass
    return value


def _is_empty(config) -> bool:
    if config is None:
        return True
    if isinstance(config, str):
        return not config.strip()
    if isinstance(config, (dict, list)):
        return not config
    return False


def _required_text(inputs: dict, name: str) -> str:
    value = inputs.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InputError(
            f"input {name} is missing or empty: Heat adds it to every deployment, "
            "and the hook needs it to know which objects the deployment owns")
    return value.strip()


def _parse_inputs(raw) -> tuple:
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise InputError(f"inputs must be a list, got {type(raw).__name__}")
    inputs, heat_inputs, secrets = {}, {}, set()
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise InputError(f"inputs[{index}] must be an object with name and value")
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise InputError(f"inputs[{index}] has no name")
        value = item.get("value")
        kind = item.get("type") or "String"
        if name.startswith(HEAT_INPUT_PREFIX):
            heat_inputs[name] = value
        else:
            inputs[name] = _typed(name, kind, value)
        if SECRET_INPUT.search(name) and isinstance(value, str) and len(value) >= 4:
            secrets.add(value)
    return inputs, heat_inputs, secrets


def _typed(name: str, kind: str, value):
    """Give an input the type it was declared with."""
    if kind == "Number" and isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                raise InputError(
                    f"input {name}: declared Number but value {value!r} is not a number"
                ) from None
    if kind == "CommaDelimitedList" and isinstance(value, str):
        parsed = literal(value)
        if isinstance(parsed, list):
            return parsed
        return [part.strip() for part in value.split(",")] if value else []
    if kind in ("Json", "Boolean") or (kind == "String" and isinstance(value, str)):
        return literal(value)
    return value


def _parse_outputs(raw) -> list:
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise InputError(f"outputs must be a list, got {type(raw).__name__}")
    outputs = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InputError(f"outputs[{index}] must be an object with a name")
        outputs.append(Output(
            name=item["name"],
            type=item.get("type") or "String",
            error_output=bool(item.get("error_output", False)),
        ))
    return outputs


def _parse_options(raw) -> dict:
    if raw is None or raw == "":
        raw = {}
    raw = literal(raw)
    if not isinstance(raw, dict):
        raise InputError(f"options must be a map, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(OPTIONS))
    if unknown:
        raise InputError(
            f"options.{unknown[0]}: unknown option; known options are "
            f"{', '.join(sorted(OPTIONS))}")
    options = {}
    for name, (kind, default) in OPTIONS.items():
        value = raw.get(name)
        options[name] = default if value is None else _option(name, kind, value)
    if not 0 < options["timeout"] <= MAX_TIMEOUT:
        raise InputError(
            f"options.timeout: must be between 0 and {int(MAX_TIMEOUT)} seconds, "
            f"got {options['timeout']}")
    if not 1 <= options["concurrency"] <= 64:
        raise InputError("options.concurrency: must be between 1 and 64")
    for output, expression in options["outputs"].items():
        if not isinstance(expression, str) or not expression.strip():
            raise InputError(
                f"options.outputs.{output}: must be a string like "
                "'service/web:{.spec.clusterIP}'")
    return options


def _option(name: str, kind, value):
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "yes", "1", "false", "no", "0"):
            return value.strip().lower() in ("true", "yes", "1")
        raise InputError(f"options.{name}: must be true or false, got {value!r}")
    if kind in (int, float):
        if isinstance(value, bool):
            raise InputError(f"options.{name}: must be a number, got {value!r}")
        try:
            number = kind(value)
        except (TypeError, ValueError):
            raise InputError(f"options.{name}: must be a number, got {value!r}") from None
        return number
    if kind is dict:
        value = literal(value)
        if not isinstance(value, dict):
            raise InputError(f"options.{name}: must be a map, got {type(value).__name__}")
        return value
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"options.{name}: must be a non-empty string, got {value!r}")
    return value.strip()
