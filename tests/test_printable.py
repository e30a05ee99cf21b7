"""``continuum.printable``: what a terminal would act on is shown, everything else is kept."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from continuum.printable import UNSAFE, printable


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[2J\x1b]0;owned\x07", "\\x1b[2J\\x1b]0;owned\\x07"),  # clear screen, window title
        ("ok\rFAKE", "ok\\rFAKE"),  # carriage return overwrites the line
        ("abc\b\b\bxyz", "abc\\x08\\x08\\x08xyz"),  # backspaces
        ("a\x00b\x7f\x85\x9b", "a\\x00b\\x7f\\x85\\x9b"),  # NUL, DEL, C1 (NEL, CSI)
        ("tab\tnew\nline", "tab\\tnew\\nline"),
        ("user\u202eexe.txt", "user\\u202eexe.txt"),  # right-to-left override
        (
            "\u2066\u2067\u2068\u2069\u202a\u202b\u202c\u202d",
            "\\u2066\\u2067\\u2068\\u2069\\u202a\\u202b\\u202c\\u202d",
        ),
        ("\u200e\u200f\u061c\u2028\u2029", "\\u200e\\u200f\\u061c\\u2028\\u2029"),
        ("bad-\udcff.db", "bad-\\udcff.db"),  # an undecodable byte of a file name
    ],
)
def test_unsafe_characters_become_visible_escapes(raw, shown):
    assert printable(raw) == shown


def test_ordinary_text_is_left_alone():
    text = "run 20260116_095430_a1b2c3: température 日本 👨‍👩‍👧 C:\\path"
    assert printable(text) == text


def test_a_cut_says_how_much_was_left_out():
    assert printable("x" * 50, 10) == "x" * 10 + "... (40 more characters)"
    assert printable("short", 10) == "short"
    assert printable(b"root:x:0") == "b'root:x:0'"  # not a str: shown as str() shows it


@given(st.text())
def test_output_never_holds_an_unsafe_character_and_always_encodes(text):
    shown = printable(text)
    assert UNSAFE.search(shown) is None
    shown.encode("utf-8")  # no lone surrogate left
    assert not [c for c in shown if unicodedata.category(c) in ("Cc", "Cs")]
    if UNSAFE.search(text) is None:
        assert shown == text


def test_bytes_literals_are_hidden_but_a_quoted_name_b_is_not():
    from continuum.printable import without_bytes

    assert without_bytes("read b'\\x00PK' from x") == "read <bytes not shown> from x"
    assert without_bytes('(b"abc")') == "(<bytes not shown>)"
    # a bucket named b, quoted, followed by more quoted text: a message, not bytes
    shown = "s3://b/x: 'b' is not a bucket name (3-63 letters, '.' or '-')"
    assert without_bytes(shown) == shown
