"""Detection throughput: baomi's Detector vs Presidio's default offline configuration.

    .venv/bin/python bench/detection_throughput.py            # ~0.5 MB corpus
    .venv/bin/python bench/detection_throughput.py --mb 2 --json

Both analyse the same segments of a generated mixed corpus: JSON API bodies
(one segment per leaf, key names as context), chat messages, CSV files;
Chinese and English; ~10% of payloads PII-dense, the rest sparse or clean.
The baseline is ``AnalyzerEngine`` with a saved ``spacy.blank("en")``
pipeline directory as its model and all default recognizers (the only way
Presidio's defaults run offline); its e-mail recognizer is pointed at
tldextract's bundled suffix list, because the default fetches it from the
network. Figures are printed, never asserted.

The NER model (issue 13): baomi's figures above run with the shipped model (the
default). Then structured payloads (JSON bodies, CSV) and prose payloads (chat
paragraphs that name people) are timed with the model and without it
(``DetectorConfig(ner=False)``), and with the model but its cache of windows read
lately turned off (``_ner_nocache``: every request's prose read afresh, as for prose
never seen before; the corpus's filler sentences repeat, as system prompts and
templates do in real traffic); a fresh process per setting reports the detector's
build time and the resident memory of one detector worker.

Both engines are warmed up first (untimed): baomi as a detector worker is
(``Detector.warm_up``), and each analyses a small corpus of another seed, so lazy
set-up (phonenumbers' regexes, jieba's tagger) is not counted as throughput. Each
figure is given per second of wall time (``_mb_per_s``) and per second of this
process's CPU time (``_mb_per_cpu_s``: steadier on a shared box).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from detectors.model import Segment

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀英华"
ROADS = ["建国路", "中山路", "人民大道", "张江路", "解放街", "科技园路"]
CITIES = ["北京市朝阳区", "上海市浦东新区", "广东省深圳市南山区", "浙江省杭州市西湖区"]
EN_FIRST = ["John", "Mary", "Robert", "Linda", "James", "Susan"]
EN_LAST = ["Smith", "Johnson", "Brown", "Taylor", "Miller", "Davis"]
CHAT_CN = [
    "今天下午三点开会，请大家准时参加。",
    "这个版本的构建失败了，日志在附件里。",
    "客户反馈说页面加载很慢，我们排查一下。",
    "下周的需求评审改到周三上午。",
    "订单已经发货了，预计两天内送达。",
    "请把最新的设计稿发到群里。",
]
CHAT_EN = [
    "The deploy finished at 14:02, all health checks are green.",
    "Can you review the pull request before lunch? It touches the billing module.",
    "Latency went up after the cache change; rolling back to v2.3.1.",
    "Meeting notes are in the shared drive under Q3 planning.",
]


def luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    for check in "0123456789":
        digits = [int(c) for c in body + check]
        total = sum(
            d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2)
            for i, d in enumerate(reversed(digits))
        )
        if total % 10 == 0:
            return body + check
    raise AssertionError("unreachable")


def resident_id(rng: random.Random) -> str:
    from stdnum.iso7064 import mod_11_2

    body = f"110105{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    return body + mod_11_2.calc_check_digit(body)


def mobile(rng: random.Random) -> str:
    return rng.choice(["138", "139", "186", "150", "177"]) + "".join(
        rng.choice("0123456789") for _ in range(8)
    )


def cn_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))


def api_body(rng: random.Random, dense: bool) -> list[Segment]:
    order = {
        "order_id": str(rng.randint(10**17, 10**18 - 1)),
        "created_at": f"2026-11-{rng.randint(1, 28):02d}T10:{rng.randint(0, 59):02d}:00Z",
        "sku": f"SKU-{rng.randint(1000, 9999)}-{rng.randint(100, 999)}",
        "amount": f"{rng.randint(1, 99999)}.{rng.randint(0, 99):02d}",
        "status": rng.choice(["paid", "shipped", "cancelled"]),
        "trace_id": f"{rng.getrandbits(128):032x}",
        "note": rng.choice(CHAT_CN + CHAT_EN),
    }
    if dense:
        order.update(
            {
                "receiver": cn_name(rng),
                "phone": mobile(rng),
                "id_card": resident_id(rng),
                "address": f"{rng.choice(CITIES)}{rng.choice(ROADS)}{rng.randint(1, 300)}号{rng.randint(1, 20)}栋{rng.randint(101, 2501)}室",
                "email": f"user{rng.randint(1, 9999)}@example.com",
                "card": luhn_complete("622202", 19, rng),
            }
        )
    return [Segment(v, f"json:$.{k}", (k,)) for k, v in order.items()]


def chat(rng: random.Random, dense: bool) -> list[Segment]:
    lines = [rng.choice(CHAT_CN + CHAT_EN) for _ in range(rng.randint(2, 6))]
    if dense:
        lines.append(f"联系人{cn_name(rng)}，手机{mobile(rng)}，Mr. {rng.choice(EN_LAST)} says hi")
    return [Segment(" ".join(lines), "chat:message", ())]


def csv_file(rng: random.Random, dense: bool) -> list[Segment]:
    rows = ["date,sku,qty,amount,region"]
    for _ in range(rng.randint(40, 120)):
        rows.append(
            f"2026-11-{rng.randint(1, 28):02d},SKU-{rng.randint(1000, 9999)},{rng.randint(1, 50)},{rng.randint(1, 9999)}.{rng.randint(0, 99):02d},{rng.choice(['华东', '华南', 'north', 'west'])}"
        )
    if dense:
        rows += [f"{cn_name(rng)},{mobile(rng)},{resident_id(rng)}" for _ in range(5)]
    return [Segment("\n".join(rows), "multipart:report.csv", ())]


def prose(rng: random.Random, dense: bool) -> list[Segment]:
    """A chat paragraph that names colleagues in running text (no field names, no labels)."""
    en = f"{rng.choice(EN_FIRST)} {rng.choice(EN_LAST)}"
    lines = [rng.choice(CHAT_CN + CHAT_EN) for _ in range(rng.randint(3, 8))]
    lines.insert(rng.randrange(len(lines)), f"{cn_name(rng)}说{rng.choice(CHAT_CN)}")
    lines.insert(rng.randrange(len(lines)), f"I talked to {en} about it yesterday.")
    return [Segment(" ".join(lines), "chat:message", ())]


KINDS = {"mixed": (api_body, api_body, chat, csv_file), "structured": (api_body, csv_file),
         "prose": (prose,)}


def corpus(megabytes: float, seed: int = 7, kinds: str = "mixed") -> list[list[Segment]]:
    """Payloads (lists of segments) until the text totals ``megabytes``."""
    rng = random.Random(seed)
    payloads, size = [], 0
    while size < megabytes * 1_000_000:
        kind = rng.choice(KINDS[kinds])
        payload = kind(rng, dense=rng.random() < 0.1)
        payloads.append(payload)
        size += sum(len(s.text.encode()) for s in payload)
    return payloads


def text_bytes(payloads: list[list[Segment]]) -> int:
    return sum(len(s.text.encode()) for p in payloads for s in p)


def warm_up_corpus(kinds: str = "mixed") -> list[list[Segment]]:
    """A small corpus of another seed, analysed untimed before the timed one."""
    return corpus(0.02, seed=99, kinds=kinds)


def timed(analyze, payloads: list[list[Segment]]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, findings) of ``analyze`` over ``payloads``."""
    wall, cpu = time.perf_counter(), time.process_time()
    found = sum(len(analyze(payload)) for payload in payloads)
    return time.perf_counter() - wall, time.process_time() - cpu, found


def run_baomi(payloads: list[list[Segment]], ner: bool = True, cache: bool = True,
              kinds: str = "mixed") -> tuple[float, int, float, float]:
    """(wall seconds, findings, build seconds, CPU seconds); ``cache`` False: the model's
    cache of windows read lately is off."""
    from detectors.engine import Detector, DetectorConfig

    started = time.perf_counter()
    detector = Detector(DetectorConfig(ner=ner))
    build = time.perf_counter() - started
    # getattr: the script also runs against older checkouts, for an A/B.
    if not cache and getattr(detector, "ner_cache", None) is not None:
        detector.ner_cache.size = 0
    if getattr(detector, "warm_up", None) is not None:
        detector.warm_up()
    for payload in warm_up_corpus(kinds):
        detector.analyze(payload)
    wall, cpu, found = timed(detector.analyze, payloads)
    return wall, found, build, cpu


def run_presidio_default(payloads: list[list[Segment]]) -> tuple[float, int, float, float]:
    import spacy
    import tldextract
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    # Default BaomiEmailRecognizer calls tldextract.extract, which fetches the suffix list.
    tldextract.extract = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=())
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as model_dir:
        spacy.blank("en").to_disk(model_dir)
        provider = NlpEngineProvider(
            nlp_configuration={
                "nlp_engine_name": "spacy",
                "models": [{"lang_code": "en", "model_name": model_dir}],
            }
        )
        analyzer = AnalyzerEngine(nlp_engine=provider.create_engine())
    build = time.perf_counter() - started

    def analyze(payload: list[Segment]) -> list:
        return [result for segment in payload
                for result in analyzer.analyze(segment.text, language="en",
                                               context=list(segment.context))]

    for payload in warm_up_corpus():
        analyze(payload)
    wall, cpu, found = timed(analyze, payloads)
    return wall, found, build, cpu


WORKER = """
import sys, time
sys.path.insert(0, {repo!r})
from detectors.engine import Detector, DetectorConfig
started = time.perf_counter()
detector = Detector(DetectorConfig(ner={ner}))
build = time.perf_counter() - started
from detectors.model import Segment
detector.analyze([Segment("会议纪要由赵志刚整理。I talked to John Smith about it.", "chat", ())])
status = open("/proc/self/status").read()  # resident now (Linux), not the start-up peak
print(build, int(status.split("VmRSS:")[1].split()[0]) / 1024)
"""


def worker_cost(ner: bool) -> tuple[float, float]:
    """A fresh process's detector build time (s) and resident memory (MB) after one request,
    as in one pool worker."""
    import subprocess

    code = WORKER.format(repo=str(Path(__file__).resolve().parent.parent), ner=ner)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    build, rss = out.stdout.split()
    return float(build), float(rss)


def model_figures(megabytes: float) -> dict[str, float]:
    """MB/s with and without the NER model on structured and prose payloads, and its cost."""
    from detectors.nlp import SHIPPED

    figures: dict[str, float] = {}
    for kinds in ("structured", "prose"):
        payloads = corpus(megabytes, kinds=kinds)
        size = text_bytes(payloads) / 1_000_000
        for label, ner, cache in (("ner", True, True), ("no_ner", False, True),
                                  ("ner_nocache", True, False)):
            seconds, found, _, cpu = run_baomi(payloads, ner=ner, cache=cache, kinds=kinds)
            figures[f"{kinds}_mb_per_s_{label}"] = round(size / seconds, 3)
            figures[f"{kinds}_mb_per_cpu_s_{label}"] = round(size / cpu, 3)
            figures[f"{kinds}_findings_{label}"] = found
    files = [p for p in SHIPPED.rglob("*") if p.is_file()]
    figures["ner_model_mb"] = round(sum(p.stat().st_size for p in files) / 1_000_000, 2)
    for ner in (True, False):
        build, rss = worker_cost(ner)
        label = "ner" if ner else "no_ner"
        figures[f"worker_build_s_{label}"] = round(build, 2)
        figures[f"worker_rss_mb_{label}"] = round(rss, 1)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=0.5, help="corpus size in MB (default 0.5)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    payloads = corpus(args.mb)
    size = text_bytes(payloads) / 1_000_000
    ours, ours_found, ours_build, ours_cpu = run_baomi(payloads)
    base, base_found, base_build, base_cpu = run_presidio_default(payloads)
    figures = {
        "corpus_mb": round(size, 3),
        "payloads": len(payloads),
        "segments": sum(len(p) for p in payloads),
        "baomi_mb_per_s": round(size / ours, 3),
        "baomi_mb_per_cpu_s": round(size / ours_cpu, 3),
        "baomi_findings": ours_found,
        "baomi_build_s": round(ours_build, 2),
        "presidio_default_mb_per_s": round(size / base, 3),
        "presidio_default_mb_per_cpu_s": round(size / base_cpu, 3),
        "presidio_default_findings": base_found,
        "presidio_default_build_s": round(base_build, 2),
        "ratio": round(base / ours, 1),
        "ratio_cpu": round(base_cpu / ours_cpu, 1),
        "load_average": round(os.getloadavg()[0], 2),
    }
    figures.update(model_figures(args.mb / 2))
    if args.json:
        print(json.dumps(figures))
        return
    for key, value in figures.items():
        print(f"{key:34} {value}")


if __name__ == "__main__":
    main()
