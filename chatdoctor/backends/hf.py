"""The ``hf`` backend: a local transformers causal LM (+ peft adapter), streamed from a worker thread.

Generation never runs on the caller's thread: ``model.generate`` runs on a worker and a streamer
puts each decoded piece on a queue; a stopping criterion watches the caller's cancel event (finish "abort") and
our own halt event (set when a stop string appears or the caller stops reading). One generation runs
at a time per loaded model. ChatGLM-6B/2/3 remote-code checkpoints use their own ``stream_chat``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

from chatdoctor.backends.base import Backend, register_backend
from chatdoctor.backends.hf_load import Loaded, load
from chatdoctor.backends.stops import StopMatcher
from chatdoctor.config import ChatConfig
from chatdoctor.errors import InputTooLong
from chatdoctor.templates import get_template, render, split_system
from chatdoctor.types import Delta, FinishReason, GenParams, Message, as_messages

_END = object()


def _halting(*events: threading.Event | None) -> Any:
    """A ``StoppingCriteriaList`` that stops as soon as any of ``events`` is set."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    watched = [e for e in events if e is not None]

    class Halt(StoppingCriteria):
        def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
            stop = any(e.is_set() for e in watched)
            return torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([Halt()])


def _queue_streamer(tokenizer: Any, out: queue.Queue) -> Any:
    """A ``TextStreamer`` that puts each new piece of the reply on ``out`` as soon as it decodes cleanly.

    transformers' own streamers wait for a space before flushing, which holds back whole sentences of
    Chinese-free, space-free text; we flush every token unless it ends inside a multi-byte character.
    """
    from transformers import TextStreamer

    class QueueStreamer(TextStreamer):
        def put(self, value: Any) -> None:
            if self.skip_prompt and self.next_tokens_are_prompt:
                self.next_tokens_are_prompt = False
                return
            self.token_cache.extend(value.reshape(-1).tolist())
            text = self.tokenizer.decode(self.token_cache, **self.decode_kwargs)
            if text.endswith("\ufffd"):
                return  # wait for the rest of the character
            self.on_finalized_text(text[self.print_len :])
            self.print_len = len(text)
            if text.endswith("\n"):  # keep re-decoding cheap, as TextStreamer does
                self.token_cache, self.print_len = [], 0

        def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
            if text:
                out.put(text)

    return QueueStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)


def _failure(exc: BaseException) -> str:
    if "out of memory" in str(exc).lower():
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        return "the model ran out of GPU memory: shorten the conversation or lower max_new_tokens"
    return f"generation failed: {type(exc).__name__}: {exc}"


class HFBackend(Backend):
    """A transformers model loaded from a local directory."""

    name = "hf"

    def __init__(self, config: ChatConfig, loaded: Loaded | None = None) -> None:
        self.config = config
        self.loaded = loaded or load(config)
        self.model, self.tokenizer = self.loaded.model, self.loaded.tokenizer
        self.template_name = self.loaded.template
        self.template = get_template(self.template_name)
        self._lock = threading.Lock()
        model_type = getattr(self.model.config, "model_type", "")
        self._remote_chatglm = (
            config.trust_remote_code and model_type == "chatglm" and hasattr(self.model, "stream_chat")
        )
        self._stop_ids = self._special_stop_ids()

    def _special_stop_ids(self) -> list[int]:
        """EOS ids of the model plus the template's stop strings that are single special tokens."""
        tok = self.tokenizer
        eos = self.model.generation_config.eos_token_id
        ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        if tok.eos_token_id is not None:
            ids.add(tok.eos_token_id)
        special = set(tok.all_special_tokens) | set(tok.get_added_vocab())
        ids.update(tok.convert_tokens_to_ids(s) for s in self.template.stop_strings if s in special)
        return sorted(i for i in ids if i is not None)

    @property
    def context_window(self) -> int | None:
        cfg = self.model.config
        return (
            self.config.context_window
            or getattr(cfg, "max_position_embeddings", None)
            or getattr(cfg, "seq_length", None)
        )

    def count_tokens(self, messages: list[Message]) -> int | None:
        text = render(self.template, as_messages(messages))
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _room(self, prompt_len: int, max_new_tokens: int) -> int:
        """``max_new_tokens`` clamped to what the context window leaves after the prompt."""
        window = self.context_window
        if window is None:
            return max_new_tokens
        if prompt_len >= window:
            raise InputTooLong(
                f"the prompt is {prompt_len} tokens but the model's context window is {window}: "
                "shorten the conversation (the chat engine drops old turns for you)"
            )
        return min(max_new_tokens, window - prompt_len)

    def describe(self) -> dict[str, str]:
        info = {"backend": self.name, "model": str(self.loaded.model_dir), "template": self.template_name}
        info.update(device=self.loaded.device, dtype=self.loaded.dtype)
        if self.config.adapter:
            info["adapter"] = str(self.config.adapter)
        return info

    def stream_chat(
        self, messages: list[Message], params: GenParams, cancel: threading.Event | None = None
    ) -> Iterator[Delta]:
        messages = as_messages(messages)
        if self._remote_chatglm:
            yield from self._stream(self._remote_worker(messages, params), params, cancel, cumulative=True)
            return
        yield from self._stream(self._generate_worker(messages, params), params, cancel, cumulative=False)

    def _generate_worker(self, messages: list[Message], params: GenParams) -> Callable:
        """A worker running ``model.generate`` for this prompt, pushing decoded text into a queue."""
        import torch
        from transformers import GenerationConfig

        enc = self.tokenizer(render(self.template, messages), return_tensors="pt", add_special_tokens=False)
        enc = enc.to(self.model.device)
        prompt_len = enc["input_ids"].shape[1]
        limit = self._room(prompt_len, params.max_new_tokens)
        sampling = params.temperature > 0
        gen = GenerationConfig(
            max_new_tokens=limit,
            do_sample=sampling,
            temperature=params.temperature if sampling else None,
            top_p=params.top_p if sampling else None,
            top_k=params.top_k if sampling and params.top_k > 0 else None,
            repetition_penalty=params.repetition_penalty,
            eos_token_id=self._stop_ids or None,
            pad_token_id=self.tokenizer.pad_token_id
            if self.tokenizer.pad_token_id is not None
            else (self._stop_ids or [None])[0],
        )

        def work(out: queue.Queue, halt: threading.Event, cancel: threading.Event | None) -> dict:
            with self._lock, torch.inference_mode():
                if params.seed is not None:
                    torch.manual_seed(params.seed)
                ids = self.model.generate(
                    **enc,
                    generation_config=gen,
                    streamer=_queue_streamer(self.tokenizer, out),
                    stopping_criteria=_halting(halt, cancel),
                )[0, prompt_len:].tolist()
            hit_eos = bool(ids) and ids[-1] in self._stop_ids
            return {"tokens": len(ids), "eos": hit_eos, "limit": limit}

        return work

    def _remote_worker(self, messages: list[Message], params: GenParams) -> Callable:
        """A worker over THUDM's ``model.stream_chat`` (cumulative text), history in its native shape."""
        system, turns = split_system(self.template, messages)
        query = turns[-1].content
        pairs = [(turns[i].content, turns[i + 1].content) for i in range(0, len(turns) - 1, 2)]
        if hasattr(self.tokenizer, "build_chat_input"):  # ChatGLM3: role dicts, a system role
            history: list = [{"role": "system", "content": system}] if system else []
            for q, a in pairs:
                history += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        else:  # ChatGLM-6B / ChatGLM2: (query, response) pairs, no system slot
            if system:
                pairs = [(f"{system}\n\n{pairs[0][0]}", pairs[0][1]), *pairs[1:]] if pairs else pairs
                query = query if pairs else f"{system}\n\n{query}"
            history = pairs
        prompt_len = self.count_tokens(messages) or 0
        limit = self._room(prompt_len, params.max_new_tokens)
        max_length = prompt_len + limit  # ChatGLM's max_length counts prompt + output

        def work(out: queue.Queue, halt: threading.Event, cancel: threading.Event | None) -> dict:
            text = ""
            with self._lock:
                for item in self.model.stream_chat(
                    self.tokenizer,
                    query,
                    history,
                    max_length=max_length,
                    do_sample=params.temperature > 0,
                    top_p=params.top_p,
                    temperature=max(params.temperature, 1e-2),
                    stopping_criteria=_halting(halt, cancel),
                ):
                    text = item[0] if isinstance(item, tuple) else item
                    if isinstance(text, str):
                        out.put(text)
            n = len(self.tokenizer(text, add_special_tokens=False)["input_ids"]) if text else 0
            return {"tokens": n, "eos": n < limit, "limit": limit}

        return work

    def _stream(
        self, work: Callable, params: GenParams, cancel: threading.Event | None, cumulative: bool
    ) -> Iterator[Delta]:
        """Run ``work`` on a thread; turn its queued text into deltas, honouring stops and cancel."""
        out: queue.Queue = queue.Queue()
        halt = threading.Event()
        result: dict[str, Any] = {}

        def run() -> None:
            try:
                result.update(work(out, halt, cancel))
            except BaseException as exc:
                result["error"] = exc
            finally:
                out.put(_END)

        thread = threading.Thread(target=run, name="chatdoctor-hf-generate", daemon=True)
        matcher = StopMatcher([*self.template.stop_strings, *params.stop])
        seen = ""
        thread.start()
        try:
            while (item := out.get()) is not _END:
                if cumulative:
                    item, seen = item[len(seen) :], item
                if text := matcher.feed(item):
                    yield Delta(text)
                if matcher.stopped or (cancel is not None and cancel.is_set()):
                    halt.set()
            if tail := matcher.flush():
                yield Delta(tail)
            yield self._finish(result, matcher, params, cancel)
        finally:
            halt.set()  # the caller stopped reading: stop generating too
            thread.join()

    @staticmethod
    def _finish(
        result: dict, matcher: StopMatcher, params: GenParams, cancel: threading.Event | None
    ) -> Delta:
        reason: FinishReason = "stop"
        if "error" in result:
            return Delta(finish_reason="error", error=_failure(result["error"]))
        if matcher.stopped:
            reason = "stop"
        elif cancel is not None and cancel.is_set():
            reason = "abort"
        elif not result.get("eos") and result.get("tokens", 0) >= result.get("limit", params.max_new_tokens):
            reason = "length"
        return Delta(finish_reason=reason)

    def close(self) -> None:
        import gc

        self.model = self.loaded.model = None
        gc.collect()
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()


@register_backend("hf")
def create_hf_backend(config: ChatConfig) -> HFBackend:
    """Load ``config.model`` (+ ``config.adapter``) with transformers."""
    return HFBackend(config)
