"""Prompt templates as data: a frozen ``Template`` plus pure ``render`` and ``segments``.

A conversation is an optional system message, then user/assistant turns alternating, starting with
a user turn. Rendering lays it out as::

    prefix  [system]  user_1  assistant_prefix  reply_1  separator  user_2  assistant_prefix  ...

Special tokens are part of the text: BOS (``<s>``, ``<|begin_of_text|>``, ``[gMASK]sop``) sits in
``prefix`` exactly once, and each reply ends with its end-of-turn marker (``</s>``, ``<|eot_id|>``).
Tokenise rendered text and segments with ``add_special_tokens=False`` so nothing is added twice.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from chatdoctor.errors import DataError
from chatdoctor.registry import Registry
from chatdoctor.types import Message, as_messages

_FIELD = re.compile(r"\{(content|idx)\}")


@dataclass(frozen=True)
class Template:
    """One model family's chat format; data only, no chat state."""

    name: str
    description: str
    user_format: str  # one user turn: ``{content}`` and optionally ``{idx}`` (the round number)
    assistant_format: str = "{content}"  # one reply, including its end-of-turn marker (trained)
    assistant_prefix: str = ""  # the header before each reply; the generation prompt (not trained)
    prefix: str = ""  # start of the text: the BOS token(s), written once
    system: str = ""  # default system prompt, used when the conversation has none
    system_format: str = "{content}"  # how a non-empty system prompt is written
    system_placement: Literal["start", "first_user"] = "start"  # after prefix, or inside the first user turn
    separator: str = ""  # between a reply and the next user turn
    round_start: int = 0  # ``{idx}`` of the first round
    single_turn_format: str | None = None  # used instead of user_format when there is one user turn
    final_prefix: str = ""  # before the last reply / generation only (ChatGLM-6B's ``[gMASK]<sop>``)
    end_of_conversation: str = ""  # after the last reply only (GLM's EOS), trained with it
    bos: str = ""  # the BOS token string contained in ``prefix`` ("" when the family has none)
    eos: str = ""  # the token string that ends a reply in training
    stop_strings: tuple[str, ...] = ()  # generation stops at any of these (not included in output)
    instruction: str | None = None  # a fixed instruction the template already contains (chatdoctor)
    input_format: str = "{instruction}\n\n{input}"  # instruction + input → one user turn
    system_with_input: str | None = None  # default system prompt for records with an input (Alpaca)


@dataclass(frozen=True)
class Segment:
    """A piece of rendered text; ``train`` is True for assistant replies (labels), False for prompts."""

    text: str
    train: bool


#: name -> Template. Built-ins register through ``register_template`` like everyone else.
TEMPLATES: Registry[Template] = Registry("template")


def register_template(template: Template) -> Template:
    """Add a template to the registry (refuses a duplicate name)."""
    return TEMPLATES.register(template.name, template)


def get_template(name: str) -> Template:
    """The registered template called ``name`` (the error lists the known names)."""
    return TEMPLATES.get(name)


def fill(fmt: str, **values: str | int) -> str:
    """Substitute ``{content}``/``{idx}`` only, so other braces in a format stay literal."""
    return _FIELD.sub(lambda m: str(values[m.group(1)]), fmt)


def split_system(template: Template, messages: Sequence[Message | dict]) -> tuple[str, list[Message]]:
    """The system prompt (the template's default when absent) and the alternating turns after it."""
    msgs = as_messages(list(messages))
    system = template.system
    has_system = bool(msgs) and msgs[0].role == "system"
    if has_system:
        system, msgs = msgs[0].content, msgs[1:]
    for i, m in enumerate(msgs):
        want = "user" if i % 2 == 0 else "assistant"
        if m.role != want:
            raise DataError(
                f"expected a {want} turn (conversations alternate user/assistant after an optional "
                f"leading system message), got {m.role!r}",
                field=f"messages[{i + int(has_system)}].role",
            )
    return system, msgs


def segments(template: Template, messages: Sequence[Message | dict]) -> list[Segment]:
    """Split a conversation into prompt (train=False) and reply (train=True) segments.

    Joining the texts gives ``render(template, messages, add_generation_prompt=False)``; when the
    conversation ends with a user turn the last segment is that prompt without the generation header.
    """
    system, turns = split_system(template, messages)
    n_users = sum(1 for m in turns if m.role == "user")
    out: list[Segment] = []
    prompt = template.prefix
    if system and template.system_placement == "start":
        prompt += fill(template.system_format, content=system)
    for i, m in enumerate(turns):
        last = i == len(turns) - 1
        if m.role == "user":
            content = m.content
            if i == 0 and system and template.system_placement == "first_user":
                content = fill(template.system_format, content=system) + content
            fmt = template.single_turn_format if n_users == 1 and template.single_turn_format else None
            prompt += (template.separator if i else "") + fill(
                fmt or template.user_format, content=content, idx=i // 2 + template.round_start
            )
            continue
        prompt += template.assistant_prefix + (template.final_prefix if last else "")
        out.append(Segment(prompt, False))
        prompt = ""
        reply = fill(template.assistant_format, content=m.content)
        out.append(Segment(reply + (template.end_of_conversation if last else ""), True))
    if prompt:
        out.append(Segment(prompt, False))
    return out


def render(template: Template, messages: Sequence[Message | dict], add_generation_prompt: bool = True) -> str:
    """The prompt text for ``messages``; ends with the reply header when the last turn is the user's."""
    text = "".join(s.text for s in segments(template, messages))
    _, turns = split_system(template, messages)
    if add_generation_prompt and (not turns or turns[-1].role == "user"):
        text += template.assistant_prefix + template.final_prefix
    return text


def instruction_messages(
    template: Template,
    instruction: str,
    input: str = "",
    output: str | None = None,
    system: str | None = None,
) -> list[Message]:
    """An instruction record (Alpaca's instruction/input/output) as the messages this template expects."""
    if template.instruction and instruction.strip() == template.instruction:
        instruction = ""  # the template already says it (ChatDoctor's fixed doctor instruction)
    if instruction and input:
        content = template.input_format.replace("{instruction}", instruction).replace("{input}", input)
    else:
        content = instruction or input
    if system is None and input and template.system_with_input:
        system = template.system_with_input
    msgs = [Message("system", system)] if system is not None else []
    msgs.append(Message("user", content))
    if output is not None:
        msgs.append(Message("assistant", output))
    return msgs
