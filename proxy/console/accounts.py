"""Console accounts in the browser, for admins: the same file ``baomi console users`` edits.

    GET  /accounts                  the local accounts (never a hash)
    POST /accounts                  name, roles, password -> a new account
    POST /accounts/<name>/disable   the account's sessions end at their next request

Each change prints one line to the console's stderr (who did what to which account).
Directory (LDAP) users are managed in the directory, not here.
"""

from __future__ import annotations

import sys

from flask import Blueprint, current_app, redirect, request, url_for

from proxy.console.users import ROLES, Users
from proxy.console.web import current_user, error_page, flash, render, require_role
from proxy.errors import UsageError

bp = Blueprint("accounts", __name__, url_prefix="/accounts")


def _users() -> Users:
    return Users(current_app.config["BAOMI_DATA_DIR"])


def _say(what: str) -> None:
    user = current_user()
    print(f"baomi console: {user.name if user else '-'} {what}", file=sys.stderr, flush=True)


@bp.get("", endpoint="list")
@require_role("admin")
def list_accounts():
    return render("accounts.html", accounts=_users().accounts(), roles=ROLES, message=None)


@bp.post("")
@require_role("admin")
def add():
    name = request.form.get("name", "").strip()
    roles = [r for r in request.form.getlist("roles") if r in ROLES]
    try:
        account = _users().add(name, roles, request.form.get("password", ""))
    except UsageError as e:  # names the field and the rule, never the password
        page, _ = render("accounts.html", accounts=_users().accounts(), roles=ROLES,
                         message=str(e))
        return page, 400
    _say(f"added account {account.name} ({', '.join(account.roles)})")
    flash("account_added", name=account.name)
    return redirect(url_for("accounts.list"))


@bp.post("/<name>/disable")
@require_role("admin")
def disable(name: str):
    users = _users()
    if users.get(name) is None:
        return error_page("not_found", 404)
    users.disable(name)
    _say(f"disabled account {name}")
    flash("account_disabled", name=name)
    return redirect(url_for("accounts.list"))
