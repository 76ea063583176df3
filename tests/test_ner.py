"""NER: the model baomi ships finds names in running text; an admin's pipeline replaces it.

The shipped model (detectors/models/ner, trained by ``make model``) is loaded from the
installed package, offline, by every default Detector. The sentences below are written
for this test (not taken from the training corpora). An admin's own pipeline is built
here (``spacy.blank("en")`` + an ``entity_ruler``) and saved to a directory, as an admin
would install one; nothing is downloaded. See detectors/NER.md.
"""

import shutil
import socket
from importlib import resources
from pathlib import Path

import pytest
import spacy
from detection_support import shared_detector

from detectors import model_names, nlp
from detectors.engine import Detector, DetectorConfig
from detectors.model import Segment
from detectors.nlp import NER_SCORE, SHIPPED, load_ner
from detectors.normalize import normalize
from detectors.prefilter import worth_ner


def people(detector, text, context=()):
    findings = detector.analyze([Segment(text, "chat", context)])
    return [f.value for f in findings if f.entity == "PERSON"]


# Names in prose with no field name, label, title or greeting: only the model finds them.
@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("昨天下午王小明和李娜一起去上海参加了项目评审会。", ["王小明", "李娜"]),
        ("请把合同扫描件转给财务部的陈建国，他今天下班前要用。", ["陈建国"]),
        ("这个问题是刘晓燕上周在测试环境里发现的，已经修好了。", ["刘晓燕"]),
        ("会议纪要由赵志刚整理，周一发给全组。", ["赵志刚"]),
        ("I met Alice Walker yesterday to go over the quarterly numbers.", ["Alice Walker"]),
        ("Please ask John Peterson to review the pull request before Friday.", ["John Peterson"]),
        ("The refund was approved after Maria Gonzalez called the support line twice.",
         ["Maria Gonzalez"]),
        # The prose gate lets these through too (one capitalised word, CJK across separators).
        ("Alice called me yesterday about the invoice.", ["Alice"]),
        ("Jennifer called about her refund.", ["Jennifer"]),
        ("王小明,李娜,张伟:明天开会", ["王小明", "李娜", "张伟"]),
        ("王小明，李娜，张伟：明天开会", ["王小明", "李娜", "张伟"]),
    ],
)
def test_default_model_finds_names_in_prose(text, names):
    assert people(shared_detector(), text) == names


@pytest.mark.parametrize(
    "text",
    [
        "标准件 standard part",
        "今天的构建在测试环境里失败了，请重新运行流水线。",
        "The build failed on the main branch, please rerun the pipeline.",
        "Send the Idempotency-Key header with every POST request.",
    ],
)
def test_default_model_leaves_prose_without_names_alone(text):
    assert people(shared_detector(), text) == []


def test_a_confident_guess_scores_ner_score():
    found = [f for f in shared_detector().analyze([Segment("会议纪要由赵志刚整理。", "chat", ())])
             if f.entity == "PERSON"]
    assert [(f.value, f.score) for f in found] == [("赵志刚", NER_SCORE)]


def test_shipped_model_is_package_data():
    assert resources.files("detectors").joinpath("models", "ner") == SHIPPED
    assert (SHIPPED / "meta.json").is_file() and (SHIPPED / nlp.MANIFEST).is_file()


def test_shipped_model_loads_with_the_network_blocked(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the NER model tried to use the network")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    model = load_ner(None)
    assert [e.text for e in model("会议纪要由赵志刚整理。").ents] == ["赵志刚"]


@pytest.fixture
def shipped_copy(tmp_path, monkeypatch):
    copy = tmp_path / "ner"
    shutil.copytree(SHIPPED, copy)
    monkeypatch.setattr(nlp, "SHIPPED", copy)
    return copy


def test_a_missing_model_fails_with_a_clear_message(shipped_copy):
    shutil.rmtree(shipped_copy)
    with pytest.raises(OSError, match=r"NER model \(.*\) is missing or damaged: .*make model"):
        Detector(DetectorConfig())


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda m: (m / "tok2vec" / "model").write_bytes(b"\0" * 64), "tok2vec/model does not match"),
        (lambda m: (m / "ner" / "moves").unlink(), "missing: ['ner/moves']"),
        (lambda m: (m / nlp.MANIFEST).unlink(), "FileNotFoundError"),
        # An emptied manifest checks nothing: the altered weights must not load.
        (lambda m: ((m / nlp.MANIFEST).write_text(""),
                    (m / "tok2vec" / "model").write_bytes(b"\0" * 64)),
         "SHA256SUMS does not list the model's files"),
        (lambda m: (m / "ner" / "extra").write_bytes(b"x"), "unlisted: ['ner/extra']"),
        (lambda m: ((m / nlp.MANIFEST).write_text(
            "\n".join(line for line in (m / nlp.MANIFEST).read_text().splitlines()
                      if not line.endswith("  ner/moves"))),
            (m / "ner" / "moves").write_bytes(b"x")), "unlisted: ['ner/moves']"),
    ],
)
def test_a_damaged_model_fails_with_a_clear_message(shipped_copy, damage, reason):
    damage(shipped_copy)
    with pytest.raises(OSError, match="is missing or damaged") as raised:
        load_ner(None)
    assert reason in str(raised.value)
    assert "reinstall baomi or rebuild it with `make model`" in str(raised.value)


def test_the_pool_shows_the_message_when_a_worker_cannot_start(shipped_copy):
    from proxy.workers.pool import _why_not_started

    (shipped_copy / "ner" / "model").write_bytes(b"truncated")
    with pytest.raises(OSError) as raised:
        load_ner(None)
    message = _why_not_started(raised.value, DetectorConfig())
    assert message.startswith("OSError: baomi's NER model (")
    assert "ner/model does not match SHA256SUMS" in message


def test_ner_off_loads_no_model_and_finds_no_free_text_names():
    detector = Detector(DetectorConfig(ner=False))
    assert detector.analyzer.nlp_engine.ner is None
    assert people(detector, "I met Alice Walker yesterday to go over the numbers.") == []
    assert people(detector, "姓名：张三") == ["张三"]  # structure still finds names


class Refuses:
    """A model that must not be called."""

    def __call__(self, text):
        raise AssertionError("NER ran on a text not worth it")

    pipe = __call__


def test_structured_requests_never_reach_the_model(monkeypatch):
    detector = shared_detector()  # monkeypatch puts its model back
    monkeypatch.setattr(detector.analyzer.nlp_engine, "ner", Refuses())
    segments = [
        Segment("SO-2026-11-27-000123", "json:$.order_id", ("order_id",)),
        Segment("标准件 standard part", "json:$.items[0].desc", ("desc",)),
        Segment("deliver to dock 3", "json:$.note", ("note",)),
        Segment("13800138000", "json:$.contact.mobile", ("contact", "mobile")),
    ]
    assert [f.entity for f in detector.analyze(segments)] == ["PHONE_NUMBER"]


def test_prose_segments_of_a_request_go_to_the_model_in_one_batch(monkeypatch):
    detector = shared_detector()
    engine = detector.analyzer.nlp_engine
    batches = []
    real_pipe = engine.ner.pipe

    class Counting:
        def __call__(self, text):
            raise AssertionError("primed texts are not run again")

        def pipe(self, texts):
            texts = list(texts)
            batches.append(texts)
            return real_pipe(texts)

    monkeypatch.setattr(engine, "ner", Counting())
    segments = [
        Segment("会议纪要由赵志刚整理，周一发给全组。", "json:$.messages[0]", ("messages",)),
        Segment("SKU-00001", "json:$.sku", ("sku",)),
        Segment("I met Alice Walker yesterday to go over the numbers.", "json:$.messages[1]",
                ("messages",)),
    ]
    found = [f.value for f in detector.analyze(segments) if f.entity == "PERSON"]
    assert found == ["赵志刚", "Alice Walker"]
    assert batches == [[normalize(segments[0].text).text, segments[2].text]]  # "，" -> ","


@pytest.mark.parametrize(
    ("text", "worth"),
    [
        ("标准件 standard part", False),  # bench/proxy_throughput.py's clean body
        ("deliver to dock 3", False),
        ("SO-2026-11-27-000123", False),
        ("会议纪要由赵志刚整理", True),
        ("please forward it to Alice", True),
        ("Alice Walker", True),
        ("Alice called me yesterday about the invoice.", True),  # a sentence's capitalised start
        ("Sent. Jennifer called about her refund.", True),
        ("Invalid request", False),  # a short message, not a sentence
        ("王小明,李娜,张伟:明天开会", True),  # six CJK characters across separators
        ("王小明、李娜", False),
    ],
)
def test_worth_ner(text, worth, selector):
    assert worth_ner(text) is worth
    # The segment selector (segments joined by newlines, hyperscan) agrees.
    segments = [Segment("SKU-00001", "json:$.sku", ("sku",)), Segment(text, "json:$.note", ("x",))]
    assert selector.select(segments) == ([1] if worth else [])


@pytest.fixture(scope="module")
def selector():
    from detectors.batch import SegmentSelector

    return SegmentSelector.for_config(DetectorConfig())


# An admin's own pipeline replaces the shipped model.
PATTERNS = [
    {"label": "PERSON", "pattern": [{"LOWER": "alice"}, {"LOWER": "walker"}]},
    {"label": "PER", "pattern": [{"LOWER": "bob"}, {"LOWER": "stone"}]},
    {"label": "ORG", "pattern": [{"LOWER": "acme"}, {"LOWER": "corp"}]},
    {"label": "GPE", "pattern": [{"LOWER": "springfield"}]},
]


@pytest.fixture(scope="module")
def admin_detector(tmp_path_factory):
    path = tmp_path_factory.mktemp("pipeline") / "en_test_ner"
    pipeline = spacy.blank("en")
    pipeline.add_pipe("entity_ruler").add_patterns(PATTERNS)
    pipeline.to_disk(path)
    return Detector(DetectorConfig(nlp_model=str(path)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I met Alice Walker yesterday at the office", [("Alice Walker", NER_SCORE)]),
        ("Bob Stone will sign the contract", [("Bob Stone", NER_SCORE)]),  # "PER" label
        ("Acme Corp opened an office in Springfield", []),  # ORG, GPE: not people
        ("the weather is fine today", []),
        # the shipped model is not loaded (a two-character name: no rule reads it here)
        ("会议纪要由李娜整理，周一发给全组。", []),
    ],
)
def test_admin_pipeline_replaces_the_shipped_model(admin_detector, text, expected):
    findings = admin_detector.analyze([Segment(text, "chat", ())])
    assert [(f.value, f.score) for f in findings if f.entity == "PERSON"] == expected


@pytest.mark.parametrize(
    ("text", "entity", "value"),
    [
        ("客户手机13800138000", "PHONE_NUMBER", "13800138000"),
        ("身份证号：11010519491231002X", "CN_RESIDENT_ID", "11010519491231002X"),
        ("姓名：张三", "PERSON", "张三"),
    ],
)
def test_our_recognizers_still_run_with_a_pipeline(admin_detector, text, entity, value):
    found = [f for f in admin_detector.analyze([Segment(text, "chat", ())]) if f.entity == entity]
    assert [f.value for f in found] == [value]


def test_a_missing_admin_pipeline_fails_at_build(tmp_path):
    with pytest.raises(OSError, match="Can't find model"):
        Detector(DetectorConfig(nlp_model=str(tmp_path / "not-installed")))


POLICY = Path(__file__).resolve().parent.parent / "policies" / "default.yaml"


@pytest.mark.parametrize(("line", "ner"), [("", True), ("  ner: false\n", False),
                                           ("  ner: true\n", True)])
def test_policy_key_turns_ner_off(tmp_path, line, ner):
    from policies.load import load_policy

    path = tmp_path / "p.yaml"
    path.write_text(POLICY.read_text().replace("detection:\n", "detection:\n" + line, 1))
    assert load_policy(path).detection.ner is ner


def test_policy_key_ner_is_strict(tmp_path):
    from policies.load import load_policy
    from proxy.errors import PolicyError

    path = tmp_path / "p.yaml"
    path.write_text(POLICY.read_text().replace("detection:\n", "detection:\n  ner: maybe\n", 1))
    with pytest.raises(PolicyError, match="ner"):
        load_policy(path)


def json_leaves(value, path=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from json_leaves(item, (*path, key))
    elif isinstance(value, list):
        for item in value:
            yield from json_leaves(item, path)
    else:
        yield Segment(str(value), "json", path)


@pytest.mark.parametrize(("with_phone", "selected"), [(False, []), (True, ["13800138000"])])
def test_proxy_benchmark_bodies_select_the_same_with_the_model(with_phone, selected):
    """The clean-traffic figures of bench/proxy_throughput.py cannot drop: its bodies hold no
    prose, so the selector (also the proxy's clean-request path) picks the same segments."""
    import json

    from bench.proxy_throughput import body_4k
    from detectors.batch import SegmentSelector

    segments = list(json_leaves(json.loads(body_4k(with_phone))))
    for config in (DetectorConfig(), DetectorConfig(ner=False)):
        chosen = SegmentSelector.for_config(config).select(segments)
        assert [segments[i].text for i in chosen] == selected


def test_a_long_prose_body_is_read_by_the_model_up_to_the_budget_only(monkeypatch):
    """A 400 KB document pasted into a prompt: the model reads the first ner_max_bytes of its
    prose (it read all of it before: ~3x the time, past the 5 s timeout); the rules still read
    everything (the ID near the end), and what the model skipped is counted."""
    from detectors.engine import NER_MAX_BYTES

    detector = shared_detector()
    engine = detector.analyzer.nlp_engine
    real_pipe, read = engine.ner.pipe, []

    class Spying:
        def __call__(self, text):
            raise AssertionError("every text the model reads goes through one batch")

        def pipe(self, texts):
            texts = list(texts)
            read.extend(texts)
            return real_pipe(texts)

    monkeypatch.setattr(engine, "ner", Spying())
    sentence = "昨天下午王小明和同事一起去上海参加了项目评审会，大家讨论了下个季度的计划。 "
    body = sentence * (400_000 // len(sentence.encode()))
    body += "报销单上的证件号是11010519491231002X，请核对。"
    skipped_before = detector.ner_skipped_bytes
    findings = detector.analyze([Segment(body, "json:$.messages[0].content", ("content",))])
    assert sum(len(t.encode()) for t in read) <= NER_MAX_BYTES
    assert "王小明" in [f.value for f in findings if f.entity == "PERSON"]
    assert [f.value for f in findings if f.entity == "CN_RESIDENT_ID"] == ["11010519491231002X"]
    assert detector.ner_skipped_bytes - skipped_before > 300_000


# A lone surrogate (JSON's "\ud800" escape decodes to one) cannot be encoded as UTF-8.
SURROGATE_NOTE = "I met Alice Walker yesterday \ud800 to go over the numbers, ID 11010519491231002X"


def test_a_lone_surrogate_is_detected_around_not_a_crash():
    text = SURROGATE_NOTE
    findings = shared_detector().analyze([Segment(text, "json:$.note", ("note",))])
    spans = {f.entity: text[f.start : f.end] for f in findings}
    assert spans["PERSON"] == "Alice Walker"
    assert spans["CN_RESIDENT_ID"] == "11010519491231002X"


def test_a_failing_model_is_a_detection_failure_without_the_text(monkeypatch):
    from detectors.errors import DetectionFailed

    class Broken:
        def pipe(self, texts):
            raise UnicodeEncodeError("utf-8", "Alice", 0, 1, "surrogates not allowed")

    detector = shared_detector()
    monkeypatch.setattr(detector.analyzer.nlp_engine, "ner", Broken())
    with pytest.raises(DetectionFailed, match="NER model failed: UnicodeEncodeError") as raised:
        detector.analyze([Segment("I met Alice Walker yesterday.", "chat", ())])
    assert "Alice" not in str(raised.value)


def test_scan_cli_reads_a_body_with_a_lone_surrogate(tmp_path, capsys):
    import json

    from proxy.cli import main

    body = tmp_path / "s.json"
    body.write_text('{"note": "I met Alice Walker yesterday \\ud800 to go over the numbers, '
                    'ID 11010519491231002X"}')
    policy = str(POLICY)
    assert main(["scan", "--policy", policy, "--json", "--content-type", "application/json",
                 str(body)]) == 0
    out, err = capsys.readouterr()
    [result] = [json.loads(line) for line in out.splitlines()]
    assert "Traceback" not in err
    assert {f["entity"] for f in result["findings"]} == {"PERSON", "CN_RESIDENT_ID"}
    assert result["decision"]["action"] == "block"


def test_policy_rejects_a_model_with_ner_off(tmp_path):
    from policies.load import load_policy
    from proxy.errors import PolicyError

    path = tmp_path / "p.yaml"
    path.write_text(POLICY.read_text().replace(
        "detection:\n", "detection:\n  nlp_model: /opt/models/x\n  ner: false\n", 1))
    with pytest.raises(PolicyError, match="nlp_model is set but ner is false"):
        load_policy(path)


def test_shipped_model_states_its_licence_and_attribution():
    import json

    meta = json.loads((SHIPPED / "meta.json").read_text())
    assert meta["license"] == "CC BY-SA 4.0"
    assert (SHIPPED / "LICENSE").read_text().startswith("Attribution-ShareAlike 4.0 International")
    notice = (SHIPPED / "NOTICE").read_text()
    for source in meta["sources"]:  # every corpus trained on, at its commit
        assert source["repo"] in notice and source["commit"] in notice


def test_training_reads_the_recorded_commit_not_the_checked_out_file(tmp_path):
    """`make model` trains on what SOURCES.md records: a clone checked out at another commit
    (or with an edited file) still yields the recorded commit's text."""
    import subprocess

    from detectors.training.corpora import WNUT17, read_lines

    clone = tmp_path / WNUT17.repo.replace("/", "+")
    clone.mkdir()

    def git(*args):
        return subprocess.run(["git", "-C", str(clone), "-c", "user.name=t", "-c",
                               "user.email=t@example.invalid", *args], check=True,
                              capture_output=True, text=True).stdout.strip()

    git("init", "-q")
    (clone / WNUT17.path).write_text("Ann\tB-person\n")
    git("add", WNUT17.path)
    git("commit", "-q", "-m", "recorded")
    recorded = git("rev-parse", "HEAD")
    (clone / WNUT17.path).write_text("Bob\tB-person\n")
    git("commit", "-q", "-am", "later")
    (clone / WNUT17.path).write_text("edited\tO\n")
    from dataclasses import replace

    assert read_lines(replace(WNUT17, commit=recorded), tmp_path) == ["Ann\tB-person"]
    with pytest.raises(FileNotFoundError, match=r"no wnut17train\.conll at 0{40}"):
        read_lines(replace(WNUT17, commit="0" * 40), tmp_path)


@pytest.mark.parametrize(
    ("text", "span", "shaped"),
    [
        ("我去了北京大学开会", (3, 5), False),  # 北京 inside 北京大学: not on jieba's bounds
        ("我们在江小白专卖店买的", (3, 6), False),  # a shop's name: what follows says so
        ("汤臣倍健官网上有活动", (0, 3), False),  # 汤臣倍 of 汤臣倍健, then 官网
        ("昨天王小明和李娜去了上海", (2, 5), True),
        ("昨天王小明和李娜去了上海", (6, 8), True),
        ("会议纪要由赵志刚整理，周一发给全组。", (5, 8), True),
        ("张伟的公司在上海", (0, 2), True),  # owns one through a particle: still a person
    ],
)
def test_a_chinese_guess_must_stand_as_a_name(text, span, shaped):
    """Structure, not a list: a model PERSON guess inside a longer dictionary word, or at the
    head of a shop or brand name, is dropped (generated clean payloads: 江小白专卖店)."""
    assert model_names.chinese_name_shaped(text, *span) is shaped


def test_brand_shops_are_no_people_but_names_still_are():
    assert people(shared_detector(), "我们在江小白专卖店买的，汤臣倍健官网上也有。") == []
    assert people(shared_detector(), "江小白专卖店的店长王小明明天到岗。") == ["王小明"]


def test_training_swaps_in_names_of_the_train_part_only():
    """The second copy of a Chinese sentence carries names of other train sentences, never a
    name of the held-out 1/20 (which selects the checkpoint and is bench/quality's tune set)."""
    import spacy
    from spacy.tokens import DocBin

    from detectors import ner_tokens
    from detectors.training import train

    found = [(f"{chr(0x4E00 + i)}{chr(0x4E00 + i)}说了", [(0, 2, "PERSON")])
             for i in range(2 * train.HOLD_OUT)]
    held_names = {found[i][0][:2] for i in range(len(found)) if train._held(i)}
    pool = train.name_pool(found)
    assert len(pool) == len(found) - 2 and held_names.isdisjoint(pool)
    trained, held = DocBin(), DocBin()
    tokenizer = ner_tokens.NerTokenizer(spacy.blank("xx").vocab)
    count = train._add(found, "", tokenizer, trained, held, pool)
    assert (count["sentences"], count["swapped"]) == (len(found), len(found) - 2)
    docs = list(trained.get_docs(tokenizer.vocab))
    assert len(docs) == 2 * (len(found) - 2)
    names = {ent.text for doc in docs for ent in doc.ents}
    assert names <= set(pool) and held_names.isdisjoint(names)
    assert all(doc.text.endswith("说了") for doc in docs)
    # Without names (the shipped recipe, no --swap-names) the second copy is the same sentence.
    plain = DocBin()
    assert train._add(found, "", tokenizer, plain, DocBin())["swapped"] == 0
    texts = [doc.text for doc in plain.get_docs(tokenizer.vocab)]
    assert texts[0::2] == texts[1::2] == [text for i, (text, _) in enumerate(found) if not train._held(i)]


def test_more_data_never_trains_on_a_tuning_sentence(monkeypatch):
    """`train.py --more-data` reads MultiCoNER II Chinese train, which tune.py samples for
    `multiconer_tune`: the sample (and a repeat of one of its sentences with other
    punctuation) is never trained on nor swapped in as a name; WikiGold (`wikigold_tune`,
    whole) is not read at all; the rest of MultiCoNER is trained on but the held-out 1/20.
    With MultiCoNER among the shipped sources, the sample stays whole in the tuning set."""
    import spacy

    from bench.quality import seen, tune
    from detectors.training import corpora, holdout, train

    limit = holdout.SAMPLE[2]
    multiconer = [(f"{chr(0x4E00 + i)}{chr(0x5000 + i)}说了第{i}件事", [(0, 2, "PERSON")])
                  for i in range(limit + 300)]
    tuned_keys = holdout.excluded(corpora.MULTICONER_ZH, [text for text, _ in multiconer])
    sampled = next(text for text, _ in multiconer if holdout.key(text) in tuned_keys)
    other = next(text for text, _ in multiconer if holdout.key(text) not in tuned_keys)
    multiconer += [(sampled.replace("说了", "，说了！"), [(0, 2, "PERSON")]),
                   (other.replace("说了", "，说了！"), [(0, 2, "PERSON")])]
    data = {corpora.MULTICONER_ZH.path: multiconer,
            corpora.WEIBO.path: [("王小明说", [(0, 3, "PERSON")])] * 3,
            corpora.WIKIGOLD.path: [(f"Ann Lee{i} met Bob.", [(0, 7, "PERSON")]) for i in range(30)]}
    monkeypatch.setattr(corpora, "sentences", lambda source, root: iter(data.get(source.path, [])))
    monkeypatch.setattr(corpora, "gum_sentences", lambda source, root: iter(()))
    monkeypatch.setattr(tune, "evaluation_keys", lambda root: frozenset())
    root = Path("/nowhere")
    tuning = tune.tune_texts(root, sources=("multiconer_tune", "wikigold_tune"))
    assert [sum(t.source == name for t in tuning) for name in ("multiconer_tune", "wikigold_tune")] == [limit, 30]
    assert {holdout.key(t.text) for t in tuning if t.source == "multiconer_tune"} == tuned_keys

    trained, _held, counts = train.doc_bins(root, (*corpora.SOURCES, *corpora.MORE), swap=True)
    docs = list(trained.get_docs(spacy.blank("xx").vocab))
    trained_keys = {holdout.key(doc.text) for doc in docs}
    assert trained_keys.isdisjoint(holdout.key(t.text) for t in tuning)
    assert holdout.key(sampled) not in trained_keys and holdout.key(other) in trained_keys
    tuning_names = {t.text[a:b] for t in tuning for _, a, b in t.spans}
    assert tuning_names.isdisjoint(ent.text for doc in docs for ent in doc.ents)
    expected = {holdout.key(text) for i, (text, _) in enumerate(multiconer)
                if not train._held(i) and holdout.key(text) not in tuned_keys}
    assert len(expected) > 250  # the 300 not sampled (and a repeat), less the held-out 1/20
    assert expected <= trained_keys and "王小明说" in trained_keys
    assert counts[train.source_key(corpora.MULTICONER_ZH)]["tuning"] > limit * 0.9
    assert corpora.WIKIGOLD not in corpora.MORE

    monkeypatch.setattr(corpora, "SOURCES", (*corpora.SOURCES, *corpora.MORE))  # if shipped
    assert seen.training_keys(root, held_out_too=False) == expected | {"王小明说"}
    again = tune.tune_texts(root, sources=("multiconer_tune",))
    assert [t.id for t in again] == [t.id for t in tuning if t.source == "multiconer_tune"]


def test_tune_draws_the_sample_the_recipe_keeps_out():
    from bench.quality import tune
    from detectors.training import holdout

    sample = tune.SAMPLES[holdout.SAMPLE[0]]
    corpus = holdout.SAMPLE[1]
    assert (sample.repo, sample.commit, sample.path, sample.limit) == (
        corpus.repo, corpus.commit, corpus.path, holdout.SAMPLE[2])
