"""Observability: Prometheus metrics (metrics.py), /healthz /readyz /proxy.pac (health.py, pac.py).
"""
