"""careloop in FHIR R4: the care plan rendered from a role's view, and FHIR referrals in.

The export is a pure renderer of whatever the caller's role view holds (policy stays in the
views); the inbound side translates SDOH Clinical Care referrals into the native contract
messages, so the same rules and receipts apply.
"""
