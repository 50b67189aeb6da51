"""Every template validates in strict mode with Heat's own engine, with each
environment; Heat's gaps (outputs) are checked too; broken templates fail."""

import os

import pytest
import yaml

from tests.templates.conftest import (
    BROKEN, ENVIRONMENTS, EXAMPLES, TEMPLATES, params_for)

PROVIDERS = ["container-app.yaml", "container-config.yaml",
             "cluster/existing-cluster.yaml", "cluster/single-node.yaml"]


def _validate_all(heat, template, env_paths, params, checked=None):
    """Strict validation of the stack and of every stack nested in it, and
    the outputs check on every template we wrote. Returns the stacks."""
    from tests.templates import output_check

    stk = heat.validate(template, env_paths, params, checked)
    stacks = []
    with heat.offline(checked):
        for child, from_file in heat.walk(stk):
            child.validate()
            if from_file:
                problems = output_check.check_outputs(child, heat.config_outputs)
                assert not problems, f"{child.name}: {problems}"
            stacks.append(child)
    return stacks


@pytest.mark.parametrize("environment", sorted(ENVIRONMENTS))
@pytest.mark.parametrize("example", EXAMPLES, ids=os.path.basename)
def test_example_validates_with_environment(heat, example, environment):
    checked = heat.ConstraintCalls()
    stacks = _validate_all(heat, example, [ENVIRONMENTS[environment]],
                           params_for(example, heat), checked)
    # The stack really was built through the provider templates (not a
    # vacuous pass): every example has at least one kubectl SoftwareConfig.
    configs = [r for s in stacks for r in s.resources.values()
               if r.type() == "OS::Heat::SoftwareConfig"]
    assert configs and all(c.properties["group"] == "kubectl" for c in configs)
    # The server ids went through the nova.server constraint (stubbed).
    assert any(name == "ServerConstraint" for name, _ in checked), checked


@pytest.mark.parametrize("provider", PROVIDERS)
def test_provider_template_validates_alone(heat, provider):
    path = os.path.join(TEMPLATES, provider)
    _validate_all(heat, path, [], params_for(path, heat))


def _hook_options(heat, example, environment):
    """{resource path: options} of every kubectl config, as Heat resolves them."""
    stacks = _validate_all(heat, example, [ENVIRONMENTS[environment]], params_for(example, heat))
    return {s.name: r.properties["options"] for s in stacks for r in s.resources.values()
            if r.type() == "OS::Heat::SoftwareConfig"}


def test_environments_switch_the_backend_of_the_same_template(heat):
    example = os.path.join(TEMPLATES, "examples", "single-service.yaml")
    cluster = _hook_options(heat, example, "cluster")
    single = _hook_options(heat, example, "single-node")
    assert set(cluster) == set(single) == {"validate-web-config"}
    assert cluster["validate-web-config"]["backend"] == "kubernetes"
    assert cluster["validate-web-config"]["kubeconfig"] == "/etc/kubernetes/admin.conf"
    assert single["validate-web-config"]["backend"] == "podman"
    # Unused on one node: left out (null) so the hook uses its default.
    assert single["validate-web-config"]["kubeconfig"] is None
    # Nothing else differs.
    for key in ("backend", "kubeconfig"):
        cluster["validate-web-config"].pop(key)
        single["validate-web-config"].pop(key)
    assert cluster == single


def test_controller_cluster_resource_follows_the_environment(heat):
    example = os.path.join(TEMPLATES, "examples", "controller-cluster.yaml")
    cluster = _hook_options(heat, example, "cluster")
    single = _hook_options(heat, example, "single-node")
    # On a cluster the controller's kubeconfig is checked by its own deployment.
    assert cluster["validate-cluster-check-config"]["backend"] == "kubernetes"
    assert "validate-cluster-check-config" not in single
    assert set(single) == {"validate-web-config"}


def test_environments_remap_only_what_differs():
    with open(ENVIRONMENTS["cluster"]) as f:
        cluster = yaml.safe_load(f)
    with open(ENVIRONMENTS["single-node"]) as f:
        single = yaml.safe_load(f)
    assert set(cluster) == set(single) == {"resource_registry", "parameter_defaults"}
    differing = {k for k in set(cluster["resource_registry"]) | set(single["resource_registry"])
                 if cluster["resource_registry"].get(k) != single["resource_registry"].get(k)}
    assert differing == {"OS::Kubectl::Cluster"}
    assert cluster["parameter_defaults"] == {
        "backend": "kubernetes", "kubeconfig": "/etc/kubernetes/admin.conf"}
    assert single["parameter_defaults"] == {"backend": "podman"}


def _expected(path):
    with open(path) as f:
        first = f.readline()
    assert first.startswith("# expect: "), f"{path} must start with '# expect: <message>'"
    return first[len("# expect: "):].strip()


@pytest.mark.parametrize("broken", BROKEN, ids=os.path.basename)
def test_broken_template_fails_with_expected_message(heat, broken):
    expected = _expected(broken)
    params = {k: v for k, v in params_for(broken, heat).items()}
    with pytest.raises(Exception) as caught:
        _validate_all(heat, broken, [ENVIRONMENTS["single-node"]], params)
    assert expected in str(caught.value), f"{type(caught.value).__name__}: {caught.value}"


def test_group_applies_one_config_to_every_server_one_at_a_time(heat):
    """node-group.yaml with three servers: Heat builds one deployment per
    server, all of the same config, and its rolling update policy updates
    them one batch (one server) at a time."""
    from heat.engine.resources.openstack.heat import resource_group

    example = os.path.join(TEMPLATES, "examples", "node-group.yaml")
    servers = {f"node-{i}": f"5a1e0c3b-0000-4000-8000-00000000000{i}" for i in range(3)}
    params = dict(params_for(example, heat), servers=servers)
    stacks = _validate_all(heat, example, [ENVIRONMENTS["single-node"]], params)
    top = stacks[0]
    group = top["agents"]
    policy = group.update_policy["rolling_update"]
    assert (policy["max_batch_size"], policy["pause_time"]) == (1, 5)
    members = [s for s in stacks if s.name == "validate-agents"]
    assert len(members) == 1
    deployments = {r.name: r for r in members[0].resources.values()}
    assert set(deployments) == set(servers)
    assert {name: r.properties["server"] for name, r in deployments.items()} == servers
    assert all(r.type() == "OS::Heat::SoftwareDeployment" for r in deployments.values())
    assert len({repr(r.t._properties["config"]) for r in deployments.values()}) == 1
    batches = list(resource_group.ResourceGroup._get_batches(3, 3, 1, 0))
    assert [total for _, total in batches] == [1, 1, 1]


def test_tripleo_steps_are_ordered(heat):
    """tripleo-role.yaml: step 2 depends on step 1 on every server."""
    example = os.path.join(TEMPLATES, "examples", "tripleo-role.yaml")
    stacks = _validate_all(heat, example, [ENVIRONMENTS["cluster"]], params_for(example, heat))
    top = stacks[0]
    order = [r.name for r in top.dependencies]
    assert order.index("step1_logging") < order.index("step2_metrics")
    assert order.index("collector") < order.index("step1_logging")
    required = set(top["step2_metrics"].t.required_resource_names())
    assert {"step1_logging", "collector", "service_config"} <= required


@pytest.mark.parametrize("example", EXAMPLES, ids=os.path.basename)
def test_every_example_has_a_launch_command_in_the_readme(example):
    root = os.path.dirname(TEMPLATES)
    with open(os.path.join(root, "README.md")) as f:
        text = f.read().replace("\\\n", " ")
    commands = [line for line in text.splitlines() if line.startswith("openstack stack create")]
    relative = os.path.relpath(example, os.path.dirname(TEMPLATES))
    assert any(f"-t {relative} " in line and "-e templates/environments/" in line
               for line in commands), f"no launch command for {relative} in README.md"
