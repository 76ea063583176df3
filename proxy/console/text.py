"""Every word of the reviewers' console, in English and Chinese (zh-CN), and the reader's language.

    words("login", "zh")             -> "登录"
    words("status.false_positive", "en") -> "False positive"
    pick_language("zh", "en")        -> "zh"   (the switch's cookie wins over Accept-Language)
    pick_language(None, "zh-CN,en")  -> "zh"

A translator edits this file only. Only names of kinds of data and of states live here, never a
value. Blueprints (applications.py) add their own words with ``add_words`` at import time.
"""

from __future__ import annotations

from proxy.act.refusal_text import CONTENT_LANGUAGE, language

LANGUAGES = ("en", "zh")

# key -> (English, 中文)
WORDS: dict[str, tuple[str, str]] = {
    "app": ("baomi reviewers' console", "baomi 审查控制台"),
    "login": ("Log in", "登录"),
    "logout": ("Log out", "退出登录"),
    "user": ("User", "用户"),
    "password": ("Password", "密码"),
    "login_failed": ("Wrong user name or password, or the account is disabled.",
                     "用户名或密码错误，或账户已停用。"),
    "login_slowed": ("Too many failed attempts: try again in {seconds} s.",
                     "失败次数过多：请 {seconds} 秒后再试。"),
    "session_expired": ("Your session has expired: log in again.", "会话已过期，请重新登录。"),
    "forbidden": ("Your role does not allow this.", "您的角色无权执行此操作。"),
    "bad_csrf": ("The form is stale or was not sent by this console; reload the page and retry.",
                 "表单已过期或并非由本控制台提交，请刷新页面后重试。"),
    "not_found": ("Not found.", "未找到。"),
    "bad_request": ("Bad request.", "请求无效。"),
    "server_error": ("The console failed on this request; it is logged without its data.",
                     "控制台处理此请求时出错；已记录（不含数据）。"),
    "signed_in_as": ("Signed in as {user} ({roles})", "当前用户：{user}（{roles}）"),
    "home": ("Home", "首页"),
    "incidents": ("Incidents", "事件"),
    "incident": ("Incident", "事件"),
    "language": ("Language", "语言"),
    "role.reviewer": ("reviewer", "审查员"),
    "role.approver": ("approver", "审批人"),
    "role.admin": ("admin", "管理员"),
    "home_lead": ("What your roles let you do:", "您的角色可执行："),
    "home_reviewer": ("review and triage incidents", "审查并分类处理事件"),
    "home_approver": ("decide transfer applications", "审批数据传输申请"),
    "home_admin": ("manage console accounts (here, or baomi console users ...)",
                   "管理控制台账户（在此页面，或 baomi console users ...）"),
    # accounts (admins)
    "accounts": ("Accounts", "账户"),
    "roles": ("Roles", "角色"),
    "state": ("State", "状态"),
    "created": ("Created", "创建时间"),
    "active": ("active", "启用"),
    "disabled": ("disabled", "已停用"),
    "disable": ("Disable", "停用"),
    "add_account": ("Add account", "添加账户"),
    "account_added": ("Account {name} added.", "已添加账户 {name}。"),
    "account_disabled": ("Account {name} disabled.", "已停用账户 {name}。"),
    # the queue
    "filters": ("Filters", "筛选"),
    "apply": ("Apply", "应用"),
    "clear": ("Clear", "清除"),
    "since": ("From (UTC)", "开始（UTC）"),
    "until": ("Until (UTC)", "结束（UTC）"),
    "action": ("Action", "动作"),
    "rule": ("Rule", "规则"),
    "status": ("Status", "状态"),
    "severity": ("Severity", "严重程度"),
    "group": ("Group", "组"),
    "destination": ("Destination", "目的地"),
    "entity": ("Data kind", "数据类型"),
    "assignee": ("Assignee", "负责人"),
    "time": ("Time", "时间"),
    "request": ("Request", "请求"),
    "sort": ("Sort", "排序"),
    "any": ("any", "全部"),
    "newest": ("newest first", "最新在前"),
    "oldest": ("oldest first", "最早在前"),
    "by_severity": ("severity", "按严重程度"),
    "matching": ("{n} matching incident(s)", "共 {n} 条匹配事件"),
    "page": ("Page {page} of {pages}", "第 {page} / {pages} 页"),
    "previous": ("Previous", "上一页"),
    "next": ("Next", "下一页"),
    "none": ("No incidents match.", "没有匹配的事件。"),
    "bulk": ("Triage all matching", "批量处理所有匹配事件"),
    "bulk_confirm": ("Set {n} incident(s) matching these filters to:",
                     "将符合以下筛选条件的 {n} 条事件设为："),
    "bulk_changed": ("The filtered set changed (now {n}): confirm again.",
                     "筛选结果已变化（现为 {n} 条），请再次确认。"),
    "bulk_done": ("{n} incident(s) updated.", "已更新 {n} 条事件。"),
    "confirm": ("Confirm", "确认"),
    "cancel": ("Cancel", "取消"),
    # the detail page
    "metadata": ("Metadata", "元数据"),
    "findings": ("Masked findings and where they were", "脱敏后的发现及其位置"),
    "structure": ("Where in the request", "在请求中的位置"),
    "history": ("History", "历史记录"),
    "notes": ("Notes", "备注"),
    "access_log": ("Evidence access log", "证据访问记录"),
    "who": ("Who", "操作人"),
    "what": ("What", "内容"),
    "reason": ("Reason", "原因"),
    "triage": ("Triage", "分类处理"),
    "note": ("Note (never paste personal data here)", "备注（切勿粘贴个人数据）"),
    "save": ("Save", "保存"),
    "saved": ("Saved.", "已保存。"),
    "unchanged": ("(unchanged)", "（不变）"),
    "evidence": ("Evidence", "证据"),
    "evidence_items": ("{n} item(s), sealed to reviewer key {key_id}",
                       "{n} 项，已用审查员密钥 {key_id} 加密封存"),
    "reveal_lead": ("The evidence opens only in this browser, with your reviewer private key "
                    "file; the key is never sent. The access is recorded with your reason first.",
                    "证据仅在本浏览器中用您的审查员私钥文件解密，私钥不会被上传。"
                    "解密前会先记录访问及原因。"),
    "key_file": ("Reviewer private key (PEM, unencrypted)", "审查员私钥（PEM，未加密）"),
    "reveal": ("Reveal evidence", "查看证据"),
    "reveal_cli": ("Or on a reviewer's machine:", "或在审查员的机器上运行："),
    "purged": ("Evidence purged (retention).", "证据已按保留期限销毁。"),
    "value": ("Value", "值"),
    "context": ("Context", "上下文"),
}

STATUS_WORDS = {
    "new": ("New", "新建"),
    "triaged": ("Triaged", "已分类"),
    "escalated": ("Escalated", "已升级"),
    "false_positive": ("False positive", "误报"),
    "resolved": ("Resolved", "已解决"),
    "duplicate": ("Duplicate", "重复"),
    "in_progress": ("In progress (old)", "处理中（旧）"),
    "confirmed": ("Confirmed (old)", "已确认（旧）"),
}
SEVERITY_WORDS = {
    "low": ("Low", "低"), "medium": ("Medium", "中"), "high": ("High", "高"),
    "critical": ("Critical", "严重"),
}
for _state, _pair in STATUS_WORDS.items():
    WORDS[f"status.{_state}"] = _pair
for _state, _pair in SEVERITY_WORDS.items():
    WORDS[f"severity.{_state}"] = _pair


def add_words(more: dict[str, tuple[str, str]]) -> None:
    """A blueprint's own words; a key already taken is a bug, not an override."""
    taken = sorted(set(more) & set(WORDS))
    if taken:
        raise ValueError(f"console words defined twice: {', '.join(taken)}")
    WORDS.update(more)


def words(key: str, lang: str, **fields: object) -> str:
    """The text for ``key``; an unknown key shows itself (a missing translation stays visible)."""
    pair = WORDS.get(key)
    if pair is None:
        return key
    text = pair[0 if lang == "en" else 1]
    return text.format(**fields) if fields else text


def pick_language(cookie: str | None, accept_language: str) -> str:
    """The switch (cookie) when set to a known language, else ``Accept-Language``."""
    if cookie in LANGUAGES:
        return cookie
    return language(accept_language)


def html_lang(lang: str) -> str:
    return CONTENT_LANGUAGE.get(lang, "en")
