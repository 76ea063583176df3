"""A blocked transfer becomes an approved one, end to end: the real proxy, the real console,
headless Chromium (Debian's chromium + chromedriver via Selenium; nothing downloaded).

The user's browser posts a resident ID through baomi and gets the block page; it follows the
page's link to the console, files the pre-filled application; an approver logs in (same
browser, another session), approves it; the same transfer through the proxy then passes with
the approval id in its decision record, within 5 s and without a restart; a revoke blocks it
again within 5 s. Screenshots of each page go to tests/artifacts/applications-*.png.

Chromium sends everything through baomi (``<-loopback>``), the console on 127.0.0.1 included,
so the guard of test_e2e_clients_browser applies: nothing may leave but to 127.0.0.1.
"""

from __future__ import annotations

import re
import ssl
import time
from urllib.parse import urlsplit

import httpx
import pytest
from apps import PageServer, decisions, guarded_policy, proxied_chromium
from console_support import ConsoleServer, add_users, browser_login
from harness import REPO, BaomiProcess, UpstreamCA
from incidents_cli import keyed_dir
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from proxy.record.approvals import ApprovalStore

pytestmark = pytest.mark.e2e

ARTIFACTS = REPO / "tests" / "artifacts"
RESIDENT_ID = "11010519491231002X"
WAIT = 30
IN_FORCE = 5.0  # seconds the issue allows for an approval or a revocation to apply
FORM = (b"<!doctype html><html><head><meta charset='utf-8'><title>Payroll</title></head><body>"
        b"<form method='post' action='/submit'><textarea id='note' name='note'></textarea>"
        b"<button id='send' type='submit'>Send</button></form></body></html>")


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return UpstreamCA(tmp_path_factory.mktemp("apps-ca"))


@pytest.fixture(scope="module")
def site(ca):
    with PageServer(ca, {"/form": ("text/html; charset=utf-8", FORM)}) as s:
        yield s


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    data, _ = keyed_dir(tmp_path_factory.mktemp("apps"))
    add_users(data)  # rita reviewer, abe approver, ada admin
    return data


@pytest.fixture(scope="module")
def console(data_dir):
    with ConsoleServer(data_dir) as c:
        yield c


@pytest.fixture(scope="module")
def proxy(data_dir, ca, console):
    policy = guarded_policy(data_dir.parent / "apps-policy.yaml", ["127.0.0.1"])
    with BaomiProcess(policy, data_dir, upstream_ca=ca.pem,
                      extra_args=("--set", "connection_strategy=lazy",
                                  "--console-url", console.url("").rstrip("/"))) as px:
        yield px


@pytest.fixture(scope="module")
def browser(tmp_path_factory, proxy):
    ARTIFACTS.mkdir(exist_ok=True)
    home = tmp_path_factory.mktemp("apps-browser")
    with proxied_chromium(home, proxy.url, proxy.ca_pem, WAIT, window="1200,900") as driver:
        yield driver


def shot(driver, name: str) -> None:
    driver.save_screenshot(str(ARTIFACTS / f"applications-{name}.png"))


def click_and_wait(driver, by: str, what: str) -> None:
    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(by, what).click()
    WebDriverWait(driver, WAIT).until(EC.staleness_of(page))


def transfer(proxy, site) -> httpx.Response:
    """The transfer the browser made, again: the same form body from the same client."""
    trust = ssl.create_default_context(cafile=proxy.ca_pem)
    with httpx.Client(proxy=proxy.url, verify=trust, timeout=WAIT) as client:
        return client.post(site.url("/submit"), data={"note": f"客户身份证 {RESIDENT_ID}"},
                           headers={"accept": "application/json"})


def until(proxy, site, status: int) -> tuple[httpx.Response, float]:
    """Repeat the transfer until the proxy answers ``status``: (last answer, seconds from now
    until the request that got it was sent). Only when the request was sent counts: a request
    takes its own (noisy) time to be inspected."""
    start = time.monotonic()
    while True:
        sent = time.monotonic() - start
        response = transfer(proxy, site)
        if response.status_code == status or sent > IN_FORCE + 10:
            return response, sent
        time.sleep(0.2)  # between polls of the proxy, not instead of an event


def last_submit(data_dir) -> dict:
    return [r for r in decisions(data_dir) if r["path"] == "/submit" and not r.get("outcome")][-1]


def test_blocked_user_applies_approver_approves_then_revokes(browser, proxy, site, console,
                                                             data_dir):
    # 1. the user's browser is refused, and the block page links to the application
    browser.get(site.url("/form"))
    browser.find_element(By.ID, "note").send_keys(f"客户身份证 {RESIDENT_ID}")
    click_and_wait(browser, By.ID, "send")
    shot(browser, "1-block-page")
    blocked = last_submit(data_dir)
    assert blocked["action"] == "block" and blocked["rule"] == "block-ids-and-cards"
    link = browser.find_element(By.CSS_SELECTOR, "a.apply").get_attribute("href")
    assert link.startswith(console.url("/applications/new?incident=" + blocked["incident_id"]))
    assert RESIDENT_ID not in link and RESIDENT_ID not in browser.page_source

    # 2. it follows the link: a pre-filled form (no value), filed once
    click_and_wait(browser, By.CSS_SELECTOR, "a.apply")
    assert browser.find_element(By.ID, "incident").text == blocked["incident_id"]
    assert browser.find_element(By.ID, "host").text == "127.0.0.1"
    assert "resident ID number" in browser.find_element(By.ID, "data").text
    assert RESIDENT_ID not in browser.page_source
    for field, text in (("purpose", "monthly payroll to the bank"), ("recipient", "ACME Bank"),
                        ("method", "HTTPS form"), ("agreement", "NDA-2026-7")):
        browser.find_element(By.ID, field).send_keys(text)
    shot(browser, "2-application-form")
    click_and_wait(browser, By.ID, "submit")
    shot(browser, "3-application-filed")
    app_id = re.search(r"app-\d{8}-[0-9a-f]{8}", browser.find_element(By.ID, "filed").text)[0]
    assert transfer(proxy, site).status_code == 403  # filed is not approved

    # 3. an approver approves it in the console
    browser.delete_all_cookies()
    browser_login(browser, console, "abe")
    browser.get(console.url("/applications"))
    assert app_id in browser.find_element(By.ID, "pending").text
    shot(browser, "4-approver-queue")
    browser.get(console.url(f"/applications/{app_id}"))
    shot(browser, "5-application-detail")
    click_and_wait(browser, By.ID, "approve")
    assert urlsplit(browser.current_url).path == "/applications/approvals"
    status = browser.find_element(By.CSS_SELECTOR, f"#approval-{app_id} .status").text
    assert status == "Active"
    shot(browser, "6-approvals-active")

    # 4. the same transfer now passes, with the approval id recorded, without a restart
    response, took = until(proxy, site, 200)
    assert response.status_code == 200, f"still refused after {took:.1f} s"
    assert took <= IN_FORCE
    passed = last_submit(data_dir)
    assert (passed["action"], passed["approval"]) == ("allow", app_id)
    assert site.received[-1].path == "/submit"

    # 5. a revoke blocks it again
    click_and_wait(browser, By.CSS_SELECTOR, f"#approval-{app_id} button.revoke")
    status = browser.find_element(By.CSS_SELECTOR, f"#approval-{app_id} .status").text
    assert status == "Revoked"
    shot(browser, "7-approvals-revoked")
    response, took = until(proxy, site, 403)
    assert response.status_code == 403, f"still allowed after {took:.1f} s"
    assert took <= IN_FORCE
    assert last_submit(data_dir)["approval"] is None
    assert ApprovalStore(data_dir).state().approvals[app_id].revoked_by == "abe"


def test_console_refuses_a_post_without_csrf(console, data_dir, proxy):
    """Against the real console process (proxy started: the link key exists)."""
    with httpx.Client(base_url=console.url(""), timeout=WAIT) as client:
        for path in ("/applications/app-20261206-00000000/approve",
                     "/applications/approvals/app-20261206-00000000/revoke",
                     "/applications/new"):
            assert client.post(path, data={"x": "1"}).status_code == 400, path
