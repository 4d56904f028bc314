"""The single registry of fields: Arrow type, unit, frame convention, description.

Every column of every table written by remot is declared here once. A table contract
(``tables.py``) is an ordered list of field names; its ``pa.schema`` is derived from
this registry, so a unit or a type is never stated twice.

Conventions (``DESIGN.md`` §3): physical columns carry their unit as a suffix (``_m``,
``_deg``, ``_rad``, ``_s``, ``_px``); transforms are named ``a2b`` and stored as
row-major flattened 4×4 matrices; camera axes are OpenCV's (x right, y down, z forward).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

#: ``{bytes, path}``: Hugging Face ``datasets``' Image layout, so that
#: ``load_dataset("parquet", ...)`` yields PIL images and DuckDB reads the rest.
IMAGE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
MAT4 = pa.list_(pa.float64(), 16)
VEC3 = pa.list_(pa.float64(), 3)
#: The motion of one frame pair, as computed by the motion expert (the motion_pairs columns).
MOTION = pa.struct(
    [
        ("cam_translation_a_m", VEC3),
        ("cam_translation_norm_m", pa.float64()),
        ("cam_rotvec_a_rad", VEC3),
        ("yaw_left_deg", pa.float64()),
        ("pitch_up_deg", pa.float64()),
        ("roll_cw_deg", pa.float64()),
        ("rotation_angle_deg", pa.float64()),
        ("ee_disp_base_m", VEC3),
        ("ee_disp_cam_m", VEC3),
        ("ee_roll_image_cw_deg", pa.float64()),
        ("gripper_delta_m", pa.float64()),
        ("object_disp_a_m", VEC3),
        ("object_yaw_ccw_deg", pa.float64()),
    ]
)
#: "Answering ``if_answer`` asserts ``left op right``" (remot_train.relations).
RELATIONS = pa.list_(pa.struct([("if_answer", pa.string()), ("left", pa.string()), ("op", pa.string()),
                                ("right", pa.string())]))
OBJECT = pa.struct(
    [
        ("object_id", pa.string()),
        ("color_name", pa.string()),
        ("obj2world", MAT4),
    ]
)


@dataclass(frozen=True)
class Field:
    """One column: its Arrow type, unit, frame convention and meaning."""

    name: str
    type: pa.DataType
    description: str
    unit: str | None = None
    frame: str | None = None
    nullable: bool = False

    def arrow(self) -> pa.Field:
        meta = {"description": self.description}
        if self.unit:
            meta["unit"] = self.unit
        if self.frame:
            meta["frame"] = self.frame
        return pa.field(self.name, self.type, nullable=self.nullable, metadata=meta)


CAM = "camera axes of frame a (OpenCV: x right, y down, z forward)"

_FIELDS: list[Field] = [
    # --- identity and lineage ---------------------------------------------------------
    Field("episode_id", pa.string(), "Globally unique episode id: <source>/<episode>."),
    Field("domain", pa.string(), "navigation | manipulation | simulation."),
    Field("split", pa.string(), "train | test; assigned per episode, deterministically."),
    Field("source_name", pa.string(), "Name of the declared source the row came from."),
    Field("source_format", pa.string(), "Reader that parsed the source (tum, lerobot_v3, remot_sim_jsonl, ...)."),
    Field("source_root", pa.string(), "Absolute path of the source's root folder."),
    Field("episode_path", pa.string(), "Episode location relative to source_root."),
    Field("scene_id", pa.string(), "Scene the episode was recorded in (retrieval search space)."),
    Field("input_sha256", pa.string(), "sha256 over the episode's raw input files."),
    Field("signals", pa.list_(pa.string()),
          "Signals the episode carries: camera_pose, ee_pose, gripper, objects, joint_state, video, images."),
    Field("metric_scale", pa.bool_(),
          "Whether the source's poses are in metres (true) or up to an unknown scale (SLAM/SfM poses, false); "
          "metric distances are asked only when true."),
    Field("note", pa.string(), "What the reader could not map (e.g. joint-space only: no end-effector signal).",
          nullable=True),
    # --- episodes ---------------------------------------------------------------------
    Field("n_frames", pa.int64(), "Frames ingested for the episode."),
    Field("fps", pa.float64(), "Nominal frame rate.", unit="1/s"),
    Field("width_px", pa.int32(), "Image width.", unit="px"),
    Field("height_px", pa.int32(), "Image height.", unit="px"),
    Field("fx_px", pa.float64(), "Focal length x.", unit="px", nullable=True),
    Field("fy_px", pa.float64(), "Focal length y.", unit="px", nullable=True),
    Field("cx_px", pa.float64(), "Principal point x.", unit="px", nullable=True),
    Field("cy_px", pa.float64(), "Principal point y.", unit="px", nullable=True),
    # --- frames -----------------------------------------------------------------------
    Field("frame_index", pa.int64(), "0-based index of the frame within its episode."),
    Field("timestamp_s", pa.float64(), "Frame time since the episode's first frame.", unit="s"),
    Field("cam2world", MAT4, "Camera-to-world pose, row-major 4x4.", unit="m",
          frame="camera: OpenCV axes; world: the source's fixed frame (robot base for a fixed camera)",
          nullable=True),
    Field("ee_pos_base_m", VEC3, "End-effector position.", unit="m", frame="robot base", nullable=True),
    Field("ee_rotvec_base_rad", VEC3, "End-effector orientation as a rotation vector.", unit="rad",
          frame="robot base", nullable=True),
    Field("gripper_width_m", pa.float64(), "Gripper opening width.", unit="m", nullable=True),
    Field("objects", pa.list_(OBJECT), "Scene objects and their obj2world poses.", unit="m",
          frame="world", nullable=True),
    Field("media_path", pa.string(),
          "Video or image file holding the frame, relative to source_root; null for pose-only sources.", nullable=True),
    Field("media_frame_index", pa.int64(), "Index of the frame inside media_path (0 for an image file).", nullable=True),
    # --- motion pairs -----------------------------------------------------------------
    Field("pair_id", pa.string(), "<episode_id>:<frame_index_a>-<frame_index_b>."),
    Field("frame_index_a", pa.int64(), "Frame a: the view the motion is expressed in."),
    Field("frame_index_b", pa.int64(), "Frame b."),
    Field("dt_s", pa.float64(), "timestamp_b - timestamp_a.", unit="s"),
    Field("cam_translation_a_m", VEC3, "Camera b's centre in camera a: (right, down, forward).", unit="m", frame=CAM, nullable=True),
    Field("cam_translation_norm_m", pa.float64(), "Distance between the two camera centres.", unit="m", nullable=True),
    Field("cam_rotvec_a_rad", VEC3, "Rotation a->b as a rotation vector.", unit="rad", frame=CAM, nullable=True),
    Field("yaw_left_deg", pa.float64(),
          "Turn to the left: -rotvec_y (rotation-vector component about the camera's down axis, negated).",
          unit="deg", frame=CAM, nullable=True),
    Field("pitch_up_deg", pa.float64(), "Tilt upwards: rotation-vector component about the camera's right axis.",
          unit="deg", frame=CAM, nullable=True),
    Field("roll_cw_deg", pa.float64(),
          "Clockwise roll as seen from behind the camera: rotation-vector component about the forward axis.",
          unit="deg", frame=CAM, nullable=True),
    Field("rotation_angle_deg", pa.float64(), "Total rotation angle a->b.", unit="deg", nullable=True),
    Field("ee_disp_base_m", VEC3, "End-effector displacement a->b.", unit="m", frame="robot base", nullable=True),
    Field("ee_disp_cam_m", VEC3, "End-effector displacement a->b in the (fixed) camera's axes.", unit="m",
          frame="camera (OpenCV axes)", nullable=True),
    Field("ee_roll_image_cw_deg", pa.float64(),
          "End-effector rotation a->b about camera a's optical axis (in-image rotation), positive = clockwise as "
          "the image is seen: the forward-axis (z) component of the rotation vector of R_b R_a^T (robot base "
          "frame) expressed in camera a's axes; a turn about +z takes image right (+x) towards image down (+y).",
          unit="deg", frame=CAM, nullable=True),
    Field("gripper_delta_m", pa.float64(), "Gripper width change a->b (positive: opening).", unit="m",
          nullable=True),
    Field("phase", pa.string(),
          "Manipulation phase (approach, grasp, lift, place) covering >= 80% of the frames a..b, forward pairs "
          "lasting at least min_phase_s (default 0.6 s) only.",
          nullable=True),
    Field("gripper_holding", pa.bool_(), "The gripper is closed at both ends and its width did not change.",
          nullable=True),
    Field("object_id", pa.string(),
          "The object that moved most between a and b: largest of |displacement| and |turn about the vertical|, "
          "compared as 10 deg per 0.35 m (the default band minima).", nullable=True),
    Field("object_color", pa.string(), "Rendered colour name of object_id.", nullable=True),
    Field("object_disp_a_m", VEC3,
          "The object's own displacement a->b (world motion, camera ego-motion removed) in camera a's axes.",
          unit="m", frame=CAM, nullable=True),
    Field("object_yaw_ccw_deg", pa.float64(),
          "The object's own turn a->b about the world vertical (+z up), positive = counterclockwise seen from "
          "above: the world-z component of the rotation vector of R_b R_a^T (obj2world rotations; camera "
          "ego-motion does not enter it).", unit="deg", frame="world (z up)", nullable=True),
    # --- labelled pairs ---------------------------------------------------------------
    Field("attribute", pa.string(), "Motion attribute the label is about (yaw, gripper, object_lateral, ...)."),
    Field("value", pa.string(), "The attribute's value (left, right, opening, ...)."),
    Field("magnitude", pa.float64(), "Signed magnitude of the attribute; positive means the first value name.",
          unit="see unit column"),
    Field("unit", pa.string(), "Unit of magnitude (deg or m)."),
    Field("dominance_ratio", pa.float64(),
          "Normalised magnitude of the attribute over the strongest competing one (inf when alone)."),
    # --- frame features ---------------------------------------------------------------
    Field("image", IMAGE, "JPEG keyframe {bytes, path}."),
    Field("descriptor", pa.list_(pa.float32()),
          "L2-normalised visual descriptor (grey 16x12 + colour 8x6 thumbnails, zero-mean)."),
    # --- negatives / triplets ---------------------------------------------------------
    Field("triplet_id", pa.string(), "Content hash of the triplet's episode, frames and kind."),
    Field("anchor_frame_index", pa.int64(), "Anchor frame."),
    Field("positive_frame_index", pa.int64(), "Positive frame: anchor->positive has `positive_value`."),
    Field("negative_frame_index", pa.int64(), "Negative frame: negative_anchor->negative has `negative_value`."),
    Field("negative_episode_id", pa.string(),
          "Episode of the negative pair: the triplet's own for reversal and mirror; for retrieval the same "
          "episode, else the same scene, else the same domain, always in the same split."),
    Field("negative_anchor_frame_index", pa.int64(),
          "First frame of the negative pair: the anchor (retrieval, mirror) or the positive (temporal_reversal)."),
    Field("negative_transform", pa.string(), "Image transform applied to both negative-pair frames: none | hflip."),
    Field("anchor_timestamp_s", pa.float64(), "Anchor time.", unit="s"),
    Field("positive_timestamp_s", pa.float64(), "Positive time.", unit="s"),
    Field("negative_timestamp_s", pa.float64(), "Negative time.", unit="s"),
    Field("negative_anchor_timestamp_s", pa.float64(), "Negative-anchor time.", unit="s"),
    Field("positive_value", pa.string(), "Attribute value of anchor->positive."),
    Field("negative_value", pa.string(), "Attribute value of negative_anchor->negative (recomputed, never assumed)."),
    Field("positive_magnitude", pa.float64(), "Signed magnitude of anchor->positive.", unit="see unit column"),
    Field("negative_magnitude", pa.float64(), "Signed magnitude of anchor->negative.", unit="see unit column"),
    Field("positive_pair_id", pa.string(), "pair_id of anchor->positive in motion_pairs."),
    Field("negative_pair_id", pa.string(), "pair_id of anchor->negative in motion_pairs."),
    Field("positive_motion", MOTION, "Full motion anchor->positive (units and frames as in motion_pairs).",
          unit="m, rad, deg", frame=CAM),
    Field("negative_motion", MOTION, "Full motion anchor->negative (units and frames as in motion_pairs).",
          unit="m, rad, deg", frame=CAM),
    Field("negative_kind", pa.string(), "temporal_reversal | mirror | retrieval."),
    Field("negative_similarity", pa.float64(),
          "Cosine similarity of the negative's descriptor to the positive's.", nullable=True),
    Field("anchor_image", IMAGE, "Anchor JPEG."),
    Field("positive_image", IMAGE, "Positive JPEG."),
    Field("negative_image", IMAGE, "Negative JPEG (mirrored when negative_transform is hflip)."),
    Field("negative_anchor_image", IMAGE, "Negative-anchor JPEG (mirrored when negative_transform is hflip)."),
    Field("positive_between_frame_index", pa.list_(pa.int64()),
          "Clip frames between the anchor and the positive (episode_id's frame indices, in playing order): "
          "clip_frames - 2 source frames nearest to evenly spaced times between the two timestamps "
          "(remot_pipeline.core.clips.between_frames); empty when clip_frames is 2."),
    Field("positive_between_timestamp_s", pa.list_(pa.float64()),
          "Source timestamps of positive_between_frame_index.", unit="s"),
    Field("positive_between_images", pa.list_(IMAGE), "JPEGs of positive_between_frame_index, in playing order."),
    Field("negative_between_frame_index", pa.list_(pa.int64()),
          "Clip frames between the negative anchor and the negative (negative_episode_id's frame indices, in "
          "playing order: a temporal reversal's are the positive's reversed); empty when clip_frames is 2."),
    Field("negative_between_timestamp_s", pa.list_(pa.float64()),
          "Source timestamps of negative_between_frame_index.", unit="s"),
    Field("negative_between_images", pa.list_(IMAGE),
          "JPEGs of negative_between_frame_index, in playing order (mirrored when negative_transform is hflip)."),
    Field("source_locator", pa.string(), "source_root/media_path#frame for anchor, positive, negative."),
    # --- questions --------------------------------------------------------------------
    Field("question_id", pa.string(), "Content hash of the question."),
    Field("question_type", pa.string(), "multiple_choice | true_false | fill_blank | comparative."),
    Field("prompt", pa.string(), "Question text with <image> placeholders in image order, and the CoT scaffold."),
    Field("image_roles", pa.list_(pa.string()), "Triplet image role of each <image> placeholder, in order."),
    Field("answer", pa.string(), "The correct answer as it must appear inside <answer>...</answer>."),
    Field("options", pa.list_(pa.string()),
          "Choices offered: the letters' texts, true/false, the blank's words; empty for a numeric blank."),
    Field("parse_rule", pa.string(),
          "How a completion's answer is parsed (remot_train.scoring): choice_letter | true_false | categorical | "
          "number_mra (scored by mean relative accuracy) | number (scored by tolerance; releases before contract 3.0)."),
    Field("tolerance", pa.float64(), "For parse_rule number: the largest accepted |answer - truth|, in the answer's "
          "unit (the unit written after the number in `answer`).", unit="see answer", nullable=True),
    Field("consistency_group_id", pa.string(),
          "Questions whose answers are jointly constrained share this id (comparative pairs).", nullable=True),
    Field("relations", RELATIONS, "Relations each possible answer asserts: answering `if_answer` asserts "
          "`left op right`: op < > = between motion sizes (mIJ: the motion from image I to image J; a plain "
          "number is a size), or is / is_not between a motion and a value of the attribute (since contract "
          "3.1). Empty for numeric blanks."),
    Field("asserted_pair_id", pa.string(), "The motion pair whose label the answer asserts."),
    Field("rationale", pa.string(),
          "Step-by-step reasoning worded from the metadata (what the images show), naming the answer only in its "
          "last step: the SFT target's <think> text."),
    # --- quarantine -------------------------------------------------------------------
    Field("stage", pa.string(), "Asset that rejected the row."),
    Field("file", pa.string(), "File the rejected row came from (absolute path).", nullable=True),
    Field("line", pa.int64(), "1-based line (or row) in that file.", nullable=True),
    Field("reason_code", pa.string(), "Machine-readable reason (nan_pose, unsorted_timestamps, ...)."),
    Field("detail", pa.string(), "Human-readable detail of the rejection."),
]

FIELDS: dict[str, Field] = {f.name: f for f in _FIELDS}
assert len(FIELDS) == len(_FIELDS), "duplicate field name in the registry"
