"""Cases through synchronous chat completions: the day's themes concurrently, bounded."""

from concurrent.futures import Future, ThreadPoolExecutor, as_completed

from adelie_assets.defs.cases.config import HistoricalCasesConfig
from adelie_assets.defs.cases.generate import (
    CaseGenerationError,
    CaseResult,
    StandIns,
    generate_case,
    request_key,
)
from adelie_assets.defs.cases.prompt import CaseRequest
from adelie_assets.resources.llm import LLM, LlmError


def generate_cases_sync(
    llm: LLM, work: list[CaseRequest], cached: dict[str, dict | None], config: HistoricalCasesConfig
) -> tuple[list[CaseResult], list[str]]:
    """Theme calls are independent: run them concurrently, bounded; stop spending once a day is lost.
    `cached`: request hash -> cached response. A theme that fails all its attempts gets a stand-in
    written by code while its day has allowance left (`themes_written_by_code`)."""
    results: list[CaseResult] = []
    failures: list[str] = []
    stand_ins = StandIns(config.themes_written_by_code)
    with ThreadPoolExecutor(max_workers=config.max_concurrent_calls, thread_name_prefix="llm") as pool:
        futures: list[Future[CaseResult]] = [
            pool.submit(
                generate_case, llm, request, config.max_attempts, cached.get(request_key(llm, request))
            )
            for request in work
        ]
        for future in as_completed(futures):
            if future.cancelled():
                continue
            try:
                results.append(future.result())
                continue
            except CaseGenerationError as exc:
                stand_in = stand_ins.take(exc.result)
                if stand_in is not None:
                    results.append(stand_in)
                    continue
                failures.append(str(exc))
            except LlmError as exc:
                failures.append(str(exc))
            for pending in futures:
                pending.cancel()  # once a day is lost, spend no more tokens on themes not yet started
    return results, failures
