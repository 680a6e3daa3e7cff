"""The people of the sample story, for embedded mode's local web sign-in.

They match the demo's partner messages: the social worker and coordinator of the custodian
(riverside-cmhc), the housing advocate on the client's team, a benefits advocate who is not,
a psychiatrist who is not on the team (so may only break the glass), and an auditor.
"""

from __future__ import annotations

from services.api.access_tokens import Caller

DEMO_PEOPLE = (
    Caller("co-5001", "coordinator", "riverside-cmhc"),
    Caller("sw-1042", "clinical-social-worker", "riverside-cmhc"),
    Caller("psy-3307", "psychiatrist", "riverside-cmhc"),
    Caller("ha-207", "housing-advocate", "harbor-housing"),
    Caller("ba-88", "benefits-advocate", "county-benefits"),
    Caller("au-1", "auditor", "riverside-cmhc"),
)
