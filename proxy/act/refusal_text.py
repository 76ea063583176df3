"""Every word of baomi's refusals, in English and Chinese (zh-CN), and which one a client reads.

    language("zh-TW,en;q=0.5")                  -> "zh"
    language("en;q=0.9, zh-CN")                 -> "zh"     (q-values decide, not the order)
    language("fr") / language("")               -> "en"     (the default)
    entity_words("CN_RESIDENT_ID", "zh")        -> "居民身份证号"
    in_words("never leave (CN_RESIDENT_ID x1)", "en") -> "never leave (resident ID number x1)"
    TEXT["zh"].incident                         -> "事件编号"

Only names of kinds of data live here, never a value. A translator edits this file only;
``proxy.act.refusal`` lays the words out (JSON, HTML page).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

DEFAULT_LANGUAGE = "en"
CONTENT_LANGUAGE = {"en": "en", "zh": "zh-CN"}  # the Content-Language header and <html lang>

# (English, Chinese) per entity of policies.entities.KNOWN_ENTITIES; an admin's own entity
# (detection.extra_recognizers) has no words here and is shown by its name.
ENTITY_WORDS: dict[str, tuple[str, str]] = {
    "CN_RESIDENT_ID": ("resident ID number", "居民身份证号"),
    "PHONE_NUMBER": ("mobile or landline phone number", "手机号码或电话号码"),
    "CREDIT_CARD": ("payment card number", "银行卡号"),
    "CN_PASSPORT": ("passport number", "护照号码"),
    "CN_USCC": ("unified social credit code (of a company)", "统一社会信用代码"),
    "EMAIL_ADDRESS": ("e-mail address", "电子邮箱地址"),
    "IP_ADDRESS": ("IP address", "IP 地址"),
    "IBAN_CODE": ("international bank account number (IBAN)", "国际银行账号（IBAN）"),
    "PERSON": ("person's name", "姓名"),
    "ADDRESS": ("postal address", "地址"),
    "CUSTOMER_RECORD": ("details of a customer in our customer database", "客户数据库中的客户信息"),
    "CONFIDENTIAL_MARKER": ("confidentiality marking", "保密标识（如“机密”）"),
}

# Why a request that could not be inspected was refused: the policy's failure rules.
FAILURE_WORDS: dict[str, tuple[str, str]] = {
    "on_error": ("inspection failed", "检查过程出错"),
    "on_timeout": ("inspection took too long", "检查超时"),
    "on_oversize": ("the content is larger than the inspection limit", "内容超过检查上限"),
    "on_uninspectable": ("the content cannot be read (unknown encoding, encrypted or damaged)",
                         "内容无法读取（未知编码、已加密或已损坏）"),
    "on_record_failure": ("the incident log cannot record it right now", "事件日志暂时无法记录"),
}


@dataclass(frozen=True)
class RefusalText:
    """The sentences of a refusal in one language; ``{…}`` fields are filled by ``proxy.act.refusal``."""

    title: str
    heading: str
    lead_data: str  # blocked for the data found in it
    lead_failure: str  # blocked because it could not be inspected: {why}
    data_found: str
    count: str  # one kind of data in a list: {words}, {n}
    count_inline: str  # the same inside a sentence
    customer_records: str  # {n}
    rule: str
    rule_reason: str
    incident: str
    next_steps: str
    ask_approval: str  # {incident}
    mistake: str  # {incident}
    not_shown: str
    message: str  # the JSON error message: {rule}, {data}, {incident}
    message_failure: str  # {rule}, {why}, {incident}
    list_separator: str
    sender: str = ""  # before the lead and the message when the user is known: {user}
    apply: str = ""  # the link to a pre-filled transfer application (proxy.act.application_link)


TEXT: dict[str, RefusalText] = {
    "en": RefusalText(
        title="Blocked by baomi",
        heading="This request was not sent",
        lead_data=("It contains customer personal data that the company's data-protection "
                   "policy does not allow to leave this way."),
        lead_failure=("baomi could not inspect it ({why}), and the data-protection policy "
                      "blocks what it cannot inspect."),
        data_found="Data found",
        count="{words}: {n}",
        count_inline="{words} ({n})",
        customer_records="Customer records (people): {n}",
        rule="Policy rule",
        rule_reason="The rule says",
        incident="Incident ID",
        next_steps="What to do next",
        ask_approval=("If you need to send this data for your work, ask your data-protection "
                      "officer for a transfer approval (who sends it, to whom, which data, why, "
                      "under which agreement) and quote incident {incident}."),
        mistake=("If you think this is a mistake, contact the data-protection officer and quote "
                 "incident {incident}."),
        not_shown="The data itself is not shown here, and none of it was sent.",
        message=("Blocked by the data-protection policy (rule {rule}): the request contains "
                 "{data}. Nothing was sent. Incident {incident}: to send this data, ask your "
                 "data-protection officer for a transfer approval quoting the incident id; if "
                 "this is a mistake, contact the data-protection officer."),
        message_failure=("Blocked by the data-protection policy (rule {rule}): {why}. Nothing "
                         "was sent. Incident {incident}: if this is a mistake, contact the "
                         "data-protection officer quoting the incident id."),
        list_separator=", ",
        sender="You, {user}, tried to send this request. ",
        apply="Apply for a transfer approval for this incident (the form is pre-filled)",
    ),
    "zh": RefusalText(
        title="已被 baomi 拦截",
        heading="此请求未发出",
        lead_data="其中包含客户个人信息，公司的数据保护策略不允许以这种方式外发。",
        lead_failure="baomi 无法检查此请求（{why}），数据保护策略会拦截无法检查的内容。",
        data_found="发现的数据",
        count="{words}：{n} 处",
        count_inline="{words}（{n} 处）",
        customer_records="涉及客户记录（人数）：{n}",
        rule="策略规则",
        rule_reason="规则说明",
        incident="事件编号",
        next_steps="接下来怎么办",
        ask_approval=("如因工作需要发送这些数据，请向数据保护官申请数据传输审批（发送方、接收方、"
                      "数据类型、用途、协议），并注明事件编号 {incident}。"),
        mistake="如认为拦截有误，请联系数据保护官，并提供事件编号 {incident}。",
        not_shown="出于保护目的，本页不显示数据本身；这些数据也没有被发送。",
        message=("已被数据保护策略拦截（规则 {rule}）：请求中包含{data}。数据未发送。"
                 "事件编号 {incident}：如需发送，请向数据保护官申请数据传输审批并注明事件编号；"
                 "如认为拦截有误，请联系数据保护官。"),
        message_failure=("已被数据保护策略拦截（规则 {rule}）：{why}。数据未发送。"
                         "事件编号 {incident}：如认为拦截有误，请联系数据保护官并注明事件编号。"),
        list_separator="、",
        sender="您（{user}）试图发送此请求。",
        apply="为此事件提交数据传输申请（表单已预填）",
    ),
}


def language(accept_language: str) -> str:
    """The refusal's language for an ``Accept-Language`` header: "zh" or "en".

    werkzeug parses the header (q-values, ``q=0`` refused, malformed parts skipped);
    the choice is ours: its ``best_match`` prefers any exact tag over a higher-q
    "zh-TW" that only matches by its primary subtag. Any Chinese (zh, zh-CN,
    zh-Hans, zh-TW, zh-HK) reads the zh-CN text.
    """
    for tag, quality in parse_accept_header(accept_language or "", LanguageAccept):
        primary = tag.split("-", 1)[0].split("_", 1)[0].lower()
        if quality > 0 and primary in TEXT:
            return primary
    return DEFAULT_LANGUAGE


def entity_words(entity: str, lang: str) -> str:
    """``"PHONE_NUMBER"`` -> "mobile or landline phone number" / "手机号码或电话号码"."""
    words = ENTITY_WORDS.get(entity)
    return entity if words is None else words[0 if lang == "en" else 1]


def failure_words(rule: str, lang: str) -> str | None:
    """Why an uninspected request was refused, or None for a rule of the policy."""
    words = FAILURE_WORDS.get(rule)
    return None if words is None else words[0 if lang == "en" else 1]


_ENTITY_NAME = re.compile(r"\b(?:" + "|".join(sorted(ENTITY_WORDS, key=len, reverse=True)) + r")\b")


def in_words(text: str, lang: str) -> str:
    """A decision's reason with the entity names it quotes put in words, for people."""
    return _ENTITY_NAME.sub(lambda m: entity_words(m.group(0), lang), text)
