"""detectors/data/cn_countries.txt is libphonenumber's list of Chinese country names, copied
so that detector workers need not import phonenumbers.geodata (~100 MB of geocoding tables)."""

from __future__ import annotations

import subprocess
import sys

from detectors.cn_foreign import countries

REGENERATE = (
    "regenerate detectors/data/cn_countries.txt from phonenumbers.geodata.locale.LOCALE_DATA "
    "(the 'zh' name of each entry, leading '*' dropped, sorted) and update the version in its header"
)


def test_the_copy_equals_the_installed_phonenumbers_list():
    from phonenumbers.geodata.locale import LOCALE_DATA

    expected = {names.get("zh", "").lstrip("*") for names in LOCALE_DATA.values()} - {""}
    assert countries() == expected, REGENERATE
    assert {"加拿大", "卡塔尔", "新西兰", "阿根廷"} <= countries()


def test_reading_the_countries_does_not_import_the_geocoding_tables():
    code = ("import sys; from detectors.cn_foreign import countries; countries(); "
            "print('phonenumbers.geodata' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
