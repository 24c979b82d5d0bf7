"""Cases through synchronous chat completions: the day's themes concurrently, bounded."""

from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from datetime import date

from adelie_assets.defs.cases.config import HistoricalCasesConfig
from adelie_assets.defs.cases.generate import CaseGenerationError, CaseResult, generate_case
from adelie_assets.defs.cases.themes import Theme
from adelie_assets.resources.llm import LLM, LlmError


def generate_cases_sync(
    llm: LLM,
    work: list[tuple[date, Theme]],
    cached: dict[tuple[date, int], dict | None],
    config: HistoricalCasesConfig,
) -> tuple[list[CaseResult], list[str]]:
    """Theme calls are independent: run them concurrently, bounded; stop spending once one fails."""
    results: list[CaseResult] = []
    failures: list[str] = []
    with ThreadPoolExecutor(max_workers=config.max_concurrent_calls, thread_name_prefix="llm") as pool:
        futures = {
            pool.submit(generate_case, llm, day, theme, config.max_attempts, cached.get((day, theme.rank))): (
                day,
                theme,
            )
            for day, theme in work
        }
        _, pending = wait(futures, return_when=FIRST_EXCEPTION)
        for future in pending:
            future.cancel()  # once a day is lost, spend no more tokens on themes not yet started
        done, _ = wait([f for f in futures if not f.cancelled()])
        for future in done:
            try:
                results.append(future.result())
            except (CaseGenerationError, LlmError) as exc:
                failures.append(str(exc))
    return results, failures
