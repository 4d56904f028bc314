"""The tiny Qwen3-VL: built offline around the real Qwen3-VL vocabulary, deterministic, image-only
processor, Thinking template."""

from __future__ import annotations

import pytest

from remot_train.model import (
    ImageOnlyQwen3VLProcessor,
    build_tiny_model,
    count_parameters,
    load,
    random_model,
)
from remot_train.trainers.toy import toy_row


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "m", seed=0, image_size=64)


def test_build_is_deterministic_per_seed(tiny, tmp_path):
    again = build_tiny_model(tmp_path / "again", seed=0, image_size=64)
    other = build_tiny_model(tmp_path / "other", seed=1, image_size=64)
    for name in ("model.safetensors", "tokenizer.json", "config.json", "processor_config.json"):
        assert (tiny / name).read_bytes() == (again / name).read_bytes(), name
    assert (tiny / "model.safetensors").read_bytes() != (other / "model.safetensors").read_bytes()
    assert (tiny / "tokenizer.json").read_bytes() == (other / "tokenizer.json").read_bytes()


def test_size_and_architecture(tiny):
    model, processor = load(tiny)
    embedding = model.get_input_embeddings().weight
    assert tuple(embedding.shape) == (151_936, 64)  # Qwen3-VL's vocabulary rows, tied with the LM head
    assert model.get_output_embeddings().weight.data_ptr() == embedding.data_ptr()
    n = count_parameters(model) - embedding.numel()
    assert 150_000 < n < 300_000, n
    text, vision = model.config.text_config, model.config.vision_config
    assert (text.hidden_size, text.num_hidden_layers) == (64, 2)
    assert (vision.depth, vision.hidden_size, vision.patch_size, vision.spatial_merge_size) == (2, 32, 16, 2)
    assert len(processor.tokenizer) == 151_669 <= text.vocab_size
    assert model.config.image_token_id == processor.tokenizer.convert_tokens_to_ids("<|image_pad|>") == 151_655


def test_overrides_change_the_model_and_unknown_keys_fail(tmp_path):
    model, _ = load(build_tiny_model(tmp_path / "wide", hidden_size=96, num_hidden_layers=1))
    assert (model.config.text_config.hidden_size, model.config.text_config.num_hidden_layers) == (96, 1)
    with pytest.raises(ValueError, match="unknown tiny-model overrides \\['hiden_size'\\]"):
        build_tiny_model(tmp_path / "bad", hiden_size=96)


def test_think_tags_are_single_non_special_tokens_and_answer_tags_are_text(tiny):
    _, processor = load(tiny)
    tok = processor.tokenizer
    for tag, real_id in (("<think>", 151_667), ("</think>", 151_668)):
        assert tok(tag, add_special_tokens=False)["input_ids"] == [real_id], tag
        assert tag not in tok.all_special_tokens
    for tag in ("<answer>", "</answer>"):
        assert len(tok(tag, add_special_tokens=False)["input_ids"]) == 3, tag
    text = "<think>\nleft\n</think>\n\n<answer>true</answer>"
    ids = tok(text + "<|im_end|>", add_special_tokens=False)["input_ids"]
    assert tok.decode(ids, skip_special_tokens=True) == text
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
    for special in ("<|im_start|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"):
        assert special in tok.all_special_tokens


def test_thinking_chat_template(tiny):
    _, processor = load(tiny)
    row = toy_row(0)
    prompt = processor.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=False)
    assert prompt.endswith("<|im_start|>assistant\n<think>\n")
    assert prompt.count("<|vision_start|><|image_pad|><|vision_end|>") == 2
    full = processor.apply_chat_template(row["prompt"] + row["completion"], tokenize=False)
    assert full.startswith(prompt) and full.endswith(f"<think>\n\n</think>\n\n<answer>{row['answer']}</answer><|im_end|>\n")
    plain = processor.apply_chat_template(row["prompt"] + [{"role": "assistant", "content": "<answer>A</answer>"}],
                                          tokenize=False)
    assert plain.startswith(prompt) and "<think>\n\n</think>\n\n<answer>A</answer>" in plain


def test_autoprocessor_returns_the_image_only_processor(tiny):
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny)
    assert isinstance(processor, ImageOnlyQwen3VLProcessor)
    assert getattr(processor, "video_processor", None) is None
    row = toy_row(1, size=64)
    text = processor.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=False)
    enc = processor(text=[text], images=row["images"], return_tensors="pt")
    image_id = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert enc["image_grid_thw"].tolist() == [[1, 4, 4], [1, 4, 4]]  # 64 px / patch 16
    assert int((enc["input_ids"] == image_id).sum()) == 8  # 4 tokens per image after the 2x2 merge


def test_tiny_model_generates_with_images(tiny):
    import torch

    model, processor = load(tiny)
    row = toy_row(2, size=64)
    text = processor.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=False)
    enc = processor(text=[text], images=row["images"], return_tensors="pt")
    with torch.inference_mode():
        out = model.generate(**enc, max_new_tokens=5, do_sample=False)
    assert out.shape == (1, enc["input_ids"].shape[1] + 5)


def test_load_gives_the_image_only_processor_for_a_stock_checkpoint_layout(tiny, tmp_path):
    """A real Qwen3-VL folder names the stock processor (which needs torchvision for its video
    processor) and carries video processor settings; load() still returns the image-only one."""
    import json
    import shutil

    stock = tmp_path / "stock"
    shutil.copytree(tiny, stock)
    config = json.loads((stock / "processor_config.json").read_text())
    (stock / "processor_config.json").unlink()
    image = {**config["image_processor"], "image_processor_type": "Qwen2VLImageProcessorFast",
             "processor_class": "Qwen3VLProcessor"}
    (stock / "preprocessor_config.json").write_text(json.dumps(image))
    video = {"video_processor_type": "Qwen3VLVideoProcessor", "processor_class": "Qwen3VLProcessor", "fps": 2}
    (stock / "video_preprocessor_config.json").write_text(json.dumps(video))
    template = (stock / "chat_template.jinja").read_text()
    (stock / "chat_template.jinja").unlink()
    (stock / "chat_template.json").write_text(json.dumps({"chat_template": template}))
    _, processor = load(stock)
    assert isinstance(processor, ImageOnlyQwen3VLProcessor) and processor.chat_template == template
    assert processor.image_processor.patch_size == 16


def test_load_names_the_path_and_the_fix(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="nowhere.*build_tiny_model"):
        load(missing)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not a model")
    with pytest.raises(FileNotFoundError, match="empty is not a model folder"):
        load(empty)


def test_full_size_qwen3_vl_4b_config_builds_on_meta():
    from remot_train.recipes import load_model_config

    model = random_model(load_model_config("qwen3-vl-4b-thinking"), device="meta")
    text, vision = model.config.text_config, model.config.vision_config
    assert (text.hidden_size, text.num_hidden_layers, text.num_attention_heads, text.num_key_value_heads) == (
        2560, 36, 32, 8)
    assert (text.intermediate_size, text.vocab_size) == (9728, 151936)
    assert text.rope_parameters["mrope_section"] == [24, 20, 20] and text.rope_parameters["rope_theta"] == 5_000_000
    assert (vision.depth, vision.hidden_size, vision.patch_size, vision.spatial_merge_size) == (24, 1024, 16, 2)
    assert (vision.out_hidden_size, list(vision.deepstack_visual_indexes)) == (2560, [5, 11, 17])
    assert 4.3e9 < count_parameters(model) < 4.6e9
