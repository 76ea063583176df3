"""Admins manage accounts in the console; other roles cannot."""

from __future__ import annotations

from console_support import PASSWORD, console_app, csrf, login, seeded_dir

from proxy.console.users import Users


def test_only_admins_see_or_change_accounts(tmp_path):
    data_dir, _, _ = seeded_dir(tmp_path)
    app, _ = console_app(data_dir)
    for name in ("rita", "abe"):
        c = app.test_client()
        login(c, name)
        assert c.get("/accounts").status_code == 403
        form = {"name": "mallory", "roles": "admin", "password": PASSWORD,
                "csrf_token": csrf(c, "/")}
        assert c.post("/accounts", data=form).status_code == 403
        assert c.post("/accounts/ada/disable", data={"csrf_token": csrf(c, "/")}).status_code == 403
    assert Users(data_dir).get("mallory") is None
    assert not Users(data_dir).get("ada").disabled


def test_admin_adds_and_disables_an_account(tmp_path, capfd):
    data_dir, _, _ = seeded_dir(tmp_path)
    app, _ = console_app(data_dir)
    admin = app.test_client()
    login(admin, "ada")
    page = admin.get("/accounts").get_data(as_text=True)
    assert 'data-name="rita"' in page and "$argon2" not in page
    token = csrf(admin, "/accounts")
    short = admin.post("/accounts", data={"name": "sam", "roles": "reviewer",
                                          "password": "short", "csrf_token": token})
    assert short.status_code == 400
    assert "password: at least 12 characters" in short.get_data(as_text=True)
    added = admin.post("/accounts", data={"name": "sam", "roles": ["reviewer", "approver"],
                                          "password": PASSWORD, "csrf_token": token})
    assert added.status_code == 302
    assert Users(data_dir).get("sam").roles == ("reviewer", "approver")
    sam = app.test_client()
    assert login(sam, "sam").status_code == 302
    assert sam.get("/incidents").status_code == 200
    assert admin.post("/accounts/sam/disable", data={"csrf_token": token}).status_code == 302
    assert sam.get("/incidents").status_code == 302  # the session ended at once
    assert login(sam, "sam").status_code == 401
    assert "baomi console: ada disabled account sam" in capfd.readouterr().err
