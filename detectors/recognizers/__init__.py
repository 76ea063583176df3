"""Our Presidio recognizers, one entity each (see each module's docstring)."""

from detectors.recognizers.address import AddressRecognizer
from detectors.recognizers.cn_passport import CnPassportRecognizer
from detectors.recognizers.cn_resident_id import CnResidentIdRecognizer
from detectors.recognizers.cn_uscc import CnUsccRecognizer
from detectors.recognizers.credit_card import BaomiCreditCardRecognizer
from detectors.recognizers.email import BaomiEmailRecognizer
from detectors.recognizers.iban import BaomiIbanRecognizer
from detectors.recognizers.ip import BaomiIpRecognizer
from detectors.recognizers.person import PersonRecognizer
from detectors.recognizers.phone import BaomiPhoneRecognizer

RECOGNIZERS = (
    CnResidentIdRecognizer,
    BaomiPhoneRecognizer,
    BaomiCreditCardRecognizer,
    CnPassportRecognizer,
    CnUsccRecognizer,
    BaomiEmailRecognizer,
    BaomiIpRecognizer,
    BaomiIbanRecognizer,
    PersonRecognizer,
    AddressRecognizer,
)

__all__ = ["RECOGNIZERS"] + [cls.__name__ for cls in RECOGNIZERS]
