"""The console's Flask application.

    app = create_app(ConsoleSettings(data_dir=Path("var")))
    app.test_client().get("/login").status_code   # 200

Blueprints: ``auth`` (login, language, home), ``incidents`` (queue, detail, triage, reveal)
and, when present, ``proxy.console.applications`` (transfer applications, its module's ``bp``).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask

from proxy.console import auth, incidents, web
from proxy.console.sessions import LoginThrottle, SessionStore
from proxy.console.users import Account, Users

DEFAULT_IDLE_MINUTES = 20
OPTIONAL_BLUEPRINTS = ("proxy.console.applications",)


@dataclass(frozen=True)
class ConsoleSettings:
    data_dir: Path
    tls: bool = False  # Secure cookies
    idle_minutes: float = DEFAULT_IDLE_MINUTES
    clock: Callable[[], float] = time.monotonic  # tests move it to expire sessions
    # name, password -> Account or None; default: the local users file (LDAP: proxy.console.ldap)
    accounts: Callable[[str, str], Account | None] | None = None
    extra: dict = field(default_factory=dict)


def create_app(settings: ConsoleSettings) -> Flask:
    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config.update(BAOMI_DATA_DIR=Path(settings.data_dir), BAOMI_TLS=settings.tls,
                      MAX_CONTENT_LENGTH=1024 * 1024, **settings.extra)
    app.extensions["baomi_sessions"] = SessionStore(settings.idle_minutes * 60, settings.clock)
    app.extensions["baomi_throttle"] = LoginThrottle(settings.clock)
    users = Users(settings.data_dir)
    app.extensions["baomi_accounts"] = settings.accounts or users.check
    app.extensions["baomi_recheck"] = lambda a: users.get(a.name) if a.source == "local" else a
    web.install(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(incidents.bp)
    for name in OPTIONAL_BLUEPRINTS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:  # the blueprint exists but something it imports is missing
                raise
            continue
        app.register_blueprint(module.bp)
    return app
