"""End to end: live policy reload in the real `baomi run` process, no restart.

A change takes effect by file edit (polled every second) and by SIGHUP; an invalid file is
rejected with its file:line:column, the last good policy keeps deciding, and fixing the
file recovers; reloads in the middle of a request stream give every request the old or the
new policy's decision, never an error and never an unmasked value; a change of detection
settings restarts the detector workers.

What the upstream received is the assertion, with /metrics and the proxy's log.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml
from harness import REPO, BaomiProcess, free_port
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.e2e

MOBILE = "13800138000"
RESIDENT_ID = "11010519491231002X"
MASKED_MOBILE = "138********"
BASE = yaml.safe_load((REPO / "policies" / "default.yaml").read_text())


# -- policies ---------------------------------------------------------------------------------


def render(data: dict) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def edited(change: Callable[[dict], None]) -> str:
    data = json.loads(json.dumps(BASE))  # a deep copy
    change(data)
    return render(data)


def rule(data: dict, name: str) -> dict:
    (found,) = [r for r in data["rules"] if r["name"] == name]
    return found


def mask_to_block(data: dict) -> None:
    rule(data, "mask-contacts-external")["action"] = "block"


def upstream_is_internal(data: dict) -> None:
    data["internal"]["cidrs"] = ["127.0.0.0/8"]  # rule allow-internal now matches the upstream


def hotline_allowed(data: dict) -> None:
    data["detection"]["allow_values"] = [MOBILE]  # "our own hotline": not customer data


BASE_TEXT = render(BASE)
BLOCK_TEXT = edited(mask_to_block)


def policy_hash(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def write_policy(path: Path, text: str) -> None:
    """Replace the file in one step, as editors and ConfigMap updates do: the watcher must
    never read half a file (a half file would be rejected, which is right, but not this test)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def line_of(text: str, needle: str) -> int:
    return text.splitlines().index(needle) + 1


# -- the process ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def policy_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("reload-policy") / "policy.yaml"
    path.write_text(BASE_TEXT)
    return path


@pytest.fixture(scope="module")
def proxy(tmp_path_factory, upstream_ca, policy_path):
    data = tmp_path_factory.mktemp("reload-data")
    with BaomiProcess(policy_path, data, upstream_ca=upstream_ca.pem, metrics_port=free_port()) as px:
        yield px


@pytest.fixture
def client(proxy):
    with httpx.Client(
        proxy=proxy.url, verify=ssl.create_default_context(cafile=proxy.ca_pem), timeout=60
    ) as c:
        yield c


@pytest.fixture
def base_policy(proxy, policy_path) -> str:
    """Every test starts with the base policy in force and no rejected reload pending."""
    write_policy(policy_path, BASE_TEXT)
    wait_until(
        lambda: (
            in_force(proxy) == policy_hash(BASE_TEXT)
            and sample(proxy, "baomi_policy_last_reload_successful") == 1
        ),
        "the base policy in force",
        timeout=120,
    )
    return BASE_TEXT


class Metrics:
    """One scrape of /metrics."""

    def __init__(self, proxy: BaomiProcess):
        text = httpx.get(f"http://127.0.0.1:{proxy.metrics_port}/metrics", timeout=10).text
        self.samples = [s for f in text_string_to_metric_families(text) for s in f.samples]

    def value(self, name: str, **labels: str) -> float:
        return sum(
            s.value for s in self.samples if s.name == name and labels.items() <= s.labels.items()
        )

    def policy_hashes(self) -> list[str]:
        return [s.labels["hash"] for s in self.samples if s.name == "baomi_policy_info"]


def sample(proxy, name: str, **labels: str) -> float:
    return Metrics(proxy).value(name, **labels)


def reloads(proxy, result: str) -> float:
    return sample(proxy, "baomi_policy_reloads_total", result=result)


def in_force(proxy) -> str | None:
    """The policy hash /metrics exports; None in the moment a reload swaps it (the gauge is
    cleared, then set: a scrape from the metrics thread can fall between the two)."""
    hashes = Metrics(proxy).policy_hashes()
    assert len(hashes) <= 1, f"one policy is in force, not {hashes}"
    return hashes[0] if hashes else None


def wait_until(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def readyz(proxy) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{proxy.metrics_port}/readyz", timeout=10)


# -- what a request gets ------------------------------------------------------------------------


def send_phone(client, up) -> tuple[int, bytes | None]:
    """(status, body the upstream received or None)."""
    n = len(up.received)
    r = client.post(up.url("/tickets"), json={"phone": MOBILE})
    return r.status_code, (up.received[-1].body if len(up.received) > n else None)


def assert_masked(outcome, proxy=None) -> None:
    """``proxy``: name the decision that came instead (rule, reason) if it was not a mask."""
    status, got = outcome
    assert status == 200 and got is not None, decided(proxy)
    assert json.loads(got)["phone"] == MASKED_MOBILE


def decided(proxy) -> str | None:
    if proxy is None:
        return None
    d = proxy.last_decision()
    return f"{d['action']} by {d['rule']} ({d['reason']}), policy {d['policy_hash']}"


def assert_blocked(outcome) -> None:
    status, got = outcome
    assert status == 403 and got is None


def assert_forwarded_as_is(outcome) -> None:
    status, got = outcome
    assert status == 200 and got is not None
    assert json.loads(got)["phone"] == MOBILE


# -- (a) a file edit takes effect without a restart --------------------------------------------


@pytest.mark.parametrize(
    ("change", "expect"),
    [(mask_to_block, assert_blocked), (upstream_is_internal, assert_forwarded_as_is)],
    ids=["mask-becomes-block", "allow-internal-upstream"],
)
def test_file_edit_takes_effect_without_restart(
    proxy, base_policy, policy_path, client, https_up, change, expect
):
    pid = proxy.proc.pid
    assert_masked(send_phone(client, https_up))
    successes = reloads(proxy, "success")
    new = edited(change)
    write_policy(policy_path, new)
    wait_until(lambda: in_force(proxy) == policy_hash(new), "the edited policy in force")
    expect(send_phone(client, https_up))
    assert reloads(proxy, "success") == successes + 1
    assert sample(proxy, "baomi_policy_last_reload_successful") == 1
    assert proxy.proc.pid == pid and proxy.proc.poll() is None
    assert f"policy reloaded (file changed): {policy_path} {policy_hash(new)}" in proxy.log_text()


# -- (b) SIGHUP -------------------------------------------------------------------------------


def test_sighup_rereads_an_unchanged_file(proxy, base_policy):
    """The file watcher never fires for unchanged content, so this reload is SIGHUP's."""
    successes = reloads(proxy, "success")
    proxy.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: reloads(proxy, "success") == successes + 1, "a reload after SIGHUP")
    assert "policy unchanged (SIGHUP): " in proxy.log_text()
    assert in_force(proxy) == policy_hash(base_policy)


def test_sighup_applies_an_edit(proxy, base_policy, policy_path, client, https_up):
    successes = reloads(proxy, "success")
    log_before = len(proxy.log_text())
    write_policy(policy_path, BLOCK_TEXT)
    proxy.proc.send_signal(signal.SIGHUP)  # microseconds later: almost always before the poll
    wait_until(lambda: in_force(proxy) == policy_hash(BLOCK_TEXT), "the edited policy in force")
    assert_blocked(send_phone(client, https_up))
    # SIGHUP and the watcher race for the file: whichever reads it first logs "policy
    # reloaded", a later one "policy unchanged". Each logged reload is counted exactly once.
    logged = re.compile(rf"policy (reloaded|unchanged) \((SIGHUP|file changed)\): "
                        rf"{re.escape(f'{policy_path} {policy_hash(BLOCK_TEXT)}')}$", re.MULTILINE)

    def reloads_logged() -> list[tuple[str, str]]:
        return logged.findall(proxy.log_text()[log_before:])

    wait_until(
        lambda: (
            any(why == "SIGHUP" for _, why in reloads_logged())
            and reloads(proxy, "success") == successes + len(reloads_logged())
        ),
        "the SIGHUP reload, logged and counted",
    )
    done = reloads_logged()
    assert [what for what, _ in done].count("reloaded") == 1, done
    assert [why for _, why in done].count("SIGHUP") == 1, done
    assert proxy.proc.poll() is None


# -- (c) an invalid file is rejected; the last good policy stays; fixing it recovers -------------


def syntax_error(text: str) -> tuple[str, str]:
    bad = text.replace("\nmode: enforce\n", "\nmode: enforce: now\n")
    return bad, f":{line_of(bad, 'mode: enforce: now')}:14:"


def schema_error(text: str) -> tuple[str, str]:
    bad = text.replace("\n  action: mask\n", "\n  action: destroy\n")
    assert bad != text
    return bad, f":{line_of(bad, '  action: destroy')}:11:"


@pytest.mark.parametrize("make_bad", [syntax_error, schema_error])
def test_invalid_policy_is_rejected_and_fixing_it_recovers(
    proxy, base_policy, policy_path, client, https_up, make_bad
):
    bad, position = make_bad(base_policy)
    failures, successes = reloads(proxy, "failure"), reloads(proxy, "success")
    log_before = len(proxy.log_text())
    write_policy(policy_path, bad)
    wait_until(lambda: reloads(proxy, "failure") == failures + 1, "the rejection")

    log = proxy.log_text()[log_before:]
    assert f"policy reload rejected (file changed): {policy_path}{position}" in log
    assert f"keeping the last good policy {policy_hash(base_policy)}" in log
    assert in_force(proxy) == policy_hash(base_policy)
    assert sample(proxy, "baomi_policy_last_reload_successful") == 0
    assert reloads(proxy, "success") == successes
    r = readyz(proxy)
    assert r.status_code == 200  # the old policy is enforced: still ready to serve
    assert r.json()["policy_reload"].startswith(f"last reload rejected: {policy_path}{position}")
    assert_masked(send_phone(client, https_up))  # the old decision, unchanged

    write_policy(policy_path, BLOCK_TEXT)  # the fix
    wait_until(lambda: in_force(proxy) == policy_hash(BLOCK_TEXT), "the fixed policy in force")
    assert_blocked(send_phone(client, https_up))
    assert sample(proxy, "baomi_policy_last_reload_successful") == 1
    assert "policy_reload" not in readyz(proxy).json()
    assert reloads(proxy, "failure") == failures + 1


def test_reverting_a_rejected_edit_clears_the_rejection(proxy, base_policy, policy_path):
    """Putting back the file in force is a fix too, though the policy hash does not change."""
    failures = reloads(proxy, "failure")
    write_policy(policy_path, syntax_error(base_policy)[0])
    wait_until(lambda: reloads(proxy, "failure") == failures + 1, "the rejection")
    assert "policy_reload" in readyz(proxy).json()
    write_policy(policy_path, base_policy)
    wait_until(lambda: sample(proxy, "baomi_policy_last_reload_successful") == 1, "the revert")
    assert "policy_reload" not in readyz(proxy).json()


# -- (d) reloads in the middle of a request stream --------------------------------------------

KINDS = ("phone", "resident-id", "clean")


class Stream(threading.Thread):
    """Sends requests one after another until told to stop (or ``limit`` is reached)."""

    def __init__(self, proxy, up, limit: int = 600):
        super().__init__(daemon=True)
        self.proxy, self.up, self.limit = proxy, up, limit
        self.stop = threading.Event()
        self.outcomes: list[tuple[str, int, int]] = []  # kind, status, request number
        self.error: BaseException | None = None

    def run(self) -> None:
        ctx = ssl.create_default_context(cafile=self.proxy.ca_pem)
        try:
            with httpx.Client(proxy=self.proxy.url, verify=ctx, timeout=60) as c:
                for i in range(self.limit):
                    if self.stop.is_set():
                        return
                    kind = KINDS[i % len(KINDS)]
                    r = c.post(self.up.url(f"/stream/{i}"), json=body_of(kind, i))
                    self.outcomes.append((kind, r.status_code, i))
        except BaseException as e:  # noqa: BLE001 - reported by the test, not lost in the thread
            self.error = e

    def done(self) -> int:
        return len(self.outcomes)


def body_of(kind: str, i: int) -> dict:
    return {
        "phone": {"phone": MOBILE, "n": i},
        "resident-id": {"id_no": RESIDENT_ID, "n": i},
        "clean": {"order": f"SO-{i}", "n": i},
    }[kind]


def test_reload_during_traffic_gives_old_or_new_decision(proxy, base_policy, policy_path, https_up):
    policies = [BLOCK_TEXT, base_policy] * 3
    stream = Stream(proxy, https_up)
    stream.start()
    try:
        for i, text in enumerate(policies):
            write_policy(policy_path, text)
            if i % 2:
                proxy.proc.send_signal(signal.SIGHUP)  # both triggers, under traffic
            wait_until(lambda t=text: in_force(proxy) == policy_hash(t), f"flip {i}")
            seen = stream.done()
            wait_until(
                lambda s=seen: stream.done() >= s + 3 or stream.error,
                "requests under the new policy",
            )
    finally:
        stream.stop.set()
        stream.join(120)
    assert stream.error is None, repr(stream.error)

    by_path = {r.path: r for r in https_up.received if r.path.startswith("/stream/")}
    decisions = [
        json.loads(line) for line in (proxy.data_dir / "decisions.jsonl").read_text().splitlines()
    ]
    decided_by = {d["path"]: d["policy_hash"] for d in decisions}
    phone_statuses = set()
    for kind, status, i in stream.outcomes:
        got = by_path.get(f"/stream/{i}")
        if kind == "phone":
            # The policy that decided it (its record says which) fixes the answer: masked
            # under the base policy, blocked under the block policy; never forwarded as it was.
            if decided_by[f"/stream/{i}"] == policy_hash(base_policy):
                assert status == 200 and got is not None, (i, status)
                assert (
                    MOBILE.encode() not in got.body
                    and json.loads(got.body)["phone"] == MASKED_MOBILE
                )
            else:
                assert decided_by[f"/stream/{i}"] == policy_hash(BLOCK_TEXT), i
                assert (status, got) == (403, None), (i, status)
            phone_statuses.add(status)
        elif kind == "resident-id":  # both policies block it
            assert (status, got) == (403, None), (i, status)
        else:  # both policies allow it, byte for byte
            assert status == 200 and json.loads(got.body) == body_of(kind, i), (i, status)
    assert phone_statuses == {200, 403}, "the stream saw both policies"
    stream_decisions = [d for d in decisions if d["path"].startswith("/stream/")]
    assert len(stream_decisions) == len(stream.outcomes)
    assert {d["policy_hash"] for d in stream_decisions} <= {policy_hash(t) for t in policies}
    assert not [d for d in stream_decisions if d["uninspected"] or d["rule"].startswith("on_")]


# -- (e) detection settings restart the detector ------------------------------------------------


def test_detection_change_restarts_the_detector(proxy, base_policy, policy_path, client, https_up):
    assert_masked(send_phone(client, https_up), proxy)
    starts = proxy.log_text().count("detector ready:")
    new = edited(hotline_allowed)
    write_policy(policy_path, new)
    wait_until(
        lambda: in_force(proxy) == policy_hash(new), "the new detection settings", timeout=180
    )  # new workers build their detector first: several seconds
    # The log line was written before the swap, but reaches the harness's reader thread on its
    # own time (under load, after /metrics shows the swap): wait for it, then it is exact.
    wait_until(lambda: proxy.log_text().count("detector ready:") >= starts + 1, "its log line")
    assert proxy.log_text().count("detector ready:") == starts + 1
    assert_forwarded_as_is(send_phone(client, https_up))  # an allowed value is no finding
    assert_blocked(client_post_id(client, https_up))  # other detection still works

    write_policy(policy_path, base_policy)  # and back: masked again, by fresh workers
    wait_until(lambda: in_force(proxy) == policy_hash(base_policy), "the base policy", timeout=180)
    wait_until(lambda: proxy.log_text().count("detector ready:") >= starts + 2, "its log line")
    assert proxy.log_text().count("detector ready:") == starts + 2
    assert_masked(send_phone(client, https_up), proxy)
    assert readyz(proxy).json()["components"]["detector"] == "ready"


def client_post_id(client, up) -> tuple[int, bytes | None]:
    n = len(up.received)
    r = client.post(up.url("/customers"), json={"id_no": RESIDENT_ID})
    return r.status_code, (up.received[-1].body if len(up.received) > n else None)
