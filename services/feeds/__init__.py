"""Partner feeds: each organisation follows its own rendering of its clients."""
