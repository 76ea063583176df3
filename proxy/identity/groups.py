"""Directory groups from a YAML file, for sites without LDAP:

    groups:
      payroll: [alice, bob]
      sales: [carol]

    GroupsDirectory(Path("groups.yaml")).groups_of("Alice") -> frozenset({"payroll"})

User names compare case-insensitively (as the policy's sources do). The file is re-read when it
changes, so removing a member takes effect on the next request; a broken file raises
IdentityUnavailable (on_error) rather than silently dropping everyone's groups.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from proxy.identity.watched import WatchedFile


def parse_groups(text: str) -> dict[str, frozenset[str]]:
    """group -> casefolded member names."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ValueError(f"{where}not valid YAML") from None
    groups = data.get("groups") if isinstance(data, dict) and set(data) == {"groups"} else None
    if not isinstance(groups, dict):
        # A bad file's content, not a caller's bug: ValueError, like the YAML error above.
        raise ValueError("expected a mapping 'groups: {group: [user, ...]}' and nothing else")  # noqa: TRY004
    result: dict[str, frozenset[str]] = {}
    for name, members in groups.items():
        if not isinstance(name, str) or not isinstance(members, list) \
                or not all(isinstance(m, str) for m in members):
            raise ValueError(f"group {str(name)!r}: expected a list of user names")
        result[name] = frozenset(m.casefold() for m in members)
    return result


class GroupsDirectory:
    def __init__(self, path: Path):
        self.file = WatchedFile(path, parse_groups)

    def groups_of(self, user: str) -> frozenset[str]:
        folded = user.casefold()
        return frozenset(g for g, members in self.file.get().items() if folded in members)
