"""The period a question names ("on May 3, 2023", "in December 2023", "in June"), as a retrieval signal.

Memory is dated when it was said, so "What did I donate in December 2023?" is answered by a message
from December 2023 whose words may share little with the question. Keyword search alone ranks such a
message among every other talk of donating; knowing the period lets assemble look inside it too.
English month names only; a question that names no period, or only a year, gets none.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_MONTHS = {
    name: n
    for n, name in enumerate(
        "january february march april may june july august september october november december".split(), 1
    )
}
_MONTH = "(" + "|".join(_MONTHS) + ")"
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"((?:19|20)\d\d)"
_MONTH_DAY_YEAR = re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b", re.I)
_DAY_MONTH_YEAR = re.compile(rf"\b{_DAY}(?:\s+of)?\s+{_MONTH},?\s+{_YEAR}\b", re.I)
_MONTH_YEAR = re.compile(rf"\b{_MONTH},?\s+{_YEAR}\b", re.I)
# A month alone, after a word that makes it a time ("in May", not "May I ask").
_IN_MONTH = re.compile(rf"\b(?:in|during|since|last|this|early|late|mid)\s+{_MONTH}\b", re.I)
# A day's messages may be stamped in another time zone than the question thinks in.
_DAY_SLACK = timedelta(hours=12)


def named_period(question: str, as_of: datetime) -> tuple[datetime, datetime] | None:
    """The [start, end) the question names, or None."""
    for pattern, order in ((_MONTH_DAY_YEAR, "mdy"), (_DAY_MONTH_YEAR, "dmy")):
        found = pattern.search(question)
        if found:
            parts = dict(zip(order, found.groups(), strict=True))
            try:
                day = datetime(int(parts["y"]), _MONTHS[parts["m"].lower()], int(parts["d"]), tzinfo=UTC)
            except ValueError:
                return None  # "February 30": not a day
            return day - _DAY_SLACK, day + timedelta(days=1) + _DAY_SLACK
    found = _MONTH_YEAR.search(question)
    if found:
        return _month(int(found.group(2)), _MONTHS[found.group(1).lower()])
    found = _IN_MONTH.search(question)
    if found:
        month = _MONTHS[found.group(1).lower()]
        year = as_of.year if month <= as_of.month else as_of.year - 1  # the latest such month
        return _month(year, month)
    return None


def _month(year: int, month: int) -> tuple[datetime, datetime]:
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return start - _DAY_SLACK, end + _DAY_SLACK
