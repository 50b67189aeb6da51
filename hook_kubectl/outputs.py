"""Stage 5: declared outputs resolved from live objects.

``options.outputs`` maps an output name to ``kind/name[.namespace]:{jsonpath}``,
for example ``service/web.demo:{.spec.clusterIP}``. Three outputs need no
expression: ``applied`` (the objects applied, as kind/namespace/name),
``result`` (each object's state) and ``outputs`` (every named output as one
map: a Heat provider template cannot expose attributes whose names vary, so
templates/container-app.yaml hands this map on).
"""

from hook_kubectl import jsonpath, render
from hook_kubectl.errors import HookError, InputError


def parse_reference(output: str, expression: str, objects: list) -> tuple:
    """'kind/name[.namespace]:{path}' -> (kind, name, namespace, path)."""
    target, sep, path = expression.partition(":")
    kind, slash, name = target.strip().partition("/")
    if not sep or not slash or not kind or not name or not path.strip():
        raise InputError(
            f"options.outputs.{output}: {expression!r} is not "
            "'kind/name[.namespace]:{.json.path}'")
    jsonpath.parse(path)  # fail on a bad path now, not after deploying
    namespace = None
    # Kubernetes objects only (a compose backend's object is one compose file).
    known = {(o["kind"].lower(), o["metadata"]["name"]) for o in objects
             if isinstance(o.get("kind"), str) and isinstance(o.get("metadata"), dict)}
    if (kind.lower(), name) not in known and "." in name:
        # Object names may hold dots, namespaces never: prefer a manifest name.
        name, namespace = name.rsplit(".", 1)
    return kind, name, namespace, path.strip()


def expressions(deployment) -> dict:
    """options.outputs with declared inputs substituted (${name}), as in the
    manifests, so an expression names the object the manifests named."""
    substituted = {}
    for output, expression in deployment.options["outputs"].items():
        value = render.substitute(expression, deployment.inputs)
        substituted[output] = value if isinstance(value, str) else expression
    return substituted


def check(deployment, objects: list) -> None:
    """Validate every output expression before anything is deployed."""
    for output, expression in expressions(deployment).items():
        parse_reference(output, expression, objects)


def resolve(deployment, backend, outcome, objects: list) -> dict:
    """Values for the declared outputs that have an expression or are built in.
    Raises HookError naming the output that matched nothing."""
    values = {}
    declared = {o.name for o in deployment.outputs if not o.error_output}
    for output, expression in expressions(deployment).items():
        kind, name, namespace, path = parse_reference(output, expression, objects)
        live = backend.live_object(kind, name, namespace)
        if live is None:
            raise HookError(
                f"output {output}: {kind}/{name} not found on the {backend.name} backend")
        found = jsonpath.find(live, path)
        if not found:
            raise HookError(f"output {output}: {path} matches nothing in {kind}/{name}")
        values[output] = found[0] if len(found) == 1 else found
    if "applied" in declared and "applied" not in values:
        values["applied"] = [
            "/".join(p for p in (r.kind, r.namespace, r.name) if p)
            for r in outcome.objects]
    if "result" in declared and "result" not in values:
        values["result"] = {r.ref: (r.line().split(": ", 1)[1]) for r in outcome.objects}
    if "outputs" in declared and "outputs" not in values:
        values["outputs"] = {name: values[name] for name in deployment.options["outputs"]}
    return values
