"""Test machinery that stands in for the outside world: a fake KRX, a fake OpenAI, and the offline demo.

Not part of the shipped package: the production image copies only ``adelie_assets/``.
"""

from adelie_fakes.krx import FakeKrx
from adelie_fakes.openai import FakeOpenAI

__all__ = ["FakeKrx", "FakeOpenAI"]
