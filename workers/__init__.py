"""RQ glue: queues, job functions of ids, progress reporting, failure handling, the worker.

Imports go one way, from the bottom up:
- `workers.catalog` names queues, job functions (as dotted strings), timeouts and retries;
- `workers.runtime` is what a running job has: its connection and stage, and the process's
  core and `JobQueue` port, installed by the entry point when the worker starts;
- `workers.queues.RQJobQueue` implements the core's `JobQueue` port by enqueuing by name;
- job functions (`workers.render_jobs`, `workers.publishing`, `workers.schedule_jobs`) and
  the failure callback (`workers.failures`) are imported by RQ by name, never by the code that
  enqueues;
- `workers.worker.run_worker` is `novacast worker`, `workers.due_schedules` is `novacast scheduler`.
This face stays import-light.
"""
