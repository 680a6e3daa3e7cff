"""NATS plumbing: the embedded server, connections, streams, permissions, fetch and publish helpers."""
