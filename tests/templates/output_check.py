"""Checks Heat's validation misses: the outputs section.

Heat validates a template's outputs only partly: a get_param of a parameter
that does not exist, a misspelt function name (then the output is a plain
map) or a get_attr of an attribute the resource will never have all pass
`stack validate` and fail (or silently return the wrong thing) only after
the stack was created. This walks every output with Heat's own parsed stack.
"""

import re

from heat.engine.hot import functions as hot_funcs
from heat.engine.hot import template as hot_template

# Every function name any HOT version knows, and what an intended (but
# misspelt) function looks like: a single-key map such as {get_atr: ...}.
_ALL_FUNCTIONS = set()
for _cls in vars(hot_template).values():
    if isinstance(_cls, type) and hasattr(_cls, "functions"):
        _ALL_FUNCTIONS.update(_cls.functions)
_LOOKS_LIKE_FUNCTION = re.compile(
    r"^(Fn::|Ref$|get_|str_|list_|map_|yaql$|repeat$|digest$|if$|equals$|not$|"
    r"and$|or$|contains$|filter$|make_url$|resource_facade$)")

SOFTWARE_DEPLOYMENT = "OS::Heat::SoftwareDeployment"
SOFTWARE_DEPLOYMENT_GROUP = "OS::Heat::SoftwareDeploymentGroup"
DEPLOYMENT_ATTRIBUTES = {"deploy_stdout", "deploy_stderr", "deploy_status_code"}
GROUP_ATTRIBUTES = {"deploy_stdouts", "deploy_stderrs", "deploy_status_codes"}


def check_outputs(stk, declared_outputs) -> list:
    """Problems in `stk`'s outputs, as 'outputs.NAME: message' strings.

    `declared_outputs(stk, resource)` returns the output names a
    SoftwareDeployment (or group) resource's config declares."""
    problems = []
    functions = stk.t.functions
    for name, snippet in (stk.t.t.get("outputs") or {}).items():
        if not isinstance(snippet, dict) or "value" not in snippet:
            problems.append(f"outputs.{name}: has no value")
            continue
        for path, key, args in _calls(snippet["value"], f"outputs.{name}.value"):
            problems.extend(_check_call(stk, functions, path, key, args, declared_outputs))
    return problems


def _calls(value, path):
    """(path, key, args) of every single-key map under value."""
    if isinstance(value, dict):
        if len(value) == 1:
            (key, args), = value.items()
            yield path, key, args
        for key, item in value.items():
            yield from _calls(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _calls(item, f"{path}[{index}]")


def _check_call(stk, functions, path, key, args, declared_outputs):
    if key not in functions or functions[key] in (hot_funcs.Removed,):
        if key in functions or key in _ALL_FUNCTIONS or _LOOKS_LIKE_FUNCTION.match(key):
            known = ", ".join(sorted(k for k, f in functions.items() if f is not hot_funcs.Removed))
            return [f"{path}: {key!r} is not a function of heat_template_version "
                    f"{stk.t.version[1]} (known: {known})"]
        return []
    if key == "get_param":
        param = args[0] if isinstance(args, list) and args else args
        if isinstance(param, str) and param not in stk.parameters:
            return [f"{path}: get_param {param!r}: no such parameter"]
    if key == "get_resource" and isinstance(args, str) and args not in stk.t[stk.t.RESOURCES]:
        return [f"{path}: get_resource {args!r}: no such resource"]
    if key == "get_attr" and isinstance(args, list) and args and isinstance(args[0], str):
        return _check_get_attr(stk, path, args, declared_outputs)
    return []


def _check_get_attr(stk, path, args, declared_outputs):
    resource_name = args[0]
    if resource_name not in stk.t[stk.t.RESOURCES]:
        return [f"{path}: get_attr {resource_name!r}: no such resource"]
    if len(args) < 2 or not isinstance(args[1], str):
        return []
    attribute = args[1]
    res = stk[resource_name]
    if res.type() in (SOFTWARE_DEPLOYMENT, SOFTWARE_DEPLOYMENT_GROUP):
        known = set(declared_outputs(stk, res))
        known |= GROUP_ATTRIBUTES if res.type() == SOFTWARE_DEPLOYMENT_GROUP else DEPLOYMENT_ATTRIBUTES
    else:
        known = set(res.attributes_schema)
    if attribute not in known:
        return [f"{path}: get_attr {resource_name!r} has no attribute {attribute!r} "
                f"(it has: {', '.join(sorted(known))})"]
    return []
