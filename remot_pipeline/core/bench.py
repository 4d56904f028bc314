"""remot-bench: the release's test split, its disjointness from train, and its answer balance.

remot-bench is the ``split = 'test'`` part of a release (``bench_triplets_per_domain`` triplets per
domain, three questions each), frozen by ``release_id``. It must share no episode, no scene and
no near-duplicate frame with train. Near-duplicates are found with a 256-bit DCT perceptual hash
(pHash: the signs of the 16x16 lowest frequencies of the 64x64 grey image against their median):
two frames whose hashes differ in at most ``NEAR_DUPLICATE_BITS`` bits are near-duplicates.
Measured on the default synthetic world: a test frame's nearest other frame of its own episode
differs by a median of 4-12 bits, and the nearest train frame by at least 84. (A 64-bit pHash
separated them too poorly: 8-16 bits across splits against up to 16 within an episode.)
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pyarrow as pa

IMAGE_ROLES = ("anchor_image", "positive_image", "negative_anchor_image", "negative_image")
NEAR_DUPLICATE_BITS = 32
HASH_SIDE = 16  # DCT block side: 16 x 16 = 256 bits


def threaded(work, items, workers: int | None = None) -> None:
    """``work(item)`` for every item, over ``workers`` threads (default: the cores, at most 8; one
    item or one worker: in this thread). Work that runs outside the GIL (OpenCV, NumPy ufuncs)
    spreads over the cores; a worker's exception is raised here."""
    items = list(items)
    workers = workers or max(1, min(8, os.cpu_count() or 1))
    if workers == 1 or len(items) <= 1:
        for item in items:
            work(item)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(work, items))  # list(): re-raises a worker's error


def phash(jpegs: list[bytes], workers: int | None = None) -> np.ndarray:
    """256-bit pHash of each JPEG, as ``(n, 32)`` uint8 (packed bits), over ``workers`` threads
    (OpenCV decodes, resizes and transforms outside the GIL; default: the cores, at most 8).

    >>> img = cv2.imencode(".jpg", np.tile(np.arange(64, dtype=np.uint8) * 4, (48, 1)))[1].tobytes()
    >>> h = phash([img, img]); h.shape, bool((h[0] == h[1]).all())
    ((2, 32), True)
    """
    out = np.zeros((len(jpegs), HASH_SIDE * HASH_SIDE // 8), np.uint8)
    side = 4 * HASH_SIDE

    def work(start: int) -> None:
        for i in range(start, min(start + 256, len(jpegs))):
            grey = cv2.imdecode(np.frombuffer(jpegs[i], np.uint8), cv2.IMREAD_GRAYSCALE)
            if grey is None:
                raise ValueError(f"image {i} is not a decodable JPEG")
            small = cv2.resize(grey, (side, side), interpolation=cv2.INTER_AREA).astype(np.float32)
            low = cv2.dct(small)[:HASH_SIDE, :HASH_SIDE].ravel()
            bits = low > np.median(low[1:])
            bits[0] = False  # the DC term is brightness, not structure
            out[i] = np.packbits(bits)

    threaded(work, range(0, len(jpegs), 256), workers)
    return out


def min_hamming(a: np.ndarray, b: np.ndarray, block_elements: int = 1 << 22, workers: int | None = None) -> np.ndarray:
    """For each packed hash in ``a`` (n, k), the smallest Hamming distance to any in ``b`` (m, k).

    Blocked over both sides (at most ``block_elements`` words compared at once, a few tens of MB
    whatever n and m) and spread over ``workers`` threads (NumPy's ufuncs run outside the GIL).

    >>> min_hamming(np.array([[0b1011]], np.uint8), np.array([[0b0001], [0b1111]], np.uint8)).tolist()
    [1]
    """
    if len(b) == 0:
        return np.full(len(a), a.shape[1] * 8 if a.ndim == 2 else 0, np.int64)
    width = a.shape[1]
    if width % 8 == 0:  # compare 64-bit words: 8x fewer elements than bytes
        a, b = np.ascontiguousarray(a).view(np.uint64), np.ascontiguousarray(b).view(np.uint64)
    words = a.shape[1]
    b_block = max(1, min(len(b), block_elements // (64 * words)))
    a_block = max(1, block_elements // (b_block * words))
    out = np.full(len(a), np.iinfo(np.int64).max, np.int64)

    def work(s: int) -> None:
        best = out[s:s + a_block]
        for t in range(0, len(b), b_block):
            x = np.bitwise_xor(a[s:s + a_block, None, :], b[None, t:t + b_block, :])
            np.minimum(best, np.bitwise_count(x).sum(axis=2, dtype=np.int64).min(axis=1), out=best)

    threaded(work, range(0, len(a), a_block), workers)
    return out


def frame_hashes(triplets: pa.Table, image_chunks=None) -> dict[str, dict[tuple[str, int, bool], np.ndarray]]:
    """``{split: {(episode_id, frame_index, mirrored): packed phash}}`` over every triplet image.

    ``image_chunks``: an iterable of triplet tables (with images) read in place of ``triplets``,
    one at a time: each chunk's new frames are hashed before the next is read, so only hashes
    accumulate, never JPEGs."""
    out: dict[str, dict] = {}
    columns = ["split", "episode_id", "negative_episode_id", "anchor_frame_index", "positive_frame_index",
               "negative_anchor_frame_index", "negative_frame_index", "negative_transform", *IMAGE_ROLES]
    for chunk in ([triplets] if image_chunks is None else image_chunks):
        new: dict[str, dict] = {}
        for row in chunk.select(columns).to_pylist():
            for role in IMAGE_ROLES:
                prefix = role.removesuffix("_image")
                episode = row["negative_episode_id"] if prefix.startswith("negative") else row["episode_id"]
                mirrored = prefix.startswith("negative") and row["negative_transform"] == "hflip"
                key = (episode, row[f"{prefix}_frame_index"], mirrored)
                if key not in out.get(row["split"], {}) and key not in new.setdefault(row["split"], {}):
                    new[row["split"]][key] = row[role]["bytes"]
        for s, frames in new.items():
            out.setdefault(s, {}).update(zip(frames, phash(list(frames.values()))))
    return out


def disjointness(triplets: pa.Table, episodes: pa.Table, max_bits: int = NEAR_DUPLICATE_BITS,
                 image_chunks=None) -> dict:
    """What the test split shares with train: episodes, scenes, near-duplicate frames
    (``image_chunks``: the triplets with their images, a chunk at a time, see :func:`frame_hashes`).

    Returns counts and examples; ``passed`` when all three are zero.
    """
    split_of = dict(zip(episodes.column("episode_id").to_pylist(), episodes.column("split").to_pylist()))
    scene_of = dict(zip(episodes.column("episode_id").to_pylist(), episodes.column("scene_id").to_pylist()))
    used: dict[str, set[str]] = {"train": set(), "test": set()}
    for col in ("episode_id", "negative_episode_id"):
        for e, s in zip(triplets.column(col).to_pylist(), triplets.column("split").to_pylist()):
            used[s].add(e)
    shared_episodes = sorted(used["train"] & used["test"])
    scenes = {s: {scene_of.get(e, e) for e in used[s]} for s in used}
    shared_scenes = sorted(scenes["train"] & scenes["test"])
    hashes = frame_hashes(triplets, image_chunks)
    test_keys = list(hashes.get("test", {}))
    width = HASH_SIDE * HASH_SIDE // 8
    test_h = np.array([hashes["test"][k] for k in test_keys], np.uint8).reshape(-1, width)
    train_h = np.array(list(hashes.get("train", {}).values()), np.uint8).reshape(-1, width)
    dist = min_hamming(test_h, train_h)
    near = [f"{k[0]}#{k[1]}{'|hflip' if k[2] else ''}" for k, d in zip(test_keys, dist) if d <= max_bits]
    mislabelled = sorted(e for e in used["test"] if split_of.get(e, "test") != "test")
    return {
        "passed": not (shared_episodes or shared_scenes or near or mislabelled),
        "shared_episodes": shared_episodes, "shared_scenes": shared_scenes,
        "near_duplicate_frames": near, "test_episodes_not_in_test_split": mislabelled,
        "test_frames": len(test_h), "train_frames": len(train_h), "near_duplicate_max_bits": max_bits,
        "min_hamming_test_to_train": int(dist.min()) if len(dist) else None,
        "median_hamming_test_to_train": float(np.median(dist)) if len(dist) else None,
    }


def answer_balance(questions: pa.Table) -> dict:
    """Letter uniformity (chi-square p over A/B of every letter answer) and the true share."""
    from scipy.stats import chisquare

    rules = questions.column("parse_rule").to_pylist()
    answers = questions.column("answer").to_pylist()
    letters = [a for a, r in zip(answers, rules) if r == "choice_letter"]
    tf = [a for a, r in zip(answers, rules) if r == "true_false"]
    counts = [letters.count("A"), letters.count("B")]
    return {
        "letter_counts": dict(zip("AB", counts)),
        "letter_chi2_p": float(chisquare(counts).pvalue) if sum(counts) else None,
        "true_share": tf.count("true") / len(tf) if tf else None,
        "n_true_false": len(tf),
    }


def composition(questions: pa.Table) -> pa.Table:
    """Questions per (domain, split, question_type, parse_rule)."""
    keys = ["domain", "split", "question_type", "parse_rule"]
    return questions.select(keys).group_by(keys).aggregate([([], "count_all")]).sort_by([(k, "ascending") for k in keys])


def constant_answer_baselines(questions: pa.Table) -> pa.Table:
    """Per (domain, attribute): the best constant numeric answer chosen on train, and its mean
    relative accuracy on remot-bench (``remot_train.scoring.constant_answer_baseline``). What a
    model that ignores the images scores on the numeric blanks."""
    from remot_train.scoring import constant_answer_baseline

    rows = [r for r in questions.select(["domain", "attribute", "split", "parse_rule", "answer"]).to_pylist()
            if r["parse_rule"] == "number_mra"]
    groups: dict[tuple[str, str], dict[str, list[float]]] = {}
    for r in rows:
        groups.setdefault((r["domain"], r["attribute"]), {"train": [], "test": []})[r["split"]].append(
            float(r["answer"].split()[0]))
    out = []
    for (d, a), g in sorted(groups.items()):
        if g["train"] and g["test"]:
            b = constant_answer_baseline(np.asarray(g["train"]), np.asarray(g["test"]))
            unit = next(r["answer"].split()[1] for r in rows if (r["domain"], r["attribute"]) == (d, a))
            out.append({"domain": d, "attribute": a, "constant": f"{b['constant']:.3g} {unit}",
                        "n_test": len(g["test"]), "test_mra": round(float(b["test_mra"]), 4)})
    return pa.Table.from_pylist(out) if out else pa.table({"domain": pa.array([], pa.string())})
