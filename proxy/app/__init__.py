"""The run-time app: `baomi run` (run.py), live policy reload (reload.py), the policy in force
(state.py), the interception CA (ca.py), keys at rest (keys_at_rest.py).
"""
