"""The real git through the real baomi: clone and push over HTTPS to git's own smart-HTTP server
(git-http-backend) on 127.0.0.1.

A clone of a repository whose pack is over 10 MiB covers the big-download path; a clean push
must land; a push adding a customer table must be refused in words git shows the user (reason
and incident id on `remote:` / `! [remote rejected]` lines) and must not land. Edits of a file
the server already has travel as deltas in a thin pack: a clean one lands, one that adds a
resident ID is refused.
"""

from __future__ import annotations

import hashlib
import os

import pytest
from apps import GitServer, customers_csv, git, git_env, last_block, make_served_repo

pytestmark = pytest.mark.e2e

RESIDENT_ID = "11010519491231002X"
BIG = 11 * 1024 * 1024  # random bytes do not compress: the pack is over 10 MiB
# A shipping log that does not compress (random tokens), so that a push of a small edit to it
# is visibly a delta against the server's copy (a thin pack), not the whole file again.
NOTES = "".join(f"{i:03d} parcel {os.urandom(12).hex()} shipped from warehouse 3\n"
                for i in range(300))


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Bare repositories: ``big.git`` (one 11 MiB file) and ``shop.git`` (small, for pushes)."""
    root = tmp_path_factory.mktemp("git-served")
    env = git_env(tmp_path_factory.mktemp("git-admin-home"))
    big = os.urandom(BIG)
    make_served_repo(root, "big.git", root / "big-work", {"data/blob.bin": big}, env)
    make_served_repo(root, "shop.git", root / "shop-work",
                     {"README.md": b"# shop\n", "orders/2026.csv": b"sku,qty\nA-100,3\n",
                      "notes.txt": NOTES.encode()}, env)
    return root, hashlib.sha256(big).hexdigest()


@pytest.fixture(scope="module")
def server(upstream_ca, served):
    with GitServer(upstream_ca, served[0]) as s:
        yield s


@pytest.fixture(scope="module")
def env(tmp_path_factory, default_proxy):
    """git's environment: through baomi, trusting baomi's CA."""
    return git_env(tmp_path_factory.mktemp("git-home"), default_proxy.url, default_proxy.ca_pem)


@pytest.fixture(scope="module")
def shop(tmp_path_factory, served, server, env):
    """A working copy of shop.git (copied straight from disk) whose origin is the HTTPS URL, so
    only pushes go through baomi."""
    work = tmp_path_factory.mktemp("shop-clone") / "shop"
    git("clone", "-q", str(served[0] / "shop.git"), str(work), env=env)
    git("remote", "set-url", "origin", server.url("/shop.git"), cwd=work, env=env)
    return work


def server_head(served, repo: str) -> str:
    return git("rev-parse", "refs/heads/main", cwd=served[0] / repo).stdout.strip()


def commit(work, served, files: dict[str, str], message: str, env) -> str:
    """A commit on top of what the server has (a refused commit from an earlier test is
    dropped, so it is not pushed again)."""
    git("reset", "-q", "--hard", server_head(served, "shop.git"), cwd=work, env=env)
    for rel, text in files.items():
        (work / rel).write_text(text, encoding="utf-8")
    git("add", *files, cwd=work, env=env)
    git("commit", "-q", "-m", message, cwd=work, env=env)
    return git("rev-parse", "HEAD", cwd=work, env=env).stdout.strip()


def test_clone_of_a_big_repository(tmp_path, served, server, env, default_proxy):
    dest = tmp_path / "big"
    done = git("clone", "-q", server.url("/big.git"), str(dest), env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert git("rev-parse", "HEAD", cwd=dest, env=env).stdout.strip() == server_head(served, "big.git")
    assert hashlib.sha256((dest / "data" / "blob.bin").read_bytes()).hexdigest() == served[1]
    fetches = [r for r in default_proxy.decisions() if r["path"] == "/big.git/git-upload-pack"]
    assert fetches and fetches[-1]["action"] == "allow"  # it did go through baomi


def test_clean_push_lands(shop, served, env, default_proxy):
    head = commit(shop, served, {"orders/2026.csv": "sku,qty\nA-100,3\nB-200,12\n"},
                  "more orders", env)
    done = git("push", "origin", "main", cwd=shop, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert server_head(served, "shop.git") == head
    pushes = [r for r in default_proxy.decisions() if r["path"] == "/shop.git/git-receive-pack"]
    assert pushes and pushes[-1]["action"] == "allow"  # it did go through baomi


def test_push_of_customer_table_is_refused(shop, served, env, default_proxy):
    before, logged = server_head(served, "shop.git"), len(default_proxy.decisions())
    table = customers_csv(10, ids=True)
    head = commit(shop, served, {"customers.csv": table}, "customer export", env)
    done = git("push", "origin", "main", cwd=shop, env=env, check=False)
    record = last_block(default_proxy.data_dir, "/shop.git/git-receive-pack", after=logged)
    assert done.returncode == 1  # git push: a ref the remote rejected
    assert record["rule"] == "block-ids-and-cards"
    assert "remote:" in done.stderr
    assert "! [remote rejected] main -> main" in done.stderr
    assert record["incident_id"] in done.stderr
    assert record["rule"] in done.stderr
    assert not any(row.split(",")[2] in done.stderr for row in table.splitlines()[1:])
    assert server_head(served, "shop.git") == before != head


def receive_packs(server) -> list:
    return [r for r in server.received if r.path == "/shop.git/git-receive-pack"]


def test_clean_edit_of_existing_file_lands_as_a_delta(shop, served, server, env):
    edited = NOTES.replace("000 parcel", "000 parcel (late)")
    head = commit(shop, served, {"notes.txt": edited}, "late parcel", env)
    done = git("push", "origin", "main", cwd=shop, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert server_head(served, "shop.git") == head
    assert len(receive_packs(server)[-1].body) < len(NOTES) // 4  # a delta, not the file


def test_resident_id_added_to_existing_file_is_refused(shop, served, server, env, default_proxy):
    before, logged = server_head(served, "shop.git"), len(default_proxy.decisions())
    pushes = len(receive_packs(server))
    head = commit(shop, served, {"notes.txt": NOTES + f"301 收件人身份证 {RESIDENT_ID}\n"},
                  "note", env)
    done = git("push", "origin", "main", cwd=shop, env=env, check=False)
    record = last_block(default_proxy.data_dir, "/shop.git/git-receive-pack", after=logged)
    assert done.returncode == 1  # git push: a ref the remote rejected
    assert record["rule"] == "block-ids-and-cards"
    assert "! [remote rejected] main -> main" in done.stderr
    assert record["incident_id"] in done.stderr
    assert RESIDENT_ID not in done.stderr
    assert len(receive_packs(server)) == pushes
    assert server_head(served, "shop.git") == before != head
