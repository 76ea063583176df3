"""The ``--real`` report: a table for people, ``--json`` rows for machines.

Headlines follow ``realscore.HEADLINE`` (PERSON by overlap, ADDRESS by exact
boundaries); the overlap recall is shown beside each in brackets. Finding classes
show a value's shape, never the value.
"""

from __future__ import annotations

from collections.abc import Sequence

from bench.quality.realscore import HEADLINE, CleanReport, TextReport


def text_rows(report: TextReport) -> dict:
    """``--json`` form: group -> entity -> rule -> P/R/F2 and counts."""
    rows: dict = {}
    for name, group in report.groups.items():
        entities: dict = {}
        for (entity, rule), t in sorted(group.tallies.items()):
            entities.setdefault(entity, {})[rule] = {
                "gold": t.gold, "tp": t.tp, "fp": t.fp, "found": t.found,
                "precision": round(t.precision, 4), "recall": round(t.recall, 4), "f2": round(t.f2, 4),
            }  # fmt: skip
        head = group.headline()
        rows[name] = {"sentences": group.sentences, "other_findings": dict(sorted(group.other.items())),
                      "detection_failed": group.failed,
                      "boundary_misses": {f"{e} {k}": n for (e, k), n in sorted(group.boundaries.items())},
                      "entities": entities, "overall_f2": round(head.f2, 4)}  # fmt: skip
    return rows


def clean_rows(report: CleanReport, top: int = 15) -> dict:
    return {
        name: {
            "payloads": g.payloads, "flagged": g.flagged, "flagged_share": round(g.share, 4),
            "flagged_any": g.flagged_any, "detection_failed": g.failed,
            "expected_payloads": g.expected, "expected_found": g.expected_found,
            "classes": [{"entity": e, "field": f, "shape": s, "count": n}
                        for (e, f, s), n in g.classes.most_common(top)],
        }
        for name, g in report.groups.items()
    }  # fmt: skip


def order(names: Sequence[str], tail: Sequence[str]) -> list[str]:
    return sorted(n for n in names if n not in tail) + [n for n in tail if n in names]


def print_texts(reports: Sequence[TextReport]) -> None:
    print("Real labelled text (PERSON: overlap; ADDRESS: exact; [overlap] in brackets)")
    print(
        f"{'group':12}{'entity':9}{'gold':>6}"
        + "".join(f"  {r.engine[:8]:>8} P     R    F2   [R ovl]" for r in reports)
    )
    tail = ("zh-tune", "en-tune", "zh-dev", "en-dev", "zh-unseen", "en-unseen", "zh", "en", "all")
    names = order([n for n in reports[0].groups if not n.startswith("carrier:")], tail)
    for name in names:
        entities = sorted({e for r in reports for (e, _) in r.group(name).tallies})
        for entity in entities:
            rule = HEADLINE[entity]
            cells = ""
            for r in reports:
                t, ovl = r.group(name).tally(entity, rule), r.group(name).tally(entity, "overlap")
                if t.gold:
                    p = f"{t.precision:.3f}" if t.tp + t.fp else "-"  # no prediction at all
                    cells += f"  {p:>14} {t.recall:5.3f} {t.f2:5.3f}   [{ovl.recall:5.3f}]"
                else:  # nothing labelled: only false hits to show
                    cells += f"  {'false hits':>14} {t.fp:<19}"
            label = f"{name:12}" if len(name) < 12 else f"{name} "  # multiconer_tune: spaced
            print(f"{label}{entity:9}{reports[0].group(name).tally(entity, rule).gold:>6}{cells}")
    for r in reports:
        for name in (n for n in names if n not in tail):
            group = r.group(name)
            notes = [f"{e} {k} {n}" for (e, k), n in sorted(group.boundaries.items())]
            notes = ["near misses (overlap, not exact): " + ", ".join(notes)] if notes else []
            if group.other:
                other = ", ".join(f"{e} {n}" for e, n in sorted(group.other.items()))
                notes.append(f"findings of entities it does not label: {other}")
            if notes:
                print(f"{r.engine} {name}: " + "; ".join(notes))
    for lang in ("zh", "en"):  # say so, rather than print no ADDRESS row at all
        address = reports[0].groups[lang].tallies.get(("ADDRESS", "exact")) if lang in names else None
        if lang in names and (address is None or not address.gold):
            why = "no local copy" if lang == "zh" else "no English address corpus"
            print(f"{lang}: ADDRESS: not measured ({why})")
    for r in reports:
        a = r.groups.get("all")
        if a is None:  # dev sentences only
            continue
        print(f"{r.engine}: overall F2 {a.headline().f2:.3f} over {a.sentences} sentences; "
              f"other personal-data findings in them: {sum(a.other.values())}"
              + (f"; DETECTION FAILED on {a.failed}" if a.failed else ""))  # fmt: skip


def print_clean(reports: Sequence[CleanReport], top: int = 8) -> None:
    print("Real clean API payloads: share with a customer-data finding (any finding: count)")
    print(
        f"{'source':12}{'payloads':>9}"
        + "".join(f"  {r.engine[:8]:>8} flagged   (any)" for r in reports)
    )
    for name in order(list(reports[0].groups), ("dev", "test")):
        g0 = reports[0].group(name)
        cells = "".join(
            f"  {r.group(name).flagged:>7} {r.group(name).share:6.1%} ({r.group(name).flagged_any:>4})"
            for r in reports
        )
        note = (
            f"   (+{g0.expected} with example data, {g0.expected_found} found)"
            if g0.expected
            else ""
        )
        print(f"{name:12}{g0.payloads:>9}{cells}{note}")
    for r in reports:
        failed = r.group("dev").failed + r.group("test").failed
        if failed:
            print(f"{r.engine}: DETECTION FAILED on {failed} payloads (counted as finding nothing)")
        classes = r.group("dev").classes + r.group("test").classes
        print(f"{r.engine} finding classes (entity, field, shape: count):")
        for (e, f, s), n in classes.most_common(top):
            print(f"  {e:14} {f[:48]:48} {s[:24]:24} {n}")
