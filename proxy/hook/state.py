"""What the running proxy shares between hooks: the policy in force and the mode.

A reload builds a complete new Policy first and then swaps one reference, so a request
sees either the old policy or the new one, never half of each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the hook's shared state needs no policy code at import
    from policies.model import Policy


@dataclass
class Runtime:
    policy: Policy
    mode: str = "regular"  # mitmproxy mode spec as given: regular, transparent, upstream:URL, ...

    @property
    def mode_kind(self) -> str:
        """The mode without its arguments (a bounded set, fit for a metrics label)."""
        return self.mode.split(":", 1)[0].split("@", 1)[0] or "regular"
