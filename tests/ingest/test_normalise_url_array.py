"""The vectorised URL normaliser gives exactly what the scalar one gives, value by value.

`normalise_url_array` handles the common shapes of a link in Arrow and sends every other
value to `normalise_url`; these tests generate links near the edge of the fast shape (case,
ports, empty and repeated query pieces, tracking keys, `%`, `+`, `;`, `=` in values, double
slashes, fragments, whitespace, non-ASCII hosts) and compare the two.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from fimiscope.ingest import normalise as N
from fimiscope.ingest.normalise import (
    normalise_url,
    normalise_url_array,
    url_domain,
    url_domain_array,
)

_schemes = st.sampled_from(["http", "https", "HTTPS", "Http", "ftp", "hxxp", ""])
_hosts = st.sampled_from(
    [
        "www.asahi.com",
        "WWW.Example.COM",
        "twitter.com",
        "mobile.twitter.com",
        "x.com",
        "t.co",
        "sputnikglobe.com",
        "a-b.c-d.jp",
        "localhost",
        "www",
        "www.",
        "example.com.",
        "例え.jp",
        "xn--r8jz45g.jp",
        "user@host.com",
        "host.com:443",
        "host.com:8080",
        "host.com:99999",
        "[::1]",
        "under_score.com",
        "",
    ]
)
_seg = st.text(alphabet="aZ09._~-!$&'()*+,;=:@%/ 日", max_size=8)
_key = st.sampled_from(
    ["a", "b", "B", "utm_source", "UTM_Medium", "fbclid", "s", "t", "ref_src", "pk_x", "", "k-1"]
)
_val = st.text(alphabet="aZ09._~-=+%;", max_size=5)
_piece = st.one_of(
    st.builds(lambda k, v: f"{k}={v}", _key, _val),
    _key,
    st.just(""),
)
_query = st.lists(_piece, max_size=5).map("&".join)
_frag = st.sampled_from(["", "#top", "#", "#a b", "#日本", "#x?y=1"])
_tail = st.sampled_from(["", " ", "\n", "\t", "\u3000"])


@st.composite
def urls(draw: st.DrawFn) -> str | None:
    if draw(st.integers(0, 30)) == 0:
        return None
    scheme = draw(_schemes)
    head = f"{scheme}://" if scheme else draw(st.sampled_from(["", "//"]))
    path = "/".join(draw(st.lists(_seg, max_size=4)))
    path = ("/" + path) if path and draw(st.booleans()) else path
    query = draw(_query)
    q = ("?" + query) if (query or draw(st.booleans())) else ""
    return f"{head}{draw(_hosts)}{path}{q}{draw(_frag)}{draw(_tail)}"


@settings(max_examples=400, deadline=None)
@given(st.lists(urls(), min_size=1, max_size=40))
def test_array_equals_scalar(values: list[str | None]) -> None:
    got = normalise_url_array(pa.array(values, pa.string())).to_pylist()
    assert got == [normalise_url(v) for v in values]
    dom = url_domain_array(pa.array(got, pa.string())).to_pylist()
    assert dom == [url_domain(v) for v in got]


def test_worked_examples_take_the_fast_path() -> None:
    cases = {
        "https://WWW.Example.COM/a//b/?utm_source=x&b=2&a=1&a=0#top": (
            "https://www.example.com/a/b?a=0&a=1&b=2"
        ),
        "https://twitter.com/sputnik_jp/status/1?s=20&t=abc": "https://x.com/sputnik_jp/status/1",
        "http://t.co/abc": "http://t.co/abc",
        "https://news.example.jp/?fbclid=1&": "https://news.example.jp",
        "https://e.com/p?k&j=": "https://e.com/p?j=&k=",
        "https://e.com/p?a-b=&a=1": "https://e.com/p?a=1&a-b=",
    }
    values = pa.array(list(cases), pa.string())
    # every one of these is handled in Arrow, not by the scalar function
    assert pc.all(pc.match_substring_regex(values, N._FAST_URL)).as_py()
    assert N._fast_urls(values).to_pylist() == list(cases.values())
    assert normalise_url_array(values).to_pylist() == [normalise_url(v) for v in cases]


def test_slow_shapes_fall_back() -> None:
    odd = [
        "https://host.com:8080/a",
        "https://例え.jp/a",
        "https://e.com/a%20b",
        "https://e.com/?q=a+b",
        "https://e.com/?a=1;b=2",
        "https://e.com/?a=1=2",
        "www.example.com/a",
        " https://e.com/a",
        "https://user@e.com/a",
    ]
    values = pa.array(odd, pa.string())
    assert not pc.any(pc.match_substring_regex(values, N._FAST_URL)).as_py()
    assert normalise_url_array(values).to_pylist() == [normalise_url(v) for v in odd]


def test_chunked_and_empty_inputs() -> None:
    chunked = pa.chunked_array([["https://a.com/x/"], [None, "https://a.com/x/"]], pa.string())
    assert normalise_url_array(chunked).to_pylist() == ["https://a.com/x", None, "https://a.com/x"]
    assert normalise_url_array(pa.array([], pa.string())).to_pylist() == []
    assert normalise_url_array(pa.array([None, None], pa.string())).to_pylist() == [None, None]
    assert url_domain_array(pa.array([None], pa.string())).to_pylist() == [None]
