"""Collecting resources into one validated Bundle whose every reference resolves.

Section renderers add resources and link them freely; a link to something this caller's
view does not hold (a goal's need an advocate cannot see) is then dropped, never left
dangling, so a reference neither fails to resolve nor hints at what was left out. The
whole Bundle is validated with ``fhir.resources`` before it leaves; careloop speaks FHIR R4
and the package's R4B models are R4 for every resource used here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from services.fhir.codes import CARELOOP, Labels, is_restricted, merge_labels, security

Resource = dict[str, Any]


class BundleBuilder:
    """The resources of one export, keyed ``Type/id`` (the first of a duplicate wins)."""

    def __init__(self) -> None:
        self.resources: dict[str, Resource] = {}
        self.labels: list[Labels] = []

    def add(self, resource: Resource, labels: Labels | None = None,
            redacted: bool = False) -> str:
        """Add ``resource``; restricted labels go to its ``meta.security``."""
        key = f"{resource['resourceType']}/{resource['id']}"
        if key in self.resources:
            return key
        codes = security(labels, redacted) if (is_restricted(labels) or redacted) else []
        if codes:
            resource["meta"] = {**resource.get("meta", {}), "security": codes}
            self.labels.append(labels or {})
        self.resources[key] = resource
        return key

    def has(self, resource_type: str, resource_id: str) -> bool:
        return f"{resource_type}/{resource_id}" in self.resources

    def bundle(self, bundle_id: str, timestamp: str | None = None) -> Resource:
        for resource in self.resources.values():
            _prune(resource, set(self.resources))
        entries = [{"fullUrl": f"{CARELOOP}/{key}", "resource": resource}
                   for key, resource in self.resources.items()]
        out: Resource = {
            "resourceType": "Bundle", "id": bundle_id, "type": "collection",
            "timestamp": timestamp or datetime.now(UTC).isoformat(), "entry": entries}
        overall = merge_labels(*self.labels)
        if overall is not None:  # the Bundle carries the high-water mark of its contents
            out["meta"] = {"security": security(overall)}
        validated = Bundle.model_validate(out)  # raises on anything FHIR R4 forbids
        dumped: Resource = json.loads(validated.model_dump_json(exclude_none=True))
        return dumped


def references(value: Any) -> Iterator[str]:
    """Every literal ``reference`` string inside a resource (or a whole Bundle)."""
    if isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str):
            yield ref
        for v in value.values():
            yield from references(v)
    elif isinstance(value, list):
        for v in value:
            yield from references(v)


def unresolved(bundle: Resource) -> list[str]:
    """References of a Bundle that no entry's ``fullUrl`` answers (relative to CARELOOP)."""
    urls = {e["fullUrl"] for e in bundle.get("entry") or ()}
    return [r for e in bundle.get("entry") or () for r in references(e["resource"])
            if f"{CARELOOP}/{r}" not in urls and r not in urls]


def _dangling(value: Any, present: set[str]) -> bool:
    return isinstance(value, dict) and isinstance(value.get("reference"), str) and (
        value["reference"] not in present)


def _prune(value: Any, present: set[str]) -> None:
    if isinstance(value, dict):
        for key in list(value):
            item = value[key]
            if _dangling(item, present):
                del value[key]
                continue
            if isinstance(item, list):
                kept = [v for v in item if not _dangling(v, present)]
                for v in kept:
                    _prune(v, present)
                kept = [v for v in kept if v not in ({}, [])]
                if kept:
                    value[key] = kept
                else:
                    del value[key]
            else:
                _prune(item, present)
                if item == {}:
                    del value[key]
