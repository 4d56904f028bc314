"""What every step process imports, imported once in the multiprocess executor's forkserver.

With ``start_method: forkserver`` Dagster forks each step from a server process that imported
the preload modules, so a step starts with them loaded. By default that is the job's module
only; a step then still spends about a second importing Dagster's SQLite storage (SQLAlchemy,
Alembic) to open the instance, Dagster's reconstruction helpers and the libraries our steps
import inside functions. Listing this module too (``configs/local.yaml``)::

    execution:
      config:
        multiprocess:
          start_method:
            forkserver:
              preload_modules: [remot_pipeline.definitions, remot_pipeline.preload]

moves those imports into the forkserver, once per run. Nothing here runs any step code.
"""

import importlib

import remot_pipeline.definitions  # noqa: F401  (the job's module, as Dagster's default preload)

#: Imported if present: private Dagster modules may move between releases, and a missing one
#: only costs its import time in each step.
MODULES = (
    "sqlalchemy", "alembic", "dagster._core.storage.sqlite_storage", "dagster._core.storage.event_log",
    "dagster._core.storage.runs", "dagster._core.storage.schedules", "dagster._core.storage.local_compute_log_manager",
    "dagster._core.workspace", "dagster._daemon", "dagster._utils.test", "dagster._core.execution.api",
    "polars", "duckdb", "av", "scipy.optimize", "scipy.sparse", "pyarrow.dataset", "pyarrow.parquet",
)

for _name in MODULES:
    try:
        importlib.import_module(_name)
    except ImportError:
        pass
