"""Row accounting shared by every stage: quarantine rows with reason codes, and the ledger.

Nothing is dropped silently. Each stage returns a :class:`StageResult` whose ledger
satisfies ``rows_in == rows_out + rows_quarantined + rows_filtered``:

* *quarantined* rows are bad input (a NaN pose, a truncated video) and land in the
  ``quarantine`` table with a reason code and their source locator;
* *filtered* rows are healthy rows that a documented selection rule did not keep (a
  motion pair below its attribute's magnitude band); they are counted per rule in the
  asset metadata, not copied into quarantine. For stages that only transform or reject
  (ingestion) ``rows_filtered`` is 0 and the ledger is ``rows_in == rows_out + rows_quarantined``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from data_contracts import conform, empty

#: Every reason code a stage may emit, with its meaning. Tests check codes against this.
REASON_CODES: dict[str, str] = {
    "nan_pose": "A pose holds NaN or inf values.",
    "quat_not_unit": "A quaternion's norm is far from 1 (|norm - 1| > tolerance).",
    "rotation_not_orthonormal": "A rotation matrix is not orthonormal or its determinant is not +1.",
    "timestamp_unsorted": "A timestamp is not after the previous one.",
    "timestamp_duplicate": "A timestamp repeats the previous one.",
    "malformed_line": "A metadata line could not be parsed (wrong field count or a non-number).",
    "no_matching_frame": "No video frame lies within the association tolerance of a pose timestamp.",
    "video_missing": "A video or image file named by the metadata does not exist.",
    "video_unreadable": "A video could not be opened or decoded.",
    "video_short": "The video holds fewer frames than the metadata lists.",
    "path_escapes_root": "A path in the metadata resolves outside the source root.",
    "episode_unusable": "An episode had fewer than two healthy frames left.",
    "frame_undecodable": "A frame could not be decoded into an image.",
    "nan_value": "A telemetry value that is not a pose (gripper width, joint state) holds NaN or inf.",
    "data_file_missing": "A data file named by the metadata does not exist; each row the metadata declares for it is counted.",
    "data_file_unreadable": "A data file named by the metadata cannot be parsed; each row the metadata declares for it is counted.",
    "frame_index_invalid": "A frame index is negative, fractional, not a number, or beyond the video or image list.",
    "timestamp_nonfinite": "A timestamp is NaN or infinite.",
    "timestamp_outlier": "A single timestamp jumps far ahead of (or behind) its neighbours, which agree with each other.",
    "pose_not_se3": "A 4x4 pose's bottom row is not [0, 0, 0, 1] (or its shape is not a pose).",
    "pose_malformed": "A pose row has the wrong number of values for its format.",
    "gripper_out_of_range": "A gripper width is negative or above the declared (or inferred) maximum.",
    "value_type_invalid": "A value has the wrong type for its column (a bool or a string where a number is declared).",
}


class QuarantineLog:
    """Collects quarantine rows for one stage."""

    def __init__(self, stage: str, domain: str, source_name: str | None = None) -> None:
        self.stage, self.domain, self.source_name = stage, domain, source_name
        self._rows: list[dict] = []

    def add(
        self,
        reason_code: str,
        detail: str,
        *,
        file: str | None = None,
        line: int | None = None,
        episode_id: str | None = None,
        frame_index: int | None = None,
        source_name: str | None = None,
    ) -> None:
        if reason_code not in REASON_CODES:
            raise ValueError(f"unknown quarantine reason code {reason_code!r}; add it to REASON_CODES")
        self._rows.append(
            dict(
                stage=self.stage,
                domain=self.domain,
                source_name=source_name or self.source_name,
                episode_id=episode_id,
                file=None if file is None else str(file),
                line=line,
                frame_index=frame_index,
                reason_code=reason_code,
                detail=detail,
            )
        )

    def extend(self, other: "QuarantineLog") -> None:
        self._rows.extend(other._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def table(self) -> pa.Table:
        if not self._rows:
            return empty("quarantine")
        return conform(pa.Table.from_pylist(self._rows), "quarantine")


@dataclass
class StageResult:
    """What a stage returns: its rows out (conformed), its quarantine, and its ledger."""

    table: pa.Table
    quarantine: pa.Table
    rows_in: int
    rows_filtered: dict[str, int] = field(default_factory=dict)
    #: Facts for the asset's metadata that are not row counts (not persisted).
    notes: dict = field(default_factory=dict)

    @property
    def rows_out(self) -> int:
        return self.table.num_rows

    @property
    def rows_quarantined(self) -> int:
        return self.quarantine.num_rows

    def ledger(self) -> dict:
        return {
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "rows_quarantined": self.rows_quarantined,
            "rows_filtered": dict(self.rows_filtered),
        }

    def balanced(self) -> bool:
        return self.rows_in == self.rows_out + self.rows_quarantined + sum(self.rows_filtered.values())


def concat(results: list[StageResult], contract_name: str) -> StageResult:
    """Merge per-episode results of one stage into one."""
    tables = [r.table for r in results if r.table.num_rows] or [empty(contract_name)]
    quarantines = [r.quarantine for r in results if r.quarantine.num_rows] or [empty("quarantine")]
    filtered: dict[str, int] = {}
    for r in results:
        for k, v in r.rows_filtered.items():
            filtered[k] = filtered.get(k, 0) + v
    return StageResult(
        table=pa.concat_tables(tables),
        quarantine=pa.concat_tables(quarantines),
        rows_in=sum(r.rows_in for r in results),
        rows_filtered=filtered,
    )
