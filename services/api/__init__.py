"""What callers read: HTTP and NATS queries, access tokens, and the recording of every read."""
