"""Metrics for Prometheus: the exporter's figures per department, the last apply, drift and
host utilization (``exporter``), the cloud read for them a department at a time (``cloud``),
rendered in a child process (``children``) and served by a bounded event-loop HTTP server
(``scrapes``)."""
