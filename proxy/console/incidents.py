"""The incident queue, an incident's page, triage (one or bulk) and the browser reveal.

    GET  /incidents?status=new&entity=PHONE_NUMBER&sort=severity&page=2
    GET  /incidents/<id>
    POST /incidents/<id>/triage     status, severity, assignee, note   -> one triage frame
    POST /incidents/bulk            filters + changes -> a confirmation page with the count;
                                    again with confirm=<count> -> a triage frame per incident
    POST /incidents/<id>/reveal     reason (X-CSRF-Token) -> access frame, then JSON with the
                                    sealed data key and the encrypted evidence (static/reveal.js
                                    opens them in the browser with the reviewer's key file)

Why the reveal happens in the browser, and what that protects: the server holds only the
reviewers' public key, and hands the browser the same sealed bytes ``baomi incidents reveal``
reads from disk, after the access frame is durable; the private key is read from a local file
by static/reveal.js and is never sent (CSP: scripts only from this console, connections only
to it). A reader of the console host's disk, memory or traffic learns nothing it could not
read before. What it does not protect against: whoever controls the console's code can serve
a page that sends the key home, as with any crypto in a web page; reviewers who must assume
a compromised console host use the ``baomi incidents reveal`` command the page prints, on
their own machine. A passphrase-protected key file opens only with that command.

Reviewers only. Every change goes through ``proxy.record.incidents.review`` — the functions
``baomi incidents triage``/``reveal`` use — so it is a log frame first and ``baomi incidents
verify`` checks it like any other. Pages show metadata and masked snippets only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

from flask import Blueprint, current_app, jsonify, redirect, request, url_for

from proxy.act.refusal_text import entity_words
from proxy.console import queue
from proxy.console.structure import location_tree
from proxy.console.web import current_user, error_page, flash, g, render, require_role, t
from proxy.errors import BaomiError, KeyStoreError
from proxy.record.incidents import review
from proxy.record.incidents.index import SEVERITIES, STATUSES, ReviewIndex

bp = Blueprint("incidents", __name__, url_prefix="/incidents")

# What the pages offer; STATUSES also holds the two first statuses, accepted for old logs.
OFFERED_STATUSES = STATUSES[:6]
_ID = re.compile(r"[0-9A-Za-z-]{1,64}")
META_FIELDS = ("incident", "time", "action", "rule", "reason", "source", "user", "identity",
               "method", "scheme", "host", "port", "path", "mode", "enforced", "would_be",
               "uninspected", "approval", "policy_hash", "record_count", "period")


def _data_dir() -> Path:
    return current_app.config["BAOMI_DATA_DIR"]


def actor() -> str:
    """Who the log names for a console act: 'console:alice'."""
    user = current_user()
    assert user is not None  # views are behind require_role
    return f"console:{user.name}"


@contextmanager
def _index():
    index = ReviewIndex.open(_data_dir())
    try:
        yield index
    finally:
        index.close()


@bp.get("", endpoint="queue")
@require_role("reviewer")
def queue_page():
    q = queue.Query.from_args(request.args)
    with _index() as index:
        page = queue.run(index, q)
    return render("incidents/queue.html", q=q, page=page, statuses=OFFERED_STATUSES,
                  all_statuses=STATUSES, severities=SEVERITIES, actions=queue.ACTIONS,
                  entities=_entities, entity_words=lambda e: entity_words(e, g.lang))


@bp.get("/<incident_id>")
@require_role("reviewer")
def detail(incident_id: str):
    if not _ID.fullmatch(incident_id):
        return error_page("not_found", 404)
    with _index() as index:
        incident = index.incident(incident_id)
        if incident is None:
            return error_page("not_found", 404)
        history, notes = index.history(incident_id), index.notes(incident_id)
        accesses = [a for a in index.accesses() if a["incident"] == incident_id]
        period = index.period(incident["period"]) if incident["period"] else None
    meta = incident["meta"]
    return render(
        "incidents/detail.html", incident=incident, meta=meta, history=history, notes=notes,
        accesses=accesses, period=period, fields=[(k, meta[k]) for k in META_FIELDS
                                                  if meta.get(k) not in (None, "", [])],
        tree=location_tree(meta.get("locations") or []), statuses=OFFERED_STATUSES,
        severities=SEVERITIES, entities=_entities(meta),
        entity_words=lambda e: entity_words(e, g.lang),
        purged=period is None or period["purged_seq"] is not None,
        reveal_command=_reveal_command(incident_id),
    )


@bp.post("/<incident_id>/triage")
@require_role("reviewer")
def triage_one(incident_id: str):
    if not _ID.fullmatch(incident_id):
        return error_page("not_found", 404)
    change = _changes(request.form)
    if change is None:
        return error_page("bad_request", 400)
    with _index() as index:
        if index.incident(incident_id) is None:
            return error_page("not_found", 404)
    review.triage_many(_data_dir(), [incident_id], actor=actor(), **change)
    flash("saved")
    return redirect(url_for("incidents.detail", incident_id=incident_id))


@bp.post("/bulk")
@require_role("reviewer")
def bulk():
    q = queue.Query.from_args(request.form)
    change = _changes(request.form)
    if change is None:
        return error_page("bad_request", 400)
    with _index() as index:
        ids = queue.matching_ids(index, q)
    confirmed, selection = request.form.get("confirm"), _selection(ids)
    if confirmed is None or not hmac.compare_digest(confirmed, selection):
        message = None if confirmed is None else t("bulk_changed", n=len(ids))
        return render("incidents/bulk.html", q=q, count=len(ids), change=change,
                      message=message, selection=selection)
    if ids:
        review.triage_many(_data_dir(), ids, actor=actor(), **change)
    flash("bulk_done", n=len(ids))
    return redirect(url_for("incidents.queue") + "?" + urlencode(q.filters()))


@bp.post("/<incident_id>/reveal")
@require_role("reviewer")
def reveal(incident_id: str):
    if not _ID.fullmatch(incident_id):
        return jsonify(error=t("not_found")), 404
    reason = (request.form.get("reason") or "").strip()[:500]
    if not reason:
        return jsonify(error=t("reason")), 400
    try:
        sealed = review.sealed_evidence(_data_dir(), incident_id, reason, actor())
    except KeyStoreError:
        return jsonify(error=t("purged")), 410
    except BaomiError:  # no such incident or period: the message names ids only, not shown
        return jsonify(error=t("not_found")), 404
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731 - five fields, one encoding
    return jsonify(key_id=sealed.key_id, sealed_key=b64(sealed.sealed_key),
                   info=b64(sealed.info), evidence=b64(sealed.evidence), aad=b64(sealed.aad))


def _selection(ids: list[str]) -> str:
    """'3:9f3a...': the count and a hash of exactly these incidents. The confirmation carries
    it, so a set that changed since the page was shown (even to as many others) is not
    changed blindly: the reviewer confirms again."""
    digest = hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()[:32]
    return f"{len(ids)}:{digest}"


def _changes(form) -> dict | None:
    """status (required), severity, assignee, note from a form; None if malformed."""
    status = form.get("new_status", "")
    severity = form.get("new_severity") or None
    if status not in STATUSES or (severity is not None and severity not in SEVERITIES):
        return None
    assignee = (form.get("new_assignee") or "").strip()[:64] or None
    note = (form.get("new_note") or "").strip()[:2000] or None
    return {"status": status, "severity": severity, "assignee": assignee, "note": note}


def _entities(meta: dict) -> list[tuple[str, int]]:
    return sorted((meta.get("entity_counts") or {}).items())


def _reveal_command(incident_id: str) -> str:
    return (f'baomi incidents reveal {incident_id} --data-dir {_data_dir()} '
            f'--key REVIEWER-KEY.pem --reason "..."')
