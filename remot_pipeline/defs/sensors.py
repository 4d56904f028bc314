"""A sensor that picks up datasets dropped into ``<data_root>/raw/<domain>/<name>/``."""

import json

import dagster as dg

from remot_pipeline.defs.resources import RemotPaths
from remot_pipeline.sources import DOMAINS
from remot_pipeline.sources.dropfolder import fingerprint


def make_drop_folder_sensor(job) -> dg.SensorDefinition:
    @dg.sensor(job=job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
               description="Requests a build for a domain when files under data/raw/<domain>/ change.")
    def raw_drop_folders(context: dg.SensorEvaluationContext, paths: RemotPaths):
        seen = json.loads(context.cursor) if context.cursor else {}
        requests = []
        for domain in DOMAINS:
            fp = fingerprint(paths.root / "raw", domain)
            if fp is not None and seen.get(domain) != fp:
                requests.append(dg.RunRequest(run_key=f"{domain}:{fp}", partition_key=domain,
                                              tags={"remot/trigger": "drop_folder"}))
                seen[domain] = fp
        context.update_cursor(json.dumps(seen, sort_keys=True))
        return requests or dg.SkipReason("no change under data/raw/<domain>/")

    return raw_drop_folders
