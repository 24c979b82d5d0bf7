"""`historical_cases`: one LLM-written case per theme of the day, about one of its analogs.

The model picks an analog by id and writes the text; the facts are copied from `market_analogs` by
code, and every number of the text must be among the facts given (docs/analogs.md).
"""

import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import date

from dagster import AssetExecutionContext, AssetSpec, Failure, MaterializeResult, MetadataValue, multi_asset

from adelie_assets.calendar import parse_partition_key, trading_day_partitions
from adelie_assets.defs.cases.batch import generate_cases_batch
from adelie_assets.defs.cases.checks import HISTORICAL_CASES_CHECKS
from adelie_assets.defs.cases.config import HistoricalCasesConfig
from adelie_assets.defs.cases.generate import CaseResult, request_key
from adelie_assets.defs.cases.inputs import case_requests
from adelie_assets.defs.cases.prompt import PROMPT_VERSIONS, CaseRequest
from adelie_assets.defs.cases.sync import generate_cases_sync
from adelie_assets.defs.cases.table import HISTORICAL_CASES_SCHEMA, case_rows, preview
from adelie_assets.defs.freshness import HISTORICAL_CASES_FRESHNESS
from adelie_assets.defs.keys import DAILY_THEMES, HISTORICAL_CASES, MARKET_ANALOGS, MARKET_INDICES
from adelie_assets.defs.market.assets import BACKFILL_POLICY
from adelie_assets.lib.partitioned_checks import CheckEvent, check_results, check_specs, stored_check_results
from adelie_assets.lib.validate import replace_validated
from adelie_assets.resources.llm import LLM, LlmError
from adelie_assets.resources.warehouse import Warehouse, historical_cases_table
from adelie_assets.settings import CASE_LANGUAGES, case_language

__all__ = ["HistoricalCasesConfig", "historical_cases"]


def _language(config: HistoricalCasesConfig) -> str:
    if config.language:
        if config.language not in CASE_LANGUAGES:
            raise Failure(
                f"language={config.language!r} in the run config is not a case language: use 'ko' or 'en'.",
                allow_retries=False,
            )
        return config.language
    try:
        return case_language()
    except ValueError as exc:
        raise Failure(str(exc), allow_retries=False) from None


@multi_asset(
    name="historical_cases",
    specs=[
        AssetSpec(
            HISTORICAL_CASES,
            deps=[DAILY_THEMES, MARKET_ANALOGS, MARKET_INDICES],
            freshness_policy=HISTORICAL_CASES_FRESHNESS,
            group_name="cases",
            kinds={"openai", "sql"},
            owners=["team:data-engineering"],
            metadata={
                "dagster/column_schema": HISTORICAL_CASES_SCHEMA,
                "prompt_versions": ", ".join(PROMPT_VERSIONS.values()),
            },
            description=(
                "For each theme of the day (daily_themes), one case for an investing-education app about "
                "one of its analogs (market_analogs), in Korean by default (ADELIE_CASE_LANGUAGE=en for "
                "English). The model picks the analog by id and writes the text; the episode's date, sync "
                "rate, outcomes and tickers are copied from the analog by code, and an answer stating a "
                "number outside the facts it was given is rejected and asked again. A day's cases are "
                "replaced all-or-nothing in the warehouse table `historical_cases`."
            ),
        )
    ],
    # Evaluated on the new rows before the write, recorded by this step; the UI can execute them alone.
    check_specs=check_specs(HISTORICAL_CASES_CHECKS),
    can_subset=True,
    partitions_def=trading_day_partitions,
    backfill_policy=BACKFILL_POLICY,
    pool="llm",
)
def historical_cases(
    context: AssetExecutionContext, config: HistoricalCasesConfig, llm: LLM, warehouse: Warehouse
) -> Iterator[MaterializeResult | CheckEvent]:
    if not context.selected_asset_keys:
        yield from stored_check_results(context, HISTORICAL_CASES_CHECKS, warehouse)
        return
    days = [parse_partition_key(key) for key in context.partition_keys]
    language = _language(config)
    requests = case_requests(warehouse, days, language, config.candidates_per_subject)
    work: list[CaseRequest] = [r for day in days for r in requests[day]]
    keys = {id(r): request_key(llm, r) for r in work}
    cache = {} if config.regenerate else warehouse.cached_llm_responses(keys.values())
    if len(cache) < len(work):
        try:
            llm.client()  # fail before any request when the key is missing
        except LlmError as exc:
            raise Failure(str(exc), allow_retries=False) from None
    cached = {key: (entry or {}).get("response") for key, entry in cache.items()}

    started = time.monotonic()
    if config.llm_mode == "batch":
        try:
            results, failures = generate_cases_batch(
                llm,
                work,
                cached,
                config.max_attempts,
                config.batch_poll_seconds,
                config.batch_timeout_seconds,
                config.themes_written_by_code,
            )
        except LlmError as exc:
            raise Failure(
                f"historical_cases not stored (nothing was written): {exc}", allow_retries=False
            ) from None
    else:
        results, failures = generate_cases_sync(llm, work, cached, config)
    llm_seconds = time.monotonic() - started

    by_day: dict[date, list[CaseResult]] = defaultdict(list)
    for r in results:
        by_day[r.day].append(r)
    # The day's checks on its new rows, before anything is cached: a day a blocking one fails on is
    # neither written nor cached.
    ready = [day for day in days if len(by_day[day]) == len(requests[day])]
    validated = replace_validated(
        warehouse,
        historical_cases_table,
        ready,
        case_rows([r for day in ready for r in by_day[day]]),
        HISTORICAL_CASES_CHECKS,
        "the model's answers",
        read=Warehouse.read_historical_cases,
    )
    for day, refused in validated.refused.items():
        found = "; ".join(v.description for v in getattr(refused, "failed", {}).values())
        failures.append(f"{day}: the day's cases fail their checks ({found})")
    complete = list(validated.written)
    written = [r for r in results if r.day in complete]
    fresh = [r for r in written if not r.cached and not r.by_code]
    by_code = [r for r in written if r.by_code]
    for r in by_code:
        context.log.warning(
            f"historical_cases {r.day} theme {r.theme.rank} '{r.request.label}': no valid answer after "
            f"{r.calls} attempts ({'; '.join(r.rejected)[:300]}). A plain case written by code from its "
            "analog's facts is stored instead, so the day keeps its cases; re-run the partition to ask the "
            "model again (the other themes come from the cache)."
        )
    warehouse.store_llm_responses(
        [
            {
                "request_hash": r.request_hash,
                "model": r.model,
                "prompt_version": r.request.prompt_version,
                "response": r.case.model_dump(),
                "input_tokens": r.input_tokens,
                "output_tokens": r.output_tokens,
            }
            for r in fresh
        ]
    )
    if failures:
        lost = sorted(set(days) - set(complete))
        raise Failure(
            f"historical_cases not stored for {', '.join(map(str, lost))} (nothing partial was written): "
            + " | ".join(sorted(failures)),
            allow_retries=False,
        )

    spent = [r for r in results if not r.cached]  # stand-ins too: their rejected attempts cost tokens
    input_tokens = sum(r.input_tokens for r in spent)
    output_tokens = sum(r.output_tokens for r in spent)
    tokens_by_model: dict[str, dict[str, int]] = defaultdict(lambda: {"input": 0, "output": 0})
    for r in spent:
        model = llm.model if r.by_code else r.model  # a stand-in's tokens are its rejected answers'
        tokens_by_model[model]["input"] += r.input_tokens
        tokens_by_model[model]["output"] += r.output_tokens
    context.log.info(
        f"historical_cases: {len(written)} cases ({language}) for {len(complete)} day(s), {len(fresh)} from "
        f"the LLM, {len(written) - len(fresh) - len(by_code)} from the cache, {len(by_code)} written by code"
        + (" (regenerate: cache ignored)" if config.regenerate else "")
    )
    yield MaterializeResult(
        metadata={
            "dagster/row_count": len(written),
            "dagster/column_schema": HISTORICAL_CASES_SCHEMA,
            "cases_written": len(written),
            "language": language,
            "llm_calls": sum(r.calls for r in results),
            "first_try_accepted": sum(1 for r in spent if r.calls == 1 and not r.by_code),
            # Per theme: the attempts (each retry a repair turn), their tokens and why each was rejected.
            "attempts_by_theme": MetadataValue.json(
                {
                    f"{r.day} #{r.theme.rank}": {
                        "attempts": r.calls,
                        "input_tokens": r.input_tokens,
                        "output_tokens": r.output_tokens,
                        "rejected": r.rejected,
                    }
                    for r in spent
                }
            ),
            "cache_hits": len(written) - len(fresh) - len(by_code),
            "themes_written_by_code": MetadataValue.json(
                [f"{r.day} #{r.theme.rank} {r.request.label}" for r in by_code]
            ),
            "regenerated": config.regenerate,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "tokens_by_model": MetadataValue.json(dict(tokens_by_model)),
            # The Batch API bills half the synchronous price.
            "estimated_cost_usd": round(
                llm.estimated_cost_usd(input_tokens, output_tokens)
                * (0.5 if config.llm_mode == "batch" else 1),
                6,
            ),
            "llm_mode": config.llm_mode,
            "request_ids": MetadataValue.json(sorted(i for r in spent for i in r.request_ids)),
            "llm_seconds": round(llm_seconds, 3),
            "model": llm.model,
            "prompt_version": PROMPT_VERSIONS[language],
            "preview": MetadataValue.md(preview(written)),
        }
    )
    yield from check_results(context, HISTORICAL_CASES_CHECKS, validated.verdicts)
