"""Version 1 of careloop's public contracts. Additive changes only; breaking ones go to v2."""
