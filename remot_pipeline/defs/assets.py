"""The asset graph of DESIGN.md §1. Assets are thin: load inputs, call ``core``, check the
result, attach metadata.

Per-domain stages are partitioned by domain with a single-run backfill policy: one run can
cover any set of domains (``context.partition_keys``), and each stage returns
``{domain: StageResult}``. Every stage carries three blocking checks:
``<asset>__contract``, ``<asset>__rows_balance`` and ``<asset>__partition_non_empty``.
"""

import hashlib
import json
from pathlib import Path

import dagster as dg
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from data_contracts import CONTRACT_VERSION, ContractError, conform, contract_of
from data_contracts import empty as data_empty
from data_contracts.storage import StorageError, check_writable
from remot_pipeline.core import bench as bench_core
from remot_pipeline.core import catalog as catalog_core
from remot_pipeline.core import release as release_core
from remot_pipeline.core.features import episode_features
from remot_pipeline.core.flowcheck import domain_agreement
from remot_pipeline.core.ingest import ingest_reads
from remot_pipeline.core.labels import label_pairs
from remot_pipeline.core.ledger import StageResult, concat
from remot_pipeline.core.motion import episode_motion_pairs
from remot_pipeline.core.negatives import (EPISODE_LEVELS, build_negatives, cross_episode_negatives, deferred_positives,
                                           finish_cross_episode, retrieval_vs_random)
from remot_pipeline.core.questions import build_questions
from remot_pipeline.core.visibility import gate as gate_visible
from remot_pipeline.defs import plots
from remot_pipeline.defs.resources import RemotConfig, RemotPaths
from remot_pipeline.defs.store import LAZY_MD, LINEAGE_MD, ShardSet, StageStore, stage_key_of
from remot_pipeline.sources import DOMAINS, READERS, SourceError, SourceSpec, load_sources_yaml
from remot_pipeline.sources.dropfolder import drop_folder_sources

DOMAIN_PARTITIONS = dg.StaticPartitionsDefinition(list(DOMAINS))
SINGLE_RUN = dg.BackfillPolicy.single_run()

#: Bump an asset's version when its logic changes; the UI then marks it and its
#: descendants stale, and the release id changes.
CODE_VERSIONS = {
    "synthetic_world": "3",
    "shards": "2",
    "episode_frames": "5",
    "motion_pairs": "2",
    "positive_pairs": "2",
    "frame_features": "2",
    "negatives": "5",
    "triplets": "8",
    "questions": "5",
    "release": "3",
    "catalog": "3",
}
CODE_VERSION = "+".join(f"{k}@{v}" for k, v in sorted(CODE_VERSIONS.items()))
STAGES = ("episode_frames", "motion_pairs", "positive_pairs", "frame_features", "negatives", "triplets", "questions")
SOURCES_CHECK = "episode_frames__sources_read"
SYNTHETIC_FORMATS = {"navigation": "tum", "manipulation": "lerobot_v3", "simulation": "remot_sim_jsonl"}


def check_names(asset: str) -> tuple[str, str, str]:
    return f"{asset}__contract", f"{asset}__rows_balance", f"{asset}__partition_non_empty"


def stage_checks(asset: str) -> list[dg.AssetCheckSpec]:
    return [dg.AssetCheckSpec(name, asset=asset, blocking=True) for name in check_names(asset)]


def evaluate_stage(asset: str, contract_name: str, results: dict[str, StageResult]) -> list[dg.AssetCheckResult]:
    contract_name_check, balance, non_empty = check_names(asset)
    problems = []
    for d, r in results.items():
        if isinstance(r, ShardSet):  # each shard file was conformed when written and is verified when read
            problems += [f"{d}: {p}" for p in r.contract_problems()] if r.contract == contract_name else \
                [f"{d}: shards hold {r.contract!r}"]
            continue
        try:
            if contract_of(r.table) != contract_name:
                raise ContractError(f"table is stamped {contract_of(r.table)!r}")
            conform(r.table, contract_name)
            conform(r.quarantine, "quarantine")
        except ContractError as exc:
            problems.append(f"{d}: {exc}")
    unbalanced = {d: r.ledger() for d, r in results.items() if not r.balanced()}
    empty_parts = [d for d, r in results.items() if r.rows_out == 0]
    return [
        dg.AssetCheckResult(check_name=contract_name_check, asset_key=asset, passed=not problems,
                            metadata={"problems": "; ".join(problems) or "none"}),
        dg.AssetCheckResult(check_name=balance, asset_key=asset, passed=not unbalanced,
                            metadata={"rule": "rows_in == rows_out + rows_quarantined + rows_filtered",
                                      "unbalanced": str(unbalanced or "none")}),
        dg.AssetCheckResult(check_name=non_empty, asset_key=asset, passed=not empty_parts,
                            metadata={"empty_partitions": ", ".join(empty_parts) or "none"}),
    ]


def stage_metadata(results: dict[str, StageResult]) -> dict:
    md = {f"rows_out/{d}": r.rows_out for d, r in results.items()}
    md["rows_out"] = sum(r.rows_out for r in results.values())
    md["rows_quarantined"] = sum(r.rows_quarantined for r in results.values())
    md["ledger"] = dg.MetadataValue.json({d: r.ledger() for d, r in results.items()})
    first = next((_first_rows(r) for r in results.values() if r.rows_out), None)
    if first is not None:
        md["preview"] = plots.preview(first)
    return md


def _first_rows(r) -> pa.Table:
    """The first non-empty shard's rows of a ShardSet (not the whole domain), else the table."""
    if isinstance(r, ShardSet):
        return next(t for t in r.tables() if t.num_rows)
    return r.table


def lineage_metadata(config: RemotConfig, asset: str, sources: dict[str, str] | None = None) -> dict:
    """What the stage IO manager keys this output by, besides the keys of the inputs it read:
    the asset's code version, the run's config hash and, for ingestion, the raw inputs' digest
    per domain (``defs/store.py``)."""
    lineage = {"code_version": CODE_VERSIONS[asset], "config_hash": config.config_hash()}
    if sources is not None:
        lineage["sources"] = sources
    return {LINEAGE_MD: json.dumps(lineage, sort_keys=True), "config_hash": lineage["config_hash"]}


def emit(asset: str, contract_name: str, results: dict[str, StageResult], config: RemotConfig, extra: dict | None = None):
    yield dg.Output(results, metadata={**stage_metadata(results), **(extra or {}), **lineage_metadata(config, asset)})
    yield from evaluate_stage(asset, contract_name, results)


def domain_sources(config: RemotConfig, paths: RemotPaths, domain: str, world: str | None) -> list[SourceSpec]:
    specs = []
    if config.synthetic.enabled and world:
        path = paths.root / world / domain
        specs.append(SourceSpec(f"synthetic_{domain}", domain, SYNTHETIC_FORMATS[domain], path))
    if paths.sources_file:
        specs += [s for s in load_sources_yaml(Path(paths.sources_file)) if s.domain == domain]
    specs += drop_folder_sources(paths.root / "raw", domain, set(READERS))
    return specs


# --------------------------------------------------------------------------- sources ---

@dg.asset(code_version=CODE_VERSIONS["synthetic_world"], group_name="sources")
def synthetic_world(context: dg.AssetExecutionContext, config: RemotConfig, paths: RemotPaths) -> dg.Output[str | None]:
    """The embedded default: a seeded procedural world rendered with OpenCV and written in real
    formats (TUM RGB-D, LeRobot v3.0, remot sim log). Generated once per configuration."""
    from remot_pipeline.synthetic import WorldConfig
    from remot_pipeline.synthetic.world import cached_world

    try:
        check_writable(paths.root)
        catalog_core.check_root(paths.root)
    except (StorageError, catalog_core.CatalogError) as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    lineage = lineage_metadata(config, "synthetic_world")
    if not config.synthetic.enabled:
        return dg.Output(None, metadata={"enabled": False, **lineage}, data_version=dg.DataVersion("disabled"))
    wc = WorldConfig(seed=config.synthetic.seed, episodes_per_domain=config.synthetic.episodes_per_domain,
                     frames_per_episode=config.synthetic.frames_per_episode)
    try:
        final, tag, reused = cached_world(paths.root / "raw" / "synthetic", wc, CODE_VERSIONS["synthetic_world"])
    except StorageError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    # Relative to the data root, so that the stage output and the release do not depend on where it is.
    rel = final.relative_to(paths.root).as_posix()
    return dg.Output(rel, metadata={"path": str(final.resolve()), "reused": reused,
                                    "config": dg.MetadataValue.json(wc.__dict__), **lineage},
                     data_version=dg.DataVersion(tag))


# ------------------------------------------------------------------- per-shard stages ---
#
# Per-episode work (ingest, motion pairs, labels and the visibility gate, keyframe features) runs
# once per source shard (core/shards.py), each shard as its own step: ``plan_shards`` fans out one
# dynamic output per shard, ``shard_work`` runs on any executor's worker (a process under the
# multiprocess executor, a Celery task on another machine) and writes the shard's outputs to the
# stage store, content-addressed by the shard's inputs, splits, config and code; ``index_shards``
# collects the keys. A shard whose key is already in the store (a rerun, an unchanged shard after a
# new episode folder) is reused, not recomputed. The thin per-stage assets below then present each
# domain's shards as one ``ShardSet`` with the stage's checks and metadata.
#
# Why dynamic outputs and not one Dagster partition per shard: a run executes each asset as one step
# over all the partitions it covers, and a job cannot mix partitions definitions, so per-shard
# partitions would give one sequential step per stage; dynamic outputs give one step per shard in a
# single run, which the multiprocess and Celery executors spread over cores and machines.

SHARD_STAGES = ("episodes", "episode_frames", "motion_pairs", "positive_pairs", "frame_features", "negatives")
SHARD_CONTRACTS = {"episode_frames": "frames", "motion_pairs": "motion_pairs", "positive_pairs": "labelled_pairs",
                   "frame_features": "frame_features", "negatives": "negatives"}
NOTES = "shard_notes"


def shard_lineages(plan_digest: str, config: RemotConfig, partition: str) -> dict[str, dict]:
    """The lineage of each of a shard's outputs (what its stage-store key hashes), before any is
    computed: the raw inputs' digest keys ingestion, and each later stage names its inputs' keys."""
    from remot_pipeline.defs.store import lineage_key

    def base(asset: str) -> dict:
        return {"code_version": CODE_VERSIONS["episode_frames" if asset == "episodes" else asset],
                "config_hash": config.config_hash()}

    lin = {"episodes": {**base("episodes"), "inputs": {}, "sources": plan_digest},
           "episode_frames": {**base("episode_frames"), "inputs": {}, "sources": plan_digest}}
    keys = {a: lineage_key(a, partition, lin[a]) for a in lin}
    name = {a: f"{a}/{partition}" for a in SHARD_STAGES}
    lin["motion_pairs"] = {**base("motion_pairs"), "inputs": {name["episode_frames"]: keys["episode_frames"]}}
    keys["motion_pairs"] = lineage_key("motion_pairs", partition, lin["motion_pairs"])
    lin["positive_pairs"] = {**base("positive_pairs"), "inputs": {
        name[a]: keys[a] for a in ("motion_pairs", "episode_frames", "episodes")}}
    keys["positive_pairs"] = lineage_key("positive_pairs", partition, lin["positive_pairs"])
    lin["frame_features"] = {**base("frame_features"), "inputs": {
        name[a]: keys[a] for a in ("positive_pairs", "episode_frames", "episodes")}}
    keys["frame_features"] = lineage_key("frame_features", partition, lin["frame_features"])
    # Negatives within an episode (reversal, mirror, retrieval at the anchor and in the episode).
    lin["negatives"] = {**base("negatives"), "inputs": {
        name[a]: keys[a] for a in ("positive_pairs", "motion_pairs", "frame_features", "episodes")}}
    # Facts for the stage metadata (rotation corrections, unverified visibility, retrieval levels), kept beside them.
    lin[NOTES] = {**base("negatives"), "inputs": dict(lin["negatives"]["inputs"])}
    return lin


def compute_shard(plan, reads: list, config: RemotConfig, data_root: Path, digests: dict[str, str] | None) -> dict:
    """Ingest, motion pairs, labels + visibility gate and keyframe features of one shard's read
    episodes, in memory."""
    episodes, frames = ingest_reads(reads, config.test_fraction, data_root, splits=plan.splits, digests=digests)
    frames.quarantine = portable_files(frames.quarantine, data_root)
    fixes = [r.max_rotation_correction for r in reads if r.max_rotation_correction is not None]
    cfg = config.pair_config()
    motion = concat([episode_motion_pairs(f, cfg) for _, f in _per_episode(frames.table)], "motion_pairs")
    labelled = label_pairs(motion.table, plan.domain, config.dominance_margin, config.bands.table())
    kept, filtered, unverified = gate_visible(labelled.table, frames.table, episodes,
                                              config.visibility.rules(config.jpeg_max_side_px))
    positive = StageResult(kept, labelled.quarantine, labelled.rows_in, {**labelled.rows_filtered, **filtered})
    roots = dict(zip(episodes.column("episode_id").to_pylist(), episodes.column("source_root").to_pylist()))
    parts = []
    for eid, f in _per_episode(frames.table):
        sel = kept.filter(pc.equal(kept.column("episode_id"), eid))
        wanted = set(sel.column("frame_index_a").to_pylist()) | set(sel.column("frame_index_b").to_pylist())
        if wanted:
            parts.append(episode_features(f, wanted, data_root / roots[eid], config.jpeg_max_side_px,
                                          config.jpeg_quality))
    features = concat(parts, "frame_features")
    descriptors = features.table.select([c for c in features.table.column_names if c != "image"])
    negative = build_negatives(kept, motion.table, descriptors, episodes, plan.domain, config.bands.table(),
                               config.dominance_margin, config.near_duplicate_max, levels=EPISODE_LEVELS)
    notes = {"max_rotation_correction": float(max(fixes)) if fixes else 0.0, "visibility_unverified": unverified,
             "retrieval_resolved_by_level": negative.notes["retrieval_resolved_by_level"],
             "retrieval_deferred": negative.notes["retrieval_deferred"]}
    return {"values": {"episodes": episodes, "episode_frames": frames, "motion_pairs": motion,
                       "positive_pairs": positive, "frame_features": features, "negatives": negative}, "notes": notes}


@dg.op(out=dg.DynamicOut())
def plan_shards(context: dg.OpExecutionContext, config: RemotConfig, paths: RemotPaths, synthetic_world: str | None):
    """One dynamic output per source shard of the run's domains (splits decided here, over every
    discovered episode of a domain); a source that cannot be discovered is reported downstream."""
    from remot_pipeline.core.clips import ClipError, check_clip_frames
    from remot_pipeline.core.shards import discover, plan_shards as plan

    try:  # a config mistake fails the run before any shard's work, not at the triplets stage
        check_clip_frames(config.clip_frames)
    except ClipError as exc:
        raise dg.Failure(description=f"remot_config: {exc}", allow_retries=False) from None
    if (cap := config.audit.max_train_questions_per_cell) is not None and cap < 1:
        raise dg.Failure(description=f"remot_config: audit.max_train_questions_per_cell is {cap}; give a positive "
                                     "number of train questions per cell, or null for all of them", allow_retries=False)
    for d in context.partition_keys:
        try:
            specs = domain_sources(config, paths, d, synthetic_world)
        except SourceError as exc:
            raise dg.Failure(description=f"[{d}] {exc}", allow_retries=False) from None
        found, failed = discover(specs)
        plans = plan(d, found, config.test_fraction, config.shard_episodes)
        context.log.info(f"{d}: {sum(len(p.refs) for p in plans)} episode(s) of {len(found)} source(s) in "
                         f"{len(plans)} shard(s)")
        for f in failed:
            yield dg.DynamicOutput({"domain": d, "failed": f}, mapping_key=f"{d}__failed__{len(plans)}_{failed.index(f)}")
        for p in plans:
            yield dg.DynamicOutput({"domain": d, "plan": p}, mapping_key=p.name)


@dg.op
def shard_work(context: dg.OpExecutionContext, config: RemotConfig, paths: RemotPaths, item: dict) -> dict:
    """One shard through the per-episode stages, reusing every output already in the stage store."""
    from remot_pipeline.core.shards import shard_digest, source_failure
    from remot_pipeline.sources import reader

    if "failed" in item:
        return item
    plan = item["plan"]
    store = StageStore(paths.root / "stages")
    lineages, digests = None, None
    try:
        digests = {r.episode_id: r.input_sha256() for r in plan.refs}
        lineages = shard_lineages(shard_digest(plan, digests), config, plan.partition)
    except OSError:
        pass  # an input file that cannot be read: the reader names it below
    from remot_pipeline.defs.store import lineage_key

    keys = {a: lineage_key(a, plan.partition, lin) for a, lin in (lineages or {}).items()}
    ref = {"domain": plan.domain, "source": plan.source, "partition": plan.partition, "episodes": plan.episode_ids}
    if keys and all(store.sound(a, plan.partition, k) for a, k in keys.items()):
        notes = store.read(NOTES, plan.partition, keys[NOTES])
        context.log.info(f"{plan.name}: reused (inputs, splits, config and code unchanged)")
        return {**ref, "keys": keys, "reused": True, "notes": notes}
    try:
        reads = [reader(r.spec.format).read(r) for r in plan.refs]
    except Exception as exc:  # noqa: BLE001 - a reader's error leaves its source out, like read_sources
        failure = source_failure(plan.refs[0].spec, exc)
        context.log.error(f"[{plan.domain}] source {plan.source!r} failed in shard {plan.name}: {failure['error']}")
        return {"domain": plan.domain, "failed": failure}
    out = compute_shard(plan, reads, config, paths.root, digests)  # our own code: a bug fails the step
    if lineages is None:  # hashing failed but reading worked (a file appeared in between): hash now
        digests = {r.episode_id: r.input_sha256() for r in plan.refs}
        lineages = shard_lineages(shard_digest(plan, digests), config, plan.partition)
    keys = {a: store.write(a, plan.partition, out["values"][a], lineages[a]) for a in SHARD_STAGES}
    keys[NOTES] = store.write(NOTES, plan.partition, out["notes"], lineages[NOTES])
    return {**ref, "keys": keys, "reused": False, "notes": out["notes"]}


@dg.op
def index_shards(context: dg.OpExecutionContext, config: RemotConfig, done: list[dict]):
    """Every shard of the run's domains, in plan order; a source with any failed shard is left
    out whole (as one unreadable episode always left its source out) and named."""
    out = {}
    for d in context.partition_keys:
        items = [x for x in done if x["domain"] == d]
        failed = {x["failed"]["source"]: x["failed"] for x in items if "failed" in x}
        shards = sorted((x for x in items if "failed" not in x and x["source"] not in failed),
                        key=lambda x: x["partition"])
        out[d] = {"shards": shards, "failed": sorted(failed.values(), key=lambda f: f["source"])}
        reused = sum(x["reused"] for x in shards)
        context.log.info(f"{d}: {len(shards)} shard(s), {reused} reused, {len(shards) - reused} computed, "
                         f"{len(failed)} source(s) left out")
    # Keyed by the shard outputs it lists (the stage store's content address for this index).
    digest = {d: hashlib.sha256(release_core.canonical_json([x["keys"] for x in v["shards"]])).hexdigest()
              for d, v in out.items()}
    md = {f"shards/{d}": len(v["shards"]) for d, v in out.items()}
    md.update({f"reused/{d}": sum(x["reused"] for x in v["shards"]) for d, v in out.items()})
    return dg.Output(out, metadata={**md, **lineage_metadata(config, "shards", digest)})


@dg.graph_asset(partitions_def=DOMAIN_PARTITIONS, backfill_policy=SINGLE_RUN, group_name="ingestion",
                code_version=CODE_VERSIONS["shards"],
                description="The run's source shards, each through ingest, motion, labels and keyframe features "
                            "as its own step (reused when its inputs, splits, config and code are unchanged).")
def shards(synthetic_world):
    return index_shards(plan_shards(synthetic_world).map(shard_work).collect())


def _per_episode(table: pa.Table):
    for eid in sorted(set(table.column("episode_id").to_pylist())):
        yield eid, table.filter(pc.equal(table.column("episode_id"), eid)).sort_by("frame_index")


def shard_sets(paths: RemotPaths, index: dict, asset: str) -> dict[str, ShardSet]:
    """Each domain's shard outputs of ``asset`` as one :class:`ShardSet` (nothing loaded)."""
    store = StageStore(paths.root / "stages")
    return {d: ShardSet(store, asset, d, [{"partition": x["partition"], "key": x["keys"][asset]} for x in v["shards"]],
                        SHARD_CONTRACTS[asset]) for d, v in index.items()}


def _notes(index: dict, d: str, key: str) -> list:
    return [x["notes"].get(key) for x in index[d]["shards"] if x["notes"].get(key) is not None]


# ------------------------------------------------------------------------- ingestion ---

@dg.multi_asset(
    outs={
        "episodes": dg.AssetOut(code_version=CODE_VERSIONS["episode_frames"], group_name="ingestion",
                                description="One row per ingested episode, with its split and input hash."),
        "episode_frames": dg.AssetOut(code_version=CODE_VERSIONS["episode_frames"], group_name="ingestion",
                                      description="The canonical per-frame table (poses, EE, gripper, objects, locator)."),
    },
    partitions_def=DOMAIN_PARTITIONS,
    backfill_policy=SINGLE_RUN,
    check_specs=stage_checks("episode_frames") + [dg.AssetCheckSpec(SOURCES_CHECK, asset="episode_frames", blocking=False)],
)
def ingest(context: dg.AssetExecutionContext, config: RemotConfig, paths: RemotPaths, shards: dict):
    """Every declared source, each on its own, read shard by shard (``shards``): a source that
    raises a SourceError (a missing file, an unreadable dataset) in any shard is left out and
    named in one line (the log, the ``failed_sources`` metadata and the
    ``episode_frames__sources_read`` check, a warning); the domain's other sources still ingest.
    A broken sources file fails the step."""
    store = StageStore(paths.root / "stages")
    episodes, failed, corrections = {}, [], {}
    for d in context.partition_keys:
        tables = [store.read("episodes", x["partition"], x["keys"]["episodes"]) for x in shards[d]["shards"]]
        tables = [t.replace_schema_metadata(None) for t in tables if t.num_rows]
        episodes[d] = conform(pa.concat_tables(tables), "episodes") if tables else data_empty("episodes")
        for f in shards[d]["failed"]:
            context.log.error(f"[{d}] source {f['source']!r} failed and was left out: {f['error']}")
            failed.append({"domain": d, **f})
        # The largest change the projection of a real file's rotations onto SO(3) made (entrywise).
        corrections[f"max_rotation_correction/{d}"] = float(max(_notes(shards, d, "max_rotation_correction"), default=0.0))
    frames = shard_sets(paths, shards, "episode_frames")
    for d in context.partition_keys:
        context.log.info(f"{d}: {episodes[d].num_rows} episode(s) in {len(shards[d]['shards'])} shard(s), "
                         f"{frames[d].rows_out} frames")
    # The raw inputs' digest per domain (every episode's input sha256) keys both outputs.
    sources = {d: hashlib.sha256(release_core.canonical_json(sorted(zip(
        t.column("episode_id").to_pylist(), t.column("input_sha256").to_pylist())))).hexdigest()
        for d, t in episodes.items()}
    lineage = lineage_metadata(config, "episode_frames", sources)
    failed_md = {"failed_sources": dg.MetadataValue.json(failed), **corrections}
    yield dg.Output(episodes, output_name="episodes",
                    metadata={**{f"episodes/{d}": t.num_rows for d, t in episodes.items()}, **lineage, **failed_md})
    yield dg.Output(frames, output_name="episode_frames", metadata={**stage_metadata(frames), **lineage, **failed_md})
    yield from evaluate_stage("episode_frames", "frames", frames)
    yield dg.AssetCheckResult(
        check_name=SOURCES_CHECK, asset_key="episode_frames", passed=not failed, severity=dg.AssetCheckSeverity.WARN,
        metadata={"failed_sources": "; ".join(f"{f['domain']}/{f['source']}: {f['error']}" for f in failed) or "none"})


# ----------------------------------------------------------------------------- motion ---

@dg.asset(partitions_def=DOMAIN_PARTITIONS, backfill_policy=SINGLE_RUN, code_version=CODE_VERSIONS["motion_pairs"],
          group_name="experts", check_specs=stage_checks("motion_pairs"))
def motion_pairs(context: dg.AssetExecutionContext, config: RemotConfig, paths: RemotPaths, shards: dict):
    """The motion estimation expert: relative SE(3), EE, gripper and object motion per candidate
    pair (computed per shard, in ``shards``)."""
    yield from emit("motion_pairs", "motion_pairs", shard_sets(paths, shards, "motion_pairs"), config)


@dg.asset(partitions_def=DOMAIN_PARTITIONS, backfill_policy=SINGLE_RUN, code_version=CODE_VERSIONS["positive_pairs"],
          group_name="experts", check_specs=stage_checks("positive_pairs"))
def positive_pairs(context: dg.AssetExecutionContext, config: RemotConfig, paths: RemotPaths, shards: dict):
    """phi: attribute magnitude bands and the dominance margin; labels each surviving pair whose
    subject is in view and moves visibly (``core.visibility``). Computed per shard."""
    results = shard_sets(paths, shards, "positive_pairs")
    unverified = {}
    for d in results:
        for notes in _notes(shards, d, "visibility_unverified"):
            for k, v in notes.items():
                unverified.setdefault(d, {})[k] = unverified.get(d, {}).get(k, 0) + v
    columns = ["attribute", "magnitude", "unit"]
    labels = {d: (pa.concat_tables(list(r.tables(columns))) if r.shards else data_empty("labelled_pairs").select(columns))
              for d, r in results.items()}
    extra = {"filtered_by_rule": dg.MetadataValue.json({d: r.rows_filtered for d, r in results.items()}),
             "magnitude_histograms": plots.magnitude_histograms(labels),
             "visibility_unverified": dg.MetadataValue.json(unverified)}
    yield from emit("positive_pairs", "labelled_pairs", results, config, extra)


@dg.asset(partitions_def=DOMAIN_PARTITIONS, backfill_policy=SINGLE_RUN, code_version=CODE_VERSIONS["frame_features"],
          group_name="experts", check_specs=stage_checks("frame_features"))
def frame_features(context: dg.AssetExecutionContext, config: RemotConfig, paths: RemotPaths, shards: dict):
    """Keyframes the labelled pairs use, decoded once (PyAV), stored as JPEG, with descriptors
    (per shard)."""
    yield from emit("frame_features", "frame_features", shard_sets(paths, shards, "frame_features"), config)


def map_domains(fn, jobs: dict[str, tuple], workers: int = 0) -> dict:
    """``fn(*args)`` for each domain's job, in that order. The cross-episode stages work on each
    domain alone, so with ``workers`` > 1 (0: one per CPU this process may use) the domains run in
    that many spawned processes at once, on whichever machine runs the step; 1 runs them here, one
    after the other. The results are the same either way (``fn`` is pure given its arguments)."""
    import os

    workers = workers or len(os.sched_getaffinity(0))
    if workers <= 1 or len(jobs) <= 1 or not _spawn_safe():
        return {d: fn(*args) for d, args in jobs.items()}
    import concurrent.futures as cf
    import multiprocessing as mp

    with cf.ProcessPoolExecutor(min(workers, len(jobs)), mp_context=mp.get_context("spawn")) as pool:
        futures = {d: pool.submit(fn, *args) for d, args in jobs.items()}
        return {d: f.result() for d, f in futures.items()}


def _spawn_safe() -> bool:
    """Whether a spawned process may import this process's main module: it re-imports it (as
    ``__mp_main__``), so a script that materializes at import time, without an
    ``if __name__ == "__main__":`` guard, would run again in every worker. The ``dagster`` and
    ``pytest`` entry points, ``python -m`` modules with a guard and interactive sessions are safe;
    an unguarded script gets the domains one after the other instead."""
    import sys

    path = getattr(sys.modules.get("__main__"), "__file__", None)
    if not path:
        return True
    try:
        return "__main__" in Path(path).read_text(errors="replace")
    except OSError:
        return False


def negatives_of_domain(d: str, shard_negatives, positive, motion, features, episodes: pa.Table,
                        near_duplicate_max: float, data_root: str, lineage: dict):
    """One domain's negatives: each shard's own (reversal, mirror, retrieval within the episode,
    computed in ``shards``), plus retrieval across episodes (scene, then domain) for the
    positives a shard could not match, searched among the domain's labels and keyframe
    descriptors (no images, no motion but the matches'), written as the set's last part. Also
    returns the retrieval-vs-random similarities and how many positives each level resolved."""
    import polars as pl

    from remot_pipeline.core.negatives import LABEL_COLUMNS, MOTION_FIELDS

    store = StageStore(Path(data_root) / "stages")
    pending = [deferred_positives(lab, neg) for lab, neg in zip(positive.tables(LABEL_COLUMNS), shard_negatives.tables())]
    pending = pa.concat_tables(pending) if pending else pa.table({c: [] for c in LABEL_COLUMNS})
    descriptors = keyframe_descriptors(features)
    matches, resolved = pl.DataFrame(), {}
    # One attribute at a time: a positive only ever matches a pair of its own attribute, so this is
    # the same search, holding one attribute's labels instead of the domain's.
    found = []
    for attribute in sorted(set(pending.column("attribute").to_pylist())):
        mine = pending.filter(pc.equal(pending.column("attribute"), attribute))
        labels = pa.concat_tables([t.filter(pc.equal(t.column("attribute"), attribute))
                                   for t in positive.tables(LABEL_COLUMNS)])
        part, counts = cross_episode_negatives(mine, labels, descriptors, episodes, near_duplicate_max)
        del labels
        found += [part] if part.height else []
        for level, n in counts.items():
            resolved[level] = resolved.get(level, 0) + n
    if found:
        matches = pl.concat(found, how="diagonal_relaxed")
    wanted = set(matches["positive_pair_id"].to_list() + matches["negative_pair_id"].to_list()) if matches.height else set()
    columns = ["pair_id", *MOTION_FIELDS]
    rows = [t.filter(pc.is_in(t.column("pair_id"), pa.array(sorted(wanted), pa.string())))
            for t in motion.tables(columns)] if wanted else []
    motion_rows = pa.concat_tables(rows) if rows else data_empty("motion_pairs").select(columns)
    cross = finish_cross_episode(matches, pending.num_rows, motion_rows, resolved)
    part = f"{d}/cross-episode"
    key = store.write("negatives", part, cross, lineage)
    result = ShardSet(store, "negatives", d, [*shard_negatives.shards, {"partition": part, "key": key}], "negatives")
    cols = ["episode_id", "positive_frame_index", "negative_similarity", "negative_kind"]
    sims = retrieval_vs_random(pa.concat_tables(list(result.tables(cols))), descriptors)
    return result, sims, resolved


def triplets_of_domain(d: str, negatives_value, features, frames, episodes: pa.Table, params: dict, data_root: str,
                       lineage: dict):
    """One domain's triplets: chosen on labels and descriptors, written in chunks with their JPEGs
    (``chunked_triplets``); returns the chunks, their rows without images, and the flow check's rows."""
    import shutil

    import polars as pl

    from data_contracts.storage import clean_leftovers, makedirs, tmp_sibling
    from remot_pipeline.core.triplets import CHOICE_COLUMNS, choose_candidates, chosen_rows, plan_chosen, shard_candidates

    root = Path(data_root)
    store = StageStore(root / "stages")
    # The choice reads labels and keys, deduplicated shard by shard (a dedup group stays in its
    # episode); only the chosen rows are then read whole, shard by shard.
    descriptors = keyframe_descriptors(features)
    deduped = [shard_candidates(t, descriptors, params["seed"]) for t in _tables(negatives_value, CHOICE_COLUMNS)
               if t.num_rows]
    plan, filtered = None, {}
    if deduped:
        chosen = choose_candidates(deduped, params["max_per_domain"], params["seed"], params["bench_per_domain"])
        del deduped
        rows = [chosen_rows(t, chosen, i) for i, t in enumerate(t for t in _tables(negatives_value) if t.num_rows)]
        plan, filtered = plan_chosen(pl.concat(rows), negatives_value.rows_out, descriptors, frames.table, episodes,
                                     params["clip_frames"])
        del rows, chosen
        release_unused_memory()  # the candidate pool's pages, before the images are written
    # The image shuffle's spill folder: a unique temporary name (``.tmp~<host>~<pid>~...``), so what a
    # killed run leaves is removed by the next run's clean_leftovers, never a live one's.
    folder = makedirs(root / "stages" / "triplets" / d)
    clean_leftovers(folder)
    spill = makedirs(tmp_sibling(folder / "spill"))
    try:
        clips = (frames.table, episodes, root, params["jpeg_max_side_px"], params["clip_frames"])
        result = chunked_triplets(plan, filtered, features, negatives_value.rows_out, params["jpeg_quality"], store,
                                  d, lineage, spill, clips)
    finally:
        shutil.rmtree(spill, ignore_errors=True)
    meta = triplet_metadata(result)
    agreement = domain_agreement(meta, frames.table, episodes, params["flow_check_episodes"], root)
    return result, meta, agreement


@dg.asset(partitions_def=DOMAIN_PARTITIONS, backfill_policy=SINGLE_RUN, code_version=CODE_VERSIONS["negatives"],
          group_name="experts", check_specs=stage_checks("negatives"))
def negatives(context: dg.AssetExecutionContext, config: RemotConfig, paths: RemotPaths, shards: dict,
              positive_pairs: dict, motion_pairs: dict, frame_features: dict, episodes: dict):
    """N: temporal-reversal, mirrored and retrieved hard negatives, labels recomputed from their own
    motion. Within an episode they are computed per source shard (in ``shards``, reused with
    it); retrieval across episodes (the same scene, then the domain) for the positives left is
    done here, on labels and descriptors. Domains run in parallel processes (``domain_workers``)."""
    base = json.loads(lineage_metadata(config, "negatives")[LINEAGE_MD])
    shard_negatives = shard_sets(paths, shards, "negatives")
    jobs = {}
    for d in context.partition_keys:
        inputs = {**shard_negatives[d].inputs(), **positive_pairs[d].inputs(), **frame_features[d].inputs()}
        jobs[d] = (d, shard_negatives[d], positive_pairs[d], motion_pairs[d], frame_features[d], episodes[d],
                   config.near_duplicate_max, str(paths.root), {**base, "inputs": inputs})
    out = map_domains(negatives_of_domain, jobs, config.domain_workers)
    results = {d: r for d, (r, _, _) in out.items()}
    sims = {d: s for d, (_, s, _) in out.items()}
    levels = {}
    for d, (_, _, cross) in out.items():
        levels[d] = {}
        for counts in [*_notes(shards, d, "retrieval_resolved_by_level"), cross]:
            for level, n in counts.items():
                levels[d][level] = levels[d].get(level, 0) + n
    summary = {d: {"retrieved_mean": round(float(np.mean(r)), 4), "random_mean": round(float(np.mean(x)), 4), "n": len(r)}
               for d, (r, x) in sims.items() if len(r)}
    yield from emit("negatives", "negatives", results, config,
                    {"filtered_by_rule": dg.MetadataValue.json({d: r.rows_filtered for d, r in results.items()}),
                     "retrieval_search_level": dg.MetadataValue.json(levels),
                     "similarity_to_positive": dg.MetadataValue.json(summary),
                     "similarity_histograms": plots.similarity_histograms(sims)})


FLOW_CHECK = "triplets__label_flow_agreement"


#: Triplets per chunk of the triplets stage's output (~57 KB a row with its four JPEGs: ~60 MB).
TRIPLET_CHUNK_ROWS = 1024


def _tables(value, columns: list[str] | None = None):
    """A stage value's rows one shard at a time (a :class:`ShardSet`) or at once (a StageResult)."""
    if isinstance(value, ShardSet):
        yield from value.tables(columns)
    else:
        yield value.table if columns is None else value.table.select(columns)


def keyframe_descriptors(features) -> pa.Table:
    """A domain's keyframe keys and descriptors, without the JPEGs (read shard by shard)."""
    columns = [c for c in contract_of_name("frame_features") if c != "image"]
    if isinstance(features, ShardSet):
        parts = [t for t in features.tables(columns) if t.num_rows]
        return pa.concat_tables(parts) if parts else data_empty("frame_features").select(columns)
    return features.table.select(columns)


def contract_of_name(name: str) -> list[str]:
    from data_contracts import contract

    return list(contract(name).columns)


def gather_images(features, keys: "pl.DataFrame", chunk_of: "pl.DataFrame", spill: Path) -> None:
    """Write, for each chunk, the keyframe JPEGs its rows show to ``spill/<chunk>/<shard>.parquet``:
    one pass over the domain's feature shards (one in memory at a time), an external shuffle, so
    no step ever holds a domain's images."""
    import polars as pl
    import pyarrow.parquet as pq

    wanted = keys.join(chunk_of, on=["episode_id", "frame_index"], how="inner")
    tables = features.tables(["episode_id", "frame_index", "image"]) if isinstance(features, ShardSet) \
        else [features.table.select(["episode_id", "frame_index", "image"])]
    for i, t in enumerate(tables):
        if not t.num_rows:
            continue
        got = pl.from_arrow(t).join(wanted, on=["episode_id", "frame_index"], how="inner")
        for (chunk,), part in got.group_by("_chunk"):
            folder = spill / f"{chunk:05d}"
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(part.drop("_chunk").to_arrow(), folder / f"{i:05d}.parquet")


def chunked_triplets(plan, filtered: dict, features, rows_in: int, jpeg_quality: int, store: StageStore,
                     domain: str, lineage: dict, spill: Path, clips: tuple | None = None) -> ShardSet:
    """The plan's rows with their JPEGs, ``TRIPLET_CHUNK_ROWS`` at a time, each chunk written to the
    stage store as it is made; the ledger's filtered rows ride on the first chunk. ``clips``:
    ``(frames, episodes, data_root, jpeg_max_side_px, clip_frames)``, for the clip frames decoded
    chunk by chunk (``core.triplets.decode_clip_frames``; rows whose clip frame does not decode are
    quarantined)."""
    import polars as pl
    import pyarrow.parquet as pq

    from remot_pipeline.core.triplets import decode_clip_frames, finish_triplets, image_keys

    n = 0 if plan is None else plan.height
    bounds = list(range(0, n, TRIPLET_CHUNK_ROWS)) or [0]
    chunk_of = pl.concat([image_keys(plan.slice(b, TRIPLET_CHUNK_ROWS)).with_columns(pl.lit(i).alias("_chunk"))
                          for i, b in enumerate(bounds)]) if n else None
    if n:
        gather_images(features, image_keys(plan), chunk_of, spill)
    shards = []
    for i, b in enumerate(bounds):
        if n:
            files = sorted((spill / f"{i:05d}").glob("*.parquet"))
            images = pl.concat([pl.read_parquet(f) for f in files]).unique(["episode_id", "frame_index"])
            part_plan, between, quarantine = plan.slice(b, TRIPLET_CHUNK_ROWS), None, data_empty("quarantine")
            if clips is not None:
                frames, episodes, data_root, max_side, k = clips
                part_plan, between, quarantine = decode_clip_frames(part_plan, frames, episodes, data_root, max_side,
                                                                    jpeg_quality, domain, k)
            out = finish_triplets(part_plan, images, jpeg_quality, between)
        else:
            out, quarantine = data_empty("triplets"), data_empty("quarantine")
        extra = rows_in - n if i == 0 else 0
        result = StageResult(out, quarantine, out.num_rows + quarantine.num_rows + extra, filtered if i == 0 else {})
        part = f"{domain}/chunk-{i:05d}"
        key = store.write("triplets", part, result, {**lineage, "chunk": i, "chunks": len(bounds)})
        shards.append({"partition": part, "key": key})
    return ShardSet(store, "triplets", domain, shards, "triplets")


@dg.asset(partitions_def=DOMAIN_PARTITIONS, backfill_policy=SINGLE_RUN, code_version=CODE_VERSIONS["triplets"],
          group_name="experts",
          check_specs=stage_checks("triplets") + [dg.AssetCheckSpec(FLOW_CHECK, asset="triplets", blocking=False)])
def triplets(context: dg.AssetExecutionContext, config: RemotConfig, paths: RemotPaths, negatives: dict, frame_features: dict,
             episode_frames: dict, episodes: dict):
    """Anchor / positive / negative with inline JPEGs, balanced across attribute, value and kind.
    Chosen on labels and descriptors for the whole domain, then written in chunks of
    ``TRIPLET_CHUNK_ROWS`` with their images (bounded memory)."""
    params = {"max_per_domain": config.max_triplets_per_domain, "seed": config.seed,
              "bench_per_domain": config.bench_triplets_per_domain, "jpeg_quality": config.jpeg_quality,
              "jpeg_max_side_px": config.jpeg_max_side_px, "clip_frames": config.clip_frames,
              "flow_check_episodes": config.flow_check_episodes_per_domain}
    base = json.loads(lineage_metadata(config, "triplets")[LINEAGE_MD])
    jobs = {}
    for d in context.partition_keys:
        lineage = {**base, "inputs": {
            f"{a}/{d}": k for a, v in (("negatives", negatives[d]), ("frame_features", frame_features[d]),
                                       ("episode_frames", episode_frames[d]), ("episodes", episodes[d]))
            if (k := stage_key_of(v)) is not None}}
        jobs[d] = (d, negatives[d], frame_features[d], episode_frames[d], episodes[d], params, str(paths.root), lineage)
    out = map_domains(triplets_of_domain, jobs, config.domain_workers)
    results = {d: r for d, (r, _, _) in out.items()}
    metas = {d: m for d, (_, m, _) in out.items()}
    agreement = [row for d in context.partition_keys for row in out[d][2]]
    first = next((_first_rows(r) for r in results.values() if r.rows_out), None)
    balance = _counts({d: StageResult(m, data_empty("quarantine"), 0) for d, m in metas.items()},
                      ["domain", "attribute", "positive_value", "negative_kind"])
    extra = {"balance": plots.preview(balance, 60), "balance_plot": plots.balance_bars(balance),
             "label_flow_agreement": plots.preview(pa.Table.from_pylist(agreement) if agreement else pa.table({}), 60),
             "chunks": dg.MetadataValue.json({d: len(r.shards) for d, r in results.items()})}
    if first is not None:
        extra["examples"] = plots.triplet_sheet(first)
    yield from emit("triplets", "triplets", results, config, extra)
    yield flow_check_result(agreement)


def triplet_metadata(triplets) -> pa.Table:
    """A domain's triplets without their JPEGs (labels, ids, locators), read chunk by chunk."""
    from remot_pipeline.core.triplets import IMAGE_COLUMNS

    columns = [c for c in contract_of_name("triplets") if c not in IMAGE_COLUMNS]
    if isinstance(triplets, ShardSet):
        parts = [t for t in triplets.tables(columns) if t.num_rows]
        return pa.concat_tables(parts) if parts else data_empty("triplets").select(columns)
    return triplets.table.select(columns)


def flow_check_result(agreement: list[dict], minimum: float = 0.95) -> dg.AssetCheckResult:
    """Warn when, for any (domain, attribute), under 95% of checked pairs flow the labelled way."""
    per: dict[tuple, list[int]] = {}
    for r in agreement:
        c = per.setdefault((r["domain"], r["attribute"]), [0, 0])
        c[0] += r["checked"]
        c[1] += r["agreed"]
    rates = {f"{d}/{a}": round(ok / n, 4) for (d, a), (n, ok) in per.items() if n}
    low = {k: v for k, v in rates.items() if v < minimum}
    return dg.AssetCheckResult(check_name=FLOW_CHECK, asset_key="triplets", passed=not low,
                               severity=dg.AssetCheckSeverity.WARN,
                               metadata={"agreement": dg.MetadataValue.json(rates), "below_95pct": str(low or "none")})


@dg.asset(partitions_def=DOMAIN_PARTITIONS, backfill_policy=SINGLE_RUN, code_version=CODE_VERSIONS["questions"],
          group_name="experts", check_specs=stage_checks("questions"))
def questions(context: dg.AssetExecutionContext, config: RemotConfig, triplets: dict, episodes: dict):
    """VQA formulation: multiple-choice, true/false, fill-in-the-blank and comparative questions,
    three per triplet, each with its rationale, with the distribution of types and answers as a
    table and a plot."""
    metric = {e for t in episodes.values()
              for e, m in zip(t.column("episode_id").to_pylist(), t.column("metric_scale").to_pylist()) if m}
    results = {d: build_questions(triplet_metadata(triplets[d]), config.seed, metric) for d in context.partition_keys}
    tables = [r.table for r in results.values() if r.table.num_rows]
    extra = {"types": plots.preview(_counts(results, ["domain", "split", "question_type", "parse_rule"]), 60)}
    if tables:
        all_q = pa.concat_tables(tables)
        extra.update({f"balance/{k}": v for k, v in bench_core.answer_balance(all_q).items() if not isinstance(v, dict)})
        extra["answers_plot"] = plots.question_distribution(all_q)
    yield from emit("questions", "questions", results, config, extra)


def _counts(results: dict[str, StageResult], keys: list[str]) -> pa.Table:
    tables = [r.table.select(keys) for r in results.values() if r.table.num_rows]
    if not tables:
        return pa.table({k: pa.array([], pa.string()) for k in keys})
    return pa.concat_tables(tables).group_by(keys).aggregate([([], "count_all")]).sort_by([(k, "ascending") for k in keys])


# ---------------------------------------------------------------------------- release ---

RELEASE_CHECKS = ("release__split_disjoint", "release__manifest_verified", "release__partitions_non_empty",
                  "release__bench_disjoint", "release__coverage", "release__shortcut_audit")


#: The columns of the triplets and the questions the release's checks hold for the whole release
#: (ids, splits, strata and answers: tens of bytes a row); the rows themselves stream from the stage
#: store into the release's part files, and the audit reads its sample's prompts alone.
CHECK_TRIPLET_COLUMNS = ["triplet_id", "episode_id", "negative_episode_id", "domain", "split", "attribute",
                         "positive_value", "negative_kind"]
CHECK_QUESTION_COLUMNS = ["question_id", "triplet_id", "episode_id", "domain", "split", "attribute", "question_type",
                          "answer", "parse_rule"]


@dg.asset(code_version=CODE_VERSIONS["release"], group_name="release", deps=[a for a in STAGES if a != "questions"],
          ins={"questions": dg.AssetIn(metadata={LAZY_MD: True})},
          check_specs=[dg.AssetCheckSpec(n, asset="release", blocking=True) for n in RELEASE_CHECKS])
def release(context: dg.AssetExecutionContext, config: RemotConfig, paths: RemotPaths, triplets: dict, questions: dict, episodes: dict):
    """An immutable, content-addressed Parquet release with its manifest, published (renamed into
    place, LATEST re-pointed) only when every blocking check passes; otherwise it is kept under
    ``releases/.rejected/`` and LATEST stays where it was."""
    store = StageStore(paths.root / "stages")
    try:
        lineage = release_lineage(store, config, {"triplets": triplets, "questions": questions, "episodes": episodes})
    except LineageMismatch as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    quarantine = [q for name, e in sorted(lineage.items()) if e["asset"] in STAGES
                  and (q := store.quarantine(e["asset"], e["partition"], e["key"])) is not None and q.num_rows]
    domains = sorted(triplets)
    # What the checks read of every triplet and question (CHECK_*_COLUMNS); the rows stream from the
    # stage store straight into the release's part files, a chunk at a time.
    tables = {
        "triplets": pa.concat_tables([t for d in domains for t in _chunks(triplets[d], CHECK_TRIPLET_COLUMNS)]
                                     or [data_empty("triplets").select(CHECK_TRIPLET_COLUMNS)]),
        "questions": pa.concat_tables([t for d in domains for t in _chunks(questions[d], CHECK_QUESTION_COLUMNS)]
                                      or [data_empty("questions").select(CHECK_QUESTION_COLUMNS)]),
        "episodes": pa.concat_tables([episodes[d] for d in domains]).replace_schema_metadata(None),
        "quarantine": portable_files(pa.concat_tables(quarantine) if quarantine else _empty_q(), paths.root),
    }

    def triplet_chunks():
        for d in domains:
            yield from (t for t in _chunks(triplets[d]) if t.num_rows)

    def question_chunks(columns=None):
        for d in domains:
            yield from (t for t in _chunks(questions[d], columns) if t.num_rows)

    inputs = dict(zip(tables["episodes"].column("episode_id").to_pylist(), tables["episodes"].column("input_sha256").to_pylist()))
    rid = release_core.compute_release_id(CODE_VERSION, config.content_config(), inputs)
    releases = paths.root / "releases"
    final = releases / rid
    try:
        reused = release_core.is_release(final) and not release_core.verify_release(final)
        staged = final if reused else release_core.stage_release(
            releases, rid, {**tables, "triplets": triplet_chunks(), "questions": question_chunks()},
            {"code_version": CODE_VERSION, "config_hash": config.config_hash(), "config": config.content_config(),
             "inputs": inputs, "stages": {n: e["key"] for n, e in sorted(lineage.items())}})
        # Each phase streams its chunks; what one phase freed is handed back before the next, so
        # the step's peak is the largest phase's, not their sum (README "Scale out").
        checks = []
        for check in (lambda: release_checks(staged, tables, triplet_chunks),
                      lambda: [coverage_check(config, tables["triplets"])],
                      lambda: [audit_check(config, tables["triplets"], tables["questions"], triplet_chunks,
                                           question_chunks)]):
            release_unused_memory()
            checks += check()
        failed = [c.check_name for c in checks if not c.passed]
        if failed:
            path, written = (final if reused else release_core.reject(releases, staged, rid)), False
            context.log.error(f"release {rid} failed {', '.join(failed)}: not published, LATEST unchanged "
                              f"({path})")
        else:
            path, written = release_core.publish(releases, staged, rid)
            catalog_core.build_catalog(paths.root)
            context.log.info(f"release {rid} published at {path} "
                             f"({'written' if written else 'already present and verified, nothing written'})")
    except (StorageError, catalog_core.CatalogError) as exc:  # one line: a disk, catalog or root problem
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    yield dg.Output(
        # The path relative to the data root: the stored value stays right when the root moves.
        {"release_id": rid, "path": path.relative_to(paths.root).as_posix(), "published": not failed},
        data_version=dg.DataVersion(rid),
        metadata={"release_id": rid, "path": dg.MetadataValue.path(str(path.resolve())), "written": written,
                  "published": not failed, "failed_checks": ", ".join(failed) or "none",
                  **{f"rows/{k}": v.num_rows for k, v in tables.items()},
                  "quarantine_reasons": plots.preview(_reason_counts(tables["quarantine"]), 30),
                  "remot_bench": plots.preview(bench_core.composition(
                      tables["questions"].filter(pc.equal(tables["questions"].column("split"), "test"))), 40),
                  "contract_version": CONTRACT_VERSION, **lineage_metadata(config, "release")},
    )
    yield from checks


def release_unused_memory() -> None:
    """Collect garbage and hand Arrow's freed pages back to the system (its allocator keeps them
    for reuse otherwise, so one phase's peak would stay resident under the next one's)."""
    import gc

    gc.collect()
    pa.default_memory_pool().release_unused()


class LineageMismatch(RuntimeError):
    """The stage outputs a release would read were not all built by this config and code."""


def release_lineage(store: StageStore, config: RemotConfig, inputs: dict[str, dict]) -> dict[str, dict]:
    """Every stage output the release's inputs came from (``{"asset/domain": entry}``), checked to
    be one lineage: this run's config hash and the current code version at every step.

    A release-only materialization after a run with another config, or after a code change, is
    refused in one line instead of publishing a manifest that describes other data."""
    keys = {}
    for asset, values in inputs.items():
        for d, v in values.items():
            if (key := stage_key_of(v)) is None:
                raise LineageMismatch(f"release: {asset}[{d}] was not loaded from the stage store; "
                                      "materialize through the stage IO manager")
            keys[f"{asset}/{d}"] = key
    closure = store.closure(keys)
    want = config.config_hash()
    for name, e in sorted(closure.items()):
        got, code = e["lineage"].get("config_hash"), e["lineage"].get("code_version")
        asset = e["asset"] if e["asset"] != "episodes" else "episode_frames"
        if got != want:
            raise LineageMismatch(f"release: stage output {name} was built with config {got}, this run's config is "
                                  f"{want}; materialize the whole graph with this config (make run)")
        if code != CODE_VERSIONS.get(asset):
            raise LineageMismatch(f"release: stage output {name} was built by code version {code} of {asset}, the "
                                  f"current one is {CODE_VERSIONS.get(asset)}; materialize the whole graph (make run)")
    return closure


def portable_files(quarantine: pa.Table, data_root: Path) -> pa.Table:
    """Quarantine rows name their file relative to the data root when it lies inside it."""
    from remot_pipeline.core.ingest import portable_path

    files = [None if f is None else portable_path(f, data_root) for f in quarantine.column("file").to_pylist()]
    i = quarantine.schema.get_field_index("file")
    return quarantine.set_column(i, quarantine.schema.field(i), pa.array(files, pa.string()))


def coverage_check(config: RemotConfig, triplets: pa.Table) -> dg.AssetCheckResult:
    """Every required attribute value has its minimum of triplets in train and in remot-bench."""
    from remot_pipeline.core.coverage import coverage_problems, coverage_table, required_values

    table = coverage_table(triplets)
    domains = sorted(set(triplets.column("domain").to_pylist())) if config.synthetic.enabled else []
    required = required_values(domains)
    for entry in config.coverage.required:
        d, _, a = entry.partition("/")
        required += [r for r in required_values([d]) if r[1] == a and r not in required]
    problems = coverage_problems(table, required, config.coverage.min_train_triplets_per_value,
                                 config.coverage.min_bench_triplets_per_value)
    return dg.AssetCheckResult(
        check_name="release__coverage", asset_key="release", passed=not problems,
        metadata={"below_minimum": "; ".join(problems) or "none", "required_values": len(required),
                  "coverage": plots.preview(table, 200), "coverage_plot": plots.balance_bars(
                      table.rename_columns(["domain", "attribute", "positive_value", "split", "negative_kind",
                                            "count_all"]))})


def audit_check(config: RemotConfig, triplets: pa.Table, questions: pa.Table, image_chunks=None,
                question_chunks=None) -> dg.AssetCheckResult:
    """The shortcut audit: blind baselines trained on train must not beat remot-bench's majority.

    ``questions`` may leave the prompts out (:data:`CHECK_QUESTION_COLUMNS`) when
    ``question_chunks(columns)`` yields the full questions a batch at a time: only the audit's
    sample (``audit.max_train_questions_per_cell``) is then read whole."""
    from remot_pipeline.core.audit import AUDIT_COLUMNS, audit_rows, shortcut_audit

    if not config.audit.enabled:
        return dg.AssetCheckResult(check_name="release__shortcut_audit", asset_key="release", passed=True,
                                   metadata={"skipped": "audit.enabled is false"})
    image_cols = {f"{r}_image" for r in ("anchor", "positive", "negative_anchor", "negative")}
    chunks = None if image_cols <= set(triplets.column_names) or image_chunks is None else \
        (t.select(["triplet_id", *sorted(image_cols)]) for t in image_chunks())
    cap = config.audit.max_train_questions_per_cell
    sample = questions
    if not set(AUDIT_COLUMNS) <= set(questions.column_names):
        keep = questions.column("question_id").take(pa.array(audit_rows(questions, cap))).combine_chunks()
        parts = [t.filter(pc.is_in(t.column("question_id"), value_set=keep)) for t in question_chunks(list(AUDIT_COLUMNS))]
        sample = pa.concat_tables(parts) if parts else data_empty("questions").select(list(AUDIT_COLUMNS))
    result = shortcut_audit(triplets, sample, alpha=config.audit.alpha, image_chunks=chunks, max_train_per_cell=cap)
    md = {"summary": result.summary(), "failures": "; ".join(result.failures) or "none",
          "baselines": plots.preview(result.table, 100), "constant_answer_mra": plots.preview(
              bench_core.constant_answer_baselines(questions), 40)}
    if hasattr(plots, "shortcut_audit_plot"):
        md["plot"] = plots.shortcut_audit_plot(result.table)
    return dg.AssetCheckResult(check_name="release__shortcut_audit", asset_key="release", passed=result.passed,
                               metadata=md)


def _chunks(value, columns: list[str] | None = None):
    """A stage value's rows a shard (chunk, batch) at a time; only ``columns`` when given."""
    if hasattr(value, "tables"):  # a ShardSet or a LazyResult: read from the store as it goes
        return value.tables(columns)
    return iter([value.table if columns is None else value.table.select(columns)])


def _empty_q() -> pa.Table:
    from data_contracts import empty

    return empty("quarantine")


def _reason_counts(q: pa.Table) -> pa.Table:
    if q.num_rows == 0:
        return pa.table({"stage": pa.array([], pa.string()), "reason_code": pa.array([], pa.string()), "count_all": pa.array([], pa.int64())})
    return q.group_by(["stage", "domain", "reason_code"]).aggregate([([], "count_all")])


def release_checks(path: Path, tables: dict[str, pa.Table], image_chunks=None) -> list[dg.AssetCheckResult]:
    splits_by_episode: dict[str, set] = {}
    # (a negative drawn from another episode keeps the split)
    for name, column in (("episodes", "episode_id"), ("triplets", "episode_id"), ("questions", "episode_id"),
                         ("triplets", "negative_episode_id")):
        pairs = tables[name].select([column, "split"]).group_by([column, "split"]).aggregate([])  # distinct
        for e, s in zip(pairs.column(column).to_pylist(), pairs.column("split").to_pylist()):
            splits_by_episode.setdefault(e, set()).add(s)
    both = sorted(e for e, s in splits_by_episode.items() if len(s) > 1)
    problems = release_core.verify_release(path)
    chunks = None if image_chunks is None or "anchor_image" in tables["triplets"].column_names else image_chunks()
    bench = bench_core.disjointness(tables["triplets"], tables["episodes"], image_chunks=chunks)
    bench_md = {k: (", ".join(v[:20]) or "none") if isinstance(v, list) else v for k, v in bench.items() if k != "passed"}
    t = tables["triplets"]
    present = set(zip(t.column("domain").to_pylist(), t.column("split").to_pylist()))
    domains = sorted(set(t.column("domain").to_pylist()))
    missing = [f"{d}/{s}" for d in domains for s in ("train", "test") if (d, s) not in present]
    return [
        dg.AssetCheckResult(check_name="release__split_disjoint", passed=not both,
                            metadata={"episodes_in_both_splits": ", ".join(both) or "none"}),
        dg.AssetCheckResult(check_name="release__manifest_verified", passed=not problems,
                            metadata={"problems": "; ".join(problems) or "none"}),
        dg.AssetCheckResult(check_name="release__partitions_non_empty", passed=bool(domains) and not missing,
                            metadata={"empty_domain_splits": ", ".join(missing) or "none"}),
        # remot-bench (the test split) shares no episode, scene or near-duplicate frame with train.
        dg.AssetCheckResult(check_name="release__bench_disjoint", passed=bench["passed"], metadata=bench_md),
    ]


@dg.asset(code_version=CODE_VERSIONS["catalog"], group_name="release")
def catalog(context: dg.AssetExecutionContext, paths: RemotPaths, release: dict) -> dg.MaterializeResult:
    """``catalog.duckdb``: DuckDB views triplets / questions / episodes / quarantine over LATEST,
    which is verified first (a release that does not match its manifest is refused)."""
    latest = release_core.latest_release(paths.root / "releases")
    if latest is None:
        raise dg.Failure(description=f"{paths.root / 'releases'}: LATEST names no release; run the release step first",
                         allow_retries=False)
    try:
        release_core.verified_release(latest)
        path = catalog_core.build_catalog(paths.root)
    except (release_core.ReleaseInvalid, StorageError, catalog_core.CatalogError) as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    con = catalog_core.connect(paths.root)
    try:
        md = {name: plots.preview(con.sql(sql).to_arrow_table(), 20) for name, sql in catalog_core.EXAMPLE_QUERIES.items()}
    finally:
        con.close()
    return dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(str(path.resolve())), "release_id": latest.name, **md})
