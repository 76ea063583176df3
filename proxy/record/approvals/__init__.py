"""Transfer applications and approvals kept in the data dir (issue 15 §5).

``model``: the data; ``store``: the log frames and state.json; ``links``: one-time
application links; ``merge``: the policy in force with these approvals added.
"""

from proxy.record.approvals.model import Application, StoredApproval
from proxy.record.approvals.store import ApprovalStore, State, read_state, state_path

__all__ = ["Application", "ApprovalStore", "State", "StoredApproval", "read_state", "state_path"]
