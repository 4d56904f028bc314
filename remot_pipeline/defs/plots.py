"""Plots and previews for asset metadata: PNGs embedded in Markdown, tables as Markdown."""

from __future__ import annotations

import base64
import io

import dagster as dg
import numpy as np
import pyarrow as pa


def _png_md(fig, title: str) -> dg.MetadataValue:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return dg.MetadataValue.md(f"![{title}](data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()})")


def magnitude_histograms(labelled: dict[str, pa.Table]) -> dg.MetadataValue:
    """|magnitude| per attribute, one panel per domain."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    domains = [d for d, t in labelled.items() if t.num_rows]
    fig, axes = plt.subplots(1, max(1, len(domains)), figsize=(4.5 * max(1, len(domains)), 3.2), squeeze=False)
    for ax, d in zip(axes[0], domains):
        t = labelled[d]
        attrs = t.column("attribute").to_numpy(zero_copy_only=False)
        mags = np.abs(t.column("magnitude").to_numpy())
        units = t.column("unit").to_numpy(zero_copy_only=False)
        for a in sorted(set(attrs)):
            sel = attrs == a
            ax.hist(mags[sel], bins=30, alpha=0.6, label=f"{a} ({units[sel][0]})")
        ax.set_title(f"{d}: labelled |magnitude|")
        ax.legend(fontsize=7)
    return _png_md(fig, "magnitude histograms")


def triplet_sheet(triplets: pa.Table, n: int = 4) -> dg.MetadataValue:
    """A few triplets as anchor | positive | negative anchor | negative rows; with ``clip_frames``
    > 2, each pair's frames between its two sit between them (the clips as they play)."""
    import cv2
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = triplets.slice(0, n).to_pylist()
    cells = []
    for t in rows:
        row = []
        for first, last in (("anchor", "positive"), ("negative_anchor", "negative")):
            inner = t.get(f"{last}_between_images") or []
            row += [(first, t[f"{first}_image"])]
            row += [(f"{last} clip {i + 1}/{len(inner)}", im) for i, im in enumerate(inner)]
            row += [(last, t[f"{last}_image"])]
        cells.append(row)
    width = max((len(r) for r in cells), default=4)
    fig, axes = plt.subplots(max(1, len(rows)), width, figsize=(3 * width, 2.4 * max(1, len(rows))), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for r, (t, row) in enumerate(zip(rows, cells)):
        for c, (role, image) in enumerate(row):
            img = cv2.imdecode(np.frombuffer(image["bytes"], np.uint8), cv2.IMREAD_COLOR)
            axes[r][c].imshow(img[:, :, ::-1])
            label = f": {t[f'{role}_value']} ({t[f'{role}_magnitude']:+.2f} {t['unit']})" if role in ("positive", "negative") else ""
            axes[r][c].set_title(f"{role}{label}", fontsize=8)
        axes[r][0].set_title(f"anchor ({t['attribute']}; negative: {t['negative_kind']})", fontsize=8)
    return _png_md(fig, "triplets")


def preview(table: pa.Table, n: int = 8) -> dg.MetadataValue:
    """First rows as a Markdown table, leaving out binary and long list columns."""
    keep = [f.name for f in table.schema
            if not pa.types.is_struct(f.type) and not pa.types.is_binary(f.type)
            and not (pa.types.is_list(f.type) and (f.name == "descriptor" or pa.types.is_struct(f.type.value_type)))]
    rows = table.select(keep).slice(0, n).to_pylist()
    if not rows:
        return dg.MetadataValue.md("_(empty)_")

    def fmt(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        if isinstance(v, list):
            return "[" + ", ".join(fmt(x) for x in v[:4]) + (", …]" if len(v) > 4 else "]")
        s = str(v).replace("|", "\\|").replace("\n", " ")
        return s if len(s) <= 60 else s[:57] + "…"

    head = "| " + " | ".join(keep) + " |\n|" + "---|" * len(keep) + "\n"
    return dg.MetadataValue.md(head + "\n".join("| " + " | ".join(fmt(r[k]) for k in keep) + " |" for r in rows))


def similarity_histograms(samples: dict[str, tuple]) -> dg.MetadataValue:
    """Per domain: similarity to the positive of retrieved negatives vs random frames."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    domains = [d for d, (r, _) in samples.items() if len(r)]
    fig, axes = plt.subplots(1, max(1, len(domains)), figsize=(4.5 * max(1, len(domains)), 3.0), squeeze=False)
    for ax, d in zip(axes[0], domains):
        retrieved, random_ = samples[d]
        bins = np.linspace(-1, 1, 41)
        ax.hist(random_, bins=bins, alpha=0.6, label=f"random frame (mean {np.mean(random_):.2f})")
        ax.hist(retrieved, bins=bins, alpha=0.6, label=f"retrieved negative (mean {np.mean(retrieved):.2f})")
        ax.set_title(f"{d}: cosine similarity to the positive")
        ax.legend(fontsize=7)
    return _png_md(fig, "retrieval vs random similarity")


def balance_bars(counts: pa.Table) -> dg.MetadataValue:
    """Triplets per (attribute, value), stacked by negative kind, one panel per domain."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = counts.to_pylist()
    domains = sorted({r["domain"] for r in rows})
    kinds = sorted({r["negative_kind"] for r in rows})
    fig, axes = plt.subplots(1, max(1, len(domains)), figsize=(5 * max(1, len(domains)), 3.4), squeeze=False)
    for ax, d in zip(axes[0], domains):
        labels = sorted({(r["attribute"], r["positive_value"]) for r in rows if r["domain"] == d})
        bottom = np.zeros(len(labels))
        for kind in kinds:
            n = np.array([sum(r["count_all"] for r in rows if r["domain"] == d and r["negative_kind"] == kind
                              and (r["attribute"], r["positive_value"]) == lab) for lab in labels])
            ax.bar(range(len(labels)), n, bottom=bottom, label=kind)
            bottom += n
        ax.set_xticks(range(len(labels)), [f"{a}\n{v}" for a, v in labels], fontsize=6, rotation=60)
        ax.set_title(f"{d}: triplets per attribute value")
        ax.legend(fontsize=7)
    return _png_md(fig, "triplet balance")


def question_distribution(questions: pa.Table) -> dg.MetadataValue:
    """Questions per type in each domain, and the answers of letter and true/false questions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = questions.select(["domain", "question_type", "parse_rule", "answer"]).to_pylist()
    domains = sorted({r["domain"] for r in rows})
    types = sorted({r["question_type"] for r in rows})
    fig, (ax_t, ax_a) = plt.subplots(1, 2, figsize=(11, 3.4))
    width = 0.8 / max(1, len(types))
    for i, qt in enumerate(types):
        n = [sum(r["domain"] == d and r["question_type"] == qt for r in rows) for d in domains]
        ax_t.bar(np.arange(len(domains)) + i * width, n, width, label=qt)
    ax_t.set_xticks(np.arange(len(domains)) + 0.4 - width / 2, domains)
    ax_t.set_title("questions per type")
    ax_t.legend(fontsize=7)
    answers = [("A", "choice_letter"), ("B", "choice_letter"), ("true", "true_false"), ("false", "true_false")]
    for i, d in enumerate(domains):
        n = [sum(r["domain"] == d and r["answer"] == a and r["parse_rule"] == rule for r in rows) for a, rule in answers]
        ax_a.bar(np.arange(len(answers)) + i * 0.8 / len(domains), n, 0.8 / len(domains), label=d)
    ax_a.set_xticks(np.arange(len(answers)) + 0.4 - 0.4 / max(1, len(domains)), [a for a, _ in answers])
    ax_a.set_title("answers: letters and true/false")
    ax_a.legend(fontsize=7)
    return _png_md(fig, "question distribution")


def training_curves(history: list[dict], title: str) -> dg.MetadataValue:
    """Loss per step (coloured by phase when the schedule has phases) and each reward's mean."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_l, ax_r) = plt.subplots(1, 2, figsize=(10, 3.2))
    train = [h for h in history if "loss" in h and "step" in h]
    for phase in sorted({h.get("phase", "train") for h in train}):
        pts = [(h["step"], h["loss"]) for h in train if h.get("phase", "train") == phase]
        ax_l.plot(*zip(*pts), "o-", ms=2, label=phase)
    ax_l.set_xlabel("step")
    ax_l.set_title(f"{title}: loss")
    if train:
        ax_l.legend(fontsize=7)
    keys = sorted({k for h in history for k in h if k.startswith("rewards/") and k.endswith("/mean")} | (
        {"reward"} if any("reward" in h for h in history) else set()))
    for k in keys:
        pts = [(h["step"], h[k]) for h in history if k in h and "step" in h]
        if pts:
            ax_r.plot(*zip(*pts), "o-", ms=2, label=k.removeprefix("rewards/").removesuffix("/mean"))
    ax_r.set_xlabel("step")
    ax_r.set_title(f"{title}: rewards" if keys else f"{title}: no rewards (SFT)")
    if keys:
        ax_r.legend(fontsize=7)
    return _png_md(fig, f"{title} curves")


def model_comparison(table: list[dict]) -> dg.MetadataValue:
    """Overall and Partial accuracy per model with 95% intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2))
    x = np.arange(len(table))
    for i, key in enumerate(("overall", "partial", "logical_consistency")):
        vals = [(r[key] or {}).get("value", np.nan) for r in table]
        lo = [max(0.0, v - (r[key] or {}).get("ci95", [v, v])[0]) for v, r in zip(vals, table)]
        hi = [max(0.0, (r[key] or {}).get("ci95", [v, v])[1] - v) for v, r in zip(vals, table)]
        ax.bar(x + (i - 1) * 0.27, vals, 0.27, yerr=[lo, hi], capsize=2, label=key)
    ax.set_xticks(x, [r["model"] for r in table])
    ax.set_ylim(0, 1)
    ax.set_title("remot-bench")
    ax.legend(fontsize=7)
    return _png_md(fig, "model comparison")


def shortcut_audit_plot(table: pa.Table) -> dg.MetadataValue:
    """Blind baselines' test accuracy per question type and family, against the majority's band
    (from the chance level to the Bonferroni upper bound); failed cells hatched and marked "fail",
    cells too small to judge faded. One panel per domain when the audit was split by domain."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = table.to_pylist()
    domains = sorted({r.get("domain", "all") for r in rows}, key=lambda d: (d != "all", d))
    fig, axes = plt.subplots(1, max(1, len(domains)), figsize=(6 * max(1, len(domains)), 3.4), squeeze=False)
    for ax, d in zip(axes[0], domains):
        cells = [r for r in rows if r.get("domain", "all") == d]
        types = list(dict.fromkeys(r["question_type"] for r in cells))
        families = list(dict.fromkeys(r["family"] for r in cells))
        width = 0.8 / max(1, len(families))
        for j, qt in enumerate(types):
            ref = next(r for r in cells if r["question_type"] == qt)
            low = ref.get("chance_accuracy", ref["majority_accuracy"])
            ax.fill_between([j - 0.45, j + 0.45], low, ref["upper_bound"], color="0.85", lw=0,
                            label="majority band" if j == 0 else None)
            ax.hlines(ref["majority_accuracy"], j - 0.45, j + 0.45, colors="0.3", lw=1,
                      label="majority" if j == 0 else None)
        for i, fam in enumerate(families):
            got = [(j, r) for j, qt in enumerate(types) for r in cells if r["question_type"] == qt
                   and r["family"] == fam and r["accuracy"] is not None and not np.isnan(r["accuracy"])]
            colour = f"C{i}"
            bars = ax.bar([j - 0.4 + (i + 0.5) * width for j, _ in got], [r["accuracy"] for _, r in got], width,
                          color=colour, linewidth=0)
            ax.bar([np.nan], [np.nan], color=colour, label=fam)  # a plain legend entry
            for bar, (_, r) in zip(bars, got):
                bar.set_alpha(1.0 if r["judged"] else 0.35)
                if not r["passed"]:
                    bar.set(edgecolor="black", linewidth=1.5, hatch="//")
                    ax.annotate("fail", (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center",
                                va="bottom", fontsize=6, color="red")
        ax.set_xticks(range(len(types)), [f"{qt}\n(n={next(r for r in cells if r['question_type'] == qt)['n_test']})"
                                          for qt in types], fontsize=7)
        ax.set_ylim(0, 1.1)
        ax.set_ylabel("test accuracy")
        ax.set_title(f"shortcut audit: {d}" if len(domains) > 1 else "shortcut audit (blind baselines)")
        ax.legend(fontsize=6, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.2))
    return _png_md(fig, "shortcut audit")
