"""Log in, log out, switch language, the home page.

    POST /login   name, password, csrf_token  -> 302 next (a new session id), or 401 / 429
    POST /logout                              -> 302 /login
    GET  /lang/zh?next=/incidents             -> sets the language cookie, 302 back
"""

from __future__ import annotations

import math

from flask import Blueprint, current_app, g, redirect, request, url_for
from werkzeug.wrappers import Response

from proxy.console import text
from proxy.console.web import (
    LANG_COOKIE,
    current_user,
    error_page,
    local_path,
    render,
    set_session,
    store,
    t,
)

bp = Blueprint("auth", __name__)


@bp.get("/")
def home():
    if current_user() is None:
        return redirect(url_for("auth.login"))
    return render("home.html")


@bp.get("/login")
def login():
    message = t("session_expired") if g.expired else None
    return render("login.html", next=local_path(request.args.get("next")), message=message)


@bp.post("/login")
def login_post():
    name = request.form.get("name", "")[:64]
    password = request.form.get("password", "")[:1024]
    target = local_path(request.form.get("next"))
    client = request.remote_addr or "-"
    throttle = current_app.extensions["baomi_throttle"]
    wait = throttle.attempt(name, client)  # checked and counted at once
    if wait > 0:  # refused without checking the password: guessing gains nothing here
        page, _ = render("login.html", next=target,
                         message=t("login_slowed", seconds=math.ceil(wait)))
        return page, 429, {"Retry-After": str(math.ceil(wait))}
    account = current_app.extensions["baomi_accounts"](name, password)
    if account is None:  # already counted by attempt()
        return render("login.html", status=401, next=target, message=t("login_failed"))
    throttle.succeeded(name, client)
    set_session(store().login(g.session.id, account))
    return redirect(target if target != "/login" else "/")


@bp.post("/logout")
def logout():
    store().drop(g.session.id)
    set_session(store().new())
    return redirect(url_for("auth.login"))


@bp.get("/lang/<code>")
def switch_language(code: str):
    if code not in text.LANGUAGES:
        return error_page("not_found", 404)
    response: Response = redirect(local_path(request.args.get("next")))
    response.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, samesite="Strict",
                        httponly=True, secure=current_app.config["BAOMI_TLS"])
    return response


