"""Health that tells the truth: what each component reports, and what /health concludes."""
