"""Cases through synchronous chat completions: the day's themes concurrently, bounded."""

from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

from adelie_assets.defs.cases.config import HistoricalCasesConfig
from adelie_assets.defs.cases.generate import CaseGenerationError, CaseResult, generate_case, request_key
from adelie_assets.defs.cases.prompt import CaseRequest
from adelie_assets.resources.llm import LLM, LlmError


def generate_cases_sync(
    llm: LLM, work: list[CaseRequest], cached: dict[str, dict | None], config: HistoricalCasesConfig
) -> tuple[list[CaseResult], list[str]]:
    """Theme calls are independent: run them concurrently, bounded; stop spending once one fails.
    `cached`: request hash -> cached response."""
    results: list[CaseResult] = []
    failures: list[str] = []
    with ThreadPoolExecutor(max_workers=config.max_concurrent_calls, thread_name_prefix="llm") as pool:
        futures = [
            pool.submit(
                generate_case, llm, request, config.max_attempts, cached.get(request_key(llm, request))
            )
            for request in work
        ]
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
