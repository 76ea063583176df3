"""`baomi doctor`'s look at the policy's identity configuration.

    identity_checks(policy.identity, now=time.time())
      -> [("identity-htpasswd", "OK", "/etc/baomi/htpasswd: 12 user(s), mode 0640", ""),
          ("identity-ipmap", "FAIL", "/var/lib/baomi/ipmap.txt is 9 h old (max_age 8 h) ...", "...")]

Each result is (check name, OK|WARN|FAIL, message, fix); ``proxy.tools.doctor`` prints them. Nothing
here prints a password or a password hash.
"""

from __future__ import annotations

import stat
from pathlib import Path

from policies.model import IdentitySettings
from proxy.errors import IdentityUnavailable
from proxy.identity.groups import GroupsDirectory
from proxy.identity.htpasswd import Htpasswd
from proxy.identity.ipmap import IpMap

Result = tuple[str, str, str, str]


def identity_checks(settings: IdentitySettings | None, now: float) -> list[Result]:
    if settings is None:
        return []
    results: list[Result] = []
    auth = settings.proxyauth
    if auth is not None and auth.htpasswd is not None:
        results.append(check_htpasswd(auth.htpasswd))
    if auth is not None and auth.ldap is not None:
        results += check_ldap(auth.ldap)
    if settings.header is not None:
        results.append(check_header(settings))
    if settings.ipmap is not None:
        results.append(check_ipmap(IpMap(settings.ipmap), settings.ipmap.max_age_seconds, now))
    if settings.groups_file is not None:
        results.append(check_groups(settings.groups_file))
    return results


def check_htpasswd(path: Path) -> Result:
    name = "identity-htpasswd"
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        users = Htpasswd(path)
        count = len(users.file.get())
        problems = users.problems()
    except (OSError, IdentityUnavailable) as e:
        return (name, "FAIL", f"{path}: {_why(e)}", "create it with `htpasswd -B FILE USER`")
    if mode & stat.S_IROTH or mode & stat.S_IWOTH:
        return (name, "FAIL", f"{path} is mode {mode:04o}: anyone on the host can read the hashes",
                f"chmod 0640 {path} (owner root, group of the baomi user)")
    if problems:
        return (name, "WARN", "; ".join(problems),
                f"set those passwords again with `htpasswd -B {path} USER`")
    return (name, "OK", f"{path}: {count} user(s), mode {mode:04o}", "")


def check_ldap(settings) -> list[Result]:
    from proxy.identity.ldap import LdapDirectory  # ldap3 only where LDAP is configured

    try:
        problems = LdapDirectory(settings).check()
    except IdentityUnavailable as e:
        problems = [str(e)]
    if problems:
        return [("identity-ldap", "FAIL", p, "see policies/REFERENCE.md, identity.proxyauth.ldap")
                for p in problems]
    return [("identity-ldap", "OK",
             f"{settings.url}: service account binds, TLS verified, bases found", "")]


def check_header(settings: IdentitySettings) -> Result:
    header = settings.header
    assert header is not None
    wide = [str(n) for n in header.trusted if n.prefixlen == 0]
    if wide:
        return ("identity-header", "FAIL",
                f"{header.name} is trusted from {', '.join(wide)}: any client can name any user",
                "list only the upstream proxies' addresses in identity.header.trusted_cidrs")
    return ("identity-header", "OK",
            f"{header.name} trusted from {', '.join(str(n) for n in header.trusted)}", "")


def check_ipmap(ipmap: IpMap, max_age: float, now: float) -> Result:
    name, path = "identity-ipmap", ipmap.settings.file
    try:
        count = len(ipmap.file.get())
        age = ipmap.age(now)
    except IdentityUnavailable as e:
        return (name, "FAIL", str(e), "point identity.ipmap.file at the DHCP/AD export")
    if age > max_age:
        stale = (f"{path} is {_hours(age)} old (max_age_seconds {max_age:g}): every mapping "
                 "has expired and every client is unauthenticated")
        return (name, "FAIL", stale, "check the job that exports the DHCP leases / AD logons")
    return (name, "OK", f"{path}: {count} mapping(s), {_hours(age)} old", "")


def check_groups(path: Path) -> Result:
    try:
        groups = GroupsDirectory(path).file.get()
    except IdentityUnavailable as e:
        return ("identity-groups", "FAIL", str(e),
                "expected YAML 'groups: {group: [user, ...]}'")
    return ("identity-groups", "OK", f"{path}: {len(groups)} group(s)", "")


def _why(error: Exception) -> str:
    return getattr(error, "strerror", None) or str(error)


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{max(seconds, 0):.0f} s"
