"""Hostile model answers never reach the app as markup: only the glossary marks placed by code do."""

from __future__ import annotations

import html.parser
import re

import pytest

from adelie_assets.defs.app.markup import MARK_CLOSE, MARK_OPEN, marked_html, plain_text

HOSTILE = [
    "<script>alert(1)</script>공매도 증가",
    "<SCRIPT SRC=//evil.invalid/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<img src=x onerror=alert(1)>",
    "<img src=x onerror=alert(1)",
    "<svg onload=alert(1)><circle/></svg>",
    "<iframe src='https://evil.invalid'></iframe>",
    '<a href="javascript:alert(1)">공매도 설명 보기</a>',
    '<div style="background:url(javascript:alert(1))">PER 10배</div>',
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&amp;lt;img src=x onerror=alert(1)&amp;gt;",
    "[자세히](javascript:alert(1)) 그리고 [출처](https://evil.invalid/a_(b))",
    "![차트](https://evil.invalid/pixel.png) 이미지",
    "<https://evil.invalid> 자동 링크, www.evil.invalid, data:text/html;base64,PHNjcmlwdD4=",
    '<mark class=\'term\'>가짜 용어</mark> <mark class="term" onclick="alert(1)">PER</mark>',
    "[[가짜 용어]] 는 앱의 용어 표시가 아닙니다",
    "<!-- <script>alert(1)</script> --> 주석",
    "**굵게** __밑줄__ `code` # 제목\n> 인용",
    "[참조][1]\n[1]: https://evil.invalid",
    "<style>body{display:none}</style>보이는 글",
    "java\u200bscript:alert(1) \u202etxet",
]


class _Tags(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def tags_of(text: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    parser = _Tags()
    parser.feed(text)
    parser.close()
    return parser.tags


def _no_link_or_script(text: str) -> None:
    lowered = text.lower()
    for needle in (
        "javascript",
        "http",
        "www.",
        "data:",
        "onerror",
        "onload",
        "onclick",
        "](",
        "[[",
        "]]",
        "src=",
    ):
        assert needle not in lowered, f"{needle!r} survived in {text!r}"


@pytest.mark.parametrize("answer", HOSTILE)
def test_content_keeps_only_the_glossary_marks_code_placed(answer: str) -> None:
    out = marked_html(answer, ["공매도", "PER"])
    assert all(tag == ("mark", [("class", "term")]) for tag in tags_of(out)), out
    _no_link_or_script(out)
    assert "<" not in re.sub(re.escape(MARK_OPEN) + "|" + re.escape(MARK_CLOSE), "", out)
    assert "가짜 용어</mark>" not in out


@pytest.mark.parametrize("answer", HOSTILE)
def test_plain_fields_carry_no_markup_at_all(answer: str) -> None:
    out = plain_text(answer)
    assert "<" not in out and ">" not in out and tags_of(out) == []
    _no_link_or_script(out)


def test_terms_are_marked_by_code_longest_first_and_as_whole_ascii_words() -> None:
    out = marked_html(
        "공매도 잔고가 늘고 공매도가 줄면 PER과 PERFORMANCE는?", ["공매도", "공매도 잔고", "PER"]
    )
    assert out == (
        "<mark class='term'>공매도 잔고</mark>가 늘고 <mark class='term'>공매도</mark>가 줄면 "
        "<mark class='term'>PER</mark>과 PERFORMANCE는?"
    )


def test_text_stays_readable() -> None:
    assert marked_html('S&P 500 < 4,000 & "급락"', []) == "S&amp;P 500 &lt; 4,000 &amp; &quot;급락&quot;"
    assert plain_text("PER < 10, 링크는 [여기](http://x.invalid)") == "PER ＜ 10, 링크는 여기"
    assert plain_text("가" * 300, 200) == "가" * 199 + "…"


def test_a_hostile_glossary_term_marks_nothing() -> None:
    out = marked_html("<script>x</script> 본문", ["<script>x</script>", "<img src=x>", ""])
    assert out == "본문"


# Format characters (Unicode category Cf) a reader does not see but the app's text keeps: bidi
# isolates and their pop, the Arabic letter mark, the soft hyphen, tag characters, Mongolian vowel
# separator, deprecated format characters, interlinear annotation marks.
INVISIBLE = [
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
    "\u061c",
    "\u00ad",
    "\U000e0001",
    "\U000e0041",
    "\U000e007f",
    "\u180e",
    "\u206a",
    "\u206f",
    "\ufff9",
    "\U0001d173",
]


@pytest.mark.parametrize("char", INVISIBLE, ids=[f"U+{ord(c):04X}" for c in INVISIBLE])
def test_invisible_format_characters_never_reach_the_app(char: str) -> None:
    assert plain_text(f"삼성{char}전자 {char}91.4%") == "삼성전자 91.4%"
    assert marked_html(f"공{char}매도와 {char}PER", ["공매도", "PER"]) == (
        f"{MARK_OPEN}공매도{MARK_CLOSE}와 {MARK_OPEN}PER{MARK_CLOSE}"
    )
