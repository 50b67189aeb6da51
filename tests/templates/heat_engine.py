"""Heat's own engine, in-process and offline, to validate our templates.

The templates go through the same steps as `openstack stack create`:
heatclient's template_utils gathers the files (get_file, nested template
types, the environments' resource_registry) and Heat's template_format
parses the template; then Heat builds a Stack and validates it in strict
mode (what `stack create` does before creating anything).

Only two things need a cloud, and both are replaced here: the keystone
catalog lookup that tells whether a resource type's service exists, and the
custom constraints that ask a cloud API (nova.server, glance.image, ...)
whether a value exists. Everything else is Heat's real code. Learned from
heat/tests/utils.py (dummy context, sqlite database), not copied.
"""

import contextlib
import json
import os
import threading
from unittest import mock

_setup_lock = threading.Lock()
_ready = False


def setup():
    """Configure oslo.config, an in-memory database and Heat's plugins once."""
    global _ready
    with _setup_lock:
        if _ready:
            return
        from oslo_config import cfg
        from oslo_db import options as db_options
        from heat.common import config  # noqa: F401 (registers Heat's options)
        from heat.db import api as db_api
        from heat.db import models
        from heat.engine import resources

        cfg.CONF([], project="heat", default_config_files=[], default_config_dirs=[])
        db_options.set_defaults(cfg.CONF, connection="sqlite://")
        engine = db_api.get_engine()
        models.BASE.metadata.create_all(engine)
        resources.initialise()
        _ready = True


def _context():
    from heat.common import context
    return context.RequestContext.from_dict({
        "tenant_id": "test_tenant_id", "tenant": "test_tenant",
        "username": "test_user", "user_id": "test_user_id", "password": "",
        "roles": [], "is_admin": False, "auth_url": "http://127.0.0.1:5000/v3",
        "auth_token": "offline", "region_name": None,
    })


def _as_text(files: dict) -> dict:
    """template_utils may hand back bytes; Heat expects str contents."""
    return {url: content.decode("utf-8") if isinstance(content, bytes) else content
            for url, content in files.items()}


def load(template_path, env_paths=()):
    """(template dict, files, environment dict) as the CLI sends them."""
    from heat.common import template_format
    from heatclient.common import template_utils

    setup()
    files, processed = template_utils.get_template_contents(
        template_file=os.path.abspath(template_path))
    env_files, env = template_utils.process_multiple_environments_and_files(
        env_paths=[os.path.abspath(p) for p in env_paths])
    files = dict(files)
    files.update(env_files)
    # The API parses what the client sent with Heat's own parser.
    template = template_format.parse(json.dumps(processed))
    return template, _as_text(files), env


class ConstraintCalls(list):
    """The (constraint name, value) pairs that a cloud API would have checked."""


@contextlib.contextmanager
def offline(checked: ConstraintCalls = None):
    """Stub the two cloud lookups; record every custom constraint consulted."""
    from heat.engine import constraints, resource

    def service_available(cls, context):
        return True, None

    def constraint_validate(self, value, context, *args, **kwargs):
        if checked is not None:
            checked.append((type(self).__name__, value))
        return True

    with mock.patch.object(resource.Resource, "is_service_available",
                           classmethod(service_available)), \
            mock.patch.object(constraints.BaseCustomConstraint, "validate",
                              constraint_validate):
        yield


def build_stack(template, files, env, params=None, name="validate"):
    """A Heat Stack (not stored) for the template, files and environment."""
    from heat.engine import environment, stack, template as heat_template

    setup()
    env = json.loads(json.dumps(env))  # Heat mutates what it is given
    if params:
        env.setdefault("parameters", {}).update(params)
    tmpl = heat_template.Template(template, files=files,
                                  env=environment.Environment(env))
    return stack.Stack(_context(), name, tmpl, strict_validate=True)


def validate(template_path, env_paths=(), params=None, checked=None):
    """Validate like `openstack stack create` would; raises Heat's error."""
    template, files, env = load(template_path, env_paths)
    with offline(checked):
        stk = build_stack(template, files, env, params)
        stk.validate()
    return stk


def nested_stack(res):
    """The nested stack of a provider template or group resource, built the
    way Heat builds it, to be validated strictly where its parameters are
    known (Heat itself validates every nested stack with strict_validate
    off)."""
    child = res._parse_nested_stack(
        f"{res.stack.name}-{res.name}", res.child_template(), res.child_params())
    # A property that comes from another resource (get_attr) has no value
    # before that resource exists: Heat cannot check it, nor can we.
    child.strict_validate = res.stack.strict_validate and not any(
        True for _ in res.t.required_resource_names())
    return child


def walk(stk, from_file=True):
    """(stack, from_file) for `stk` and every stack nested in it. from_file
    is False for stacks Heat generates itself (a group's members)."""
    from heat.engine.resources import stack_resource, template_resource

    yield stk, from_file
    for name in sorted(stk.t[stk.t.RESOURCES]):
        res = stk[name]
        if isinstance(res, stack_resource.StackResource):
            child_from_file = isinstance(res, template_resource.TemplateResource)
            yield from walk(nested_stack(res), child_from_file)


CONFIG_TYPES = ("OS::Heat::SoftwareConfig", "OS::Heat::StructuredConfig")


def config_outputs(stk, deployment) -> list:
    """Names of the outputs the config of a (group) deployment declares."""
    ref = stk.t.t["resources"][deployment.name]["properties"]["config"]
    (function, args), = ref.items()
    source = stk[args if function == "get_resource" else args[0]]
    if source.type() in CONFIG_TYPES:
        configs = [source]
    else:  # a provider template (OS::Kubectl::ContainerConfig)
        child = nested_stack(source)
        configs = [r for r in child.resources.values() if r.type() in CONFIG_TYPES]
    return [o["name"] for c in configs for o in c.properties["outputs"] or []]
