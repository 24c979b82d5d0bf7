"""What the LLM must return for one theme: the structured-output model, validated before storing."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

EARLIEST_EVENT_YEAR = 1956  # the Korea Stock Exchange opened in 1956


class Narrative(BaseModel):
    background: str = Field(min_length=20, max_length=1500, description="The situation back then.")
    mirrors_today: str = Field(min_length=20, max_length=1000, description="What mirrors today's move.")
    differs_from_today: str = Field(min_length=20, max_length=1000, description="What is different today.")
    devils_advocate: list[str] = Field(
        min_length=3, max_length=3, description="Exactly three counter-arguments to the analogy."
    )
    what_happened_next: str = Field(min_length=20, max_length=1500, description="How the episode unfolded.")
    investor_takeaway: str = Field(min_length=20, max_length=800, description="What an investor can learn.")


class GlossaryTerm(BaseModel):
    term: str = Field(min_length=1, max_length=60)
    definition: str = Field(min_length=5, max_length=400)


class HistoricalCase(BaseModel):
    title: str = Field(min_length=5, max_length=120)
    event_year: int = Field(ge=EARLIEST_EVENT_YEAR, le=date.today().year - 1)
    summary: str = Field(min_length=20, max_length=800)
    narrative: Narrative
    related_tickers: list[str] = Field(
        min_length=1, max_length=5, description="Tickers from the given stocks that this case is about."
    )
    sync_rate: int = Field(ge=0, le=100, description="How closely the past episode resembles today, 0-100.")
    key_insight: str = Field(min_length=10, max_length=400)
    glossary: list[GlossaryTerm] = Field(min_length=1, max_length=5)


class GroundingError(ValueError):
    """The answer parsed, but says something the input does not support."""


def check_grounding(case: HistoricalCase, allowed_tickers: set[str]) -> None:
    unknown = sorted(set(case.related_tickers) - allowed_tickers)
    if unknown:
        raise GroundingError(
            f"related_tickers {unknown} are not among the theme's stocks {sorted(allowed_tickers)}"
        )
    if len(set(case.narrative.devils_advocate)) != 3:
        raise GroundingError("devils_advocate must hold three different points")
