"""A check's outcome for one trading day: shared by the asset checks and the guards before a write."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Verdict:
    """One check's outcome for one trading day."""

    passed: bool
    description: str
    metadata: dict[str, object] = field(default_factory=dict)
