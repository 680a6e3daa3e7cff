"""The shipped compose stack: valid YAML without duplicate keys (a later key silently wins),
every careloop process authenticated to NATS and given the partner registry, and the NATS
nodes reading the generated users and key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


class StrictLoader(yaml.SafeLoader):
    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        keys = [k.value for k, _ in node.value if k.value != "<<"]
        duplicated = {k for k in keys if keys.count(k) > 1}
        assert not duplicated, f"duplicate keys in deploy/compose.yaml: {duplicated}"
        self.flatten_mapping(node)
        return super().construct_mapping(node, deep)


def test_compose_has_no_duplicate_keys_and_every_careloop_process_authenticates() -> None:
    stack = yaml.load((DEPLOY / "compose.yaml").read_text(), Loader=StrictLoader)
    careloop = {name: svc for name, svc in stack["services"].items()
                if name.startswith("careloop-")}
    assert {"careloop-ingest", "careloop-feeds", "careloop-api"} <= set(careloop)
    for name, service in careloop.items():
        env = service["environment"]
        assert env["CARELOOP_NATS_USER"] == "careloop", name
        assert "CARELOOP_NATS_PASSWORD" in env and "CARELOOP_PARTNERS_FILE" in env, name
        mounted = {v.split(":")[1] for v in service.get("volumes", [])}
        assert env["CARELOOP_PARTNERS_FILE"].split(":-")[-1].rstrip("}") in mounted, name
    for n in (1, 2, 3):
        node = stack["services"][f"nats-{n}"]
        assert "./nats/secrets:/etc/nats/secrets:ro" in node["volumes"]
        assert "include ./secrets/nats.authorization.conf" in (
            DEPLOY / "nats" / f"nats-{n}.conf").read_text()
