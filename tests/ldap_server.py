"""A real OpenLDAP server for the identity tests: Debian's slapd, started by the test itself.

    with Slapd(tmp_path) as ldap:
        ldap.ldaps_url                 # ldaps://127.0.0.1:<port>  (StartTLS: ldap.ldap_url)
        ldap.password("alice")         # random per server, never a constant
        ldap.remove_from_group("alice", "payroll"); ldap.disable("bob")

slapd runs in the foreground (-d 32768 prints only "slapd starting") from a generated slapd.conf,
on free loopback ports, with an mdb database and the memberof overlay, and a server certificate
for 127.0.0.1/localhost from the tests' UpstreamCA (so ldaps:// and StartTLS are both verified).
Everything lives in the given directory; stop() ends the process, nothing else is started.

The directory (dc=example,dc=com):
    cn=baomi-svc,ou=services    service account (password in svc.password, 0600)
    uid=alice,ou=people          in payroll and staff
    uid=bob,ou=people            in staff
    uid=carol,ou=people          in staff, employeeType=disabled
    uid=dave,ou=people           in payroll and staff
    uid=李雷,ou=people           in staff (a UTF-8 name; every password has non-ASCII letters)
    cn=payroll,ou=groups / cn=staff,ou=groups   groupOfNames (memberOf kept by the overlay),
                                 ou "Payroll team" / "All staff" (group names not in the DN)
Anonymous clients can only bind; any bound user can read everything but passwords.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Self

import ldap3
from harness import UpstreamCA, free_port
from ldap3.utils.hashed import hashed

SLAPD = shutil.which("slapd") or shutil.which("slapd", path="/usr/sbin")
SCHEMA = Path("/etc/ldap/schema")
MODULES = Path("/usr/lib/ldap")
BASE = "dc=example,dc=com"
PEOPLE = f"ou=people,{BASE}"
GROUPS = f"ou=groups,{BASE}"
SERVICE_DN = f"cn=baomi-svc,ou=services,{BASE}"
ADMIN_DN = f"cn=admin,{BASE}"
# dave keeps payroll non-empty (groupOfNames must have a member) when a test removes alice.
USERS = {"alice": ("payroll", "staff"), "bob": ("staff",), "carol": ("staff",),
         "dave": ("payroll", "staff"), "李雷": ("staff",)}
GROUP_TITLES = {"payroll": "Payroll team", "staff": "All staff"}  # their `ou`: a second name
DISABLED = {"carol"}
DISABLED_FILTER = "(employeeType=disabled)"
# util-linux's setpriv execs slapd with a parent-death signal: if the test process dies (even
# by SIGKILL, when no fixture can stop it) slapd gets SIGTERM rather than living on.
SETPRIV = shutil.which("setpriv")
DIE_WITH_PARENT = [SETPRIV, "--pdeathsig", "TERM", "--"] if SETPRIV else []

CONF = """\
include {schema}/core.schema
include {schema}/cosine.schema
include {schema}/inetorgperson.schema
modulepath {modules}
moduleload back_mdb
moduleload memberof
pidfile {dir}/slapd.pid
TLSCACertificateFile {ca}
TLSCertificateFile {cert}
TLSCertificateKeyFile {key}

database mdb
suffix "{base}"
rootdn "{admin}"
rootpw {admin_hash}
directory {dir}/db
maxsize 10485760
access to attrs=userPassword
    by self =xw
    by anonymous auth
    by * none
access to *
    by users read
    by * none
overlay memberof
"""


class Slapd:
    """slapd on 127.0.0.1 (ldap:// with StartTLS and ldaps://), its files under `dir`."""

    def __init__(self, dir: Path, cert_names: tuple[str, ...] = ("localhost", "127.0.0.1")):
        """``cert_names``: the server certificate's names (the first names its files)."""
        if SLAPD is None:
            raise RuntimeError("slapd is not installed (Debian package slapd)")
        self.dir = Path(dir)
        self.ldap_port, self.ldaps_port = free_port(), free_port()
        self.ca = UpstreamCA(self.dir / "ca")
        self.ca.server_context(list(cert_names))  # writes <first name>.pem/.key
        self.cert_name = cert_names[0]
        self._admin_password = secrets.token_urlsafe(16)
        self._passwords = {uid: f"pw-密码-{secrets.token_urlsafe(12)}" for uid in USERS}
        self._passwords["baomi-svc"] = f"pw-svc-{secrets.token_urlsafe(12)}"
        self._retired: list[str] = []  # replaced by set_password
        self.service_password_file = self.dir / "svc.password"
        self.proc: subprocess.Popen | None = None
        self.output: list[str] = []
        self._write_files()

    # -- addresses and secrets the tests use -------------------------------------------------

    @property
    def ldap_url(self) -> str:
        return f"ldap://127.0.0.1:{self.ldap_port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.ldaps_port}"

    def password(self, uid: str) -> str:
        return self._passwords[uid]

    def all_passwords(self) -> list[str]:
        """Every secret this server knows, for 'no credentials at rest' scans."""
        return [*self._passwords.values(), *self._retired, self._admin_password]

    def settings(self, *, starttls: bool = False, **overrides) -> dict:
        """Keyword arguments for LdapSettings that point at this server.

        >>> LdapSettings(**ldap.settings(starttls=True, cache_seconds=1))
        """
        values = {
            "url": self.ldap_url if starttls else self.ldaps_url, "starttls": starttls,
            "ca_file": self.ca.pem, "bind_dn": SERVICE_DN,
            "bind_password_file": self.service_password_file, "user_base": PEOPLE,
            "user_filter": "(uid={user})", "group_attribute": "memberOf", "group_base": None,
            "group_filter": "(member={dn})", "group_name_attribute": "cn",
            "disabled_filter": DISABLED_FILTER, "timeout_seconds": 5, "cache_seconds": 60}
        return values | overrides

    # -- the process -----------------------------------------------------------------------------

    def start(self, timeout: float = 10) -> Self:
        """Start slapd and return once it says "slapd starting" (its listeners are bound)."""
        urls = f"{self.ldap_url}/ {self.ldaps_url}/"
        self.output = []
        self.proc = subprocess.Popen(
            [*DIE_WITH_PARENT, SLAPD, "-f", str(self.dir / "slapd.conf"), "-h", urls,
             "-d", "32768"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        ready = threading.Event()
        threading.Thread(target=self._pump, args=(self.proc, ready), daemon=True).start()
        if not ready.wait(timeout):
            self.stop()
            raise RuntimeError("slapd did not start:\n" + "".join(self.output[-30:]))
        if self.proc.poll() is not None:
            raise RuntimeError("slapd exited:\n" + "".join(self.output[-30:]))
        self._await_listeners(time.monotonic() + timeout)
        return self

    def _await_listeners(self, deadline: float) -> None:
        """slapd prints "starting" before its listener thread calls listen(): nothing says when
        the ports accept, so try them (a refused connect returns at once)."""
        for port in (self.ldap_port, self.ldaps_port):
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except ConnectionRefusedError:
                    if time.monotonic() > deadline or self.proc.poll() is not None:
                        self.stop()
                        raise RuntimeError(f"slapd does not listen on {port}") from None
                    time.sleep(0.01)

    def _pump(self, proc: subprocess.Popen, ready: threading.Event) -> None:
        for line in proc.stdout:
            self.output.append(line)
            if line.rstrip().endswith("slapd starting"):
                ready.set()
        ready.set()  # exited: start() sees poll() is not None

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # in case a test paused it
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc = None

    def pause(self) -> None:
        """SIGSTOP: connections are accepted by the kernel but nothing ever answers."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def __enter__(self) -> Self:
        self.start()
        try:
            self._load()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- changes while it runs (as the rootdn, over StartTLS) ------------------------------------

    def user_dn(self, uid: str) -> str:
        return f"uid={uid},{PEOPLE}"

    def group_dn(self, group: str) -> str:
        return f"cn={group},{GROUPS}"

    def add_to_group(self, uid: str, group: str) -> None:
        """Idempotent: a member already there stays (fixtures restore without knowing)."""
        self._admin(lambda c: c.modify(
            self.group_dn(group), {"member": [(ldap3.MODIFY_ADD, [self.user_dn(uid)])]})
            or c.result["description"] == "attributeOrValueExists")

    def remove_from_group(self, uid: str, group: str) -> None:
        self._modify(self.group_dn(group),
                     {"member": [(ldap3.MODIFY_DELETE, [self.user_dn(uid)])]})

    def disable(self, uid: str) -> None:
        self._modify(self.user_dn(uid), {"employeeType": [(ldap3.MODIFY_REPLACE, ["disabled"])]})

    def enable(self, uid: str) -> None:
        self._modify(self.user_dn(uid), {"employeeType": [(ldap3.MODIFY_REPLACE, [])]})

    def set_password(self, uid: str, password: str) -> None:
        self._retired.append(self._passwords[uid])
        self._passwords[uid] = password
        self._modify(self.user_dn(uid),
                     {"userPassword": [(ldap3.MODIFY_REPLACE, [self._hash(uid)])]})

    def delete_user(self, uid: str) -> None:
        for group in USERS.get(uid, ()):
            with contextlib.suppress(RuntimeError):  # already removed by the test
                self.remove_from_group(uid, group)
        self._admin(lambda c: c.delete(self.user_dn(uid)))

    def _modify(self, dn: str, changes: dict) -> None:
        self._admin(lambda c: c.modify(dn, changes))

    def _admin(self, operation) -> None:
        tls = ldap3.Tls(ca_certs_file=str(self.ca.pem), valid_names=[self.cert_name])
        server = ldap3.Server("127.0.0.1", port=self.ldap_port, tls=tls, get_info=ldap3.NONE,
                              connect_timeout=5)
        conn = ldap3.Connection(server, ADMIN_DN, self._admin_password, receive_timeout=5,
                                auto_bind=ldap3.AUTO_BIND_TLS_BEFORE_BIND)
        try:  # not `with`: ldap3 leaves a connection bound on entry bound (and open) on exit
            if not operation(conn):
                raise RuntimeError(f"LDAP admin operation failed: {conn.result['description']}")
        finally:
            conn.unbind()

    # -- files and the initial directory ---------------------------------------------------------

    def _write_files(self) -> None:
        (self.dir / "db").mkdir(parents=True, exist_ok=True)
        self.service_password_file.write_text(self._passwords["baomi-svc"] + "\n")
        self.service_password_file.chmod(0o600)
        conf = CONF.format(
            schema=SCHEMA, modules=MODULES, dir=self.dir, ca=self.ca.pem,
            cert=self.ca.dir / f"{self.cert_name}.pem", key=self.ca.dir / f"{self.cert_name}.key",
            base=BASE,
            admin=ADMIN_DN, admin_hash=hashed(ldap3.HASHED_SALTED_SHA, self._admin_password))
        (self.dir / "slapd.conf").write_text(conf)

    def _load(self) -> None:
        def load(conn: ldap3.Connection) -> bool:
            entries = [
                (BASE, ["dcObject", "organization"], {"dc": "example", "o": "Example"}),
                *[(f"ou={ou},{BASE}", ["organizationalUnit"], {"ou": ou})
                  for ou in ("people", "groups", "services")],
                (SERVICE_DN, ["organizationalRole", "simpleSecurityObject"],
                 {"cn": "baomi-svc", "userPassword": self._hash("baomi-svc")}),
                *[(self.user_dn(uid), ["inetOrgPerson"], self._person(uid)) for uid in USERS],
                *[(self.group_dn(g), ["groupOfNames"],
                   {"cn": g, "ou": title,
                    "member": [self.user_dn(u) for u, gs in USERS.items() if g in gs]})
                  for g, title in GROUP_TITLES.items()],
            ]
            for dn, classes, attrs in entries:
                if not conn.add(dn, classes, attrs):
                    raise RuntimeError(f"cannot add {dn}: {conn.result['description']}")
            return True

        self._admin(load)

    def _person(self, uid: str) -> dict:
        person = {"uid": uid, "cn": uid.title(), "sn": uid.title(),
                  "userPassword": self._hash(uid)}
        if uid in DISABLED:
            person["employeeType"] = "disabled"
        return person

    def _hash(self, uid: str) -> str:
        return hashed(ldap3.HASHED_SALTED_SHA, self._passwords[uid])
