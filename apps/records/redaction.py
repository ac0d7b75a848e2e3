"""Redact personal data from job payload samples and error messages before they are archived."""

from __future__ import annotations

import ipaddress
import re
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

__all__ = [
    "DEFAULT_DETECTORS",
    "Detector",
    "Redactor",
    "default_redactor",
    "iban_valid",
    "luhn_valid",
]


@dataclass(frozen=True)
class Detector:
    """A named pattern whose matches are replaced by ``[REDACTED:<name>]``.

    ``validate`` receives the matched text and can veto it (checksums, ranges).
    ``prefilter`` is an optional cheap test on the whole text; a falsy result promises that
    ``pattern`` cannot produce a finding, so the regex scan is skipped. Most messages contain
    digits, so this, not the fast path for digit-free text, is what keeps ``redact`` cheap.
    """

    name: str
    pattern: re.Pattern[str]
    validate: Callable[[str], bool] | None = None
    prefilter: Callable[[str], object] | None = None


def luhn_valid(digits: str) -> bool:
    """Return True if ``digits`` (spaces and dashes allowed) passes the Luhn check."""
    compact = digits.replace(" ", "").replace("-", "")
    if len(compact) < 2 or not (compact.isascii() and compact.isdigit()):
        return False
    # Slicing plus translate keeps the loop in C; a per-digit Python loop was the slowest
    # step of redacting a message that contains a card.
    doubled = compact[-2::-2].translate(_LUHN_DOUBLED)
    return (sum(map(int, compact[-1::-2])) + sum(map(int, doubled))) % 10 == 0


_LUHN_DOUBLED = str.maketrans("0123456789", "0246813579")

_IBAN_SHAPE = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")


def iban_valid(text: str) -> bool:
    """Return True if ``text`` (spaces allowed) is an IBAN passing the ISO 13616 mod-97 check."""
    compact = text.replace(" ", "").upper()
    if not (compact.isascii() and _IBAN_SHAPE.fullmatch(compact)):
        return False
    rearranged = compact[4:] + compact[:4]
    # int(c, 36) maps 0-9 to themselves and A-Z to 10-35, exactly the ISO 13616 letter encoding.
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def _card_valid(text: str) -> bool:
    compact = text.replace(" ", "").replace("-", "")
    return 13 <= len(compact) <= 19 and luhn_valid(compact)


def _ipv4_valid(text: str) -> bool:
    return all(int(octet) <= 255 for octet in text.split("."))


def _ipv6_valid(text: str) -> bool:
    address = text.partition("%")[0]
    # "::1", "::" and slices like "[::2]" are valid addresses but identify nobody, and
    # digit-free candidates are far more likely to be C++/Rust paths such as "abc::def".
    if sum(1 for group in address.split(":") if group) < 2:
        return False
    if not any(char.isdigit() for char in address):
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _phone_valid(text: str) -> bool:
    if "+" not in text:
        return True
    # E.164 caps numbers at 15 digits; below 8 it is more likely a score delta or a UTC offset.
    return 8 <= sum(char.isdigit() for char in text) <= 15


# Local parts may be Unicode; the lookbehind forces matches to start where a local-part run
# starts, so a long run without "@" is scanned once instead of once per character.
# A dot-TLD of two or more letters is required on purpose: it rejects decorators, "a@b"
# matrix products and "user@localhost", which is a service account rather than a person.
_EMAIL = re.compile(
    r"""
    (?<![\w.%+-])
    [\w.%+-]++
    @
    (?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+
    [^\W\d_]{2,63}
    (?![\w-])
    """,
    re.VERBOSE,
)

# Patterns that run on most messages start with a character class rather than a lookbehind:
# that lets the regex engine skip ahead to plausible first characters in C, and the
# two-character lookbehind right after it still enforces the left boundary.

# Only MII 2-6 (Mastercard 2-series, Amex, Diners, JCB, Visa, Mastercard, Discover, UnionPay):
# 13-19 digit IDs starting with 1 are overwhelmingly epoch-ms/ns timestamps and snowflake
# IDs, a tenth of which would pass Luhn by chance. Grouped forms must reuse one separator.
_CARD = re.compile(
    r"""
    [2-6](?<![\w+][2-6])
    (?:
        [0-9]{12,18}
      | [0-9]{3}([ -])[0-9]{4,6}(?:\1[0-9]{1,5}){1,3}
    )
    (?!\w)
    """,
    re.VERBOSE | re.ASCII,
)

# Uppercase only: lowercase look-alikes are mostly hex digests, and printed IBANs are uppercase.
_IBAN = re.compile(
    r"""
    [A-Z](?<![A-Za-z0-9][A-Z])
    [A-Z][0-9]{2}
    (?:
        [A-Z0-9]{11,30}
      | (?:[ ][A-Z0-9]{4}){2,7}(?:[ ][A-Z0-9]{1,3})?
    )
    (?![A-Za-z0-9])
    """,
    re.VERBOSE | re.ASCII,
)

# Four-part version strings ("1.2.3.4") cannot be told apart from addresses and are redacted;
# a leading letter ("v1.2.3.4") or a fifth part ("1.2.3.4.5") keeps them.
_IPV4 = re.compile(
    r"""
    [0-9](?<![\w.][0-9])
    [0-9]{0,2}\.(?:[0-9]{1,3}\.){2}[0-9]{1,3}
    (?!\w|\.[0-9])
    """,
    re.VERBOSE | re.ASCII,
)

# Deliberately loose: the structure is checked by ipaddress, the regex only has to find
# candidates cheaply. Every repetition starts with ":", so it cannot backtrack badly, and a
# trailing lone ":" (as in "fe80::1: refused") is kept out of the candidate.
_IPV6 = re.compile(
    r"""
    (?<![\w:.])
    (?:[0-9A-Fa-f]{1,4}|(?=::))
    (?::[0-9A-Fa-f]{0,4}){2,8}
    (?:\.[0-9]{1,3}){0,3}
    (?<![^:]:)
    (?:%[0-9A-Za-z_.-]+)?
    (?!\w|\.[0-9]|:[0-9A-Fa-f])
    """,
    re.VERBOSE | re.ASCII,
)

# A phone needs either a leading "+" (international/E.164) or a recognisable national shape
# with separators: NANP "(415) 555-0100" / "415-555-0100", or trunk-0 "020 7946 0958".
# "(+44) 20 7946 0958" and "+44 (0)20 7946 0958" are covered as well.
# Bare digit runs are never phones here; they are indistinguishable from IDs and counters,
# and that also keeps dates, times, versions and UUIDs (wrong group sizes) out.
_PHONE = re.compile(
    r"""
    [+(0-9](?<![\w+.-][+(0-9])
    (?:
        (?:(?<=\+)[1-9][0-9]*+|(?<=\()\+[1-9][0-9]*+\))
        (?:[ .-]?\([0-9]++\)[ .-]?[0-9]++)?
        (?:[ .-][0-9]++)*
        (?!\w)
      |
        (?:
            (?<=\()
            (?:
                [0-9]{3}\)[ ]?[0-9]{3}[-. ][0-9]{4}
              | 0[0-9]{1,4}\)[ ]?[0-9]{3,4}[ -][0-9]{3,4}
            )
          | (?<=[0-9])[0-9]{2}([-. ])[0-9]{3}\1[0-9]{4}
          | (?<=0)[0-9]{1,4}[ -][0-9]{3,4}[ -][0-9]{3,4}
        )
        (?!\w|[.-][0-9])
    )
    """,
    re.VERBOSE | re.ASCII,
)

_DOTTED_QUAD_HINT = re.compile(r"[0-9]\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]").search
_PHONE_GROUP_HINT = re.compile(r"[0-9][-. ][0-9]{3,4}[-. ][0-9]{3}").search
_PHONE_PLUS_HINT = re.compile(r"\+[1-9]").search
_PHONE_PAREN_HINT = re.compile(r"\([0-9]").search


def _may_contain_email(text: str) -> bool:
    return "@" in text


def _may_contain_ipv4(text: str) -> bool:
    return text.count(".") >= 3 and _DOTTED_QUAD_HINT(text) is not None


def _may_contain_ipv6(text: str) -> bool:
    # Any address passing _ipv6_valid is either compressed ("::") or spells out at least six
    # groups, so clock times and "key: value" pairs never trigger the real scan.
    return "::" in text or text.count(":") >= 6


def _may_contain_phone(text: str) -> bool:
    # Every national shape has two separated groups after a digit, so "12:30:45.120" and
    # "2026-11-24" do not trigger the full scan; the other shapes start with "+" or "(".
    return (
        _PHONE_GROUP_HINT(text) is not None
        or _PHONE_PLUS_HINT(text) is not None
        or _PHONE_PAREN_HINT(text) is not None
    )


# Earlier detectors claim their spans first. IBANs precede cards because the digit groups of a
# spaced IBAN can pass Luhn; both precede phones so a card is never half-eaten as a phone; IPv6
# precedes IPv4 so "::ffff:10.0.0.1" is one finding.
DEFAULT_DETECTORS: tuple[Detector, ...] = (
    Detector("email", _EMAIL, None, _may_contain_email),
    Detector("iban", _IBAN, iban_valid),
    Detector("card", _CARD, _card_valid),
    Detector("ipv6", _IPV6, _ipv6_valid, _may_contain_ipv6),
    Detector("ipv4", _IPV4, _ipv4_valid, _may_contain_ipv4),
    Detector("phone", _PHONE, _phone_valid, _may_contain_phone),
)

# Every default detector needs a digit, "@" or ":" to match, so one search rejects the
# digit-free messages before any per-detector work.
_DEFAULTS_GATE = re.compile(r"[0-9@:]").search
_DEFAULT_IDS = frozenset(map(id, DEFAULT_DETECTORS))

_SPEC_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*", re.ASCII)

# Bounds the retry work per rejected candidate; real candidates have far fewer separators.
_MAX_SHRINK_ATTEMPTS = 16


class Redactor:
    """Finds and masks personal data using an ordered sequence of detectors."""

    def __init__(self, detectors: Sequence[Detector] = DEFAULT_DETECTORS) -> None:
        self.detectors: tuple[Detector, ...] = tuple(detectors)
        self._markers = {d.name: f"[REDACTED:{d.name}]" for d in self.detectors}
        # Identity, not equality: custom detectors may hold unhashable validators.
        defaults_only = all(id(d) in _DEFAULT_IDS for d in self.detectors)
        self._gate = _DEFAULTS_GATE if defaults_only else None

    def __repr__(self) -> str:
        return f"Redactor(detectors={[d.name for d in self.detectors]!r})"

    def redact(self, text: str) -> str:
        spans = self._spans(text)
        if not spans:
            return text
        parts: list[str] = []
        last = 0
        for start, end, name in spans:
            parts.append(text[last:start])
            parts.append(self._markers[name])
            last = end
        parts.append(text[last:])
        return "".join(parts)

    def findings(self, text: str) -> list[tuple[str, str]]:
        return [(name, text[start:end]) for start, end, name in self._spans(text)]

    @classmethod
    def with_extra(cls, spec: str) -> Redactor:
        """Build a redactor with custom detectors appended, from ``"name=regex;;name2=regex2"``.

        Whitespace around names and regexes is ignored; use ``[ ]`` or ``\\s`` to match
        spaces at the edges of a pattern.
        """
        names = {d.name for d in DEFAULT_DETECTORS}
        extra: list[Detector] = []
        for index, raw in enumerate(spec.split(";;"), start=1):
            entry = raw.strip()
            if not entry:
                continue
            where = f"redaction spec entry {index} ({entry!r})"
            name, separator, regex = entry.partition("=")
            name, regex = name.strip(), regex.strip()
            if not separator or not name or not regex:
                raise ValueError(f"{where}: expected 'name=regex'")
            if not _SPEC_NAME.fullmatch(name):
                raise ValueError(
                    f"{where}: name {name!r} must start with a letter and contain only "
                    "letters, digits, '_', '.' or '-'"
                )
            if name in names:
                raise ValueError(f"{where}: detector name {name!r} is already in use")
            try:
                pattern = re.compile(regex)
            except re.error as exc:
                raise ValueError(f"{where}: invalid regex: {exc}") from exc
            if pattern.fullmatch(""):
                raise ValueError(f"{where}: regex matches the empty string")
            names.add(name)
            extra.append(Detector(name, pattern))
        return cls((*DEFAULT_DETECTORS, *extra))

    def _spans(self, text: str) -> list[tuple[int, int, str]]:
        if self._gate is not None and self._gate(text) is None:
            return []
        claimed: list[tuple[int, int, str]] = []
        starts: list[int] = []
        for detector in self.detectors:
            if detector.prefilter is None or detector.prefilter(text):
                _claim(detector, text, claimed, starts)
        return claimed


def _claim(
    detector: Detector, text: str, claimed: list[tuple[int, int, str]], starts: list[int]
) -> None:
    """Add the detector's findings that do not overlap earlier ones to ``claimed``.

    ``claimed`` is kept sorted by start, with ``starts`` mirroring its start offsets. The
    spans are disjoint, so one bisect finds the only neighbours a new span can touch; a
    linear overlap scan went quadratic on large payload samples with many findings.
    """
    search = detector.pattern.search
    validate = detector.validate
    length = len(text)
    position = 0
    while position <= length:
        match = search(text, position)
        if match is None:
            return
        start, end = match.span()
        index = bisect_right(starts, start)
        if index and claimed[index - 1][1] > start:
            position = claimed[index - 1][1]
            continue
        if start == end:
            position = end + 1
            continue
        limit = starts[index] if index < len(starts) else length
        if end <= limit and (validate is None or validate(match.group())):
            accepted: int | None = end
        else:
            # Greedy separators can swallow a neighbouring token ("... 7034 EURO", a date
            # after a phone) or run into an earlier finding, so retry shorter prefixes.
            accepted = _shrink(detector, text, start, min(end - 1, limit))
        if accepted is None:
            # Rescan from the next character so a valid candidate starting inside the
            # rejected one is still found.
            position = start + 1
            continue
        starts.insert(index, start)
        claimed.insert(index, (start, accepted, detector.name))
        position = accepted


def _shrink(detector: Detector, text: str, start: int, last_cut: int) -> int | None:
    fullmatch = detector.pattern.fullmatch
    validate = detector.validate
    attempts = 0
    for cut in range(last_cut, start, -1):
        char = text[cut]
        if char.isalnum() or char == "_":
            continue
        attempts += 1
        if attempts > _MAX_SHRINK_ATTEMPTS:
            break
        match = fullmatch(text, start, cut)
        if match is not None and (validate is None or validate(match.group())):
            return cut
    return None


@cache
def default_redactor() -> Redactor:
    return Redactor()


if __name__ == "__main__":
    import timeit

    samples = {
        "with PII": (
            'Job 8f14e45f-ceea-467f-a0e3-2f5d3f0a9c1b failed: SMTPRecipientsRefused for '
            '"jane.doe+billing@example.co.uk" via 10.20.30.40:587, card 4111 1111 1111 1111, '
            "attempt 3/5 at 2026-11-24T12:30:45.120Z"
        ),
        "without PII": (
            "Job 8f14e45f-ceea-467f-a0e3-2f5d3f0a9c1b failed: TimeoutError: export chunk 42 "
            "of batch 1732476000000 exceeded 30s (worker v1.2.3, queue exports.default, "
            "attempt 3/5 at 2026-11-24T12:30:45.120Z)"
        ),
        "no digit/@/colon": (
            "Job failed because the upstream archive service refused the request and the "
            "worker gave up after exhausting every retry in the policy configured for the "
            "exports queue; see the dashboard for more details"
        ),
    }
    redactor = default_redactor()
    for label, message in samples.items():
        runs = 20_000
        seconds = min(timeit.repeat(lambda m=message: redactor.redact(m), number=runs, repeat=3))
        print(f"{label:>17} ({len(message)} chars): {runs / seconds:>12,.0f} redactions/s")
    print(redactor.redact(samples["with PII"]))


def patterns_spec(lines: str) -> str:
    """Patterns written one `name=regex` per line (policies, the admin) as a `with_extra` spec."""
    return ";;".join(line.strip() for line in lines.splitlines() if line.strip())
