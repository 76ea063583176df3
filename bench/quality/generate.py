"""A labelled corpus of outbound requests: seeded, reproducible, Chinese and English.

    .venv/bin/python bench/quality/generate.py --seed 1 --payloads 500 --out corpus.jsonl

    corpus(seed=1, payloads=500) -> [Sample(kind="waybill", lang="zh", request=RawRequest(...),
                                            labels=(Label("PERSON", "梁鑫"), ...)), ...]

Half the payloads carry customer data (JSON API calls, urlencoded forms, CSV
exports, chat and e-mail text, LLM chat-completion requests with pasted
records, waybills, card payments); the other half carry none but are full of
look-alikes: order and tracking numbers, 18-digit numbers failing the ID check,
14-digit timestamps, UUIDs, non-Luhn 16-digit numbers, 11-digit numbers
starting 10/11/12, SKUs, amounts, versions, hashes, dates, brands and places
that start with a surname. A label is the exact text written; the scorer turns
labels into spans over what extraction makes of the request.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.quality import values
from bench.quality.people import Person, PersonMaker
from proxy.extraction.extract import RawRequest


@dataclass(frozen=True)
class Label:
    entity: str
    value: str
    kind: str = ""  # PHONE_NUMBER: "mobile" (mainland), "landline", "us"


@dataclass(frozen=True)
class Sample:
    kind: str
    lang: str
    request: RawRequest
    labels: tuple[Label, ...]

    @property
    def pii_free(self) -> bool:
        return not self.labels


@dataclass
class Draft:
    """Collects the labels of the values a template writes."""

    labels: list[Label] = field(default_factory=list)

    def put(self, entity: str, value: str, kind: str = "") -> str:
        self.labels.append(Label(entity, value, kind))
        return value

    def name(self, p: Person) -> str:
        return self.put("PERSON", p.name)

    def mobile(self, p: Person) -> str:
        return self.put("PHONE_NUMBER", p.mobile, p.phone_kind)

    def landline(self, p: Person) -> str:
        return self.put("PHONE_NUMBER", p.landline, "landline")

    def rid(self, p: Person) -> str:
        return self.put("CN_RESIDENT_ID", p.resident_id)

    def address(self, p: Person) -> str:
        return self.put("ADDRESS", p.address)

    def email(self, p: Person) -> str:
        return self.put("EMAIL_ADDRESS", p.email)

    def card(self, p: Person) -> str:
        return self.put("CREDIT_CARD", p.card)

    def ip(self, p: Person) -> str:
        return self.put("IP_ADDRESS", p.ip)

    def passport(self, p: Person) -> str:
        return self.put("CN_PASSPORT", p.passport)

    def iban(self, value: str) -> str:
        return self.put("IBAN_CODE", value)


JSON = (("content-type", "application/json"),)
FORM = (("content-type", "application/x-www-form-urlencoded"),)
TEXT = (("content-type", "text/plain; charset=utf-8"),)
CSV = (("content-type", "text/csv; charset=utf-8"),)

# Field names as real APIs spell them.
KEYS = {
    "name": ["name", "customerName", "customer_name", "real_name", "fullName", "contact", "姓名", "联系人", "receiverName"],
    "mobile": ["mobile", "phone", "tel", "phoneNumber", "contact_phone", "mobileNo", "cellphone", "手机号", "联系电话"],
    "id": ["idCard", "id_card", "id_no", "identityNumber", "certNo", "身份证号", "idNumber"],
    "address": ["address", "addr", "shipping_address", "detailAddress", "homeAddress", "收货地址", "地址"],
    "email": ["email", "mail", "emailAddress", "邮箱", "contact_email"],
    "card": ["cardNo", "card_number", "bankCard", "pan", "银行卡号", "account_no"],
}  # fmt: skip
HEADERS = {
    "zh": {"name": "姓名", "mobile": "手机号", "id": "身份证号", "address": "地址", "email": "邮箱", "card": "银行卡号"},
    "en": {"name": "name", "mobile": "phone", "id": "id_number", "address": "address", "email": "email", "card": "card_number"},
}  # fmt: skip
MODELS = ["gpt-4o", "gpt-4.1-mini", "deepseek-chat", "qwen-max", "claude-sonnet-4", "glm-4"]
CHAT_ZH = [
    "今天下午三点开会，请大家准时参加。", "这个版本的构建失败了，日志在附件里。",
    "下周的需求评审改到周三上午。", "请把最新的设计稿发到群里。", "库存盘点的结果明天出来。",
    "服务器迁移已经完成，监控一切正常。", "年度预算的初稿已经上传到共享盘。",
]  # fmt: skip
CHAT_EN = [
    "The deploy finished, all health checks are green.", "Can you review the pull request before lunch?",
    "Latency went up after the cache change; rolling back.", "Meeting notes are in the shared drive.",
    "The quarterly report is due on Friday.", "Please update the runbook after the incident review.",
]  # fmt: skip


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.people = PersonMaker(self.rng)

    # ------------------------------------------------------------ helpers

    def pick(self, options):  # type: ignore[no-untyped-def]
        return self.rng.choice(options)

    def noise(self) -> dict[str, str]:
        r, v = self.rng, values
        fields = {
            "order_id": v.order_number(r),
            "created_at": v.a_date(r),
            "sku": v.sku(r),
            "amount": v.amount(r),
            "trace_id": v.uuid4(r),
            "status": self.pick(["paid", "shipped", "已发货", "待付款"]),
            "sign": v.hex_hash(r),
            "app_version": v.version(r),
            "ts": v.timestamp14(r),
        }
        return dict(r.sample(sorted(fields.items()), r.randint(2, 6)))

    def record(self, d: Draft, p: Person, fields: list[str]) -> dict[str, str]:
        put = {"name": d.name, "mobile": d.mobile, "id": d.rid, "address": d.address,
               "email": d.email, "card": d.card}  # fmt: skip
        return {self.pick(KEYS[f]): put[f](p) for f in fields}

    def fields(self, lang: str) -> list[str]:
        chosen = ["name", "mobile"] + self.rng.sample(
            ["id", "address", "email", "card"], self.rng.randint(1, 3)
        )
        return [f for f in chosen if lang == "zh" or f != "id"]

    def sample(
        self, kind: str, lang: str, url: str, headers, body: str | bytes, d: Draft
    ) -> Sample:
        data = body.encode() if isinstance(body, str) else body
        return Sample(kind, lang, RawRequest("POST", url, headers, data), tuple(d.labels))

    # ------------------------------------------------------------ payloads with customer data

    def api_json(self, lang: str) -> Sample:
        d = Draft()
        people = [self.people.person(lang) for _ in range(self.rng.choice([1, 1, 1, 2, 5]))]
        wanted = self.fields(lang)
        records = [self.record(d, p, wanted) for p in people]
        body = {"customer": records[0]} if len(records) == 1 else {"customers": records}
        body.update(self.noise())
        return self.sample(
            "api_json",
            lang,
            "https://api.example.com/v1/orders",
            JSON,
            json.dumps(body, ensure_ascii=False),
            d,
        )

    def form(self, lang: str) -> Sample:
        d = Draft()
        record = self.record(d, self.people.person(lang), self.fields(lang))
        record.update(self.noise())
        return self.sample(
            "form", lang, "https://crm.example.com/submit", FORM, urlencode(record), d
        )

    def csv_rows(self, d: Draft, lang: str, rows: int, sep: str = ",") -> str:
        wanted = self.fields(lang)
        put = {"name": d.name, "mobile": d.mobile, "id": d.rid, "address": d.address,
               "email": d.email, "card": d.card}  # fmt: skip
        out = io.StringIO()
        writer = csv.writer(out, delimiter=sep, lineterminator="\n")  # quotes "a, b"
        writer.writerow(HEADERS[lang][f] for f in wanted)
        for _ in range(rows):
            p = self.people.person(lang)
            writer.writerow(put[f](p) for f in wanted)
        return out.getvalue().rstrip("\n")

    def csv_export(self, lang: str) -> Sample:
        d = Draft()
        text = self.csv_rows(d, lang, self.rng.randint(3, 15), self.pick([",", ",", "\t"]))
        if self.rng.random() < 0.5:
            return self.sample("csv", lang, "https://files.example.com/upload", CSV, text, d)
        boundary = "----baomi" + values.digits(self.rng, 8)
        body = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="customers.csv"\r\n'
            f"Content-Type: text/csv\r\n\r\n{text}\r\n--{boundary}--\r\n"
        )
        headers = (("content-type", f"multipart/form-data; boundary={boundary}"),)
        return self.sample("csv", lang, "https://files.example.com/upload", headers, body, d)

    def chat_text(self, d: Draft, lang: str) -> str:
        p = self.people.person(lang)
        r = values
        if lang == "zh":
            templates: list[Callable[[], str]] = [
                lambda: (
                    f"您好，我是{d.name(p)}，手机{d.mobile(p)}，订单{r.order_number(self.rng)}还没发货，麻烦帮忙查一下。"
                ),
                lambda: f"客户{d.name(p)}的身份证号是{d.rid(p)}，请核对后录入系统。",
                lambda: f"麻烦把发票寄到{d.address(p)}，收件人{d.name(p)}，电话{d.mobile(p)}。",
                lambda: f"请联系{d.name(p)}（{d.mobile(p)}）确认收货地址：{d.address(p)}",
                lambda: f"退款请打到卡号{d.card(p)}，户名{d.name(p)}。",
                lambda: f"我的邮箱是{d.email(p)}，有问题随时联系，电话{d.mobile(p)}。",
                lambda: f"{d.name(p)}女士您好，您的快递已到，请凭手机尾号取件。",
                lambda: f"联系人：{d.name(p)}\n电话：{d.mobile(p)}\n地址：{d.address(p)}",
                lambda: f"办公室座机{d.landline(p)}，手机{d.mobile(p)}，找{d.name(p)}。",
                lambda: f"{self.pick(CHAT_ZH)}另外，{d.name(p)}的手机号是{d.mobile(p)}。",
                lambda: (
                    f"出差人员{d.name(p)}，护照号{d.passport(p)}，请订{values.a_date(self.rng)}的机票。"
                ),
                lambda: f"异常登录：账号归属{d.name(p)}，来源IP {d.ip(p)}，请核实。",
            ]
        else:
            templates = [
                lambda: (
                    f"Hi, this is {d.name(p)}. You can reach me at {d.mobile(p)} or {d.email(p)}."
                ),
                lambda: f"Please ship the replacement to {d.name(p)}, {d.address(p)}.",
                lambda: (
                    f"Customer: {d.name(p)} called about order {values.order_number(self.rng)}; card on file {d.card(p)}."
                ),
                lambda: f"My card number is {d.card(p)}, expiry 08/29. Please charge the deposit.",
                lambda: f"Contact: {d.name(p)}, phone {d.mobile(p)}, email {d.email(p)}",
                lambda: (
                    f"{self.pick(CHAT_EN)} Also, Mr. {d.name(p)} asked for a call back at {d.mobile(p)}."
                ),
                lambda: f"Billing address: {d.address(p)}. Name: {d.name(p)}.",
                lambda: (
                    f"Suspicious login for {d.email(p)} from {d.ip(p)} at {values.a_date(self.rng)}."
                ),
                lambda: (
                    f"Please wire the refund to IBAN {d.iban(self.people.iban())}, account holder {d.name(p)}."
                ),
            ]
        return self.pick(templates)()

    def chat(self, lang: str) -> Sample:
        d = Draft()
        text = self.chat_text(d, lang)
        if self.rng.random() < 0.5:
            body = json.dumps({"msg_type": "text", "content": {"text": text}}, ensure_ascii=False)
            return self.sample("chat", lang, "https://im.example.com/send", JSON, body, d)
        return self.sample("chat", lang, "https://im.example.com/send", TEXT, text, d)

    def email(self, lang: str) -> Sample:
        d = Draft()
        to, sender = self.people.person(lang), self.people.person(lang)
        if lang == "zh":
            body = (
                f"尊敬的{d.name(to)}：\n\n您好！您的订单已发货，预计三天内送达{d.address(to)}。"
                f"如有问题请致电{d.landline(sender)}。\n\n此致\n{d.name(sender)}\n"
            )
        else:
            body = (
                f"Dear {d.name(to)},\n\nYour order has shipped to {d.address(to)}. Questions? Call "
                f"{d.mobile(sender)}.\n\n{self.pick(['Best regards', 'Kind regards', 'Thanks', 'Sincerely'])},\n{d.name(sender)}\n"
            )
        message = {
            "to": d.email(to),
            "subject": "订单通知" if lang == "zh" else "Your order",
            "body": body,
        }
        return self.sample(
            "email",
            lang,
            "https://mail.example.com/api/send",
            JSON,
            json.dumps(message, ensure_ascii=False),
            d,
        )

    def llm(self, lang: str) -> Sample:
        d = Draft()
        if self.rng.random() < 0.5:
            ask = (
                "请帮我把下面的客户信息整理成表格：\n"
                if lang == "zh"
                else "Clean up this customer list:\n"
            )
            content = ask + self.csv_rows(d, lang, self.rng.randint(2, 6))
        else:
            ask = (
                "帮我写一封回复邮件：\n"
                if lang == "zh"
                else "Draft a polite reply to this message:\n"
            )
            content = ask + self.chat_text(d, lang)
        body = {"model": self.pick(MODELS), "temperature": 0.2, "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": content}]}  # fmt: skip
        return self.sample(
            "llm",
            lang,
            "https://llm.example.com/v1/chat/completions",
            JSON,
            json.dumps(body, ensure_ascii=False),
            d,
        )

    def waybill(self, lang: str) -> Sample:
        d = Draft()
        s, r = self.people.person("zh"), self.people.person("zh")
        tracking = values.tracking_number(self.rng)
        if self.rng.random() < 0.5:
            body = {"waybill_no": tracking, "weight": f"{self.rng.randint(1, 200) / 10}kg",
                    "sender": {"name": d.name(s), "mobile": d.mobile(s), "address": d.address(s)},
                    "receiver": {"name": d.name(r), "phone": d.mobile(r), "address": d.address(r)}}  # fmt: skip
            return self.sample(
                "waybill",
                "zh",
                "https://open.express.example.com/order/create",
                JSON,
                json.dumps(body, ensure_ascii=False),
                d,
            )
        fields = {"运单号": tracking, "寄件人": d.name(s), "寄件人电话": d.mobile(s), "寄件地址": d.address(s),
                  "收件人": d.name(r), "收件人电话": d.mobile(r), "收件地址": d.address(r)}  # fmt: skip
        return self.sample(
            "waybill",
            "zh",
            "https://open.express.example.com/order/create",
            FORM,
            urlencode(fields),
            d,
        )

    def payment(self, lang: str) -> Sample:
        d = Draft()
        p = self.people.person(lang)
        body = {"order_id": values.order_number(self.rng), "amount": values.amount(self.rng),
                "currency": "CNY" if lang == "zh" else "USD", self.pick(KEYS["card"]): d.card(p),
                "expiry": f"{self.rng.randint(1, 12):02d}/{self.rng.randint(26, 31)}",
                self.pick(["holder_name", "cardholder", "持卡人"]): d.name(p)}  # fmt: skip
        return self.sample(
            "payment",
            lang,
            "https://pay.example.com/v2/charge",
            JSON,
            json.dumps(body, ensure_ascii=False),
            d,
        )

    # ------------------------------------------------------------ payloads without customer data

    def lookalike_text(self, lang: str) -> str:
        r, v = self.rng, values

        def word() -> str:
            return self.pick(values.LOOKALIKE_WORDS)

        if lang == "zh":
            templates = [
                lambda: (
                    f"{word()}的库存还剩{r.randint(1, 900)}台，{v.a_date(r)}前补货，订单号{v.order_number(r)}。"
                ),
                lambda: (
                    f"我们在{word()}的门店本月销售额{v.amount(r)}，环比增长{r.randint(1, 30)}%。"
                ),
                lambda: (
                    f"订单{v.order_number(r)}已经发货，快递单号{v.tracking_number(r)}，预计{v.a_date(r)}送达。"
                ),
                lambda: (
                    f"版本{v.version(r)}修复了崩溃问题，构建号{v.hex_hash(r)[:12]}，时间戳{v.timestamp14(r)}。"
                ),
                lambda: f"客户反馈{word()}的包装有破损，工单{v.uuid4(r)}已经登记。",
                lambda: f"请在{v.a_date(r)}之前完成{word()}项目的验收，合同编号{v.random_18(r)}。",
                lambda: (
                    f"流水号{v.resident_id_bad_check(r)}对账不平，差额{v.amount(r)}，参考号{v.non_luhn_16(r)}。"
                ),
                lambda: f"工号{v.not_mobile_11(r)}的设备{v.sku(r)}需要返修，{self.pick(CHAT_ZH)}",
                lambda: f"{word()}和{word()}的联名款下周上线，{self.pick(CHAT_ZH)}",
                lambda: self.pick(CHAT_ZH) + self.pick(CHAT_ZH),
            ]
        else:
            templates = [
                lambda: (
                    f"Deployed {v.version(r)} at {v.timestamp14(r)}, commit {v.hex_hash(r)[:40]}."
                ),
                lambda: (
                    f"Order {v.order_number(r)} total {v.amount(r)}, shipped via {v.tracking_number(r)}."
                ),
                lambda: (
                    f"Trace {v.uuid4(r)} failed with code {v.not_mobile_11(r)}; ref {v.non_luhn_16(r)}."
                ),
                lambda: f"Invoice {v.random_18(r)} is due {v.a_date(r)}. {self.pick(CHAT_EN)}",
                lambda: (
                    f"Batch {v.resident_id_bad_check(r)} contains {r.randint(2, 500)} units of {v.sku(r)}."
                ),
                lambda: self.pick(CHAT_EN) + " " + self.pick(CHAT_EN),
            ]
        return self.pick(templates)()

    def clean_api(self, lang: str) -> Sample:
        body: dict[str, object] = dict(self.noise())
        body.update({"product_name": self.pick(values.LOOKALIKE_WORDS), "store": self.pick(values.LOOKALIKE_WORDS) + "店",
                     "remark": self.lookalike_text(lang), "qty": self.rng.randint(1, 99),
                     "items": [{"sku": values.sku(self.rng), "price": values.amount(self.rng)} for _ in range(self.rng.randint(1, 4))]})  # fmt: skip
        return self.sample(
            "clean_api",
            lang,
            "https://api.example.com/v1/inventory",
            JSON,
            json.dumps(body, ensure_ascii=False),
            Draft(),
        )

    def clean_form(self, lang: str) -> Sample:
        fields = {"q": self.pick(values.LOOKALIKE_WORDS) + self.pick(["手机", "专卖店", "官网", ""]), "page": str(self.rng.randint(1, 9)),
                  "order_no": values.order_number(self.rng), "ts": values.timestamp14(self.rng), "sign": values.hex_hash(self.rng)}  # fmt: skip
        return self.sample(
            "clean_form", lang, "https://search.example.com/s", FORM, urlencode(fields), Draft()
        )

    def clean_csv(self, lang: str) -> Sample:
        r, v = self.rng, values
        head = "日期,商品,门店,数量,金额,单号" if lang == "zh" else "date,sku,store,qty,amount,ref"
        rows = [head] + [
            f"{v.a_date(r)[:10]},{v.sku(r)},{self.pick(values.LOOKALIKE_WORDS)},{r.randint(1, 50)},{v.amount(r).replace(',', '')},{self.pick([v.order_number, v.tracking_number, v.random_18, v.non_luhn_16])(r)}"
            for _ in range(r.randint(5, 25))
        ]  # fmt: skip
        return self.sample(
            "clean_csv", lang, "https://files.example.com/upload", CSV, "\n".join(rows), Draft()
        )

    def clean_chat(self, lang: str) -> Sample:
        text = " ".join(self.lookalike_text(lang) for _ in range(self.rng.randint(1, 3)))
        body = json.dumps({"msg_type": "text", "content": {"text": text}}, ensure_ascii=False)
        return self.sample("clean_chat", lang, "https://im.example.com/send", JSON, body, Draft())

    def clean_llm(self, lang: str) -> Sample:
        content = ("总结一下这段工作日志：\n" if lang == "zh" else "Summarise this log:\n") + "\n".join(
            self.lookalike_text(lang) for _ in range(self.rng.randint(2, 5)))  # fmt: skip
        body = {"model": self.pick(MODELS), "messages": [{"role": "user", "content": content}]}
        return self.sample(
            "clean_llm",
            lang,
            "https://llm.example.com/v1/chat/completions",
            JSON,
            json.dumps(body, ensure_ascii=False),
            Draft(),
        )

    def clean_waybill(self, lang: str) -> Sample:
        body = {"waybill_no": values.tracking_number(self.rng), "status": self.pick(["运输中", "已签收", "派送中"]),
                "route": [f"{self.pick(['北京', '上海', '广州', '深圳', '杭州'])}转运中心" for _ in range(3)],
                "updated": values.a_date(self.rng)}  # fmt: skip
        return self.sample(
            "clean_waybill",
            "zh",
            "https://open.express.example.com/track",
            JSON,
            json.dumps(body, ensure_ascii=False),
            Draft(),
        )

    def clean_payment(self, lang: str) -> Sample:
        body = {"order_id": values.order_number(self.rng), "amount": values.amount(self.rng), "txn_id": values.timestamp14(self.rng) + values.digits(self.rng, 6),
                "merchant_ref": values.non_luhn_16(self.rng), "currency": "CNY", "merchant_name": self.pick(values.LOOKALIKE_WORDS)}  # fmt: skip
        return self.sample(
            "clean_payment",
            lang,
            "https://pay.example.com/v2/query",
            JSON,
            json.dumps(body, ensure_ascii=False),
            Draft(),
        )

    def next(self) -> Sample:
        with_data = [
            self.api_json,
            self.form,
            self.csv_export,
            self.chat,
            self.email,
            self.llm,
            self.waybill,
            self.payment,
        ]
        without = [self.clean_api, self.clean_form, self.clean_csv, self.clean_chat, self.clean_llm, self.clean_waybill, self.clean_payment]  # fmt: skip
        make = self.pick(with_data if self.rng.random() < 0.5 else without)
        return make(self.pick(["zh", "zh", "en"]))


def corpus(seed: int, payloads: int) -> list[Sample]:
    """The same ``seed`` and ``payloads`` give the same corpus."""
    generator = Generator(seed)
    return [generator.next() for _ in range(payloads)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--payloads", type=int, default=500)
    parser.add_argument("--out", type=Path, required=True, help="JSON lines, one sample per line")
    args = parser.parse_args()
    from bench.quality.score import gold_spans, segments_of

    with args.out.open("w", encoding="utf-8") as out:
        for sample in corpus(args.seed, args.payloads):
            segments = segments_of(sample)
            spans = [{"entity": g.entity, "segment": g.segment, "start": g.start, "end": g.end,
                      "location": segments[g.segment].location} for g in gold_spans(sample, segments)]  # fmt: skip
            line = {"kind": sample.kind, "lang": sample.lang, "method": sample.request.method, "url": sample.request.url,
                    "headers": sample.request.headers, "body": sample.request.body.decode(), "spans": spans}  # fmt: skip
            out.write(json.dumps(line, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
