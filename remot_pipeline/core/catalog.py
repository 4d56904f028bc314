"""``catalog.duckdb``: views over the LATEST release, for ad-hoc SQL.

The database holds only views (no data), so rebuilding it is cheap; it is built in a
temporary file and renamed into place.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

VIEWS = {
    "triplets": "triplets/**/*.parquet",
    "questions": "questions/**/*.parquet",
    "episodes": "episodes/*.parquet",
    "quarantine": "quarantine/*.parquet",
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


def build_catalog(release_path: Path, catalog_path: Path) -> None:
    release_path = Path(release_path).resolve()
    catalog_path = Path(catalog_path)
    catalog_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = catalog_path.with_name(f".{catalog_path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    try:
        for view, pattern in VIEWS.items():
            glob = str(release_path / pattern).replace("'", "''")
            hive = ", hive_partitioning = true" if "**" in pattern else ""
            con.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM read_parquet('{glob}'{hive})")
        # The binary-contrast ablation (anchor -> positive only, no negative): the same positives and
        # their true/false questions, so that "binary vs triplet" changes nothing else.
        con.execute(f"CREATE OR REPLACE VIEW binary_pairs AS SELECT {BINARY_PAIR_COLUMNS} FROM triplets")
        con.execute("CREATE OR REPLACE VIEW binary_questions AS SELECT * FROM questions "
                    "WHERE image_roles = ['anchor', 'positive']")
        # remot-bench: the held-out test split, frozen by the release id.
        con.execute("CREATE OR REPLACE VIEW bench_triplets AS SELECT * FROM triplets WHERE split = 'test'")
        con.execute("CREATE OR REPLACE VIEW bench_questions AS SELECT * FROM questions WHERE split = 'test'")
        con.execute(
            "CREATE OR REPLACE VIEW release_info AS SELECT "
            f"'{release_path.name}' AS release_id, '{str(release_path).replace(chr(39), chr(39) * 2)}' AS path"
        )
    finally:
        con.close()
    os.replace(tmp, catalog_path)
