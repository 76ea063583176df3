"""LDAP as the proxy's password check and group source (ldap3 is synchronous: call from a thread).

    directory = LdapDirectory(policy.identity.proxyauth.ldap)
    directory.authenticate("alice", "s3cret")  # Identity("alice", {"payroll", "staff"}, "ldap")
    directory.authenticate("alice", "wrong")   # None (also: empty password, unknown, disabled)
    directory.groups("alice")                  # frozenset({"payroll", "staff"}), cached
    directory.check()                          # [] or ["cannot reach LDAP at ...", ...] (doctor)

Every authentication looks the user up as the service account (the single entry matching
user_filter and not disabled_filter, with its groups from memberOf and/or a group search), so a
disabled or deleted account is refused at once and a new authentication carries today's groups.
The password itself is proven by a bind as that entry on a connection of its own.
All connections are TLS (ldaps:// or StartTLS) verified against ca_file. LDAP that cannot answer
(unreachable, TLS not verified, timeout, service bind refused, missing base) raises
IdentityUnavailable: the caller applies the policy's on_error, never "allow".

What is kept (each entry at most cache_seconds, 0 = nothing):
- ``groups(user)`` answers (for users found by header or IP map, and long-lived tunnels): a user
  removed from a group or disabled loses it at the latest cache_seconds later;
- proven passwords, as an HMAC of DN and password under a per-process random key (never the
  password): a password changed in LDAP still works here for at most cache_seconds;
- the service account's connection, so a lookup is one round trip rather than a handshake.
Refusals are never cached.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import re
import ssl
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import ldap3
from ldap3.core.exceptions import LDAPException, LDAPInvalidFilterError
from ldap3.operation.search import parse_filter
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import parse_dn

from policies.model import LdapSettings
from proxy.errors import IdentityUnavailable
from proxy.identity import Identity

MAX_NAME = 256  # longer user names are refused before LDAP is asked
MAX_PASSWORD = 1024
MAX_CACHED = 10_000  # per cache; the oldest entries go first
# Bind results that mean "not this user with this password" (others: LDAP could not answer).
REFUSED = {48, 49, 50, 53}  # inappropriateAuthentication, invalidCredentials, insufficient..., unwilling
SUCCESS, SIZE_LIMIT_EXCEEDED, NO_SUCH_OBJECT = 0, 4, 32
UNVERIFIED = re.compile(r"certificate verify failed: ([^(']+)")


class Secret:
    """A password that never shows itself: repr and str are '***'.

    >>> Secret("s3cret")
    ***
    """

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "***"

    __str__ = __repr__


class VerifiedTls(ldap3.Tls):
    """ldap3's Tls, but the handshake is verified by Python's ssl module.

    ldap3 2.9 checks host names with its own backport of match_hostname, which refuses IP
    addresses (ldaps://10.0.0.5 would never verify); the standard library's check_hostname
    handles names and IP SANs, and CERT_NONE cannot be configured at all.
    """

    def __init__(self, host: str, ca_file: Path | None):
        super().__init__(validate=ssl.CERT_REQUIRED)
        self.context = ssl.create_default_context(cafile=None if ca_file is None else ca_file)
        self.host = host

    def wrap_socket(self, connection, do_handshake=False):
        connection.socket = self.context.wrap_socket(
            connection.socket, server_hostname=self.host, do_handshake_on_connect=do_handshake)


class TtlCache[K, V]:
    """A bounded map whose entries vanish ``seconds`` after they were put (thread-safe)."""

    def __init__(self, seconds: float, clock: Callable[[], float]):
        self.seconds, self.clock = seconds, clock
        self.entries: dict[K, tuple[float, V]] = {}
        self.lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self.lock:
            hit = self.entries.get(key)
            if hit is None:
                return None
            if self.clock() >= hit[0]:
                del self.entries[key]
                return None
            return hit[1]

    def put(self, key: K, value: V) -> None:
        if self.seconds <= 0:
            return
        with self.lock:
            self.entries.pop(key, None)
            if len(self.entries) >= MAX_CACHED:
                del self.entries[next(iter(self.entries))]  # the oldest put
            self.entries[key] = (self.clock() + self.seconds, value)


class ConnectionLost(IdentityUnavailable):
    """No LDAP answer on this connection (refused, closed, timed out, TLS failed)."""


class KeptConnection:
    """The service account's connection, kept open between lookups, one lookup at a time.

    A kept connection the server has closed meanwhile (restart, idle timeout) is replaced once;
    if the new one fails too, that failure stands. A lookup that cannot get its turn within
    ``wait_seconds`` (LDAP hanging under the one before) fails rather than piling up threads.
    """

    def __init__(self, connect: Callable[[], ldap3.Connection], wait_seconds: float):
        self.connect, self.wait_seconds = connect, wait_seconds
        self.conn: ldap3.Connection | None = None
        self.lock = threading.Lock()

    def run[T](self, work: Callable[[ldap3.Connection], T]) -> T:
        if not self.lock.acquire(timeout=self.wait_seconds):
            raise IdentityUnavailable(f"LDAP lookups waited over {self.wait_seconds:g} s "
                                      "for the one before")
        try:
            if self.conn is not None:
                try:
                    return self._attempt(work)
                except ConnectionLost:
                    pass  # a stale connection: one more try on a new one
            self.conn = self.connect()
            return self._attempt(work)
        finally:
            self.lock.release()

    def _attempt[T](self, work: Callable[[ldap3.Connection], T]) -> T:
        try:
            return work(self.conn)
        except BaseException:
            self._drop()  # after a failure its state is unknown: the next lookup reconnects
            raise

    def close(self) -> None:
        with self.lock:
            self._drop()

    def _drop(self) -> None:
        _close(self.conn)
        self.conn = None


class LdapDirectory:
    """Users and groups in an LDAP directory; see the module docstring."""

    def __init__(self, settings: LdapSettings, clock: Callable[[], float] = time.monotonic):
        self.settings = settings
        url = urlsplit(settings.url)
        if url.scheme == "ldap" and not settings.starttls:
            raise IdentityUnavailable(f"{settings.url}: plain ldap:// without starttls would "
                                      "send passwords in clear")
        self.host, self.use_ssl = url.hostname or "", url.scheme == "ldaps"
        self.port = url.port or (636 if self.use_ssl else 389)
        # ldap3 packs the receive timeout into SO_RCVTIMEO as whole seconds.
        self.receive_timeout = max(1, math.ceil(settings.timeout_seconds))
        self.key = os.urandom(32)
        self.group_cache: TtlCache[str, frozenset[str]] = TtlCache(settings.cache_seconds, clock)
        self.proven: TtlCache[bytes, bool] = TtlCache(settings.cache_seconds, clock)
        # A lookup takes a few round trips, each bounded by timeout_seconds.
        self.lookups = KeptConnection(self._connect, wait_seconds=3 * settings.timeout_seconds)

    def close(self) -> None:
        """Close the kept service connection (a replaced directory should be closed)."""
        self.lookups.close()

    # -- the interface -----------------------------------------------------------------------

    def authenticate(self, user: str, password: str) -> Identity | None:
        """The user's Identity if LDAP accepts the password; None for any refusal.

        An empty password is refused here: LDAP reads it as an unauthenticated bind that
        "succeeds" (RFC 4513 5.1.2).
        """
        if not acceptable(user, MAX_NAME) or not acceptable(password, MAX_PASSWORD):
            return None
        found = self.lookups.run(lambda conn: self._find(conn, user))
        if found is None:
            return None
        dn, groups = found
        proof = hmac.new(self.key, f"{dn}\0{password}".encode(), hashlib.sha256).digest()
        if self.proven.get(proof) is None:
            if not self._password_accepted(dn, Secret(password)):
                return None
            self.proven.put(proof, True)
        self.group_cache.put(user, groups)
        return Identity(user=user, groups=groups, method="ldap")

    def groups(self, user: str) -> frozenset[str]:
        """The user's group names; empty for unknown or disabled users (cached)."""
        if not acceptable(user, MAX_NAME):
            return frozenset()
        cached = self.group_cache.get(user)
        if cached is not None:
            return cached
        found = self.lookups.run(lambda conn: self._find(conn, user))
        groups = frozenset() if found is None else found[1]
        self.group_cache.put(user, groups)
        return groups

    def check(self) -> list[str]:
        """What is wrong with this LDAP configuration, for `baomi doctor` ([] = all good)."""
        problems = [*self._file_problems(), *self._filter_problems()]
        if problems:
            return problems
        try:
            with self._session() as conn:
                problems += self._base_problems(conn)
        except IdentityUnavailable as exc:
            problems.append(str(exc))
        return problems

    # -- one connection ----------------------------------------------------------------------

    def _session(self) -> _Session:
        return _Session(self)

    def _connect(self) -> ldap3.Connection:
        """An open, encrypted connection bound as the service account."""
        conn = self._open(self.settings.bind_dn, self._service_password())
        try:
            if not self._call(conn.bind, read_server_info=False):
                raise IdentityUnavailable(f"{self.settings.url}: the service account's bind was "
                                          f"refused ({conn.result['description']})")
        except BaseException:
            _close(conn)
            raise
        finally:
            conn.password = None  # nothing of it left on the connection
        return conn

    def _password_accepted(self, dn: str, password: Secret) -> bool:
        """True if ``dn`` binds with ``password``; LDAP that cannot answer raises."""
        conn = self._open(dn, password)
        try:
            ok = self._call(conn.bind, read_server_info=False)
            if ok:
                return True
            if conn.result and conn.result.get("result") in REFUSED:
                return False
            raise IdentityUnavailable(f"{self.settings.url}: bind failed "
                                      f"({(conn.result or {}).get('description', 'no answer')})")
        finally:
            conn.password = None
            _close(conn)

    def _open(self, dn: str, password: Secret) -> ldap3.Connection:
        """A connection over verified TLS, not bound yet."""
        s = self.settings
        # A new Server each time: ldap3 marks an address that failed once as unavailable for
        # 5 s (RESET_AVAILABILITY_TIMEOUT), which would outlast LDAP's recovery.
        server = ldap3.Server(self.host, port=self.port, use_ssl=self.use_ssl,
                              tls=self._tls(), connect_timeout=s.timeout_seconds,
                              get_info=ldap3.NONE)
        conn = ldap3.Connection(server, user=dn, password=password.reveal(),
                                receive_timeout=self.receive_timeout, read_only=True,
                                raise_exceptions=False, auto_bind=ldap3.AUTO_BIND_NONE)
        try:
            self._call(conn.open, read_server_info=False)
            if s.starttls and not self._call(conn.start_tls, read_server_info=False):
                raise IdentityUnavailable(f"{s.url}: StartTLS refused")
        except BaseException:
            conn.password = None
            _close(conn)
            raise
        return conn

    def _tls(self) -> VerifiedTls:
        """Read ca_file for each connection, so a renewed CA needs no restart."""
        try:
            return VerifiedTls(self.host, self.settings.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise IdentityUnavailable(f"ca_file {self.settings.ca_file} is not a readable PEM "
                                      f"certificate: {_reason(exc)}") from None

    def _service_password(self) -> Secret:
        path = self.settings.bind_password_file
        try:
            value = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise IdentityUnavailable(f"cannot read bind_password_file {path}: "
                                      f"{getattr(exc, 'strerror', None) or type(exc).__name__}"
                                      ) from None
        if not value:
            raise IdentityUnavailable(f"bind_password_file {path} is empty")
        return Secret(value)

    def _call(self, operation, *args, **kwargs):
        """Run one ldap3 operation; anything that is not an LDAP answer -> IdentityUnavailable."""
        try:
            return operation(*args, **kwargs)
        except LDAPInvalidFilterError:
            raise IdentityUnavailable(f"{self.settings.url}: user_filter, disabled_filter or "
                                      "group_filter is not a valid LDAP filter") from None
        except (LDAPException, OSError) as exc:
            raise ConnectionLost(f"cannot reach LDAP at {self.settings.url}: "
                                 f"{_reason(exc)}") from None

    # -- lookups as the service account -------------------------------------------------------

    def _find(self, conn: ldap3.Connection, user: str) -> tuple[str, frozenset[str]] | None:
        """(DN, groups) of the one enabled entry for ``user``; None if none or several."""
        s = self.settings
        attribute = s.group_attribute
        entries, code = self._search(conn, s.user_base, self._user_filter(user),
                                     [attribute] if attribute else [], size_limit=2)
        if code == SIZE_LIMIT_EXCEEDED or len(entries) != 1:
            return None
        dn, attributes = entries[0]
        groups = set()
        if attribute:
            groups |= self._names_of(conn, _values(attributes, attribute))
        if s.group_base:
            groups |= self._searched_groups(conn, s.group_base, dn, user)
        return dn, frozenset(groups)

    def _user_filter(self, user: str) -> str:
        """user_filter for this user, excluding disabled accounts.

        >>> d = LdapDirectory(LdapSettings(url="ldaps://ldap.example", bind_dn="cn=baomi",
        ...                   bind_password_file=Path("unread"), user_base="ou=people",
        ...                   disabled_filter="(employeeType=disabled)"))
        >>> d._user_filter("a*")
        '(&(uid=a\\\\2a)(!(employeeType=disabled)))'
        """
        wanted = self.settings.user_filter.replace("{user}", escape_filter_chars(user))
        disabled = self.settings.disabled_filter
        return wanted if not disabled else f"(&{wanted}(!{disabled}))"

    def _searched_groups(self, conn: ldap3.Connection, base: str, dn: str, user: str) -> set[str]:
        s = self.settings
        query = (s.group_filter.replace("{dn}", escape_filter_chars(dn))
                 .replace("{user}", escape_filter_chars(user)))
        entries, _ = self._search(conn, base, query, [s.group_name_attribute])
        return {name for _, attrs in entries for name in _values(attrs, s.group_name_attribute)}

    def _names_of(self, conn: ldap3.Connection, dns: list[str]) -> set[str]:
        """Group names from group DNs: the leading RDN when it is group_name_attribute (cn=x,...),
        else the attribute read from the group's entry."""
        wanted = self.settings.group_name_attribute
        names = set()
        for dn in dns:
            try:
                kind, value, _ = parse_dn(dn)[0]
            except LDAPException:
                continue  # not a DN: not a group we can name
            if kind.lower() == wanted.lower():
                names.add(value)
                continue
            entries, _ = self._search(conn, dn, "(objectClass=*)", [wanted], scope=ldap3.BASE)
            names |= {n for _, attrs in entries for n in _values(attrs, wanted)}
        return names

    def _search(self, conn: ldap3.Connection, base: str, query: str, attributes: list[str], *,
                scope=ldap3.SUBTREE, size_limit: int = 0) -> tuple[list[tuple[str, dict]], int]:
        """[(dn, raw attributes)] and the result code; codes that are not an answer raise."""
        self._call(conn.search, base, query, search_scope=scope, attributes=attributes,
                   size_limit=size_limit, time_limit=self.receive_timeout)
        code = conn.result["result"]
        if code == NO_SUCH_OBJECT and scope == ldap3.BASE:
            return [], code  # a memberOf value naming a deleted group
        if code not in (SUCCESS, SIZE_LIMIT_EXCEEDED):
            raise IdentityUnavailable(f"{self.settings.url}: search under {base} failed "
                                      f"({conn.result['description']})")
        entries = [(r["dn"], r["raw_attributes"]) for r in conn.response or ()
                   if r.get("type") == "searchResEntry"]
        return entries, code

    # -- doctor --------------------------------------------------------------------------------

    def _file_problems(self) -> list[str]:
        s, problems = self.settings, []
        path = Path(s.bind_password_file)
        try:
            mode = path.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                problems.append(f"bind_password_file {path} can be read by others "
                                f"(chmod 600 {path})")
            self._service_password()
        except OSError as exc:
            problems.append(f"cannot read bind_password_file {path}: {exc.strerror}")
        except IdentityUnavailable as exc:
            problems.append(str(exc))
        try:
            self._tls()
        except IdentityUnavailable as exc:
            problems.append(str(exc))
        return problems

    def _filter_problems(self) -> list[str]:
        s, problems = self.settings, []
        for name, value in (("user_filter", self._user_filter("doctor")),
                            ("group_filter", s.group_filter.replace("{dn}", "cn=doctor"))):
            try:
                parse_filter(value, None, True, True, None, False)
            except LDAPException:
                problems.append(f"{name} (with disabled_filter) is not a valid LDAP filter"
                                if name == "user_filter" and s.disabled_filter
                                else f"{name} is not a valid LDAP filter")
        return problems

    def _base_problems(self, conn: ldap3.Connection) -> list[str]:
        problems = []
        for name, base in (("user_base", self.settings.user_base),
                           ("group_base", self.settings.group_base)):
            if base is None:
                continue
            self._call(conn.search, base, "(objectClass=*)", search_scope=ldap3.BASE,
                       attributes=[], time_limit=self.receive_timeout)
            if conn.result["result"] != SUCCESS:
                problems.append(f"{name} {base} cannot be read with the service account "
                                f"({conn.result['description']})")
        return problems


class _Session:
    """``with directory._session() as conn``: bound as the service account, closed after."""

    def __init__(self, directory: LdapDirectory):
        self.directory = directory
        self.conn: ldap3.Connection | None = None

    def __enter__(self) -> ldap3.Connection:
        self.conn = self.directory._connect()
        return self.conn

    def __exit__(self, *exc) -> None:
        _close(self.conn)


def acceptable(text: str, limit: int) -> bool:
    """A name or password we may send: non-empty, not too long, no NUL."""
    return isinstance(text, str) and 0 < len(text) <= limit and "\0" not in text


def _values(attributes: dict, name: str) -> list[str]:
    """Values of ``name`` (any case) decoded as UTF-8; undecodable values are skipped."""
    for key, values in attributes.items():
        if key.lower() == name.lower():
            out = []
            for value in values:
                try:
                    out.append(value.decode() if isinstance(value, bytes) else str(value))
                except UnicodeDecodeError:
                    continue
            return out
    return []


def _reason(exc: BaseException) -> str:
    """A short, password-free reason: ldap3 messages name the socket or TLS error.

    >>> from ldap3.core.exceptions import LDAPSocketOpenError
    >>> _reason(LDAPSocketOpenError("('socket ssl wrapping error: [SSL: CERTIFICATE_VERIFY_FAILED]"
    ...                             " certificate verify failed: self-signed certificate (_ssl.c:1020)',)"))
    'TLS not verified: self-signed certificate'
    """
    text = str(exc) or type(exc).__name__
    unverified = UNVERIFIED.search(text)
    if unverified:
        return f"TLS not verified: {unverified.group(1).strip()}"
    return text if len(text) <= 300 else text[:300] + "..."


def _close(conn: ldap3.Connection | None) -> None:
    if conn is None:
        return
    try:
        conn.unbind()
    except (LDAPException, OSError):
        pass  # already gone: the socket is closed either way
    finally:
        # ldap3 2.9 keeps the socket of a connect that failed (refused, timed out) on a
        # connection it counts as closed, so unbind() leaves it open.
        if conn.socket is not None:
            conn.socket.close()
