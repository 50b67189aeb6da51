"""Deployments as Heat puts them in a server's metadata, per signal transport."""


from tests.conftest import make_deployment

TRANSPORTS = ("CFN_SIGNAL", "TEMP_URL_SIGNAL", "HEAT_SIGNAL", "ZAQAR_SIGNAL", "NO_SIGNAL")
PASSWORD = "p4ss-never-in-output-9c1e"
PROJECT_ID = "fedcba9876543210fedcba9876543210"
USER_ID = "0123456789abcdef0123456789abcdef"
STACK_ID = "overcloud-Node-abc123/4f0d9e1c-2a3b-4c5d-8e9f-0a1b2c3d4e5f"


def transport_inputs(heat, transport, key):
    """The deploy_* inputs Heat adds for `transport` (key makes URLs unique)."""
    inputs = [{"name": "deploy_signal_transport", "type": "String", "value": transport}]
    if transport == "CFN_SIGNAL":
        inputs.append({"name": "deploy_signal_id", "type": "String", "value": heat.cfn_url(key)})
    elif transport == "TEMP_URL_SIGNAL":
        inputs += [
            {"name": "deploy_signal_id", "type": "String", "value": heat.temp_url(key)},
            {"name": "deploy_signal_verb", "type": "String", "value": "PUT"},
        ]
    elif transport in ("HEAT_SIGNAL", "ZAQAR_SIGNAL"):
        inputs += [
            {"name": "deploy_auth_url", "type": "String", "value": heat.auth_url},
            {"name": "deploy_username", "type": "String", "value": f"{key}-user"},
            {"name": "deploy_user_id", "type": "String", "value": USER_ID},
            {"name": "deploy_password", "type": "String", "value": PASSWORD},
            {"name": "deploy_project_id", "type": "String", "value": PROJECT_ID},
        ]
        if transport == "ZAQAR_SIGNAL":
            inputs.append({"name": "deploy_queue_id", "type": "String", "value": f"queue-{key}"})
    elif transport != "NO_SIGNAL":
        raise ValueError(transport)
    return inputs


def deployment(heat, transport, config, *, config_id, stack_id=STACK_ID,
               resource_name="AppDeployment",
               action="CREATE", options=None, inputs=None, outputs=None, name=None):
    """One metadata item, as Heat writes it and 55-heat-config reads it."""
    dep = make_deployment(config, action=action, options=options, inputs=inputs,
                          outputs=outputs, stack_id=stack_id,
                          resource_name=resource_name, config_id=config_id)
    dep["inputs"] = [i for i in dep["inputs"] if i["name"] != "deploy_signal_transport"]
    dep["inputs"] += transport_inputs(heat, transport, config_id)
    if name:
        dep["name"] = name
    return dep


def signal_data(request):
    """The signal Heat got, whatever the transport carried it in."""
    body = request.json()
    if request.path.startswith("/zaqar/"):
        (message,) = body["messages"]
        return message["body"]
    return body


def expected_path(heat, transport, dep):
    """Where Heat must receive this deployment's signal."""
    key = dep["id"]
    if transport == "CFN_SIGNAL":
        return heat.cfn_url(key)[len(heat.url):]
    if transport == "TEMP_URL_SIGNAL":
        return heat.temp_url(key)[len(heat.url):]
    if transport == "HEAT_SIGNAL":
        return (f"/heat/v1/{PROJECT_ID}/stacks/{_input(dep, 'deploy_stack_id')}/resources/"
                f"{_input(dep, 'deploy_resource_name')}/signal")
    if transport == "ZAQAR_SIGNAL":
        return f"/zaqar/v1.1/queues/queue-{key}/messages"
    raise ValueError(transport)


def _input(dep, name):
    return next(i["value"] for i in dep["inputs"] if i["name"] == name)
