"""Where careloop keeps things: the event store, the view store, encryption at rest, transcodings."""
