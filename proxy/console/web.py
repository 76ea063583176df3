"""What every console request goes through, and the helpers blueprints use.

    @bp.get("/things")
    @require_role("approver")          # 302 to the login page, or 403 for another role
    def things():
        user = current_user()          # Account(name, roles, ...)
        return render("applications/list.html", things=...)   # base template + i18n

In a template: ``{{ t("key") }}`` (words from proxy/console/text.py), ``{{ csrf_field() }}``
inside every ``<form method="post">``, ``{{ lang }}``. Every POST without the session's CSRF
token (form field ``csrf_token`` or header ``X-CSRF-Token``) is refused with 400 before any
view runs. Changes are POST only; GET never changes anything.

Headers on every response: a Content-Security-Policy without inline script
(``script-src 'self'``), frame-ancestors 'none' + X-Frame-Options DENY, nosniff,
Referrer-Policy no-referrer, Cache-Control no-store.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, Response, current_app, g, redirect, render_template, request, url_for
from markupsafe import Markup

from proxy.console import text
from proxy.console.sessions import Session, SessionStore
from proxy.console.users import ROLES, Account

SESSION_COOKIE = "baomi_console"
LANG_COOKIE = "baomi_console_lang"

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def store() -> SessionStore:
    return current_app.extensions["baomi_sessions"]


def session() -> Session:
    return g.session


def current_user() -> Account | None:
    s = getattr(g, "session", None)  # none for static files (and their 404 page)
    return s.account if s is not None else None


def lang() -> str:
    return g.lang


def t(key: str, **fields: object) -> str:
    return text.words(key, g.lang, **fields)


def csrf_field() -> Markup:
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(g.session.csrf)


def flash(key: str, **fields: object) -> None:
    """A message for the next page this session loads (already in the reader's language)."""
    store().add_flash(g.session.id, t(key, **fields))


def take_flashes() -> list[str]:
    s = getattr(g, "session", None)
    return store().take_flashes(s.id) if s is not None else []


def render(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(template, **context), status


def require_role(role: str) -> Callable:
    """Only for an account holding ``role`` (roles do not nest); checked on every request."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                if request.method == "GET":
                    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
                return error_page("session_expired" if g.expired else "forbidden", 401)
            if role not in user.roles:
                return error_page("forbidden", 403)
            return view(*args, **kwargs)

        return guarded

    return decorate


def error_page(key: str, status: int) -> tuple[str, int]:
    return render("error.html", status=status, message=t(key))


def local_path(target: str | None, default: str = "/") -> str:
    """``next=`` targets stay on this console: '/incidents?x=1' yes, '//evil', 'http://..' no."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    return target


def install(app: Flask) -> None:
    """Session, language, CSRF and headers around every view of ``app``."""
    app.before_request(_before)
    app.after_request(_after)
    app.context_processor(lambda: {"lang": getattr(g, "lang", "en")})
    app.jinja_env.globals.update(t=t, csrf_field=csrf_field, csrf_token=lambda: g.session.csrf,
                                 current_user=current_user,
                                 take_flashes=take_flashes, roles=ROLES)
    for code, key in ((400, "bad_request"), (404, "not_found"), (405, "bad_request"),
                      (413, "bad_request"), (500, "server_error")):
        app.register_error_handler(code, lambda e, key=key, code=code: error_page(key, code))


def _before() -> Any:
    g.lang = text.pick_language(request.cookies.get(LANG_COOKIE),
                                request.headers.get("Accept-Language", ""))
    if request.endpoint == "static":
        return None  # CSS and JS: no session to find or make
    sid = request.cookies.get(SESSION_COOKIE)
    g.expired = store().expired(sid)
    s = store().get(sid)
    g.new_session = s is None
    if s is not None and s.account is not None and not _still_allowed(s):
        store().drop(s.id)
        s, g.new_session = None, True
    g.session = s if s is not None else store().new()
    if request.method not in ("GET", "HEAD") and not _csrf_ok(g.session):
        if g.expired:  # the form outlived its session: say so rather than "stale form"
            return error_page("session_expired", 401)
        return error_page("bad_csrf", 400)
    return None


def _still_allowed(s: Session) -> bool:
    """The account is re-read on every request: disabled or changed roles act at once."""
    if s.account is None:
        return True
    now = current_app.extensions["baomi_recheck"](s.account)
    return now is not None and not now.disabled and now.roles == s.account.roles


def _csrf_ok(s: Session) -> bool:
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    return hmac.compare_digest(sent.encode(), s.csrf.encode()) if not g.new_session else False


def _after(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers[name] = value
    response.headers["Content-Language"] = text.html_lang(getattr(g, "lang", "en"))
    response.headers["Vary"] = "Cookie, Accept-Language"
    s = getattr(g, "session", None)
    if s is not None and (getattr(g, "new_session", False) or getattr(g, "set_session", False)):
        response.set_cookie(SESSION_COOKIE, s.id, httponly=True, samesite="Strict",
                            secure=current_app.config["BAOMI_TLS"], path="/")
    return response


def set_session(s: Session) -> None:
    """Switch this response to session ``s`` (login): a fresh cookie goes out."""
    g.session = s
    g.set_session = True

