"""The console's Flask application.

    app = create_app(ConsoleSettings(data_dir=Path("var")))
    app.test_client().get("/login").status_code   # 200

Blueprints: ``auth`` (login, language, home), ``incidents`` (queue, detail, triage, reveal),
``accounts`` (admins)
and, when present, ``proxy.console.applications`` (transfer applications, its module's ``bp``).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from flask import Flask

from proxy.console import accounts, auth, incidents, web
from proxy.console.sessions import LoginThrottle, SessionStore
from proxy.console.users import Account, Users

DEFAULT_IDLE_MINUTES = 20


class AccountSource(Protocol):
    """Users (the local file) or proxy.console.ldap_roles.LdapAccounts."""

    def check(self, name: str, password: str) -> Account | None: ...

    def recheck(self, account: Account) -> Account | None: ...

OPTIONAL_BLUEPRINTS = ("proxy.console.applications",)


@dataclass(frozen=True)
class ConsoleSettings:
    data_dir: Path
    tls: bool = False  # Secure cookies
    idle_minutes: float = DEFAULT_IDLE_MINUTES
    clock: Callable[[], float] = time.monotonic  # tests move it to expire sessions
    # check(name, password) and recheck(account) -> Account or None; default: the users file
    accounts: AccountSource | None = None
    extra: dict = field(default_factory=dict)


def create_app(settings: ConsoleSettings) -> Flask:
    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config.update(BAOMI_DATA_DIR=Path(settings.data_dir), BAOMI_TLS=settings.tls,
                      MAX_CONTENT_LENGTH=1024 * 1024, **settings.extra)
    app.extensions["baomi_sessions"] = SessionStore(settings.idle_minutes * 60, settings.clock)
    app.extensions["baomi_throttle"] = LoginThrottle(settings.clock)
    source = settings.accounts or Users(settings.data_dir)
    app.extensions["baomi_accounts"] = source.check
    app.extensions["baomi_recheck"] = source.recheck
    web.install(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(incidents.bp)
    app.register_blueprint(accounts.bp)
    for name in OPTIONAL_BLUEPRINTS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:  # the blueprint exists but something it imports is missing
                raise
            continue
        app.register_blueprint(module.bp)
    app.log_exception = _log_exception.__get__(app)  # type: ignore[method-assign]
    return app


def _log_exception(app: Flask, exc_info) -> None:
    """Flask logs "Exception on <path>" and the traceback, whose message may quote what was
    sent (``Invalid isoformat string: '...'``): ours names the route and the type only.

    ``console error in GET /incidents: ValueError``
    """
    from flask import request

    rule = request.url_rule.rule if request.url_rule is not None else "(no route)"
    app.logger.error("console error in %s %s: %s", request.method, rule, exc_info[0].__name__)
