"""Markdown previews for asset metadata; every value is escaped because ticker names and LLM
output are untrusted text (a name with `|`, `<script>` or `[link](…)` must render as text)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from typing import Any

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def escape(value: Any) -> str:
    text = "" if value is None else str(value)
    text = html.escape(text, quote=True).replace("\n", " ").replace("\r", " ")
    return _MD_SPECIAL.sub(r"\\\1", text)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(escape(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(escape(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
