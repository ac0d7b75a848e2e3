"""Tests for PII redaction of job payload samples and error messages."""

from __future__ import annotations

import json
import re

import pytest

from apps.records.redaction import (
    DEFAULT_DETECTORS,
    Detector,
    Redactor,
    default_redactor,
    iban_valid,
    luhn_valid,
)


def redact(text: str) -> str:
    return default_redactor().redact(text)


def findings(text: str) -> list[tuple[str, str]]:
    return default_redactor().findings(text)


# --- realistic messages ----------------------------------------------------------------------


def test_json_payload_sample():
    payload = {
        "job_id": "8f14e45f-ceea-467f-a0e3-2f5d3f0a9c1b",
        "queued_at": "2026-11-24T12:30:45.120Z",
        "queued_at_ms": 1732476000000,
        "order_id": 4111111111111112,
        "client": {"version": "2.14.1", "sdk": "python/3.11.7"},
        "customer": {
            "email": "jane.doe+orders@mail.example.co.uk",
            "phone": "+1-415-555-0100",
            "card": "5500-0000-0000-0004",
            "iban": "GB82 WEST 1234 5698 7654 32",
            "last_ip": "203.0.113.42",
        },
        "checksum": "9fceb02d0ae598e95dc970b74767f19372d61af8",
    }
    text = json.dumps(payload)

    result = redact(text)

    for secret in ("jane.doe", "415-555-0100", "5500-0000", "WEST 1234", "203.0.113.42"):
        assert secret not in result
    for kept in (
        "8f14e45f-ceea-467f-a0e3-2f5d3f0a9c1b",
        "2026-11-24T12:30:45.120Z",
        "1732476000000",
        "4111111111111112",
        "2.14.1",
        "python/3.11.7",
        "9fceb02d0ae598e95dc970b74767f19372d61af8",
    ):
        assert kept in result
    # Markers contain no quotes or backslashes, so the sample stays valid JSON.
    customer = json.loads(result)["customer"]
    assert customer == {
        "email": "[REDACTED:email]",
        "phone": "[REDACTED:phone]",
        "card": "[REDACTED:card]",
        "iban": "[REDACTED:iban]",
        "last_ip": "[REDACTED:ipv4]",
    }


def test_python_traceback():
    traceback = (
        "Traceback (most recent call last):\n"
        '  File "/app/apps/billing/tasks.py", line 88, in charge_customer\n'
        '    gateway.charge(card_number="4111 1111 1111 1111", amount=Decimal("19.99"))\n'
        '  File "/app/.venv/lib/python3.11/site-packages/gateway/api.py", line 412, in charge\n'
        '    raise CardDeclined(f"declined for {email}")\n'
        "gateway.errors.CardDeclined: declined for jane.doe@example.com "
        "(request from 2001:db8:85a3::8a2e:370:7334)\n"
    )

    result = redact(traceback)

    assert 'card_number="[REDACTED:card]"' in result
    assert "declined for [REDACTED:email] (request from [REDACTED:ipv6])" in result
    assert 'File "/app/apps/billing/tasks.py", line 88, in charge_customer' in result
    assert '/lib/python3.11/site-packages/gateway/api.py", line 412' in result
    assert 'Decimal("19.99")' in result


def test_log_line():
    line = (
        "2026-11-24T12:30:45.120Z WARNING [worker-3] job=123e4567-e89b-12d3-a456-426614174000 "
        "redis=127.0.0.1:6379 retry 3/5: SMS to +44 20 7946 0958 failed "
        "(carrier-sdk v2.10.3, trace 1732476000000, took 12:30:45)"
    )

    assert redact(line) == (
        "2026-11-24T12:30:45.120Z WARNING [worker-3] job=123e4567-e89b-12d3-a456-426614174000 "
        "redis=[REDACTED:ipv4]:6379 retry 3/5: SMS to [REDACTED:phone] failed "
        "(carrier-sdk v2.10.3, trace 1732476000000, took 12:30:45)"
    )


def test_findings_are_ordered_by_position():
    text = "call 415-555-0100 or mail bob@example.org from 10.1.2.3, card 378282246310005"

    assert findings(text) == [
        ("phone", "415-555-0100"),
        ("email", "bob@example.org"),
        ("ipv4", "10.1.2.3"),
        ("card", "378282246310005"),
    ]


# --- detectors: what is redacted -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name", "match"),
    [
        ("contact: jane@example.com.", "email", "jane@example.com"),
        ("to=<jane.doe+billing@example.co.uk>", "email", "jane.doe+billing@example.co.uk"),
        ("from: ops_team-1@eu.mail.example.io", "email", "ops_team-1@eu.mail.example.io"),
        ("mailto:Bob.Smith@Example.COM?subject=x", "email", "Bob.Smith@Example.COM"),
        ("card 4111 1111 1111 1111 declined", "card", "4111 1111 1111 1111"),
        ("card=5500-0000-0000-0004;", "card", "5500-0000-0000-0004"),
        ("amex 378282246310005", "card", "378282246310005"),
        ("amex 3782 822463 10005", "card", "3782 822463 10005"),
        ("visa:4111111111111111", "card", "4111111111111111"),
        ("iban GB82 WEST 1234 5698 7654 32 ok", "iban", "GB82 WEST 1234 5698 7654 32"),
        ('"iban": "DE89370400440532013000"', "iban", "DE89370400440532013000"),
        ("IBAN: DE89 3704 0044 0532 0130 00.", "iban", "DE89 3704 0044 0532 0130 00"),
        ("sms +44 20 7946 0958 failed", "phone", "+44 20 7946 0958"),
        ("tel:+1-415-555-0100", "phone", "+1-415-555-0100"),
        ("msisdn=+4915112345678", "phone", "+4915112345678"),
        ("call (415) 555-0100 now", "phone", "(415) 555-0100"),
        ("call 415-555-0100.", "phone", "415-555-0100"),
        ("call 415.555.0100", "phone", "415.555.0100"),
        ("+1 (415) 555-0100", "phone", "+1 (415) 555-0100"),
        ("+44 (0)20 7946 0958", "phone", "+44 (0)20 7946 0958"),
        ("uk 020 7946 0958", "phone", "020 7946 0958"),
        ("host 10.0.0.1.", "ipv4", "10.0.0.1"),
        ("peer=255.255.255.255", "ipv4", "255.255.255.255"),
        ("ip 2001:db8::1 down", "ipv6", "2001:db8::1"),
        ("link fe80::1%eth0 down", "ipv6", "fe80::1%eth0"),
        ("via fe80::1: connection refused", "ipv6", "fe80::1"),
        ("ip 2001:0db8:85a3:0000:0000:8a2e:0370:7334", "ipv6", "2001:0db8:85a3:0000:0000:8a2e:0370:7334"),
        ("mapped ::ffff:192.0.2.1 here", "ipv6", "::ffff:192.0.2.1"),
    ],
)
def test_detects(text, name, match):
    assert findings(text) == [(name, match)]
    assert redact(text) == text.replace(match, f"[REDACTED:{name}]")


def test_ip_port_keeps_port():
    assert redact("redis at 127.0.0.1:6379") == "redis at [REDACTED:ipv4]:6379"
    assert redact("api at [2001:db8::1]:8080") == "api at [[REDACTED:ipv6]]:8080"


def test_card_is_not_half_eaten_by_phone():
    assert redact("+1 4111 1111 1111 1111") == "+1 [REDACTED:card]"
    assert redact("card 4111 1111 1111 1111 phone 415-555-0100") == (
        "card [REDACTED:card] phone [REDACTED:phone]"
    )


def test_greedy_phone_stops_before_an_earlier_finding():
    assert redact("sms +44 20 7946 0958 10.0.0.1 down") == "sms [REDACTED:phone] [REDACTED:ipv4] down"


def test_adjacent_cards_and_neighbouring_numbers():
    assert redact("4111 1111 1111 1111 5500 0000 0000 0004") == "[REDACTED:card] [REDACTED:card]"
    assert redact("year 2026 4111 1111 1111 1111") == "year 2026 [REDACTED:card]"


def test_iban_followed_by_uppercase_word():
    assert redact("BE68 5390 0754 7034 EURO") == "[REDACTED:iban] EURO"


def test_international_phone_followed_by_date_keeps_most_of_the_date():
    assert redact("+1 415 555 0100 2026-11-24") == "[REDACTED:phone]-11-24"


# --- detectors: look-alikes that must survive ------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("job 550e8400-e29b-41d4-a716-446655440000 failed", id="uuid"),
        pytest.param("job 12345678-1234-1234-1234-123456789012 failed", id="numeric-uuid"),
        pytest.param("created 2026-11-24", id="iso-date"),
        pytest.param("at 2026-11-24T12:30:45.120+01:00", id="iso-datetime-offset"),
        pytest.param("at 2026-11-24 12:30:45", id="date-time"),
        pytest.param("took 12:30:45", id="time"),
        pytest.param("ts=1732476000000", id="epoch-ms"),
        pytest.param("ts_ns=1732476000000000000", id="epoch-ns"),
        pytest.param("order 4111111111111112", id="order-id-luhn-fail"),
        pytest.param("order ORD-4111111111111112", id="prefixed-order-id-luhn-fail"),
        pytest.param("order 4111 1111 1111 1112", id="grouped-luhn-fail"),
        pytest.param("version 1.2.3", id="version"),
        pytest.param("client v1.2.3 / v10.0.19041", id="v-version"),
        pytest.param("lib 1.2.3.4.5", id="five-part-version"),
        pytest.param("semver 2.0.0-rc.1+build.5", id="semver-pre"),
        pytest.param("semver 1.0.0+20130313144700", id="semver-build"),
        pytest.param("commit 9fceb02d0ae598e95dc970b74767f19372d61af8", id="sha1"),
        pytest.param(
            "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", id="sha256"
        ),
        pytest.param("etag 5d41402abc4b2a76b9719d911017c592", id="md5"),
        pytest.param("@dataclass(frozen=True)\nclass Job:", id="decorator"),
        pytest.param("    @app.task(bind=True, max_retries=3)", id="dotted-decorator"),
        pytest.param("y = a@b", id="matmul"),
        pytest.param("ssh deploy@localhost", id="no-dot-tld"),
        pytest.param("iban GB83 WEST 1234 5698 7654 32", id="iban-bad-check-spaced"),
        pytest.param("iban DE88370400440532013000", id="iban-bad-check-compact"),
        pytest.param("addr 999.999.1.1", id="octets-out-of-range"),
        pytest.param("addr 999.1.1.1", id="first-octet-out-of-range"),
        pytest.param("addr 256.0.0.1", id="octet-256"),
        pytest.param("ratio a:b and key:value", id="colon-words"),
        pytest.param("mac 00:1a:2b:3c:4d:5e", id="mac"),
        pytest.param("slice x[::2] and std::vector and abc::def", id="double-colon-code"),
        pytest.param("listening on ::1 and ::", id="loopback-unspecified-v6"),
        pytest.param("count 4155550100 items", id="bare-ten-digits"),
        pytest.param("retries 3, attempt 12345, pid 98765", id="plain-integers"),
        pytest.param("tz +05:30 and +0100, delta +12", id="utc-offsets"),
        pytest.param("price 1.234.567,89 EUR", id="grouped-amount"),
        pytest.param("took 45.120s, p99 1234.5 ms", id="decimals"),
        pytest.param("line 88, in charge_customer", id="traceback-line"),
        pytest.param("", id="empty"),
    ],
)
def test_keeps_look_alikes(text):
    assert findings(text) == []
    assert redact(text) == text


def test_epoch_ms_timestamps_are_kept_even_when_they_pass_luhn():
    # Card IINs start with 2-6, so a Luhn-valid millisecond timestamp is still not a card.
    timestamp = next(str(t) for t in range(1732476000000, 1732476000100) if luhn_valid(str(t)))

    assert redact(f"ts={timestamp}") == f"ts={timestamp}"
    assert not luhn_valid("1732476000000")


def test_text_without_digits_at_or_colon_is_returned_unchanged():
    text = "Job failed because the upstream service refused the request; giving up"

    assert redact(text) is text


def test_redaction_is_idempotent():
    text = (
        "jane@example.com 4111 1111 1111 1111 GB82 WEST 1234 5698 7654 32 "
        "+44 20 7946 0958 10.0.0.1 2001:db8::1 (415) 555-0100"
    )
    once = redact(text)

    assert re.fullmatch(r"(?:\[REDACTED:\w+\] ?)+", once)
    assert redact(once) == once


# --- checksums --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("4111111111111111", True),
        ("4111 1111 1111 1111", True),
        ("5500-0000-0000-0004", True),
        ("378282246310005", True),
        ("79927398713", True),
        ("4111111111111112", False),
        ("1732476000000", False),
        ("", False),
        ("7", False),
        ("4111x111", False),
        ("٤١١١١١١١١١١١١١١١", False),
    ],
)
def test_luhn_valid(number, expected):
    assert luhn_valid(number) is expected


@pytest.mark.parametrize(
    ("iban", "expected"),
    [
        ("GB82 WEST 1234 5698 7654 32", True),
        ("GB82WEST12345698765432", True),
        ("DE89370400440532013000", True),
        ("de89 3704 0044 0532 0130 00", True),
        ("NL91ABNA0417164300", True),
        ("GB83 WEST 1234 5698 7654 32", False),
        ("DE88370400440532013000", False),
        ("DE89", False),
        ("1289370400440532013000", False),
        ("DE89-3704-0044-0532-0130-00", False),
    ],
)
def test_iban_valid(iban, expected):
    assert iban_valid(iban) is expected


# --- API ------------------------------------------------------------------------------------


def test_default_detector_names_and_order():
    names = [detector.name for detector in DEFAULT_DETECTORS]

    assert set(names) == {"email", "card", "iban", "phone", "ipv4", "ipv6"}
    assert names.index("card") < names.index("phone")
    assert names.index("iban") < names.index("phone")


def test_default_redactor_is_cached():
    assert default_redactor() is default_redactor()
    assert default_redactor().detectors == DEFAULT_DETECTORS


def test_custom_detector_with_validator():
    even = Detector("even", re.compile(r"\bN\d+\b"), validate=lambda s: int(s[1:]) % 2 == 0)
    redactor = Redactor([even])

    assert redactor.redact("N1 N2 N3 N4") == "N1 [REDACTED:even] N3 [REDACTED:even]"
    assert redactor.findings("N10 N11") == [("even", "N10")]


def test_custom_detector_without_digits_is_not_skipped_by_the_fast_path():
    redactor = Redactor([*DEFAULT_DETECTORS, Detector("secret", re.compile(r"hunter\w+"))])

    assert redactor.redact("password huntertwo!") == "password [REDACTED:secret]!"


def test_with_extra_adds_custom_detectors_after_defaults():
    redactor = Redactor.with_extra(r"employee=EMP-\d{6};;token=tok_[A-Za-z0-9]{8,}")

    text = "EMP-004211 used tok_9f8e7d6c5b4a with jane@example.com"
    assert redactor.redact(text) == "[REDACTED:employee] used [REDACTED:token] with [REDACTED:email]"
    assert [d.name for d in redactor.detectors] == [
        *(d.name for d in DEFAULT_DETECTORS),
        "employee",
        "token",
    ]


def test_with_extra_defaults_win_overlaps():
    redactor = Redactor.with_extra(r"mailbox=\w+@example\.com")

    assert redactor.findings("jane@example.com") == [("email", "jane@example.com")]


def test_with_extra_tolerates_whitespace_and_empty_entries():
    redactor = Redactor.with_extra(" ticket = TCK-\\d+ ;;  ;;")

    assert redactor.redact("see TCK-42") == "see [REDACTED:ticket]"
    assert Redactor.with_extra("").detectors == DEFAULT_DETECTORS


def test_with_extra_bad_regex_names_the_entry():
    with pytest.raises(ValueError, match=r"entry 2 \('broken=\(unclosed'\).*invalid regex"):
        Redactor.with_extra(r"ok=\d+;;broken=(unclosed")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no-equals-sign", r"entry 1 \('no-equals-sign'\): expected 'name=regex'"),
        ("=abc", r"entry 1 \('=abc'\): expected 'name=regex'"),
        ("ok=x;;empty=", r"entry 2 \('empty='\): expected 'name=regex'"),
        ("bad name=x", r"entry 1 \('bad name=x'\): name 'bad name'"),
        ("x]y=z", r"name 'x\]y'"),
        ("email=foo", r"'email' is already in use"),
        ("a=x;;a=y", r"entry 2 .*'a' is already in use"),
        ("blank=x*", r"entry 1 \('blank=x\*'\): regex matches the empty string"),
    ],
)
def test_with_extra_malformed_spec(spec, message):
    with pytest.raises(ValueError, match=message):
        Redactor.with_extra(spec)
