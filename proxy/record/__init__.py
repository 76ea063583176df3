"""Recording: one DecisionRecord per request (decisions.py, built by build.py), the
decision log, and the encrypted, tamper-evident incident store (incidents/).
"""
