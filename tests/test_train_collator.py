"""The SFT collator on the real Qwen3-VL vocabulary: processor inputs, and labels on the answer.

Every test here uses the real tokenizer (``<answer>`` is several tokens there), except where a
test names the small one to show that the collator does not depend on the vocabulary.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remot_train.collator import (
    IGNORE,
    AnswerSpanCollator,
    completion_labels,
    reasoning_end,
    split_prompt_completion,
    token_offsets,
)
from remot_train.model import build_tiny_model, load
from remot_train.tokenizer import build_qwen_tokenizer
from remot_train.trainers.toy import toy_rows


@pytest.fixture(scope="module")
def processor(tmp_path_factory):
    return load(build_tiny_model(tmp_path_factory.mktemp("tiny") / "m", image_size=64))[1]


@pytest.fixture(scope="module")
def qwen():
    return build_qwen_tokenizer()


def _kept(batch, i):
    labels = batch["labels"][i]
    return labels[labels != IGNORE].tolist()


def test_the_real_vocabulary_splits_the_answer_tag(processor):
    tok = processor.tokenizer
    assert len(tok) == 151_669 and tok.convert_tokens_to_ids("</think>") == 151_668
    assert tok.convert_ids_to_tokens(tok("<answer>A</answer>", add_special_tokens=False)["input_ids"]) == [
        "<", "answer", ">A", "</", "answer", ">"]


def test_labels_are_the_completion_after_an_empty_think_block(processor):
    rows = toy_rows(3, seed=10)
    batch = AnswerSpanCollator(processor)(rows)
    tok = processor.tokenizer
    for i, row in enumerate(rows):
        _, completion = split_prompt_completion(processor, row["prompt"], row["completion"])
        assert completion == f"\n</think>\n\n<answer>{row['answer']}</answer><|im_end|>\n"
        kept = _kept(batch, i)
        assert tok.decode(kept) == completion.removesuffix("\n")  # all but the newline after <|im_end|>
        assert kept[-1] == tok.convert_tokens_to_ids("<|im_end|>")
    # the prompt's own "<answer> </answer>" (the scaffold) stays masked
    assert "<answer> </answer>" in tok.decode(batch["input_ids"][0])


def test_include_think_trains_on_the_reasoning(processor):
    rows = toy_rows(2, seed=20, rationale=True)
    batch = AnswerSpanCollator(processor, include_think=True)(rows)
    for i, row in enumerate(rows):
        reasoning = row["completion"][0]["content"].split("</think>")[0].removeprefix("<think>\n").strip()
        kept = processor.tokenizer.decode(_kept(batch, i), skip_special_tokens=True)
        assert kept == f"{reasoning}\n</think>\n\n<answer>{row['answer']}</answer>"


def test_answer_only_refuses_a_label_stating_think_block_and_accepts_the_models_own(processor):
    rows = toy_rows(2, seed=25, rationale=True)
    with pytest.raises(ValueError, match="'q25'.*answer-only SFT.*the model would read that text"):
        AnswerSpanCollator(processor)(rows)
    for r in rows:
        r["rationale_source"] = "model"  # self-generated and kept only when right: context, not target
    batch = AnswerSpanCollator(processor)(rows)
    for i, row in enumerate(rows):
        kept = processor.tokenizer.decode(_kept(batch, i), skip_special_tokens=True)
        assert kept == f"\n</think>\n\n<answer>{row['answer']}</answer>"


def test_model_inputs_match_the_processor(processor):
    import torch

    rows = toy_rows(2, seed=30, size=64) + toy_rows(1, seed=40, size=32)  # 4 vs 1 tokens per image
    batch = AnswerSpanCollator(processor)(rows)
    n, width = batch["input_ids"].shape
    assert n == 3 and set(batch) == {"input_ids", "attention_mask", "mm_token_type_ids", "labels", "pixel_values",
                                     "image_grid_thw"}
    assert batch["image_grid_thw"].tolist() == [[1, 4, 4]] * 4 + [[1, 2, 2]] * 2
    assert batch["pixel_values"].shape[0] == int(batch["image_grid_thw"].prod(dim=1).sum())
    image_id = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert image_id == 151_655
    assert torch.equal(batch["mm_token_type_ids"] == 1, batch["input_ids"] == image_id)
    # right padding: the short row ends in pad tokens that are masked out and carry no label
    lengths = batch["attention_mask"].sum(dim=1)
    assert int(lengths[2]) < width and not batch["attention_mask"][2, -1]
    assert (batch["labels"][2, int(lengths[2]):] == IGNORE).all()
    # each row starts with exactly its prompt as the processor encodes it alone
    text = processor.apply_chat_template(rows[0]["prompt"], add_generation_prompt=True, tokenize=False)
    alone = processor(text=[text], images=rows[0]["images"], return_tensors="pt")["input_ids"][0]
    assert torch.equal(batch["input_ids"][0, : len(alone)], alone)
    assert (batch["labels"][0, : len(alone)] == IGNORE).all()


def test_loss_is_cross_entropy_over_the_kept_tokens(processor, tmp_path):
    import torch

    model, processor = load(build_tiny_model(tmp_path / "m", image_size=32))
    batch = AnswerSpanCollator(processor)(toy_rows(2, seed=50, size=32))
    with torch.no_grad():
        out = model(**batch)
    logits, labels = out.logits[:, :-1], batch["labels"][:, 1:]
    mask = labels != IGNORE
    manual = torch.nn.functional.cross_entropy(logits[mask], labels[mask])
    assert torch.allclose(out.loss, manual, atol=1e-5)


def test_completion_without_answer_names_the_row(processor):
    row = toy_rows(1, seed=60)[0]
    row["completion"] = [{"role": "assistant", "content": "<think>\n\n</think>\nno answer here"}]
    with pytest.raises(ValueError, match="'q60'.*no <answer>"):
        AnswerSpanCollator(processor)([row])


def test_the_small_vocabulary_gives_the_same_target_text(tmp_path):
    """The small tokenizer (single-token tags, for speed only) through the same code path."""
    _, small = load(build_tiny_model(tmp_path / "small", image_size=32, tokenizer="small"))
    rows = toy_rows(2, seed=70, size=32)
    batch = AnswerSpanCollator(small)(rows)
    for i, row in enumerate(rows):
        assert small.tokenizer.decode(_kept(batch, i), skip_special_tokens=True) == (
            f"\n</think>\n\n<answer>{row['answer']}</answer>")


class NoOffsets:
    """A tokenizer without an offset mapping (as slow tokenizers are): token_offsets decodes."""

    def __init__(self, tok):
        self.tok = tok

    def __call__(self, text, add_special_tokens=False, return_offsets_mapping=False):
        if return_offsets_mapping:
            raise NotImplementedError("no offsets")
        return self.tok(text, add_special_tokens=add_special_tokens)

    def decode(self, ids, **kw):
        return self.tok.decode(ids, **kw)


_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reasoning=_TEXT, answer=_TEXT, tail=st.sampled_from(["", "<|im_end|>", "<|im_end|>\n"]),
       include_think=st.booleans(), offsets=st.booleans())
def test_labels_cover_exactly_the_target_for_any_text(qwen, reasoning, answer, tail, include_think, offsets):
    """For any reasoning and answer text (unicode, stray tags, digits, newlines), the kept tokens
    are one contiguous run that covers the answer span, ends with the eos right after it, and
    holds no token lying wholly inside the reasoning (answer-only mode)."""
    answer = answer.replace("</answer>", "")
    text = f"{reasoning}\n</think>\n\n<answer>{answer}</answer>{tail}"
    ids, offs = token_offsets(qwen if offsets else NoOffsets(qwen), text)
    labels = completion_labels(ids, offs, text, {151645}, include_think)
    kept = [i for i, t in enumerate(labels) if t != IGNORE]
    assert kept == list(range(kept[0], kept[-1] + 1))
    assert all(labels[i] == ids[i] for i in kept)
    start = text.rfind("<answer>")
    covered = (offs[kept[0]][0], offs[kept[-1]][1])
    assert covered[0] <= start and covered[1] >= text.rfind("</answer>") + len("</answer>")
    if tail:
        assert ids[kept[-1]] == 151645
    if include_think:
        assert kept[0] == 0
    else:
        assert all(offs[i][1] > reasoning_end(text) for i in kept)
