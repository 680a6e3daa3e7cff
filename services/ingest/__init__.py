"""The ingest process: consumes partners' inbound messages from JetStream and answers each with a receipt."""
