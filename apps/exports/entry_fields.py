"""A stream entry's fields as a dead letter keeps them: editable text where they can be, base64 where not."""

from __future__ import annotations

import base64


def _text(value: bytes) -> str | None:
    """`value` as text, or None when it cannot be stored as text byte for byte.

    PostgreSQL's jsonb refuses the NUL character even in valid UTF-8, so NUL counts as binary.
    """
    try:
        text = value.decode()
    except UnicodeDecodeError:
        return None
    return None if "\x00" in text else text


def split(raw: dict[bytes, bytes]) -> tuple[dict[str, str], dict[str, str]]:
    """(text, binary): fields whose name and value are text, and the rest as base64 name -> base64 value."""
    text: dict[str, str] = {}
    binary: dict[str, str] = {}
    for name, value in raw.items():
        name_text, value_text = _text(name), _text(value)
        if name_text is None or value_text is None:
            binary[base64.b64encode(name).decode()] = base64.b64encode(value).decode()
        else:
            text[name_text] = value_text
    return text, binary


def join(text: dict[str, str], binary: dict[str, str]) -> dict[bytes, bytes]:
    """The entry's fields as bytes again; a text field replaces a binary one of the same name,
    which is how an operator corrects a binary value."""
    fields = {base64.b64decode(name): base64.b64decode(value) for name, value in binary.items()}
    fields.update({name.encode(): value.encode() for name, value in text.items()})
    return fields


def binary_sizes(binary: dict[str, str]) -> list[tuple[str, int]]:
    """(printable name, size in bytes) of each binary field, for display; the value is never shown."""
    sizes = []
    for name, value in binary.items():
        printable = base64.b64decode(name).decode(errors="backslashreplace").replace("\x00", "\\x00")
        sizes.append((printable, len(base64.b64decode(value))))
    return sorted(sizes)


def changed_keys(old: dict[str, str], new: dict[str, str]) -> list[str]:
    """Names of the fields added, removed or given another value: what an audit row may say about an edit."""
    return sorted(name for name in old.keys() | new.keys() if old.get(name) != new.get(name))
