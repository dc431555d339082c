"""``GET /metrics``: what an IT department watches, in Prometheus' text format."""
