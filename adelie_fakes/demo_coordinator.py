"""The demo instance's run coordinator: Dagster's queued coordinator (the same queue, limits and
retries as production), which labels every run `adelie/demo=true` and refuses any run whose
process would not reach the fakes.

Every run of the demo instance goes through it: Materialize and backfills from the UI, the
schedule, the sensors (`make demo`'s own in-process runs carry the tag themselves). The demo
instance's dagster.yaml names it (adelie_fakes/demo_instance.py writes that file).
"""

from __future__ import annotations

from dagster import DagsterRun, QueuedRunCoordinator, SubmitRunContext

from adelie_fakes import demo_mode


class DemoRunCoordinator(QueuedRunCoordinator):
    def submit_run(self, context: SubmitRunContext) -> DagsterRun:
        # The webserver and the daemon submit runs and launch the run workers that inherit their
        # environment: without the playground's fakes in it, a run would call the real services.
        demo_mode.check_endpoints(require_demo=True)
        run = context.dagster_run
        if run.tags.get(demo_mode.DEMO_RUN_TAG) != "true":
            self._instance.add_run_tags(run.run_id, {demo_mode.DEMO_RUN_TAG: "true"})
            run = self._instance.get_run_by_id(run.run_id) or run
        return super().submit_run(SubmitRunContext(run, context.workspace))
