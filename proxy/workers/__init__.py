"""Off the event loop: detector worker processes (pool.py) running extract + detect (inspection.py).
"""
