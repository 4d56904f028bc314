"""``catalog.duckdb``: views over the LATEST release, for ad-hoc SQL.

The database holds only views (no data) over ``releases/LATEST/...``, paths relative to the
data root: ``LATEST`` is a symlink that the release commit re-points, so the views follow it at
query time (the catalog never names another release than LATEST), and the catalog keeps working
after the data root is moved or copied. DuckDB resolves relative paths against the working
directory or its ``file_search_path`` setting, so open it from the data root or with that set
(:func:`connect` does)::

    duckdb -cmd "SET file_search_path='data'" data/catalog.duckdb

It is built in a unique temporary file and renamed into place.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from data_contracts.storage import clean_leftovers, makedirs, storage_error, tmp_sibling

#: Views over the release LATEST points at, relative to the data root.
VIEWS = {
    "triplets": "releases/LATEST/triplets/*/*/*.parquet",
    "questions": "releases/LATEST/questions/*/*/*.parquet",
    "episodes": "releases/LATEST/episodes/*.parquet",
    "quarantine": "releases/LATEST/quarantine/*.parquet",
}

BINARY_PAIR_COLUMNS = (
    "triplet_id, episode_id, domain, split, scene_id, attribute, unit, anchor_frame_index, positive_frame_index, "
    "anchor_timestamp_s, positive_timestamp_s, positive_value AS value, positive_magnitude AS magnitude, "
    "positive_pair_id AS pair_id, positive_motion AS motion, object_color, anchor_image, positive_image"
)

#: The README's example queries; tests run every one of them.
EXAMPLE_QUERIES: dict[str, str] = {
    "triplets by domain and attribute": """
        SELECT domain, attribute, negative_kind, count(*) AS triplets
        FROM triplets GROUP BY ALL ORDER BY ALL""",
    "questions by domain, split and type": """
        SELECT domain, split, question_type, count(*) AS questions
        FROM questions GROUP BY ALL ORDER BY ALL""",
    "remot-bench composition": """
        SELECT domain, question_type, count(*) AS questions, count(DISTINCT triplet_id) AS triplets
        FROM bench_questions GROUP BY ALL ORDER BY ALL""",
    "quarantine reasons": """
        SELECT stage, domain, reason_code, count(*) AS rows
        FROM quarantine GROUP BY ALL ORDER BY rows DESC""",
    "coverage by attribute value and split": """
        SELECT domain, attribute, positive_value AS value, split, count(*) AS triplets
        FROM triplets GROUP BY ALL ORDER BY ALL""",
    "a question with its rationale": """
        SELECT question_type, prompt, answer, rationale FROM bench_questions ORDER BY question_id LIMIT 1""",
    "questions joined to their triplets": """
        SELECT q.question_type, q.answer, t.attribute, t.positive_value, t.negative_value,
               t.negative_kind, round(t.positive_magnitude, 2) AS positive_magnitude
        FROM questions q JOIN triplets t USING (triplet_id)
        ORDER BY q.question_id LIMIT 5""",
}


def clip_questions_sql() -> str:
    """The ``clip_questions`` view: every question worded for clips (``views: clips``,
    :mod:`remot_pipeline.core.clips`), the same answers and scoring columns, plus ``clip_roles``
    (each clip's frames by role, pair A first; the frames are the triplets' role images)."""
    from remot_pipeline.core.clips import (PROMPT_REPLACEMENTS, RATIONALE_REPLACEMENTS, sql_clip_options,
                                           sql_clip_roles, sql_replace_chain)

    return (f"SELECT * REPLACE ({sql_replace_chain('prompt', PROMPT_REPLACEMENTS)} AS prompt, "
            f"{sql_replace_chain('rationale', RATIONALE_REPLACEMENTS)} AS rationale, "
            f"{sql_clip_options('options')} AS options), {sql_clip_roles('image_roles')} AS clip_roles "
            "FROM questions")


def clip_frames_sql() -> str:
    """The ``clip_frames`` view: one row per triplet pair (``pair``: positive | negative) with the
    frames its clip plays, in order: the pair's first frame, the frames between
    (``clip_frames`` > 2) and its last, as ``frame_index`` and ``timestamp_s`` lists of its episode;
    the pixels are the triplet's role images and ``*_between_images``."""
    ends = {"positive": ("episode_id", "anchor", "positive"), "negative": ("negative_episode_id", "negative_anchor", "negative")}
    return " UNION ALL ".join(
        f"SELECT triplet_id, split, domain, attribute, '{w}' AS pair, {e} AS episode_id, "
        f"[{a}_frame_index] || {w}_between_frame_index || [{b}_frame_index] AS frame_index, "
        f"[{a}_timestamp_s] || {w}_between_timestamp_s || [{b}_timestamp_s] AS timestamp_s FROM triplets"
        for w, (e, a, b) in ends.items())


def _sql_str(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


class CatalogError(RuntimeError):
    """The catalog cannot be built or opened (one line)."""


def check_root(data_root: Path) -> None:
    """DuckDB splits ``file_search_path`` at commas: refuse such a data root up front, in one line."""
    if "," in str(Path(data_root).resolve()):
        raise CatalogError(f"{Path(data_root).resolve()}: the data root's path holds a comma, which DuckDB's "
                         "file_search_path cannot hold; move the data root (REMOT_DATA_ROOT) to a path without one")


def connect(data_root: Path, catalog: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to ``<data_root>/catalog.duckdb`` whose relative paths resolve
    against ``data_root``, from any working directory."""
    data_root = Path(data_root)
    con = duckdb.connect(str(catalog or data_root / "catalog.duckdb"), read_only=True)
    con.execute(f"SET file_search_path = {_sql_str(data_root.resolve())}")
    return con


def build_catalog(data_root: Path, catalog_path: Path | None = None) -> Path:
    """(Re)build the catalog's views; ``releases/LATEST`` must exist (DuckDB binds views)."""
    data_root = Path(data_root)
    check_root(data_root)
    catalog_path = Path(catalog_path or data_root / "catalog.duckdb")
    makedirs(catalog_path.parent)
    clean_leftovers(catalog_path.parent)
    tmp = tmp_sibling(catalog_path)
    try:
        con = duckdb.connect(str(tmp))
        try:
            con.execute(f"SET file_search_path = {_sql_str(data_root.resolve())}")
            for view, pattern in VIEWS.items():
                con.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM read_parquet({_sql_str(pattern)})")
            # The binary-contrast ablation (anchor -> positive only, no negative): the same positives and
            # their true/false questions, so that "binary vs triplet" changes nothing else.
            con.execute(f"CREATE OR REPLACE VIEW binary_pairs AS SELECT {BINARY_PAIR_COLUMNS} FROM triplets")
            con.execute("CREATE OR REPLACE VIEW binary_questions AS SELECT * FROM questions "
                        "WHERE image_roles = ['anchor', 'positive']")
            # The same questions worded for clips (views: clips), and the binary ablation over them.
            con.execute(f"CREATE OR REPLACE VIEW clip_questions AS {clip_questions_sql()}")
            con.execute("CREATE OR REPLACE VIEW binary_clip_questions AS SELECT * FROM clip_questions "
                        "WHERE image_roles = ['anchor', 'positive']")
            con.execute("CREATE OR REPLACE VIEW bench_clip_questions AS SELECT * FROM clip_questions WHERE split = 'test'")
            con.execute(f"CREATE OR REPLACE VIEW clip_frames AS {clip_frames_sql()}")
            # remot-bench: the held-out test split, frozen by the release id.
            con.execute("CREATE OR REPLACE VIEW bench_triplets AS SELECT * FROM triplets WHERE split = 'test'")
            con.execute("CREATE OR REPLACE VIEW bench_questions AS SELECT * FROM questions WHERE split = 'test'")
            con.execute("CREATE OR REPLACE VIEW release_info AS SELECT release_id, contract_version, "
                        "'releases/' || release_id AS path "
                        "FROM read_json('releases/LATEST/manifest.json', columns = "
                        "{release_id: 'VARCHAR', contract_version: 'VARCHAR'})")
        finally:
            con.close()
        os.replace(tmp, catalog_path)
    except OSError as exc:
        raise storage_error(exc, catalog_path) from None
    except duckdb.Error as exc:
        raise CatalogError(f"{catalog_path}: building the catalog failed: {str(exc).splitlines()[0]}") from None
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
    return catalog_path
