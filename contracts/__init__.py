"""Public contracts: what team systems may send careloop and what careloop sends back."""
