"""Transfer applications (the policy's 传输申请) and the approvals they become.

    GET  /applications/new?incident=BM-...&token=...   the block page's link: a form pre-filled
                                                     from the incident (host, data, records)
    POST /applications/new                           file it (once per incident)
    GET  /applications                               approvers: the queue (pending first)
    GET  /applications/<id>                          approvers: one application, approve/reject
    POST /applications/<id>/approve                  data classes, valid days, max records
                                                     (narrowing only)
    POST /applications/<id>/reject                   with a reason
    GET  /applications/approvals                     approvers: active, expired, revoked
    POST /applications/approvals/<id>/revoke         in force in the proxy within ~1 s

The requester needs no console account: the link's token (``proxy.record.approvals.links``)
is checked against the incident and the browser's address, and names the requester (the
incident's user, or its client address). Everything else is for the ``approver`` role, checked
on every request; an approver never decides an application they requested. Every act goes
through ``proxy.record.approvals.ApprovalStore``: an incident-log frame first, then
state.json, which the running proxy polls. Pages show host names, kinds of data and counts,
never a value.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Blueprint, current_app, redirect, request, url_for

from policies.load import load_policy
from policies.model import Approval
from proxy.act.refusal_text import entity_words
from proxy.console.screen import CannotScreen, personal_data_in
from proxy.console.text import add_words
from proxy.console.web import current_user, error_page, flash, g, render, require_role, t
from proxy.errors import ApplicationError, BaomiError, KeyStoreError
from proxy.record.approvals.links import check_link, load_link_key
from proxy.record.approvals.model import Application
from proxy.record.approvals.store import MAX_RECORDS, MAX_VALIDITY, ApprovalStore
from proxy.record.incidents.index import ReviewIndex

bp = Blueprint("applications", __name__, url_prefix="/applications")

_ID = re.compile(r"[0-9A-Za-z-]{1,64}")
DEFAULT_DAYS = 30

add_words({
    "apps.nav": ("Applications", "传输申请"),
    "apps.approvals_nav": ("Approvals", "审批记录"),
    "apps.new_title": ("Transfer application", "数据传输申请"),
    "apps.new_lead": ("Your request was blocked. To send this data, describe the transfer; an "
                      "approver decides. The data itself is not shown here.",
                      "您的请求已被拦截。如需发送这些数据，请说明此次传输，由审批人决定。"
                      "本页不显示数据本身。"),
    "apps.requester": ("Requester", "申请人"),
    "apps.client": ("client {address}", "客户端 {address}"),
    "apps.host": ("Destination", "目的地"),
    "apps.data": ("Data", "数据类型"),
    "apps.records": ("Customer records in the blocked request", "被拦截请求中的客户记录数"),
    "apps.purpose": ("Purpose", "用途"),
    "apps.recipient": ("Recipient (organisation, person)", "接收方（机构、人员）"),
    "apps.method": ("Transfer method", "传输方式"),
    "apps.agreement": ("Agreement reference (NDA / consent)", "协议编号（保密协议/授权同意）"),
    "apps.days": ("Valid for (days)", "有效期（天）"),
    "apps.max_records": ("Maximum customer records per request", "每次请求的最多客户记录数"),
    "apps.submit": ("Submit application", "提交申请"),
    "apps.filed": ("Application {id} was filed. An approver will decide; retry the transfer "
                   "once it is approved.", "申请 {id} 已提交，等待审批；获批后请重新发送。"),
    "apps.bad_link": ("This application link is not valid here: {why}",
                      "此申请链接在此无效：{why}"),
    "apps.refused": ("Not done: {why}", "未执行：{why}"),
    "apps.queue_title": ("Transfer applications", "数据传输申请"),
    "apps.pending": ("Waiting for a decision", "待审批"),
    "apps.decided": ("Decided", "已处理"),
    "apps.none": ("None.", "无。"),
    "apps.filed_at": ("Filed", "提交时间"),
    "apps.status": ("Status", "状态"),
    "apps.open": ("Open", "打开"),
    "apps.detail_title": ("Application {id}", "申请 {id}"),
    "apps.wanted_until": ("Wanted until", "申请有效至"),
    "apps.approve": ("Approve", "批准"),
    "apps.approve_lead": ("Approve as asked or narrower: fewer kinds of data, fewer days, fewer "
                          "records.", "可按申请批准，或收窄：更少的数据类型、更短的有效期、更少的记录数。"),
    "apps.days_blank": ("Valid for (days; blank: as asked)", "有效期（天；留空：按申请）"),
    "apps.reject": ("Reject", "驳回"),
    "apps.reject_reason": ("Reason for rejecting", "驳回原因"),
    "apps.approved": ("Application {id} approved: in force in the proxy within seconds.",
                      "申请 {id} 已批准，数秒内在代理中生效。"),
    "apps.rejected": ("Application {id} rejected.", "申请 {id} 已驳回。"),
    "apps.own": ("You requested this application: another approver must decide it.",
                 "这是您本人提交的申请，须由其他审批人处理。"),
    "apps.decision": ("Decision", "处理结果"),
    "apps.approvals_title": ("Approvals from applications", "由申请产生的审批"),
    "apps.approver": ("Approver", "审批人"),
    "apps.expires": ("Expires", "到期时间"),
    "apps.revoke": ("Revoke", "撤销"),
    "apps.revoke_reason": ("Reason", "原因"),
    "apps.revoked": ("Approval {id} revoked: the proxy stops applying it within seconds.",
                     "审批 {id} 已撤销，数秒内在代理中失效。"),
    "apps.state.pending": ("Pending", "待审批"),
    "apps.state.approved": ("Approved", "已批准"),
    "apps.state.rejected": ("Rejected", "已驳回"),
    "apps.state.active": ("Active", "有效"),
    "apps.state.expired": ("Expired", "已过期"),
    "apps.state.revoked": ("Revoked", "已撤销"),
    "apps.state.not_started": ("Not yet started", "尚未生效"),
    "apps.policy_title": ("Approvals in the policy file (changed by editing the policy)",
                          "策略文件中的审批（通过修改策略变更）"),
    "apps.source": ("Source", "来源"),
})


def _data_dir() -> Path:
    return current_app.config["BAOMI_DATA_DIR"]


def _store() -> ApprovalStore:
    return ApprovalStore(_data_dir())


def _words(entity: str) -> str:
    return entity_words(entity, g.lang)


def _requester(app: Application) -> str:
    return app.requester or t("apps.client", address=app.client)


# --- the requester (no account: the one-time link) ----------------------------------------------


@bp.get("/new")
def new():
    incident_id, token = request.args.get("incident", ""), request.args.get("token", "")
    meta, problem = _linked_incident(incident_id, token)
    if meta is None:
        return error_page_with("apps.bad_link", problem, 403)
    filed = _store().state().application_for(incident_id)
    if filed is not None:  # the link is used up: say so before anyone types the form again
        return error_page_with("apps.refused", f"application {filed.id} was already filed for "
                               "this incident (the link works once)", 409)
    return render("applications/new.html", incident_id=incident_id, token=token, meta=meta,
                  entities=sorted((meta.get("entity_counts") or {}).keys()), words=_words,
                  requester=meta.get("user") or t("apps.client", address=meta.get("source")),
                  days=DEFAULT_DAYS, max_records=max(int(meta.get("record_count") or 0), 1),
                  max_days=MAX_VALIDITY.days, max_allowed=MAX_RECORDS)


@bp.post("/new")
def file():
    form = request.form
    incident_id, token = form.get("incident", ""), form.get("token", "")
    meta, problem = _linked_incident(incident_id, token)
    if meta is None:
        return error_page_with("apps.bad_link", problem, 403)
    days, records = _whole(form.get("days")), _whole(form.get("max_records"))
    if days is None or records is None:
        return error_page("bad_request", 400)
    refused = _personal_data({name: form.get(name, "") for name in TYPED})
    if refused is not None:
        return error_page_with("apps.refused", refused, 422)
    try:
        app = _store().file(incident_id, purpose=form.get("purpose", ""),
                            recipient=form.get("recipient", ""), method=form.get("method", ""),
                            agreement=form.get("agreement", ""),
                            wanted_until=datetime.now(UTC) + timedelta(days=days),
                            max_records=records)
    except ApplicationError as e:
        return error_page_with("apps.refused", str(e), 409)
    return render("applications/filed.html", app=app, requester=_requester(app), words=_words)


TYPED = ("purpose", "recipient", "method", "agreement")  # kept in clear: screened first
EXPECTED = {"recipient": frozenset({"PERSON"})}  # "organisation, person": a name belongs there


def _personal_data(fields: dict[str, str]) -> str | None:
    """Why the typed text cannot be kept (naming the field, never the value), else None."""
    try:
        field = personal_data_in(fields, EXPECTED)
    except CannotScreen:
        return "the text could not be checked for personal data; try again later"
    if field is None:
        return None
    return (f"{field} looks like it holds personal data (an ID, phone, name, address...): "
            "describe the transfer without the values themselves")


def _linked_incident(incident_id: str, token: str) -> tuple[dict | None, str]:
    """The incident's metadata when the link is good for this browser, else (None, why)."""
    if not _ID.fullmatch(incident_id or "") or not re.fullmatch(r"[0-9a-f]{32}", token or ""):
        return None, "malformed link"
    index = ReviewIndex.open(_data_dir())
    try:
        incident = index.incident(incident_id)
    finally:
        index.close()
    if incident is None:
        return None, "no such incident"
    try:
        check_link(load_link_key(_data_dir()), incident["meta"], token, request.remote_addr)
    except (ApplicationError, KeyStoreError) as e:
        return None, str(e)
    return incident["meta"], ""


# --- approvers ---------------------------------------------------------------------------------


@bp.get("", endpoint="queue")
@require_role("approver")
def queue():
    apps = sorted(_store().state().applications.values(), key=lambda a: a.filed, reverse=True)
    return render("applications/queue.html", words=_words, requester=_requester,
                  pending=[a for a in apps if a.status == "pending"],
                  decided=[a for a in apps if a.status != "pending"])


@bp.get("/<app_id>")
@require_role("approver")
def detail(app_id: str):
    app = _application(app_id)
    if app is None:
        return error_page("not_found", 404)
    return render("applications/detail.html", app=app, words=_words, requester=_requester(app),
                  own=_own(app), approval=_store().state().approvals.get(app.id))


@bp.post("/<app_id>/approve")
@require_role("approver")
def approve(app_id: str):
    app = _application(app_id)
    if app is None:
        return error_page("not_found", 404)
    if _own(app):
        return error_page("apps.own", 403)
    form = request.form
    days_text = (form.get("days") or "").strip()
    days = _whole(days_text) if days_text else None
    records = _whole(form.get("max_records")) if form.get("max_records") else None
    if (days_text and days is None) or (form.get("max_records") and records is None):
        return error_page("bad_request", 400)
    expires = datetime.now(UTC) + timedelta(days=days) if days is not None else None
    try:
        _store().approve(app.id, _name(), entities=form.getlist("entities"), expires=expires,
                         max_records=records)
    except ApplicationError as e:
        return error_page_with("apps.refused", str(e), 409)
    flash("apps.approved", id=app.id)
    return redirect(url_for("applications.approvals"))


@bp.post("/<app_id>/reject")
@require_role("approver")
def reject(app_id: str):
    app = _application(app_id)
    if app is None:
        return error_page("not_found", 404)
    if _own(app):
        return error_page("apps.own", 403)
    try:
        _store().reject(app.id, _name(), request.form.get("reason", ""))
    except ApplicationError as e:
        return error_page_with("apps.refused", str(e), 409)
    flash("apps.rejected", id=app.id)
    return redirect(url_for("applications.queue"))


@bp.get("/approvals")
@require_role("approver")
def approvals():
    now = datetime.now(UTC)
    rows = sorted(_store().state().approvals.values(), key=lambda a: a.starts, reverse=True)
    return render("applications/approvals.html", rows=[(a, a.status(now)) for a in rows],
                  words=_words, policy_rows=_policy_approvals(now))


def _policy_approvals(now: datetime) -> list[tuple[Approval, str]] | None:
    """The policy file's own approvals with their status, when the console was given the
    policy (``app.config["BAOMI_POLICY"]``); None otherwise or when it does not load."""
    path = current_app.config.get("BAOMI_POLICY")
    if not path:
        return None
    try:
        policy = load_policy(path)
    except BaomiError:
        return None  # `baomi policy check` says why; the page must not fail for it
    def status(a: Approval) -> str:
        if a.active(now):
            return "active"
        return "expired" if now >= a.expires else "not_started"
    return [(a, status(a)) for a in policy.approvals]


@bp.post("/approvals/<approval_id>/revoke")
@require_role("approver")
def revoke(approval_id: str):
    if not _ID.fullmatch(approval_id):
        return error_page("not_found", 404)
    try:
        _store().revoke(approval_id, _name(), request.form.get("reason") or None)
    except ApplicationError as e:
        return error_page_with("apps.refused", str(e), 409)
    flash("apps.revoked", id=approval_id)
    return redirect(url_for("applications.approvals"))


# --- helpers -----------------------------------------------------------------------------------


def _name() -> str:
    user = current_user()
    assert user is not None  # behind require_role
    return user.name


def _own(app: Application) -> bool:
    return app.requester is not None and app.requester.casefold() == _name().casefold()


def _application(app_id: str) -> Application | None:
    if not _ID.fullmatch(app_id):
        return None
    return _store().state().applications.get(app_id)


def _whole(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdecimal() and len(text) < 8 else None


def error_page_with(key: str, why: str, status: int) -> tuple[str, int]:
    """An error page whose message carries the store's reason (ids and limits, never values)."""
    return render("error.html", status=status, message=t(key, why=why))
