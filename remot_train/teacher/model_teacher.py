"""A frozen local VLM as the teacher, run through the tool loop (``tool_loop``).

The model is loaded from a local folder with :func:`remot_train.model.load` (the image-only
Qwen-VL processor; no hub access), or passed in already loaded. It is put in eval mode with
gradients off: the teacher is never trained. Generation is greedy by default, so the same
sample and rollouts give the same patch.

The model is **not shown the answer** unless ``sees_answer=True`` (a recipe's
``teacher_options: {sees_answer: true}``). Seen or not, every patch goes through the leakage guard
(``leak.check_leak``): a leaking patch is dropped and counted in ``stats["leak_drops"]``.

Any failure (a reply that is not JSON, a patch that breaks the schema, an exception in
generation) is a fallback: no patch, counted in ``stats["fallbacks"]``, never raised. A random
tiny model therefore always falls back, which is what the tests check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from remot_train.teacher.base import answer_option
from remot_train.teacher.tool_loop import ToolLoopTeacher


def _load(path: Path):
    try:
        from remot_train.model import load
    except ImportError:  # pragma: no cover - remot_train.model is part of the package
        from transformers import AutoModelForImageTextToText, AutoProcessor

        model = AutoModelForImageTextToText.from_pretrained(path, local_files_only=True)
        return model, AutoProcessor.from_pretrained(path, local_files_only=True)
    return load(path)


class ModelTeacher(ToolLoopTeacher):
    """A frozen local VLM teacher. Give ``path`` (a local checkpoint folder) or ``model`` and
    ``processor``. ``max_new_tokens`` bounds each reply; ``max_turns`` the tool loop; ``sees_answer``
    shows the model the correct answer (default off; the guard runs either way)."""

    def __init__(self, path: str | Path | None = None, model: Any = None, processor: Any = None,
                 max_new_tokens: int = 256, do_sample: bool = False, sees_answer: bool = False, **kwargs: Any) -> None:
        super().__init__(show_answer=answer_option(sees_answer, kwargs), **kwargs)
        if model is None or processor is None:
            if path is None:
                raise ValueError("ModelTeacher needs a local model path, or a loaded model and processor")
            model, processor = _load(Path(path).expanduser())
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        self.model, self.processor = model, processor
        self.max_new_tokens = max_new_tokens
        self.do_sample = do_sample

    def complete(self, messages: list[dict]) -> str:
        import torch

        images = [p["image"] for m in messages for p in m["content"] if p["type"] == "image"]
        chat = [{"role": m["role"],
                 "content": [{"type": "image"} if p["type"] == "image" else {"type": "text", "text": p["text"]}
                             for p in m["content"]]}
                for m in messages]
        text = self.processor.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        inputs = self.processor(text=[text], images=images or None, return_tensors="pt")
        inputs = inputs.to(self.model.device)
        with torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=self.do_sample)
        new = out[0, inputs["input_ids"].shape[1]:]
        return self.processor.decode(new, skip_special_tokens=True)
