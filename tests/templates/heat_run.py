"""Create (and delete) an example stack the way Heat would, with
hooks/kubectl standing in for each server's agent.

Heat's own code does the work wherever it can run here: the Stack and its
dependency graph (the order), the provider templates' nested stacks, the
SoftwareConfig and SoftwareDeployment resources building the derived config
and inputs (deploy_* included), the software-config service storing configs
and deployments in an in-memory database, producing the metadata a server's
agent reads, and handling the signal (outputs, error_output, status). What
is replaced: the RPC hop to the engine (the same calls, made in-process), the
EC2-signed signal URL (it needs keystone), and the agent itself: the
deployment item goes through 55-heat-config's String sanitising and is piped
to hooks/kubectl; the hook's JSON is the signal. get_attr then reads the
deployment's outputs through Heat's own attribute code, so each deployment
receives what the ones before it returned, exactly as get_attr would.
"""

import contextlib
import copy
import uuid
from unittest import mock

from tests.templates import heat_engine

SIGNAL_URL = "http://127.0.0.1:8000/v1/signal/arn%3Aopenstack%3Aheat%3A%3Atest"


class DeploymentFailed(AssertionError):
    pass


def agent_sanitise(item: dict) -> dict:
    """What 55-heat-config does to a deployment before the hook: String
    inputs whose value is not a str become str(value) (bug 1333992)."""
    item = copy.deepcopy(item)
    for hot_input in item.get("inputs", []):
        if hot_input.get("type") == "String" and not isinstance(hot_input["value"], str):
            hot_input["value"] = str(hot_input["value"])
    return item


class StackRun:
    """One example stack: create() in dependency order, delete() in reverse."""

    def __init__(self, template, env_paths, params, run_hook, hook_env,
                 parameter_defaults=None):
        self.template, self.env_paths = template, env_paths
        self.params = params
        self.parameter_defaults = parameter_defaults or {}
        self.run_hook, self.hook_env = run_hook, hook_env
        self.stacks = {}        # stack id -> Stack (nested ones too)
        self.deployed = []      # (resource, source config, item) in creation order
        self.runs = []          # (resource path, action, deployment item, signal)

    # -- Heat's engine, in-process ------------------------------------------
    @contextlib.contextmanager
    def _engine(self):
        from heat.engine import service_software_config
        from heat.common import identifier
        from heat.engine import resource
        from heat.engine.resources import stack_resource
        from heat.engine.resources.openstack.heat import software_deployment

        service = service_software_config.SoftwareConfigService()
        run = self

        class EngineCalls:
            """The engine RPC calls the resources make, answered in-process."""

            def __getattr__(self, name):
                method = getattr(service, name)
                return lambda ctx, *a, **kw: method(ctx, *a, **kw)

            def show_stack(self, ctx, identity, resolve_outputs=True):
                return [{"outputs": run.outputs(run.stacks[identity["stack_id"]])}]

            def show_output(self, ctx, identity, key):
                (output,) = [o for o in run.outputs(run.stacks[identity["stack_id"]])
                             if o["output_key"] == key]
                return output

            def ignore_error_by_name(self, name):
                return contextlib.nullcontext()

        def nested_identifier(res):
            # Unstored resources have no physical name; the id is enough here.
            if res.resource_id is None:
                return None
            return identifier.HeatIdentifier(
                res.context.project_id, f"{res.stack.name}-{res.name}", res.resource_id)

        calls = EngineCalls()
        with heat_engine.offline(), \
                mock.patch.object(resource.Resource, "rpc_client", lambda self: calls), \
                mock.patch.object(stack_resource.StackResource, "nested_identifier",
                                  nested_identifier), \
                mock.patch.object(software_deployment.SoftwareDeployment,
                                  "_get_ec2_signed_url", lambda self, **kw: SIGNAL_URL):
            self.service = service
            yield

    def _stack(self):
        template, files, env = heat_engine.load(self.template, self.env_paths)
        env.setdefault("parameter_defaults", {}).update(self.parameter_defaults)
        stk = heat_engine.build_stack(template, files, env, self.params,
                                      name="example")
        stk.id = str(uuid.uuid4())
        stk.validate()
        return stk

    # -- create ---------------------------------------------------------------
    def create(self) -> dict:
        """Create every resource in Heat's order; return the stack outputs."""
        with self._engine():
            stk = self._stack()
            self.root = stk
            self._create(stk)
            return {o["output_key"]: o.get("output_value", o.get("output_error"))
                    for o in self.outputs(stk)}

    @staticmethod
    def outputs(stk) -> list:
        """A created stack's outputs, resolved as Heat's show_stack does."""
        from heat.engine import api
        stk._update_all_resource_data(for_resources=False, for_outputs=True)
        return api.format_stack_outputs(stk.outputs, resolve_value=True)

    def _create(self, stk):
        from heat.engine import stk_defn
        from heat.engine.resources import stack_resource
        self.stacks[stk.id] = stk
        for res in stk.dependencies:  # requirements first: Heat's creation order
            if res.stack is not stk:
                continue
            if isinstance(res, stack_resource.StackResource):
                child = heat_engine.nested_stack(res)
                child.id = str(uuid.uuid4())
                res.resource_id = child.id
                self._create(child)
            elif res.type() in heat_engine.CONFIG_TYPES:
                props = dict(res.properties)
                props["name"] = f"{stk.name}-{res.name}"
                res.resource_id = self.service.create_software_config(res.context, **props)["id"]
            elif res.type() == "OS::Heat::SoftwareDeployment":
                self._deploy(res)
            res.action, res.status = res.CREATE, res.COMPLETE
            # What Heat does once a resource is created: later references
            # (get_resource, get_attr) read its data from the definition.
            stk_defn.update_resource_data(stk.defn, res.name, res.node_data())

    def _deploy(self, res):
        source = res._load_config()
        derived_id = res._create_derived_config(res.CREATE, source)
        sd = self.service.create_software_deployment(
            res.context, server_id=res.properties["server"], config_id=derived_id,
            input_values=res.properties["input_values"], action=res.CREATE,
            status="IN_PROGRESS", status_reason="Deploy data available",
            stack_user_project_id=None)
        res.resource_id = sd["id"]
        item = self._metadata_item(res.properties["server"], derived_id)
        signal = self._run(res, "CREATE", item)
        self.service.signal_software_deployment(res.context, sd["id"], signal, None)
        shown = self.service.show_software_deployment(res.context, sd["id"])
        self.deployed.append((res, source))
        if shown["status"] != "COMPLETE":
            raise DeploymentFailed(
                f"{self._path(res)}: {shown['status']}: {shown['status_reason']}\n"
                f"stdout: {signal.get('deploy_stdout')}\nstderr: {signal.get('deploy_stderr')}")

    def _metadata_item(self, server_id, derived_id):
        """The deployment as the server's agent reads it from its metadata."""
        items = self.service.metadata_software_deployments(self.root.context, server_id)
        (item,) = [i for i in items if i["id"] == derived_id]
        return item

    def _run(self, res, action, item):
        item = agent_sanitise(item)
        signal, stderr, code = self.run_hook(item, env=self.hook_env)
        self.runs.append((self._path(res), action, item, signal))
        return signal

    @staticmethod
    def _path(res):
        return f"{res.stack.name}.{res.name}"

    # -- suspend, resume, delete ------------------------------------------------
    def act(self, action) -> list:
        """SUSPEND or DELETE (last created first) or RESUME (first created
        first), as Heat orders them; returns the signals of those that failed."""
        failed = []
        order = self.deployed if action == "RESUME" else list(reversed(self.deployed))
        with self._engine():
            for res, source in order:
                if action not in res.properties["actions"]:
                    continue
                derived_id = res._create_derived_config(action, source)
                item = self.service.show_software_config(res.context, derived_id)
                signal = self._run(res, action, item)
                if signal.get("deploy_status_code") != 0:
                    failed.append((self._path(res), signal))
        return failed

    def delete(self) -> list:
        return self.act("DELETE")

    def signals(self, action="CREATE") -> dict:
        """resource path -> the signal the hook returned."""
        return {path: signal for path, act, _, signal in self.runs if act == action}

    def items(self, action="CREATE") -> dict:
        """resource path -> the deployment item the hook was given."""
        return {path: item for path, act, item, _ in self.runs if act == action}
