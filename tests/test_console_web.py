"""The console's HTTP layer through Flask's test client: login, sessions, CSRF, roles,
throttling, security headers, language. (The incident pages: test_console_incidents.py.)"""

from __future__ import annotations

import pytest
from console_support import PASSWORD, console_app, csrf, login, seeded_dir
from flask import Blueprint

from proxy.console.web import HEADERS, render, require_role


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return seeded_dir(tmp_path_factory.mktemp("console-web"))


@pytest.fixture
def console(data):
    app, clock = console_app(data[0])
    return app, clock


@pytest.fixture
def dummy_app(data):
    """The app with a dummy approver-only route, as H's blueprint uses the decorator."""
    bp = Blueprint("dummy", __name__)

    @bp.get("/dummy/decide")
    @require_role("approver")
    def decide_page():
        return render("error.html", message="decide page")

    @bp.post("/dummy/decide")
    @require_role("approver")
    def decide():
        return "decided", 200

    app, _ = console_app(data[0])
    app.register_blueprint(bp)
    return app


def test_login_page_sets_a_strict_httponly_session_cookie(console):
    response = console[0].test_client().get("/login")
    assert response.status_code == 200
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie


def test_secure_cookie_under_tls(data):
    app, _ = console_app(data[0], tls=True)
    assert "; Secure" in app.test_client().get("/login").headers["Set-Cookie"]


@pytest.mark.parametrize("path", ["/login", "/incidents", "/", "/static/console.css"])
def test_security_headers_on_every_response(console, path):
    client = console[0].test_client()
    login(client, "rita")
    response = client.get(path)
    response.close()  # a static file response holds the file open until closed
    for name, value in HEADERS.items():
        assert response.headers[name] == value, name
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]


def test_no_inline_script_in_pages(console, data):
    client = console[0].test_client()
    login(client, "rita")
    for path in ("/login", "/incidents", f"/incidents/{data[2][0]}"):
        page = client.get(path).get_data(as_text=True)
        assert "<script>" not in page and " on" + "click=" not in page and "style=" not in page


def test_login_then_logout(console):
    client = console[0].test_client()
    before = client.get_cookie("baomi_console")
    response = login(client, "rita", next_="/incidents")
    assert (response.status_code, response.headers["Location"]) == (302, "/incidents")
    assert client.get_cookie("baomi_console").value != (before.value if before else None)
    assert client.get("/incidents").status_code == 200
    out = client.post("/logout", data={"csrf_token": csrf(client, "/incidents")})
    assert out.status_code == 302
    assert client.get("/incidents").status_code == 302  # back to the login page


def test_wrong_password_and_unknown_user_look_the_same(console):
    client = console[0].test_client()
    wrong = login(client, "rita", "not the password at all")
    nobody = login(client, "nobody", "not the password at all")
    assert wrong.status_code == nobody.status_code == 401
    assert wrong.get_data(as_text=True).count("Wrong user name or password") == 1


def test_post_without_or_with_wrong_csrf_token_is_refused(console, data):
    client = console[0].test_client()
    login(client, "rita")
    incident = data[2][0]
    form = {"new_status": "triaged"}
    assert client.post(f"/incidents/{incident}/triage", data=form).status_code == 400
    bad = client.post(f"/incidents/{incident}/triage", data={**form, "csrf_token": "x" * 43})
    assert bad.status_code == 400
    assert "reload the page" in bad.get_data(as_text=True)
    # a login form posted without the session's token (a cross-site login) is refused too
    fresh = console[0].test_client()
    refused = fresh.post("/login", data={"name": "rita", "password": PASSWORD})
    assert refused.status_code == 400


def test_role_decorator_refuses_other_roles(dummy_app):
    reviewer, approver = dummy_app.test_client(), dummy_app.test_client()
    login(reviewer, "rita")
    login(approver, "abe")
    token = csrf(reviewer, "/")
    assert reviewer.get("/dummy/decide").status_code == 403
    assert reviewer.post("/dummy/decide", data={"csrf_token": token}).status_code == 403
    assert approver.post("/dummy/decide", data={"csrf_token": csrf(approver, "/")}).status_code == 200
    admin = dummy_app.test_client()
    login(admin, "ada")  # roles do not nest: an admin is not an approver
    assert admin.post("/dummy/decide", data={"csrf_token": csrf(admin, "/")}).status_code == 403


def test_approver_cannot_triage(console, data):
    client = console[0].test_client()
    login(client, "abe")
    assert client.get("/incidents").status_code == 403
    response = client.post(f"/incidents/{data[2][0]}/triage",
                           data={"new_status": "triaged", "csrf_token": csrf(client, "/")})
    assert response.status_code == 403


def test_not_logged_in_is_sent_to_login(console):
    client = console[0].test_client()
    response = client.get("/incidents?status=new")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/incidents?status%3Dnew"


def test_expired_session_is_refused(console, data):
    app, clock = console
    client = app.test_client()
    login(client, "rita")
    token = csrf(client, "/incidents")
    clock.advance(19 * 60)
    assert client.get("/incidents").status_code == 200  # activity restarts the idle clock
    clock.advance(20 * 60 + 1)
    response = client.post(f"/incidents/{data[2][0]}/triage",
                           data={"new_status": "triaged", "csrf_token": token})
    assert response.status_code == 401  # the session (and its CSRF token) is gone
    assert "Your session has expired" in response.get_data(as_text=True)
    clock.advance(20 * 60 + 1)
    page = client.get("/incidents", follow_redirects=True)
    assert page.request.path == "/login"


def test_expired_session_says_so_on_the_login_page(console):
    app, clock = console
    client = app.test_client()
    login(client, "rita")
    clock.advance(21 * 60)
    page = client.get("/login").get_data(as_text=True)
    assert "Your session has expired" in page


def test_brute_force_login_is_slowed_then_refused(console):
    app, clock = console
    attacker = app.test_client()
    for _ in range(3):
        assert login(attacker, "rita", "guess guess guess").status_code == 401
    # the 4th attempt inside the wait is refused without checking, even with the right password
    slowed = login(attacker, "rita", PASSWORD)
    assert slowed.status_code == 429
    assert slowed.headers["Retry-After"] == "2"
    clock.advance(2.5)
    assert login(attacker, "rita", "guess guess guess").status_code == 401
    assert login(attacker, "rita", PASSWORD).headers["Retry-After"] == "4"  # doubling
    clock.advance(4.5)
    assert login(attacker, "rita", PASSWORD).status_code == 302  # success clears the count


def test_throttle_is_per_client_address_too(console):
    app, _ = console
    client = app.test_client()
    for name in ("u1", "u2", "u3"):  # three names, one address
        assert login(client, name, "guess guess guess").status_code == 401
    assert login(client, "abe", PASSWORD).status_code == 429


def from_address(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_throttle_counts_an_account_however_its_name_is_typed(console):
    app, _ = console
    for i, name in enumerate(("rita", "RITA", "Rita")):  # three addresses: only the name counts
        assert login(from_address(app, f"10.2.0.{i}"), name, "guess guess guess").status_code \
            == 401
    assert login(from_address(app, "10.2.0.9"), "rItA", PASSWORD).status_code == 429


def test_parallel_attempts_cannot_all_pass_the_throttle(console):
    """The check and the count are one step: of 8 simultaneous guesses only FREE (3) are
    checked, the others wait; checked one by one and counted after, all 8 were."""
    import threading

    app, _ = console
    clients = [from_address(app, f"10.3.0.{i}") for i in range(8)]
    tokens = [csrf(c) for c in clients]
    start = threading.Barrier(len(clients))
    codes: list[int] = []

    def guess(client, token) -> None:
        start.wait()
        response = client.post("/login", data={"name": "rita", "password": "guess guess guess",
                                               "next": "/", "csrf_token": token})
        codes.append(response.status_code)

    threads = [threading.Thread(target=guess, args=pair) for pair in zip(clients, tokens,
                                                                          strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [401] * 3 + [429] * 5


def test_disabled_account_loses_its_session(tmp_path):
    data_dir, _, _ = seeded_dir(tmp_path)
    app, _ = console_app(data_dir)
    client = app.test_client()
    login(client, "rita")
    assert client.get("/incidents").status_code == 200
    from proxy.console.users import Users

    Users(data_dir).disable("rita")
    assert client.get("/incidents").status_code == 302
    assert login(client, "rita").status_code == 401


@pytest.mark.parametrize(("accept", "expected"), [("zh-CN,zh;q=0.9", "登录"), ("en-US", "Log in"),
                                                  ("fr", "Log in")])
def test_language_from_accept_language(console, accept, expected):
    page = console[0].test_client().get("/login", headers={"Accept-Language": accept})
    assert f"<h1>{expected}</h1>" in page.get_data(as_text=True)


def test_language_switch_cookie_wins(console):
    client = console[0].test_client()
    switched = client.get("/lang/zh?next=/login", headers={"Accept-Language": "en"})
    assert (switched.status_code, switched.headers["Location"]) == (302, "/login")
    page = client.get("/login", headers={"Accept-Language": "en"})
    assert page.headers["Content-Language"] == "zh-CN"
    assert '<html lang="zh-CN">' in page.get_data(as_text=True)


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil"])
def test_no_open_redirect(console, target):
    client = console[0].test_client()
    assert client.get(f"/lang/en?next={target}").headers["Location"] == "/"
    assert login(client, "rita", next_=target).headers["Location"] == "/"


def test_throttle_table_is_bounded_but_keeps_a_locked_out_account(monkeypatch):
    from proxy.console import sessions

    monkeypatch.setattr(sessions, "MAX_SESSIONS", 20)
    throttle = sessions.LoginThrottle(clock=lambda: 100.0)
    for _ in range(5):
        throttle.failed("rita", "10.0.0.1")
    for i in range(40):  # a spray of names from other addresses
        throttle.failed(f"u{i}", f"10.1.0.{i}")
    assert len(throttle._by_key) <= 20
    assert throttle.wait("rita", "10.9.9.9") == 8.0  # 5 failures: 2 ** (5 - 3 + 1) s


def test_static_files_make_no_session_and_a_missing_one_is_a_404_page(console):
    client = console[0].test_client()
    css = client.get("/static/console.css")
    css.close()
    assert css.status_code == 200 and "Set-Cookie" not in css.headers
    missing = client.get("/static/nope.js")
    assert missing.status_code == 404 and "Not found." in missing.get_data(as_text=True)


def test_a_flood_of_visitors_does_not_log_a_reviewer_out(console, monkeypatch):
    from proxy.console import sessions

    monkeypatch.setattr(sessions, "MAX_SESSIONS", 5)
    app, clock = console
    reviewer = app.test_client()
    login(reviewer, "rita")
    for _ in range(20):
        clock.advance(1)
        app.test_client().get("/login")
    assert reviewer.get("/incidents").status_code == 200


def test_a_crash_is_logged_by_route_and_type_without_what_was_sent(data, caplog):
    raw = "11010519491231002X"
    bp = Blueprint("crash", __name__)

    @bp.get("/crash/<value>")
    def crash(value: str):
        raise ValueError(f"Invalid isoformat string: {value!r}")

    app, _ = console_app(data[0])
    app.register_blueprint(bp)
    with caplog.at_level("ERROR"):
        assert app.test_client().get(f"/crash/{raw}?q={raw}").status_code == 500
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "console error in GET /crash/<value>: ValueError" in logged
    assert raw not in logged
