"""The outbox relay process: publishes stored events to JetStream in store order."""
