"""What detection reads and what it returns.

    Segment("13800138000", "json:$.customer.phone", ("customer", "phone"))
      -> Finding("PHONE_NUMBER", 0.95, 0, 11, "json:$.customer.phone", 0, "13800138000")

Offsets are into ``Segment.text`` as extracted (before normalisation), so the
proxy can replace exactly the characters that were detected.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Segment:
    """One piece of text a request carries, with where it came from."""

    text: str
    location: str  # "json:$.customer.phone", "form:mobile", "query:id", "multipart:orders.csv"
    context: tuple[str, ...] = ()  # words from field names / headers, e.g. ("customer", "phone")


@dataclass(frozen=True, slots=True)
class Finding:
    """One detected value. ``value`` is raw personal data: memory only, never logged."""

    entity: str
    score: float
    start: int
    end: int
    location: str
    segment: int  # index into the list of segments that was analysed
    value: str

    def masked(self, fingerprint: bool = True) -> str:
        """The safe mask (detectors.mask): ``11****************#7f3a2c`` in records,
        ``fingerprint=False`` for what goes out in a masked request."""
        from detectors.mask import mask_value

        return mask_value(self.entity, self.value, fingerprint=fingerprint)

    def __repr__(self) -> str:  # keep raw values out of tracebacks and logs
        return (
            f"Finding({self.entity!r}, {self.score:.2f}, {self.start}, {self.end}, "
            f"{self.location!r}, {self.masked()!r})"
        )
