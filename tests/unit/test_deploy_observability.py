"""Every careloop process of the shipped stacks serves its ops endpoint where Prometheus and
the orchestrator reach it, and is probed on it: Kubernetes readiness on /readyz and liveness
on /livez, compose health on /readyz; the port is never published on the host."""

from __future__ import annotations

from tests.unit.test_deploy_files import careloop_services, env_file, k8s_documents, stack

OPS_PORT = "9464"


def test_kubernetes_probes_every_careloop_process_on_its_ops_port() -> None:
    common = env_file("careloop.env")
    assert (common["CARELOOP_OPS_PORT"], common["CARELOOP_OPS_HOST"]) == (OPS_PORT, "0.0.0.0")
    deployments = [d for d in k8s_documents() if d["kind"] == "Deployment"]
    assert len(deployments) == 7
    for d in deployments:
        template = d["spec"]["template"]
        container = template["spec"]["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports["ops"] == int(OPS_PORT), d["metadata"]["name"]
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "ops"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "ops"}
        assert template["metadata"]["annotations"]["prometheus.io/port"] == OPS_PORT


def test_compose_checks_every_worker_on_readyz_and_never_publishes_the_ops_port() -> None:
    services = careloop_services()
    for name, service in services.items():
        env = service["environment"]
        assert (env["CARELOOP_OPS_PORT"], env["CARELOOP_OPS_HOST"]) == (OPS_PORT, "0.0.0.0")
        check = " ".join(service["healthcheck"]["test"])
        assert ("/readyz" in check) == (name != "careloop-api"), name  # the API: /health
        assert not any(OPS_PORT in str(p) for p in service.get("ports", [])), name
    assert all(OPS_PORT not in str(s.get("ports", "")) for s in stack()["services"].values())
