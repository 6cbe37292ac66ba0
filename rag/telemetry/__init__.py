"""What an operator watches: Prometheus metrics (`metrics`), OpenTelemetry traces (`tracing`) and
JSON logs (`logs`)."""
