"""The console over incidents the real proxy recorded: ``baomi run`` blocks a request with a
resident ID; a reviewer finds it in the console (headless Chromium), opens it, and reveals its
evidence in the browser with the private key the proxy wrote at its first start. Screenshots:
tests/artifacts/console-proxy-*.png."""

from __future__ import annotations

import ssl
from urllib.parse import urlsplit

import httpx
import pytest
from console_support import WAIT, ConsoleServer, add_users, browser_login, chrome, shot
from harness import REPO, BaomiProcess
from incidents_cli import run
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = pytest.mark.e2e

POLICY = REPO / "policies" / "default.yaml"
RESIDENT_ID = "11010519491231002X"


@pytest.fixture(scope="module")
def blocked(tmp_path_factory, upstream_ca, https_up):
    """(data dir, incident id, host): one request the real proxy refused; the proxy stopped."""
    data = tmp_path_factory.mktemp("console-proxy")
    with BaomiProcess(POLICY, data, upstream_ca=upstream_ca.pem) as px, httpx.Client(
            proxy=px.url, verify=ssl.create_default_context(cafile=px.ca_pem),
            timeout=60) as client:
        r = client.post(https_up.url("/api/customers"), json={"id_no": RESIDENT_ID})
        assert r.status_code == 403 and https_up.received == []
        incident = r.headers["x-baomi-incident"]
    add_users(data)
    return data, incident, urlsplit(https_up.url()).hostname


def test_reviewer_reveals_what_the_proxy_sealed(blocked, tmp_path_factory):
    data, incident, host = blocked
    key = data / "reviewer-private-key.pem"
    assert key.exists()  # written once by the proxy's first start
    with ConsoleServer(data) as console:
        driver = chrome(tmp_path_factory.mktemp("console-proxy-chrome"))
        try:
            browser_login(driver, console, "rita")
            driver.get(console.url(f"/incidents?destination={host}"))
            [row] = driver.find_elements(By.CSS_SELECTOR, "tr.incident-row")
            assert row.get_attribute("data-id") == incident
            assert RESIDENT_ID not in driver.page_source
            shot(driver, "proxy-queue")
            driver.get(console.url(f"/incidents/{incident}"))
            assert "block-ids-and-cards" in driver.find_element(By.ID, "metadata").text
            assert [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#structure .hit")] \
                == ["id_no"]
            driver.find_element(By.ID, "key-file").send_keys(str(key))
            driver.find_element(By.ID, "reveal-reason").send_keys("check the block")
            driver.find_element(By.ID, "reveal").click()
            WebDriverWait(driver, WAIT).until(
                lambda d: d.find_elements(By.CSS_SELECTOR, "tr.revealed-item .value")
                or d.find_element(By.ID, "reveal-error").is_displayed())
            values = [e.text for e in
                      driver.find_elements(By.CSS_SELECTOR, "tr.revealed-item .value")]
            assert RESIDENT_ID in values, driver.find_element(By.ID, "reveal-error").text
            shot(driver, "proxy-reveal")
        finally:
            driver.quit()
    verified = run("incidents", "verify", "--data-dir", str(data), "--key", str(key))
    assert verified.code == 0, verified.out
