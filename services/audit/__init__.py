"""The auditor's tools: timeline, as-of, hash chain, accounting of disclosures, rebuild, FHIR export."""
