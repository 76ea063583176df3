"""A reviewer in a real headless Chromium against the real ``baomi console``: log in, filter,
open an incident, triage it, bulk-triage a filtered set, reveal evidence in the browser
(WebCrypto HPKE open of evidence sealed by Python), switch to Chinese. Screenshots of each
page go to tests/artifacts/console-*.png. The log verifies after each test that changes it,
and what the console process writes holds no raw value even when one is sent to it."""

from __future__ import annotations

import pytest
from console_support import (
    RAW_VALUES,
    WAIT,
    ConsoleServer,
    browser_login,
    chrome,
    seeded_dir,
    shot,
)
from incidents_cli import RAW_ID, RAW_PHONE, run
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from proxy.record.incidents.index import ReviewIndex

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return seeded_dir(tmp_path_factory.mktemp("console-e2e"))


@pytest.fixture(scope="module")
def console(data):
    with ConsoleServer(data[0]) as c:
        yield c


@pytest.fixture(scope="module")
def driver(tmp_path_factory, console):
    d = chrome(tmp_path_factory.mktemp("console-chrome"))
    try:
        browser_login(d, console, "rita")
        yield d
    finally:
        d.quit()


def submit(driver, button_id: str) -> None:
    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, button_id).click()
    WebDriverWait(driver, WAIT).until(EC.staleness_of(page))


def rows(driver) -> list:
    return driver.find_elements(By.CSS_SELECTOR, "tr.incident-row")


def log_verifies(data) -> None:
    """``baomi incidents verify`` over the log the console has just appended to."""
    result = run("incidents", "verify", "--data-dir", str(data[0]), "--key", str(data[1]))
    assert result.code == 0, result.out
    assert result.out.startswith("verify: OK")


def no_raw_value(driver) -> None:
    source = driver.page_source
    for raw in RAW_VALUES:
        assert raw not in source


def test_login_page_then_home(tmp_path_factory, console):
    d = chrome(tmp_path_factory.mktemp("console-chrome-login"))
    try:
        d.get(console.url("/login"))
        assert d.find_element(By.TAG_NAME, "h1").text == "Log in"
        shot(d, "login")
        browser_login(d, console, "rita")
        assert d.find_element(By.ID, "whoami").text == "Signed in as rita (reviewer)"
        shot(d, "home")
    finally:
        d.quit()


def test_admin_manages_accounts(tmp_path_factory, console):
    d = chrome(tmp_path_factory.mktemp("console-chrome-admin"))
    try:
        browser_login(d, console, "ada")
        d.find_element(By.ID, "nav-accounts").click()
        WebDriverWait(d, WAIT).until(EC.presence_of_element_located((By.ID, "accounts")))
        names = [r.get_attribute("data-name") for r in d.find_elements(By.CSS_SELECTOR, "tr.account")]
        assert names == ["abe", "ada", "rita"]
        assert d.find_elements(By.ID, "nav-incidents") == []  # roles do not nest
        shot(d, "accounts")
    finally:
        d.quit()


def test_filter_the_queue(driver, console):
    driver.get(console.url("/incidents"))
    assert len(rows(driver)) == 6
    driver.find_element(By.ID, "f-user").send_keys("alice")
    Select(driver.find_element(By.ID, "f-action")).select_by_value("block")
    driver.find_element(By.ID, "f-destination").send_keys("api.example.com")
    submit(driver, "apply")
    assert driver.find_element(By.ID, "total").text == "2 matching incident(s)"
    assert len(rows(driver)) == 2
    shot(driver, "queue-filtered")
    no_raw_value(driver)


def test_open_and_triage_one(driver, console, data):
    first = data[2][0]
    driver.get(console.url("/incidents?user=alice&sort=oldest"))
    submit_link = driver.find_element(By.CSS_SELECTOR, f"tr[data-id='{first}'] a.open")
    page = driver.find_element(By.TAG_NAME, "html")
    submit_link.click()
    WebDriverWait(driver, WAIT).until(EC.staleness_of(page))
    assert driver.find_element(By.ID, "incident-id").text == first
    assert driver.find_element(By.ID, "severity").text == "High"  # block -> high by default
    hits = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#structure .hit")]
    assert hits == ["id", "phone"]  # json:$.id and json:$.phone highlighted in the tree
    shot(driver, "incident")
    Select(driver.find_element(By.ID, "new-status")).select_by_value("escalated")
    Select(driver.find_element(By.ID, "new-severity")).select_by_value("critical")
    driver.find_element(By.ID, "new-assignee").send_keys("sam")
    driver.find_element(By.ID, "new-note").send_keys("asked the sender's manager")
    submit(driver, "save")
    assert driver.find_element(By.ID, "status").text == "Escalated"
    assert driver.find_element(By.ID, "severity").text == "Critical"
    assert driver.find_element(By.ID, "assignee").text == "sam"
    history = driver.find_element(By.ID, "history").text
    assert ("console:rita status new -> escalated; assignee - -> sam; severity high -> "
            "critical; note added") in history
    shot(driver, "incident-triaged")
    no_raw_value(driver)
    log_verifies(data)


def test_bulk_triage_a_filtered_set(driver, console, data):
    driver.get(console.url("/incidents?user=bob"))
    assert len(rows(driver)) == 2
    Select(driver.find_element(By.ID, "new-status")).select_by_value("false_positive")
    submit(driver, "bulk")
    assert driver.find_element(By.ID, "bulk-count").get_attribute("data-count") == "2"
    assert driver.find_element(By.ID, "bulk-count").text.startswith("Set 2 incident(s)")
    shot(driver, "bulk-confirm")
    submit(driver, "confirm")
    assert "2 incident(s) updated." in driver.find_element(By.CLASS_NAME, "flash").text
    assert [r.find_element(By.CLASS_NAME, "status").text for r in rows(driver)] == [
        "False positive", "False positive"]
    shot(driver, "bulk-done")
    index = ReviewIndex.open(data[0])
    try:
        assert {index.incident(i)["status"] for i in data[2][3:5]} == {"false_positive"}
        assert index.incident(data[2][5])["status"] == "new"  # outside the filter: untouched
    finally:
        index.close()
    log_verifies(data)


def test_reveal_evidence_in_the_browser(driver, console, data):
    data_dir, key, ids = data
    driver.get(console.url(f"/incidents/{ids[1]}"))
    driver.find_element(By.ID, "key-file").send_keys(str(key))
    driver.find_element(By.ID, "reveal-reason").send_keys("ticket SEC-42")
    driver.find_element(By.ID, "reveal").click()
    WebDriverWait(driver, WAIT).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "tr.revealed-item")
        or d.find_element(By.ID, "reveal-error").is_displayed())
    assert not driver.find_element(By.ID, "reveal-error").is_displayed(), \
        driver.find_element(By.ID, "reveal-error").text
    values = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "tr.revealed-item .value")]
    assert values == [RAW_ID, RAW_PHONE]
    shot(driver, "reveal")
    index = ReviewIndex.open(data_dir)
    try:
        access = index.accesses()[-1]
    finally:
        index.close()
    assert (access["incident"], access["who"], access["reason"]) == (
        ids[1], "console:rita", "ticket SEC-42")
    log_verifies(data)


def test_switch_to_chinese(driver, console):
    driver.get(console.url("/incidents"))
    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, "lang-zh").click()
    WebDriverWait(driver, WAIT).until(EC.staleness_of(page))
    assert driver.find_element(By.TAG_NAME, "h1").text == "事件"
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN"
    shot(driver, "queue-zh")
    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, "lang-en").click()
    WebDriverWait(driver, WAIT).until(EC.staleness_of(page))


def test_no_raw_value_in_the_console_log(console, driver):
    """Raw values sent in a path, a query and a filter field: the console's own output (its
    access lines for 4xx, errors) names none of them."""
    driver.get(console.url(f"/incidents/{RAW_ID}"))  # no such incident: a 404, logged
    driver.get(console.url(f"/nothing/here?phone={RAW_PHONE}"))
    driver.get(console.url("/incidents"))
    driver.find_element(By.ID, "f-user").send_keys(RAW_ID)
    submit(driver, "apply")
    assert driver.find_element(By.ID, "total").text == "0 matching incident(s)"
    WebDriverWait(driver, WAIT).until(  # the log is read by a thread: wait for both lines
        lambda _: sum(line.startswith("404 GET ") for line in console.lines) >= 2)
    logged = "".join(console.lines)
    assert "listening on" in logged
    for raw in RAW_VALUES:
        assert raw not in logged
