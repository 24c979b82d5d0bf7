"""What the LLM writes for one theme (structured output): the chosen analog's id and the text.

Facts (the episode's date, year, sync rate, outcomes, tickers, comparison values) are not asked for:
code copies them from the chosen analog (`market_analogs`), so the model cannot get them wrong.
Every text is read in its normal form (normal_form.py) before its length is checked: a case holds
only the text that its checks read, the warehouse stores and the app shows.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field

from adelie_assets.defs.cases.grounding import GroundingError
from adelie_assets.defs.cases.normal_form import normal_form


def _normal(value: Any) -> Any:
    return normal_form(value) if isinstance(value, str) else value


Text = Annotated[str, BeforeValidator(_normal)]

__all__ = ["GlossaryTerm", "GroundingError", "HistoricalCase", "Narrative", "Section"]


class Section(BaseModel):
    bullets: list[Text] = Field(min_length=1, max_length=4)
    content: Text = Field(min_length=20, max_length=1500)


class DevilsAdvocate(BaseModel):
    bullets: list[Text] = Field(min_length=3, max_length=3)
    content: Text = Field(min_length=20, max_length=1500)


class Narrative(BaseModel):
    background: Section = Field(description="The situation back then.")
    mirroring: Section = Field(description="What mirrors today.")
    difference: Section = Field(description="What differs from today.")
    devils_advocate: DevilsAdvocate = Field(description="Three reasons the analogy is weaker.")
    simulation: Section = Field(description="What an investor who acted then would have lived through.")
    result: Section = Field(description="What followed, from the given outcomes.")
    action: Section = Field(description="What an investor can do today.")


class GlossaryTerm(BaseModel):
    term: Text = Field(min_length=1, max_length=60)
    definition: Text = Field(min_length=5, max_length=400)


class HistoricalCase(BaseModel):
    analog_id: Text = Field(min_length=3, max_length=20, description="The id of the chosen candidate.")
    title: Text = Field(min_length=5, max_length=200)
    summary: Text = Field(min_length=20, max_length=800)
    narrative: Narrative
    key_insight: Text = Field(min_length=10, max_length=400)
    glossary: list[GlossaryTerm] = Field(min_length=1, max_length=5)

    def texts(self) -> list[str]:
        """Every text the app shows, for the grounding and language checks."""
        return list(self.fields().values())

    def fields(self) -> dict[str, str]:
        """Every text the app shows, by where it is (`narrative.background.bullets[0]`)."""
        parts = {"title": self.title, "summary": self.summary, "key_insight": self.key_insight}
        for name in Narrative.model_fields:
            section = getattr(self.narrative, name)
            parts |= {f"narrative.{name}.bullets[{i}]": b for i, b in enumerate(section.bullets)}
            parts[f"narrative.{name}.content"] = section.content
        for i, term in enumerate(self.glossary):
            parts |= {f"glossary[{i}].term": term.term, f"glossary[{i}].definition": term.definition}
        return parts
