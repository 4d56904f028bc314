"""The SFT collator: processor inputs, and labels on the <answer> span only."""

from __future__ import annotations

import pytest

from remot_train.collator import IGNORE, AnswerSpanCollator
from remot_train.model import build_tiny_model, load
from remot_train.trainers.toy import toy_rows


@pytest.fixture(scope="module")
def processor(tmp_path_factory):
    return load(build_tiny_model(tmp_path_factory.mktemp("tiny") / "m", image_size=64))[1]


def _kept(batch, i):
    labels = batch["labels"][i]
    return labels[labels != IGNORE].tolist()


def test_unmasked_labels_are_exactly_the_answer_span(processor):
    rows = toy_rows(3, seed=10)
    batch = AnswerSpanCollator(processor)(rows)
    tok = processor.tokenizer
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    for i, row in enumerate(rows):
        span = f"<answer>{row['answer']}</answer>"
        kept = _kept(batch, i)
        assert kept == tok(span, add_special_tokens=False)["input_ids"] + [im_end]
        assert tok.decode(kept, skip_special_tokens=True) == span
    # the prompt's own "<answer> </answer>" (the scaffold) stays masked
    assert "<answer> </answer>" in tok.decode(batch["input_ids"][0])


def test_include_think_keeps_the_reasoning(processor):
    rows = toy_rows(2, seed=20)
    batch = AnswerSpanCollator(processor, include_think=True)(rows)
    for i, row in enumerate(rows):
        expected = row["completion"][0]["content"].removeprefix("<think>\n")
        assert processor.tokenizer.decode(_kept(batch, i), skip_special_tokens=True) == expected


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


def test_loss_is_cross_entropy_over_the_span(processor, tmp_path):
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
    row["completion"] = [{"role": "assistant", "content": "<think>\nno answer here\n</think>"}]
    with pytest.raises(ValueError, match="'q60'.*no <answer>"):
        AnswerSpanCollator(processor)([row])
