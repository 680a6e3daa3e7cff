"""The partner registry embedded mode uses: the demo story's systems and organisations.

Embedded mode (``make run``, ``careloop serve --demo``) writes it to
``<data_dir>/partners.json`` when no registry is configured, so the registry is on from the
first run: facts from any other system, or for another organisation, are refused there too.
"""

from __future__ import annotations

import json
from pathlib import Path

from services.settings import Settings

DEMO_PARTNERS = [
    {"system": "riverside-ehr", "organisations": ["riverside-cmhc"],
     "description": "Riverside community mental health centre's EHR (demo)"},
    {"system": "harbor-cases", "organisations": ["harbor-housing"],
     "description": "Harbor housing association's case system (demo)"},
    {"system": "county-cases", "organisations": ["county-benefits"],
     "description": "County benefits advice service's case system (demo)"},
    {"system": "psych-ehr", "organisations": ["riverside-psych"],
     "description": "Riverside psychiatry's EHR (demo)"},
]
DEMO_ORGANISATIONS = {
    "riverside-cmhc": {"treating_provider": True},
    "riverside-psych": {"treating_provider": True},
}
"""More about the demo organisations: the clinical ones are treating providers."""
FILE_NAME = "partners.json"


def write_demo_registry(data_dir: Path) -> Path:
    """Write the demo registry under ``data_dir`` unless one is there (an operator's edits
    to it survive restarts); returns its path."""
    path = data_dir / FILE_NAME
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"partners": DEMO_PARTNERS,
                                    "organisations": DEMO_ORGANISATIONS}, indent=2) + "\n")
    return path


def with_registry(settings: Settings) -> Settings:
    """Settings whose partner registry is set: as configured, or in embedded mode (no
    ``NATS_URL``) the demo registry under the data directory. In production mode (a NATS
    server of its own) an unset registry stays unset, and ingest refuses to start."""
    if settings.partners_file is not None or settings.nats_url:
        return settings
    return settings.model_copy(update={"partners_file": write_demo_registry(settings.data_dir)})
