"""FHIR security labels, attached to sensitive facts the moment they are recorded.

Views decide what crosses to whom from these labels and the client's consents; the domain
only states what the data is. Labels are stored as plain dicts on events:
``{"confidentiality": "R", "sensitivity": ["PSY"], "law": []}``.
"""

from __future__ import annotations

from typing import Any

# Confidentiality (HL7 v3 Confidentiality)
NORMAL, RESTRICTED, VERY_RESTRICTED = "N", "R", "V"

# Sensitivity (HL7 v3 ActCode / InformationSensitivityPolicy)
PSY = "PSY"  # psychiatric
PSYTHPN = "PSYTHPN"  # psychotherapy note
ETH = "ETH"  # substance abuse information
SUD = "SUD"  # substance use disorder information
SDV = "SDV"  # sexual and domestic violence
HIV = "HIV"

PART2 = "42CFRPart2"

SecurityLabels = dict[str, Any]


def labels(confidentiality: str = NORMAL, *sensitivity: str, law: tuple[str, ...] = ()) -> SecurityLabels:
    return {"confidentiality": confidentiality, "sensitivity": sorted(set(sensitivity)),
            "law": list(law)}


UNLABELLED = labels()
PSYCHIATRIC = labels(RESTRICTED, PSY)
PSYCHOTHERAPY_NOTE = labels(VERY_RESTRICTED, PSYTHPN)
SUBSTANCE_USE = labels(RESTRICTED, ETH, SUD, law=(PART2,))
DOMESTIC_VIOLENCE = labels(VERY_RESTRICTED, SDV)
