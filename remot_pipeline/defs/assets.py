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
from data_contracts.storage import StorageError, check_writable
from remot_pipeline.core import bench as bench_core
from remot_pipeline.core import catalog as catalog_core
from remot_pipeline.core import release as release_core
from remot_pipeline.core.features import episode_features
from remot_pipeline.core.flowcheck import domain_agreement
from remot_pipeline.core.ingest import ingest_reads, read_sources
from remot_pipeline.core.labels import label_pairs
from remot_pipeline.core.ledger import StageResult, concat
from remot_pipeline.core.motion import episode_motion_pairs
from remot_pipeline.core.negatives import build_negatives, retrieval_vs_random
from remot_pipeline.core.questions import build_questions
from remot_pipeline.core.triplets import build_triplets
from remot_pipeline.core.visibility import gate as gate_visible
from remot_pipeline.defs import plots
from remot_pipeline.defs.resources import RemotConfig, RemotPaths
from remot_pipeline.defs.store import LINEAGE_MD, StageStore, stage_key_of
from remot_pipeline.sources import DOMAINS, READERS, SourceError, SourceSpec, load_sources_yaml
from remot_pipeline.sources.dropfolder import drop_folder_sources

DOMAIN_PARTITIONS = dg.StaticPartitionsDefinition(list(DOMAINS))
SINGLE_RUN = dg.BackfillPolicy.single_run()

#: Bump an asset's version when its logic changes; the UI then marks it and its
#: descendants stale, and the release id changes.
CODE_VERSIONS = {
    "synthetic_world": "3",
    "episode_frames": "5",
    "motion_pairs": "2",
    "positive_pairs": "2",
    "frame_features": "2",
    "negatives": "4",
    "triplets": "7",
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
    first = next((r.table for r in results.values() if r.table.num_rows), None)
    if first is not None:
        md["preview"] = plots.preview(first)
    return md


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
def ingest(context: dg.AssetExecutionContext, config: RemotConfig, paths: RemotPaths, synthetic_world: str | None):
    """Every declared source, each on its own: a source that raises a SourceError (a missing file,
    an unreadable dataset) is left out and named in one line (the log, the ``failed_sources``
    metadata and the ``episode_frames__sources_read`` check, a warning); the domain's other
    sources still ingest. A broken sources file fails the step."""
    episodes, frames, failed, corrections = {}, {}, [], {}
    for d in context.partition_keys:
        try:
            specs = domain_sources(config, paths, d, synthetic_world)
        except SourceError as exc:
            raise dg.Failure(description=f"[{d}] {exc}", allow_retries=False) from None
        reads, bad = read_sources(specs)
        for f in bad:
            context.log.error(f"[{d}] source {f['source']!r} failed and was left out: {f['error']}")
        failed += [{"domain": d, **f} for f in bad]
        # The largest change the projection of a real file's rotations onto SO(3) made (entrywise).
        fixes = [r.max_rotation_correction for r in reads if getattr(r, "max_rotation_correction", None) is not None]
        corrections[f"max_rotation_correction/{d}"] = float(max(fixes)) if fixes else 0.0
        episodes[d], frames[d] = ingest_reads(reads, config.test_fraction, paths.root)
        frames[d].quarantine = portable_files(frames[d].quarantine, paths.root)
        context.log.info(f"{d}: {len(reads)} episode(s) from {len(specs) - len(bad)} of {len(specs)} source(s), "
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


def _per_episode(table: pa.Table):
    for eid in sorted(set(table.column("episode_id").to_pylist())):
        yield eid, table.filter(pc.equal(table.column("episode_id"), eid)).sort_by("frame_index")


# ----------------------------------------------------------------------------- motion ---

@dg.asset(partitions_def=DOMAIN_PARTITIONS, backfill_policy=SINGLE_RUN, code_version=CODE_VERSIONS["motion_pairs"],
          group_name="experts", check_specs=stage_checks("motion_pairs"))
def motion_pairs(context: dg.AssetExecutionContext, config: RemotConfig, episode_frames: dict):
    """The motion estimation expert: relative SE(3), EE, gripper and object motion per candidate pair."""
    cfg = config.pair_config()
    results = {d: concat([episode_motion_pairs(f, cfg) for _, f in _per_episode(episode_frames[d].table)], "motion_pairs")
               for d in context.partition_keys}
    yield from emit("motion_pairs", "motion_pairs", results, config)


@dg.asset(partitions_def=DOMAIN_PARTITIONS, backfill_policy=SINGLE_RUN, code_version=CODE_VERSIONS["positive_pairs"],
          group_name="experts", check_specs=stage_checks("positive_pairs"))
def positive_pairs(context: dg.AssetExecutionContext, config: RemotConfig, motion_pairs: dict, episode_frames: dict,
                   episodes: dict):
    """phi: attribute magnitude bands and the dominance margin; labels each surviving pair whose
    subject is in view and moves visibly (``core.visibility``)."""
    rules = config.visibility.rules(config.jpeg_max_side_px)
    results, unverified = {}, {}
    for d in context.partition_keys:
        r = label_pairs(motion_pairs[d].table, d, config.dominance_margin, config.bands.table())
        kept, filtered, unverified[d] = gate_visible(r.table, episode_frames[d].table, episodes[d], rules)
        results[d] = StageResult(kept, r.quarantine, r.rows_in, {**r.rows_filtered, **filtered}, r.notes)
    extra_v = {"visibility_unverified": dg.MetadataValue.json(unverified)}
    extra = {"filtered_by_rule": dg.MetadataValue.json({d: r.rows_filtered for d, r in results.items()}),
             "magnitude_histograms": plots.magnitude_histograms({d: r.table for d, r in results.items()}), **extra_v}
    yield from emit("positive_pairs", "labelled_pairs", results, config, extra)


@dg.asset(partitions_def=DOMAIN_PARTITIONS, backfill_policy=SINGLE_RUN, code_version=CODE_VERSIONS["frame_features"],
          group_name="experts", check_specs=stage_checks("frame_features"))
def frame_features(context: dg.AssetExecutionContext, config: RemotConfig, paths: RemotPaths, positive_pairs: dict,
                   episode_frames: dict, episodes: dict):
    """Keyframes the labelled pairs use, decoded once (PyAV), stored as JPEG, with descriptors."""
    results = {}
    for d in context.partition_keys:
        lab = positive_pairs[d].table
        roots = dict(zip(episodes[d].column("episode_id").to_pylist(), episodes[d].column("source_root").to_pylist()))
        parts = []
        for eid, frames in _per_episode(episode_frames[d].table):
            sel = lab.filter(pc.equal(lab.column("episode_id"), eid))
            wanted = set(sel.column("frame_index_a").to_pylist()) | set(sel.column("frame_index_b").to_pylist())
            if wanted:
                parts.append(episode_features(frames, wanted, paths.root / roots[eid], config.jpeg_max_side_px,
                                              config.jpeg_quality))
        results[d] = concat(parts, "frame_features")
    yield from emit("frame_features", "frame_features", results, config)


@dg.asset(partitions_def=DOMAIN_PARTITIONS, backfill_policy=SINGLE_RUN, code_version=CODE_VERSIONS["negatives"],
          group_name="experts", check_specs=stage_checks("negatives"))
def negatives(context: dg.AssetExecutionContext, config: RemotConfig, positive_pairs: dict, motion_pairs: dict,
              frame_features: dict, episodes: dict):
    """N: temporal-reversal, mirrored and retrieved hard negatives, labels recomputed from their own motion."""
    results = {d: build_negatives(positive_pairs[d].table, motion_pairs[d].table, frame_features[d].table, episodes[d], d,
                                  config.bands.table(), config.dominance_margin, config.near_duplicate_max)
               for d in context.partition_keys}
    sims = {d: retrieval_vs_random(results[d].table, frame_features[d].table) for d in context.partition_keys}
    summary = {d: {"retrieved_mean": round(float(np.mean(r)), 4), "random_mean": round(float(np.mean(x)), 4), "n": len(r)}
               for d, (r, x) in sims.items() if len(r)}
    yield from emit("negatives", "negatives", results, config,
                    {"filtered_by_rule": dg.MetadataValue.json({d: r.rows_filtered for d, r in results.items()}),
                     "retrieval_search_level": dg.MetadataValue.json(
                         {d: r.notes.get("retrieval_resolved_by_level", {}) for d, r in results.items()}),
                     "similarity_to_positive": dg.MetadataValue.json(summary),
                     "similarity_histograms": plots.similarity_histograms(sims)})


FLOW_CHECK = "triplets__label_flow_agreement"


@dg.asset(partitions_def=DOMAIN_PARTITIONS, backfill_policy=SINGLE_RUN, code_version=CODE_VERSIONS["triplets"],
          group_name="experts",
          check_specs=stage_checks("triplets") + [dg.AssetCheckSpec(FLOW_CHECK, asset="triplets", blocking=False)])
def triplets(context: dg.AssetExecutionContext, config: RemotConfig, paths: RemotPaths, negatives: dict, frame_features: dict,
             episode_frames: dict, episodes: dict):
    """Anchor / positive / negative with inline JPEGs, balanced across attribute, value and kind."""
    results = {d: build_triplets(negatives[d].table, frame_features[d].table, episode_frames[d].table, episodes[d],
                                 config.max_triplets_per_domain, config.seed, config.bench_triplets_per_domain,
                                 config.jpeg_quality)
               for d in context.partition_keys}
    first = next((r.table for r in results.values() if r.table.num_rows), None)
    agreement = [row for d in context.partition_keys for row in domain_agreement(
        results[d].table, episode_frames[d].table, episodes[d], config.flow_check_episodes_per_domain, paths.root)]
    balance = _counts(results, ["domain", "attribute", "positive_value", "negative_kind"])
    extra = {"balance": plots.preview(balance, 60), "balance_plot": plots.balance_bars(balance),
             "label_flow_agreement": plots.preview(pa.Table.from_pylist(agreement) if agreement else pa.table({}), 60)}
    if first is not None:
        extra["examples"] = plots.triplet_sheet(first)
    yield from emit("triplets", "triplets", results, config, extra)
    yield flow_check_result(agreement)


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
    results = {d: build_questions(triplets[d].table, config.seed, metric) for d in context.partition_keys}
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


@dg.asset(code_version=CODE_VERSIONS["release"], group_name="release", deps=list(STAGES),
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
    tables = {
        "triplets": pa.concat_tables([r.table for r in triplets.values()]),
        "questions": pa.concat_tables([r.table for r in questions.values()]),
        "episodes": pa.concat_tables(list(episodes.values())).replace_schema_metadata(None),
        "quarantine": portable_files(pa.concat_tables(quarantine) if quarantine else _empty_q(), paths.root),
    }
    inputs = dict(zip(tables["episodes"].column("episode_id").to_pylist(), tables["episodes"].column("input_sha256").to_pylist()))
    rid = release_core.compute_release_id(CODE_VERSION, config.content_config(), inputs)
    releases = paths.root / "releases"
    final = releases / rid
    try:
        reused = release_core.is_release(final) and not release_core.verify_release(final)
        staged = final if reused else release_core.stage_release(
            releases, rid, tables, {"code_version": CODE_VERSION, "config_hash": config.config_hash(),
                                    "config": config.content_config(), "inputs": inputs,
                                    "stages": {n: e["key"] for n, e in sorted(lineage.items())}})
        checks = release_checks(staged, tables) + [coverage_check(config, tables["triplets"]),
                                                   audit_check(config, tables["triplets"], tables["questions"])]
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


def audit_check(config: RemotConfig, triplets: pa.Table, questions: pa.Table) -> dg.AssetCheckResult:
    """The shortcut audit: blind baselines trained on train must not beat remot-bench's majority."""
    from remot_pipeline.core.audit import shortcut_audit

    if not config.audit.enabled:
        return dg.AssetCheckResult(check_name="release__shortcut_audit", asset_key="release", passed=True,
                                   metadata={"skipped": "audit.enabled is false"})
    result = shortcut_audit(triplets, questions, alpha=config.audit.alpha)
    md = {"summary": result.summary(), "failures": "; ".join(result.failures) or "none",
          "baselines": plots.preview(result.table, 100), "constant_answer_mra": plots.preview(
              bench_core.constant_answer_baselines(questions), 40)}
    if hasattr(plots, "shortcut_audit_plot"):
        md["plot"] = plots.shortcut_audit_plot(result.table)
    return dg.AssetCheckResult(check_name="release__shortcut_audit", asset_key="release", passed=result.passed,
                               metadata=md)


def _empty_q() -> pa.Table:
    from data_contracts import empty

    return empty("quarantine")


def _reason_counts(q: pa.Table) -> pa.Table:
    if q.num_rows == 0:
        return pa.table({"stage": pa.array([], pa.string()), "reason_code": pa.array([], pa.string()), "count_all": pa.array([], pa.int64())})
    return q.group_by(["stage", "domain", "reason_code"]).aggregate([([], "count_all")])


def release_checks(path: Path, tables: dict[str, pa.Table]) -> list[dg.AssetCheckResult]:
    splits_by_episode: dict[str, set] = {}
    for name in ("episodes", "triplets", "questions"):
        t = tables[name]
        for e, s in zip(t.column("episode_id").to_pylist(), t.column("split").to_pylist()):
            splits_by_episode.setdefault(e, set()).add(s)
    t = tables["triplets"]
    for e, s in zip(t.column("negative_episode_id").to_pylist(), t.column("split").to_pylist()):
        splits_by_episode.setdefault(e, set()).add(s)  # a negative drawn from another episode keeps the split
    both = sorted(e for e, s in splits_by_episode.items() if len(s) > 1)
    problems = release_core.verify_release(path)
    bench = bench_core.disjointness(tables["triplets"], tables["episodes"])
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
