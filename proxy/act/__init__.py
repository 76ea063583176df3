"""Acting on a decision, without mitmproxy: what a refused client is told (refusal.py, refusal_text.py).
"""
