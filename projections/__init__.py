"""Read models built from careloop's published events: one per audience, rebuildable."""
