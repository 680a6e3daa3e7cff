"""What an operator sees of a running careloop: Prometheus metrics, OpenTelemetry traces,
the HTTP access log and each process's liveness and readiness (docs/operations.md)."""
