"""Metrics for Prometheus: the exporter's figures per department, the last apply, drift and
host utilization (``exporter``), served by a bounded event-loop HTTP server (``scrapes``)."""
