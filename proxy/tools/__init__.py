"""Operator tools behind CLI commands: `baomi scan` (scan.py), `baomi doctor` (doctor.py).
"""
