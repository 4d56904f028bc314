"""Manipulation phases from the gripper and height signals, per frame, then per pair.

Per frame (velocities by central differences over ``window_s``; widths in metres, heights in
the robot base frame):

* ``grasp``: the gripper is closing (width falling faster than ``width_rate_m_s``);
* ``place``: the gripper is opening, or it is closed and the end effector descends;
* ``lift``: the gripper is closed and the end effector rises (faster than ``height_rate_m_s``);
* ``approach``: the gripper is open and the end effector moves (but does not rise);
* otherwise no phase (a hold, or a closed gripper moving sideways).

"Closed" means narrower than the episode's widest opening minus ``closed_margin_m``.

A pair ``(a, b)`` gets the phase that covers at least ``min_fraction`` of the frames between
them (prefix sums: O(1) per pair), provided it lasts at least the pair configuration's
``min_phase_s`` (default 0.6 s: shorter pairs cannot show a phase), else none. Its gripper is
*holding* when it is closed at both ends and its width changed by less than ``holding_tol_m``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PHASES = ("approach", "grasp", "lift", "place")


@dataclass(frozen=True)
class PhaseConfig:
    window_s: float = 0.2
    width_rate_m_s: float = 0.02
    height_rate_m_s: float = 0.03
    move_rate_m_s: float = 0.03
    closed_margin_m: float = 0.01
    min_fraction: float = 0.8
    holding_tol_m: float = 0.002


def _rate(values: np.ndarray, ts: np.ndarray, window_s: float) -> np.ndarray:
    """Central-difference rate over about ``window_s`` (one-sided at the ends)."""
    n = len(values)
    dt = np.median(np.diff(ts)) if n > 1 else 1.0
    k = max(1, int(round(window_s / 2 / dt)))
    i = np.arange(n)
    lo, hi = np.clip(i - k, 0, n - 1), np.clip(i + k, 0, n - 1)
    return (values[hi] - values[lo]) / np.maximum(ts[hi] - ts[lo], 1e-9)


def frame_phases(timestamps_s: np.ndarray, gripper_width_m: np.ndarray, ee_pos_base_m: np.ndarray,
                 cfg: PhaseConfig = PhaseConfig()) -> np.ndarray:
    """Phase index per frame into :data:`PHASES`, or -1.

    >>> t = np.arange(8) * 0.1
    >>> w = np.array([.08, .08, .08, .06, .04, .04, .04, .04])
    >>> z = np.array([.30, .25, .20, .20, .20, .25, .30, .35])
    >>> [PHASES[p] if p >= 0 else "-" for p in frame_phases(t, w, np.c_[np.zeros(8), np.zeros(8), z])]
    ['approach', 'approach', 'grasp', 'grasp', 'grasp', 'lift', 'lift', 'lift']
    """
    ts = np.asarray(timestamps_s, dtype=np.float64)
    w = np.asarray(gripper_width_m, dtype=np.float64)
    p = np.asarray(ee_pos_base_m, dtype=np.float64)
    dw = _rate(w, ts, cfg.window_s)
    v = np.stack([_rate(p[:, j], ts, cfg.window_s) for j in range(3)], axis=1)
    speed, vz = np.linalg.norm(v, axis=1), v[:, 2]
    closed = w < np.nanmax(w) - cfg.closed_margin_m
    phase = np.full(len(ts), -1, dtype=np.int64)
    moving = speed > cfg.move_rate_m_s
    phase[~closed & moving & (vz <= cfg.height_rate_m_s)] = 0  # approach
    phase[closed & (vz < -cfg.height_rate_m_s)] = 3  # place: descending with the object
    phase[closed & (vz > cfg.height_rate_m_s)] = 2  # lift
    phase[dw > cfg.width_rate_m_s] = 3  # place: releasing
    phase[dw < -cfg.width_rate_m_s] = 1  # grasp: closing
    return phase


def pair_phases(phase: np.ndarray, a: np.ndarray, b: np.ndarray, min_fraction: float,
                timestamps_s: np.ndarray | None = None, min_duration_s: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """``(phase index or -1, fraction of the pair's frames in it)`` for pairs spanning [min, max].

    With ``timestamps_s``, a pair shorter than ``min_duration_s`` gets no phase (-1): its two
    frames are too close in time to show one.

    >>> p = np.array([0, 0, 0, 0, 0, 1])
    >>> pair_phases(p, np.array([0, 0]), np.array([2, 4]), 0.8, np.arange(6) * 0.2, 0.6)[0].tolist()
    [-1, 0]
    """
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    span = (hi - lo + 1).astype(np.float64)
    counts = np.stack([np.concatenate([[0], np.cumsum(phase == k)]) for k in range(len(PHASES))])  # (P, F+1)
    inside = counts[:, hi + 1] - counts[:, lo]  # (P, N)
    best = np.argmax(inside, axis=0)
    fraction = inside[best, np.arange(len(lo))] / span
    ok = fraction >= min_fraction
    if timestamps_s is not None:
        ts = np.asarray(timestamps_s, dtype=np.float64)
        ok &= np.abs(ts[hi] - ts[lo]) >= min_duration_s - 1e-6  # float32 timestamps
    return np.where(ok, best, -1), fraction


def holding(gripper_width_m: np.ndarray, a: np.ndarray, b: np.ndarray, cfg: PhaseConfig = PhaseConfig()) -> np.ndarray:
    """Whether the gripper is closed at both ends of each pair and its width barely changed."""
    w = np.asarray(gripper_width_m, dtype=np.float64)
    closed = w < np.nanmax(w) - cfg.closed_margin_m
    return closed[a] & closed[b] & (np.abs(w[b] - w[a]) < cfg.holding_tol_m)
