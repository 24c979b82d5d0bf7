"""What the LLM writes for one theme (structured output): the chosen analog's id and the text.

Facts (the episode's date, year, sync rate, outcomes, tickers, comparison values) are not asked for:
code copies them from the chosen analog (`market_analogs`), so the model cannot get them wrong.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from adelie_assets.defs.cases.grounding import GroundingError

__all__ = ["GlossaryTerm", "GroundingError", "HistoricalCase", "Narrative", "Section"]


class Section(BaseModel):
    bullets: list[str] = Field(min_length=1, max_length=4)
    content: str = Field(min_length=20, max_length=1500)


class DevilsAdvocate(BaseModel):
    bullets: list[str] = Field(min_length=3, max_length=3)
    content: str = Field(min_length=20, max_length=1500)


class Narrative(BaseModel):
    background: Section = Field(description="The situation back then.")
    mirroring: Section = Field(description="What mirrors today.")
    difference: Section = Field(description="What differs from today.")
    devils_advocate: DevilsAdvocate = Field(description="Three reasons the analogy is weaker.")
    simulation: Section = Field(description="What an investor who acted then would have lived through.")
    result: Section = Field(description="What followed, from the given outcomes.")
    action: Section = Field(description="What an investor can do today.")


class GlossaryTerm(BaseModel):
    term: str = Field(min_length=1, max_length=60)
    definition: str = Field(min_length=5, max_length=400)


class HistoricalCase(BaseModel):
    analog_id: str = Field(min_length=3, max_length=20, description="The id of the chosen candidate.")
    title: str = Field(min_length=5, max_length=200)
    summary: str = Field(min_length=20, max_length=800)
    narrative: Narrative
    key_insight: str = Field(min_length=10, max_length=400)
    glossary: list[GlossaryTerm] = Field(min_length=1, max_length=5)

    def texts(self) -> list[str]:
        """Every text the app shows, for the grounding and language checks."""
        parts = [self.title, self.summary, self.key_insight]
        for name in Narrative.model_fields:
            section = getattr(self.narrative, name)
            parts += [*section.bullets, section.content]
        for term in self.glossary:
            parts += [term.term, term.definition]
        return parts
