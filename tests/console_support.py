"""Shared pieces of the console tests (G's and H's): accounts, seeded incidents, a logged-in
client, the real ``baomi console`` process and a headless Chromium.

    data_dir, key = seeded_dir(tmp_path)        # keys, a few incidents with RAW_* values, users
    app, clock = console_app(data_dir)          # Flask app with a clock the test moves
    client = app.test_client(); login(client, "rita")
    client.post("/incidents/bulk", data={..., "csrf_token": csrf(client)})
    with ConsoleServer(data_dir) as console:    # python -m proxy console --listen-port 0
        driver.get(console.url("/login"))
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from harness import REPO
from incidents_cli import RAW_ID, RAW_PHONE, keyed_dir, record

from proxy.console import users
from proxy.console.app import ConsoleSettings, create_app
from proxy.console.users import Users
from proxy.record.incidents.store import IncidentStore

# In-process tests hash with argon2id at 8 MiB, 1 pass (the 64 MiB default takes ~1 s a hash on
# today's shared cores); the real `baomi console` processes (ConsoleServer) keep the default.
users.use_hasher(PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1))

PASSWORD = "correct horse battery staple"
USERS = {"rita": ["reviewer"], "abe": ["approver"], "ada": ["admin"]}
RAW_VALUES = (RAW_ID, RAW_PHONE)
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT = 30


def add_users(data_dir: Path, users: dict[str, list[str]] = USERS) -> None:
    accounts = Users(data_dir)
    for name, roles in users.items():
        accounts.add(name, roles, PASSWORD)


# Six incidents: alice's blocks to two hosts, bob's masks, one monitor; all carry RAW_* evidence.
SEEDS = (
    {"user": "alice", "host": "api.example.com", "action": "block"},
    {"user": "alice", "host": "api.example.com", "action": "block"},
    {"user": "alice", "host": "files.example.net", "action": "block",
     "entity_counts": {"CN_RESIDENT_ID": 1}, "locations": ["multipart:customers.csv:row2"]},
    {"user": "bob", "host": "chat.example.org", "action": "mask", "rule": "mask-phones",
     "entity_counts": {"PHONE_NUMBER": 1}, "locations": ["json:$.messages[0].content"]},
    {"user": "bob", "host": "chat.example.org", "action": "mask", "rule": "mask-phones",
     "entity_counts": {"PHONE_NUMBER": 1}, "locations": ["json:$.messages[1].content"]},
    {"user": "carol", "host": "api.example.com", "action": "monitor", "rule": "watch",
     "user_groups": ["payroll"]},
)


def seed_incidents(data_dir: Path) -> list[str]:
    """The SEEDS written by the proxy's own IncidentStore; their ids, in log order."""
    store = IncidentStore(data_dir)
    ids = []
    try:
        for i, changes in enumerate(SEEDS):
            r = record(time=f"2026-12-0{i + 1}T08:00:00Z", **changes)
            store.write(r)
            ids.append(r.incident_id)
    finally:
        store.close()
    return ids


def seeded_dir(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    """A data dir with reviewer keys, the SEEDS and USERS; (data_dir, private key, ids)."""
    data_dir, key = keyed_dir(tmp_path)
    ids = seed_incidents(data_dir)
    add_users(data_dir)
    return data_dir, key, ids


class Clock:
    """A monotonic clock the test moves: ``clock.advance(31 * 60)``."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def console_app(data_dir: Path, **settings: object):
    clock = Clock()
    app = create_app(ConsoleSettings(data_dir=data_dir, clock=clock, **settings))  # type: ignore[arg-type]
    return app, clock


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(client, path: str = "/login") -> str:
    """The session's CSRF token, read from a page's form (a GET changes nothing)."""
    match = _CSRF.search(client.get(path).get_data(as_text=True))
    assert match, f"no CSRF field on {path}"
    return match.group(1)


def login(client, name: str, password: str = PASSWORD, next_: str = "/"):
    return client.post("/login", data={"name": name, "password": password, "next": next_,
                                       "csrf_token": csrf(client)})


@dataclass
class ConsoleServer:
    """The real ``baomi console`` on 127.0.0.1, a free port chosen by the system."""

    data_dir: Path
    extra_args: tuple[str, ...] = ()

    def __enter__(self) -> ConsoleServer:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "proxy", "console", "--data-dir", str(self.data_dir),
             "--listen-port", "0", *self.extra_args],
            cwd=REPO, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.proc.stderr is not None
        self.lines: list[str] = []
        for line in self.proc.stderr:  # the first line says where it listens (or why not)
            self.lines.append(line)
            found = re.search(r"listening on (\S+)/", line)
            if found:
                self.base = found.group(1)
                break
        else:
            self.proc.wait()
            self.proc.stderr.close()
            raise RuntimeError(f"console did not start: {''.join(self.lines)}")
        self._pump = threading.Thread(target=self._drain, daemon=True)
        self._pump.start()
        return self

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)

    def url(self, path: str = "/") -> str:
        return self.base + path

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.code = self.proc.wait(timeout=30)  # 0: SIGTERM is a clean stop
        self._pump.join(timeout=30)
        assert self.proc.stderr is not None
        self.proc.stderr.close()


def chrome(home: Path, lang: str = "en-US"):
    """Headless Chromium (Debian's, with its chromedriver; nothing downloaded)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage", f"--lang={lang}",
                 "--window-size=1280,900", f"--user-data-dir={home / 'profile'}",
                 "--no-proxy-server"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"intl.accept_languages": lang})
    env = {**os.environ, "HOME": str(home), "SE_OFFLINE": "1"}
    os.environ["SE_OFFLINE"] = "1"  # Selenium Manager stays offline (explicit driver path)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER, env=env),
                              options=options)
    driver.set_page_load_timeout(WAIT)
    driver.set_script_timeout(WAIT)
    return driver


def shot(driver, name: str) -> None:
    """A screenshot as tests/artifacts/console-NAME.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"console-{name}.png"))


def browser_login(driver, console: ConsoleServer, name: str, password: str = PASSWORD) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(console.url("/login"))
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login").click()
    WebDriverWait(driver, WAIT).until(EC.presence_of_element_located((By.ID, "whoami")))
