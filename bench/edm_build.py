"""Time `baomi edm build` on a generated customer table, and a lookup on the result.

    .venv/bin/python bench/edm_build.py --rows 1000000

Writes the CSV, key and index into a temporary directory (key and index in different
subdirectories, as the runtime requires) and prints rows, fingerprints, index size,
build seconds and microseconds per strong-field lookup.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from detectors.edm import EdmIndex, new_key, read_key
from detectors.edm_build import build_index

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建国志文斌宇浩凯"
CITIES = ("北京市朝阳区", "上海市浦东新区", "广州市天河区", "深圳市南山区", "杭州市西湖区")


def write_csv(path: Path, rows: int, seed: int = 7) -> None:
    rnd = random.Random(seed)
    with open(path, "w", encoding="utf-8") as out:
        out.write("姓名,手机,身份证,邮箱,卡号,地址\n")
        for i in range(rows):
            name = rnd.choice(SURNAMES) + "".join(rnd.choices(GIVEN, k=rnd.choice((1, 2))))
            phone = f"1{rnd.choice('3456789')}{rnd.randrange(10**9):09d}"
            ident = (
                f"110105{rnd.randrange(1950, 2005)}{rnd.randrange(1, 13):02d}"
                f"{rnd.randrange(1, 29):02d}{rnd.randrange(1000):03d}{rnd.choice('0123456789X')}"
            )
            email = f"user{i}@example.com"
            card = f"62{rnd.randrange(10**17):017d}"
            address = f"{rnd.choice(CITIES)}{rnd.randrange(1, 999)}号{rnd.randrange(1, 30)}栋"
            out.write(f"{name},{phone},{ident},{email},{card},{address}\n")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "keys").mkdir()
        (root / "index").mkdir()
        csv_path, key_path, index_path = root / "c.csv", root / "keys/edm.key", root / "index/c.edm"
        started = time.perf_counter()
        write_csv(csv_path, args.rows)
        generated = time.perf_counter() - started
        new_key(key_path)
        key = read_key(key_path, index_path)
        started = time.perf_counter()
        report = build_index(csv_path, key, index_path)
        built = time.perf_counter() - started
        index = EdmIndex.open(index_path, key_path)
        n = 20_000
        started = time.perf_counter()
        for i in range(n):
            index.rows_of("phone", f"139{i:08d}")
        lookup = (time.perf_counter() - started) / n
        print(
            f"rows {report.rows}  fingerprints {report.entries}  "
            f"csv {csv_path.stat().st_size / 1e6:.0f} MB (generated in {generated:.1f} s)  "
            f"index {index_path.stat().st_size / 1e6:.0f} MB  build {built:.1f} s  "
            f"lookup {lookup * 1e6:.1f} us"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
