"""RQ glue: queues, job functions of ids, progress reporting, failure handling, the worker.

`RQJobQueue` implements the core's `JobQueue` port; `run_worker` is `novacast worker`. Job
functions live in `workers.jobs` (render steps) and `workers.publishing` and are imported by
RQ by name, so this face stays import-light.
"""
