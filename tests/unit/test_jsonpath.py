import pytest

from hook_kubectl import jsonpath
from hook_kubectl.errors import InputError

SERVICE = {
    "metadata": {"name": "web", "labels": {"app.kubernetes.io/name": "web"}},
    "spec": {"clusterIP": "10.0.0.7", "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}]},
    "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Progressing", "status": "False"}],
               "loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}},
}


@pytest.mark.parametrize("expression,expected", [
    ("{.spec.clusterIP}", ["10.0.0.7"]),
    (".spec.clusterIP", ["10.0.0.7"]),
    ("spec.clusterIP", ["10.0.0.7"]),
    ("{.spec.ports[0].port}", [80]),
    ("{.spec.ports[-1].port}", [443]),
    ("{.spec.ports[*].name}", ["http", "https"]),
    ("{.spec.ports[?(@.name==\"https\")].port}", [443]),
    ("{.spec.ports[?(@.port==80)].name}", ["http"]),
    ("{.status.conditions[?(@.type=='Ready')].status}", ["True"]),
    ("{.status.conditions[?(@.status!='True')].type}", ["Progressing"]),
    ("{.metadata.labels.app\\.kubernetes\\.io/name}", ["web"]),
    ("{.metadata.labels['app.kubernetes.io/name']}", ["web"]),
    ("{.status.loadBalancer.ingress[0].ip}", ["192.0.2.10"]),
    ("{.spec.missing}", []),
    ("{.spec.ports[5]}", []),
    ("{}", [SERVICE]),
])
def test_find(expression, expected):
    assert jsonpath.find(SERVICE, expression) == expected


@pytest.mark.parametrize("expression", ["{.spec[}", "{.spec..x}", "{.a[?(foo)]}"])
def test_bad_expressions_raise_input_errors(expression):
    with pytest.raises(InputError):
        jsonpath.find(SERVICE, expression)
