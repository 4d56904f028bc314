"""The malformed-input corpus: every way a source file has been seen to go wrong, for every format
it applies to, each with what the readers must say about it.

A :class:`Case` builds a small source (a healthy one of its format, then one damage), declares
which of the nine kinds of issue 14 it belongs to, and expects exactly one outcome:

* :class:`Clean` - every row kept, nothing quarantined (real files as written: BOM, 6 decimals,
  float32, links inside the root);
* :class:`Blamed` - exactly the damaged rows quarantined, with one reason code, every healthy row
  kept (``rows_in == kept + quarantined``, so nothing vanished either);
* :class:`Codes` - a damage that touches many rows: exactly this set of reason codes;
* :class:`Fails` - the source fails alone, as a one-line ``SourceError`` holding the given text;
* :class:`ConfigFails` - the sources file is refused in one line naming the file.

``tests/test_malformed_corpus.py`` runs every case and keeps the coverage table in the README in
step (``python -m tests.corpus`` prints it). Cases come from the format modules beside this one
(``nav_text``, ``nav_frames``, ``lerobot``, ``tables``), from :func:`generic_cases` (the damages
every format shares: typos in the sources file, links, a missing path) and from the older
per-format corpora in ``tests/test_sources_navigation.py`` and ``tests/test_sources_manipulation.py``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from remot_pipeline.core.ingest import read_sources
from remot_pipeline.core.ledger import REASON_CODES
from remot_pipeline.sources import COMMON_OPTIONS, DOMAINS, READERS, SourceError, SourceSpec, load_sources_yaml

from tests.corpus import edits

#: The nine kinds of bad input of issue 14.
KINDS: dict[int, str] = {
    1: "frame index negative, fractional or past the media",
    2: "structural damage is one line, not a crash",
    3: "real rotations accepted (6 decimals, float32)",
    4: "no row vanishes (BOM, damaged first line)",
    5: "only the damaged row is blamed",
    6: "bad values refused (SE(3), bottom row, gripper, dtypes)",
    7: "strict sources file (typos, domain, types)",
    8: "paths through symbolic links",
    9: "messages that say what happened",
}


# ------------------------------------------------------------------------------ outcomes ---

@dataclass(frozen=True)
class Clean:
    """Every row kept, none quarantined; ``rows`` input rows in all when given."""
    rows: int | None = None


@dataclass(frozen=True)
class Blamed:
    """Exactly ``n`` rows quarantined, all with ``code``, and every other row kept. ``at`` is the
    ``(file suffix, line)`` of the first of them when the format has lines."""
    code: str
    n: int = 1
    at: tuple[str, int] | None = None


@dataclass(frozen=True)
class Codes:
    """The quarantine holds exactly these reason codes (a damage that touches many rows)."""
    codes: frozenset


@dataclass(frozen=True)
class Fails:
    """The source fails alone with a one-line ``SourceError`` containing ``text``."""
    text: str


@dataclass(frozen=True)
class ConfigFails:
    """``load_sources_yaml`` refuses the sources file in one line naming it and containing ``text``."""
    text: str


Build = Callable[[Path, Path], tuple[Path, object]]  # (root, world) -> (source path, options)


@dataclass(frozen=True)
class Case:
    id: str
    kind: int
    format: str
    build: Build
    expect: Clean | Blamed | Codes | Fails | ConfigFails
    domain: str = ""  # default: the format's own

    def __post_init__(self) -> None:
        assert self.kind in KINDS and self.format in READERS, (self.id, self.kind, self.format)
        if not self.domain:
            object.__setattr__(self, "domain", READERS[self.format].domain)


def damaged(fmt: str, damage: Callable[..., object] | None = None, **options) -> Build:
    """A healthy ``fmt`` source, then ``damage(root_of_the_source_files, path)``; ``options`` override
    the healthy options (None deletes one)."""
    def build(root: Path, world: Path):
        path, opts = healthy(fmt, root, world)
        opts = {**opts, **options}
        opts = {k: v for k, v in opts.items() if v is not None}
        if damage is not None:
            damage(root, path)
        return path, opts
    return build


# ------------------------------------------------------------------------------ healthy ---

def healthy(fmt: str, root: Path, world: Path) -> tuple[Path, dict]:
    """A small valid source of format ``fmt`` written under ``root``: ``(path, options)``. The TUM,
    LeRobot v3 and simulation-log sources are copies of the synthetic ``world``'s."""
    from tests import test_sources_manipulation as man
    from tests import test_sources_navigation as nav

    if fmt == "tum":
        shutil.copytree(world / "navigation", root, dirs_exist_ok=True)
        return root, {}
    if fmt == "lerobot_v3":
        shutil.copytree(world / "manipulation", root, dirs_exist_ok=True)
        return root, {}
    if fmt == "remot_sim_jsonl":
        shutil.copytree(world / "simulation", root, dirs_exist_ok=True)
        return root, {}
    if fmt == "kitti":
        nav.write_kitti(root)
        return root, {}
    if fmt == "euroc":
        nav.write_euroc(root)
        return root, {}
    if fmt == "realestate10k":
        nav.write_re10k(root)
        return root, {}
    if fmt == "nerf":
        nav.write_nerf(root)
        return root, {}
    if fmt == "scannet":
        nav.write_scannet(root)
        return root, {}
    if fmt == "sevenscenes":
        nav.write_7scenes(root)
        return root, {}
    if fmt == "pose_table":
        path, _ = nav.write_pose_table(root)
        return path, dict(nav.PT_OPTIONS)
    if fmt == "lerobot_v21":
        man.make_v21(root, {0: 8, 1: 6})
        return root, {}
    if fmt == "umi_v1":
        man.make_umi(root)
        return root, {"table": "csv"}
    if fmt == "robot_table":
        man.make_table(root, {"a": 8})
        return root, dict(man.TABLE_OPTIONS)
    if fmt == "sim_pose_table":
        man.make_carla(root)
        return root, dict(man.CARLA_OPTIONS)
    raise KeyError(fmt)


def make_world(root: Path) -> Path:
    """The small synthetic world the TUM, LeRobot v3 and simulation-log sources are copied from."""
    from remot_pipeline.synthetic import WorldConfig, generate_world

    generate_world(root, WorldConfig(episodes_per_domain=1, frames_per_episode=16))
    return root


# ------------------------------------------------------------------------------ generic ---

def _typo(word: str) -> str:
    """``word`` with one letter dropped from its middle (``max_time_diff_s`` -> ``max_time_dif_s``)."""
    i = len(word) // 2
    return word[:i] + word[i + 1:]


def _through_link(fmt: str) -> Build:
    def build(root: Path, world: Path):
        real = root / "real"
        real.mkdir()
        path, opts = healthy(fmt, real, world)
        (root / "link").symlink_to(real, target_is_directory=True)
        return root / "link" / path.relative_to(real), opts
    return build


def _relink_media(fmt: str, outside: bool) -> Build:
    """Replace the first image or video of a healthy source with a link to a copy of it, kept beside
    the source (outside its root) or in a folder inside it."""
    def build(root: Path, world: Path):
        path, opts = healthy(fmt, root, world)
        media = edits.first_media(root)
        keep = (root.parent / "outside" if outside else media.parent / ".linked") / media.name
        keep.parent.mkdir(exist_ok=True)
        shutil.move(media, keep)
        media.symlink_to(keep)
        return path, opts
    return build


#: Formats whose healthy source references images or videos (the media-link cases apply to them).
MEDIA_FORMATS = ("tum", "kitti", "euroc", "nerf", "scannet", "sevenscenes", "lerobot_v3", "remot_sim_jsonl",
                 "lerobot_v21", "umi_v1", "robot_table", "sim_pose_table")


def generic_cases() -> list[Case]:
    """The damages every format shares: a typo'd option, a wrong domain, ``options`` that is not a
    mapping, a path that does not exist, the root reached through a link, and (for formats with
    media) an image or video that is a link into or out of the root."""
    cases = []
    for fmt, r in sorted(READERS.items()):
        option = sorted(r.options)[0] if r.options else sorted(COMMON_OPTIONS)[0]
        wrong = next(d for d in DOMAINS if not r.serves(d))
        cases += [
            Case(f"{fmt}/option_typo", 7, fmt, damaged(fmt, **{_typo(option): 1}),
                 ConfigFails(f"did you mean `{option}`?")),
            Case(f"{fmt}/declared_for_{wrong}", 7, fmt, damaged(fmt), ConfigFails(f"not '{wrong}'"), domain=wrong),
            Case(f"{fmt}/options_is_a_list", 7, fmt, lambda root, world, fmt=fmt: (healthy(fmt, root, world)[0], ["fps"]),
                 ConfigFails("expected a mapping")),
            Case(f"{fmt}/path_missing", 2, fmt, lambda root, world, fmt=fmt: (root / "no_such_dir", healthy(fmt, root, world)[1]),
                 Fails("no_such_dir")),
            Case(f"{fmt}/root_through_a_link", 8, fmt, _through_link(fmt), Clean()),
        ]
        if fmt in MEDIA_FORMATS:
            cases += [
                Case(f"{fmt}/media_link_inside_root", 8, fmt, _relink_media(fmt, outside=False), Clean()),
                Case(f"{fmt}/media_link_out_of_root", 8, fmt, _relink_media(fmt, outside=True),
                     Codes(frozenset({"path_escapes_root"}))),
            ]
    return cases


# -------------------------------------------------------------------------- older corpora ---

def _kind_of(expect: str | frozenset) -> int:
    """The kind an older corpus case belongs to, from what it expects."""
    codes = {expect} if isinstance(expect, str) else set(expect)
    if any(c.startswith("SourceError") for c in codes) or codes & {"data_file_missing", "data_file_unreadable",
                                                                   "video_missing", "video_unreadable"}:
        return 2
    if codes & {"path_escapes_root"}:
        return 8
    if codes & {"frame_index_invalid", "video_short", "no_matching_frame"}:
        return 1
    if codes & {"timestamp_unsorted", "timestamp_duplicate", "timestamp_outlier"}:
        return 5
    if codes & {"malformed_line"}:
        return 4
    if codes & {"episode_unusable", "timestamp_nonfinite", "pose_malformed"}:
        return 9
    return 6


def older_cases() -> list[Case]:
    """The per-format corpora written before this one, in its terms."""
    from tests import test_sources_manipulation as man
    from tests import test_sources_navigation as nav

    cases = []
    for c in nav.CORPUS:
        expect = (Fails(c.expect.removeprefix("SourceError: ")) if c.expect.startswith("SourceError: ")
                  else Includes(c.expect, c.at))
        cases.append(Case(f"{c.format}/{c.id}", _kind_of(c.expect), c.format,
                          lambda root, world, c=c: c.build(root), expect))
    for c in man.CORPUS:
        expect = Fails(c.expect.removeprefix("SourceError:")) if isinstance(c.expect, str) else Codes(frozenset(c.expect))
        cases.append(Case(f"{c.fmt}/{c.name}", _kind_of(c.expect), c.fmt,
                          lambda root, world, c=c: (root, c.build(root) or {}), expect))
    return cases


@dataclass(frozen=True)
class Includes:
    """The quarantine holds ``code`` (first at ``at``) among others (the older navigation corpus)."""
    code: str
    at: tuple[str, int] | None = None


# -------------------------------------------------------------------------------- corpus ---

def all_cases() -> list[Case]:
    from tests.corpus import lerobot, nav_frames, nav_text, tables

    cases = [c for m in (nav_text, nav_frames, lerobot, tables) for c in m.CASES] + generic_cases() + older_cases()
    ids = [c.id for c in cases]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    assert not dupes, f"duplicate corpus ids: {dupes}"
    return cases


def not_applicable() -> dict[tuple[str, int], str]:
    """``(format, kind) -> why the kind cannot occur in that format``, declared by the format modules."""
    from tests.corpus import lerobot, nav_frames, nav_text, tables

    out = {}
    for m in (nav_text, nav_frames, lerobot, tables):
        out.update(m.NOT_APPLICABLE)
    return out


def run(case: Case, tmp: Path, world: Path) -> None:
    """Build ``case`` under ``tmp`` and assert its outcome (AssertionError says what differed)."""
    root = tmp / "src"
    root.mkdir(parents=True)
    path, options = case.build(root, world)
    exp = case.expect
    if isinstance(exp, ConfigFails):
        sources = tmp / "sources.yaml"
        entry = {"name": "bad", "domain": case.domain, "format": case.format, "path": str(path), "options": options}
        sources.write_text(yaml.safe_dump({"sources": [entry]}))
        try:
            load_sources_yaml(sources)
        except SourceError as exc:
            msg = str(exc)
            assert "\n" not in msg and str(sources) in msg and exp.text in msg, msg
            return
        raise AssertionError(f"{case.id}: the sources file was accepted")
    spec = SourceSpec("bad", case.domain, case.format, path, options)
    reads, failed = read_sources([spec])
    if isinstance(exp, Fails):
        assert len(failed) == 1 and not reads, (case.id, failed, len(reads))
        f = failed[0]
        assert f["kind"] == "source_error", f["error"]
        assert "\n" not in f["error"] and exp.text in f["error"], f["error"]
        return
    assert not failed, failed
    assert reads, case.id
    for r in reads:
        assert r.rows_in == r.n_frames + len(r.quarantine), (r.ref.episode_id, r.rows_in, r.n_frames, len(r.quarantine))
    rows = [row for r in reads for row in r.quarantine.table().to_pylist()]
    codes = [row["reason_code"] for row in rows]
    assert set(codes) <= set(REASON_CODES)
    for row in rows:
        assert row["file"] and row["episode_id"], row
        assert row["line"] is None or (isinstance(row["line"], int) and row["line"] >= 1), row
    summary = [(row["reason_code"], row["file"], row["line"], row["detail"]) for row in rows][:6]
    if isinstance(exp, Clean):
        assert not rows, summary
        if exp.rows is not None:
            assert sum(r.rows_in for r in reads) == exp.rows
    elif isinstance(exp, Blamed):
        assert len(rows) == exp.n and set(codes) == {exp.code}, (exp, summary)
        if exp.at:
            first = rows[0]
            assert first["file"].endswith(exp.at[0]) and first["line"] == exp.at[1], (exp.at, summary)
    elif isinstance(exp, Codes):
        assert set(codes) == set(exp.codes), (exp, summary)
    elif isinstance(exp, Includes):
        assert exp.code in codes, (exp, summary)
        if exp.at:
            first = next(row for row in rows if row["reason_code"] == exp.code)
            assert first["file"].endswith(exp.at[0]) and first["line"] == exp.at[1], (exp.at, summary)
    else:  # pragma: no cover
        raise TypeError(exp)


def coverage_table(cases: list[Case] | None = None) -> str:
    """Markdown: cases per format and kind; ``n/a`` where a kind cannot occur in a format."""
    cases = all_cases() if cases is None else cases
    na = not_applicable()
    head = "| format | " + " | ".join(str(k) for k in KINDS) + " | all |"
    out = [head, "|---|" + "---:|" * (len(KINDS) + 1)]
    for fmt in sorted(READERS):
        mine = [c for c in cases if c.format == fmt]
        cells = []
        for k in KINDS:
            n = sum(c.kind == k for c in mine)
            cells.append(str(n) if n else ("n/a" if (fmt, k) in na else "**0**"))
        out.append(f"| `{fmt}` | " + " | ".join(cells) + f" | {len(mine)} |")
    total = [str(sum(c.kind == k for c in cases)) for k in KINDS]
    out.append("| all | " + " | ".join(total) + f" | {len(cases)} |")
    return "\n".join(out)
