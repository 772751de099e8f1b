"""The C JSON Lines reader (``fimiscope.ingest._cjson``): the same tables as Arrow's JSON
reader on valid input, exact strings, and a refusal (ValueError) on anything it must not guess.
"""

from __future__ import annotations

import json
import shutil
from typing import Any

import pyarrow as pa
import pyarrow.json as pj
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fimiscope.ingest.formats import x_v2_arrow

_cjson = pytest.importorskip("fimiscope.ingest._cjson")

SCHEMA = pa.schema(
    [
        ("s", pa.string()),
        ("n", pa.int64()),
        ("b", pa.bool_()),
        ("l", pa.list_(pa.string())),
        (
            "o",
            pa.struct(
                [
                    ("x", pa.string()),
                    ("items", pa.list_(pa.struct([("k", pa.string()), ("v", pa.int64())]))),
                ]
            ),
        ),
    ]
)


def read_c(block: bytes, schema: pa.Schema = SCHEMA) -> pa.Table:
    nodes = _cjson.parse(x_v2_arrow._spec(pa.struct(list(schema))), block)
    nodes.reverse()
    root = x_v2_arrow._assemble(pa.struct(list(schema)), nodes)
    table = pa.Table.from_struct_array(root)
    table.validate(full=True)
    return table


def read_arrow(block: bytes, schema: pa.Schema = SCHEMA) -> pa.Table:
    return pj.read_json(
        pa.BufferReader(block),
        read_options=pj.ReadOptions(use_threads=False, block_size=len(block) + 1),
        parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
    ).combine_chunks()


def test_compiled_when_a_compiler_is_there() -> None:
    """A broken build must not hide behind the slower fallback."""
    if shutil.which("cc") or shutil.which("gcc"):
        assert x_v2_arrow._cjson is not None


# no surrogates (not UTF-8) and no NUL (refused on purpose)
_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
)
_junk = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def rows(draw: st.DrawFn) -> dict[str, Any]:
    row: dict[str, Any] = {}
    if draw(st.booleans()):
        row["s"] = draw(st.none() | _text)
    if draw(st.booleans()):
        row["n"] = draw(st.none() | st.integers(-(2**63), 2**63 - 1))
    if draw(st.booleans()):
        row["b"] = draw(st.none() | st.booleans())
    if draw(st.booleans()):
        row["l"] = draw(st.none() | st.lists(st.none() | _text, max_size=3))
    if draw(st.booleans()):
        row["o"] = draw(
            st.none()
            | st.fixed_dictionaries(
                {},
                optional={
                    "x": st.none() | _text,
                    "items": st.none()
                    | st.lists(
                        st.none()
                        | st.fixed_dictionaries(
                            {},
                            optional={"k": st.none() | _text, "v": st.none() | st.integers(-5, 5)},
                        ),
                        max_size=3,
                    ),
                    "unknown": _junk,
                },
            )
        )
    for key in draw(st.lists(st.sampled_from(["zz", "junk", "S", "ñ"]), max_size=2, unique=True)):
        row[key] = draw(_junk)
    return row


@settings(max_examples=300, deadline=None)
@given(st.lists(rows(), min_size=1, max_size=6), st.booleans(), st.booleans())
def test_same_table_as_arrows_reader(
    batch: list[dict[str, Any]], ascii_only: bool, blank_lines: bool
) -> None:
    sep = "\n\n" if blank_lines else "\n"
    block = (sep.join(json.dumps(r, ensure_ascii=ascii_only) for r in batch) + "\n").encode()
    assert read_c(block).equals(read_arrow(block))


@settings(max_examples=300, deadline=None)
@given(_text)
def test_strings_decode_exactly(text: str) -> None:
    for ascii_only in (True, False):
        line = json.dumps({"s": text, "n": 1}, ensure_ascii=ascii_only).encode() + b"\n"
        assert read_c(line).column("s").to_pylist() == [text]


def test_escapes_and_astral_characters() -> None:
    line = rb'{"s": "a\"b\\c\/d\b\f\n\r\t\u00e9\u65e5\ud83d\ude00 ' + '😀"}\n'.encode()
    assert read_c(line).column("s").to_pylist() == ['a"b\\c/d\b\f\n\r\té日😀 😀']


@pytest.mark.parametrize(
    "line",
    [
        b'{"s": "\xff"}',  # invalid UTF-8
        b'{"s": "\xc0\xaf"}',  # overlong
        b'{"s": "\xed\xa0\x80"}',  # an encoded surrogate
        b'{"zz": "\xe6\x97"}',  # invalid UTF-8 in a skipped field too
        b'{"s": "\\ud83d"}',  # lone high surrogate
        b'{"s": "\\ude00"}',  # lone low surrogate
        b'{"s": "\\u0000"}',
        b'{"s": "a\tb"}',  # raw control character
        b'{"s": "\\x"}',  # bad escape
        b'{"s": 1}',  # number for a string
        b'{"n": "1"}',  # string for an integer
        b'{"n": 1.5}',
        b'{"n": 1e3}',
        b'{"n": 9223372036854775808}',  # out of range
        b'{"n": 01}',
        b'{"b": 1}',
        b'{"l": "x"}',
        b'{"o": []}',
        b'{"s": "a", "s": "b"}',  # a key twice
        b'{"s": "a"} {"s": "b"}',  # two values on a line
        b'["s"]',
        b'"s"',
        b'{"s": "a"',  # truncated
        b'{"s": "a",}',
        b'{"zz": [1, 2,]}',
        b'{"zz": tru}',
        b'{"zz": -}',
        b"\xef\xbb\xbf" + b'{"s": "bom"}',
    ],
)
def test_refuses(line: bytes) -> None:
    with pytest.raises(ValueError):
        read_c(line + b"\n")


def test_deep_nesting_is_refused_not_a_crash() -> None:
    deep = b'{"zz": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
    with pytest.raises(ValueError):
        read_c(deep)


def test_the_page_schema_matches_arrows_reader_on_real_shapes(tmp_path: Any) -> None:
    from tests.ingest.test_x_v2_paths import clean_pages, lines_of

    block = b"".join(lines_of(clean_pages()))
    full = pa.schema(list(x_v2_arrow.SCHEMA))
    assert read_c(block, full).equals(read_arrow(block, full))


_valid_lines = st.lists(rows(), min_size=1, max_size=3).map(
    lambda rs: ("\n".join(json.dumps(r, ensure_ascii=False) for r in rs) + "\n").encode()
)


@st.composite
def mangled(draw: st.DrawFn) -> bytes:
    """Valid lines with bytes cut, flipped, inserted or repeated: the reader's input is
    written by adversaries, so it must answer or refuse, never crash or read astray."""
    data = bytearray(draw(_valid_lines))
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        how = draw(st.sampled_from(["cut", "flip", "insert", "repeat"]))
        if how == "cut":
            del data[i:]
        elif how == "flip":
            data[i] = draw(st.integers(0, 255))
        elif how == "insert":
            data[i:i] = draw(
                st.binary(max_size=4) | st.sampled_from([b'"', b"\\", b"{", b"[", b"\\u"])
            )
        else:
            data[i:i] = data[i : i + draw(st.integers(1, 8))] * draw(st.integers(1, 3))
    return bytes(data)


@settings(max_examples=1500, deadline=None)
@given(st.one_of(mangled(), st.binary(max_size=64)))
def test_mangled_input_is_read_or_refused(block: bytes) -> None:
    try:
        table = read_c(block)
    except ValueError:
        return
    # what it accepts, Arrow's reader accepts too and reads the same (when the bytes are UTF-8)
    try:
        block.decode("utf-8")
    except UnicodeDecodeError:
        raise AssertionError("accepted invalid UTF-8") from None
    if table.num_rows:  # (Arrow's reader refuses a block of blank lines; this one reads none)
        assert table.equals(read_arrow(block))
