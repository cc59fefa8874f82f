"""Export a template as a Hugging Face Jinja ``chat_template`` (for vLLM and ``apply_chat_template``).

The generated Jinja follows ``render`` step by step, so a server given it renders exactly the string
the model was trained on. Strings are written as JSON literals (Jinja reads the same escapes).
"""

from __future__ import annotations

import json
import re

from chatdoctor.templates.base import Template

_PART = re.compile(r"(\{content\}|\{idx\})")


def _lit(text: str) -> str:
    return json.dumps(text, ensure_ascii=True)


def _expr(fmt: str, content: str = "content", idx: str = "idx") -> str:
    """A Jinja expression concatenating the literal parts of ``fmt`` with the named variables."""
    names = {"{content}": content, "{idx}": f"({idx} | string)"}
    parts = [names.get(p, _lit(p)) for p in _PART.split(fmt) if p]
    return " ~ ".join(parts) or '""'


def to_jinja(template: Template) -> str:
    """The Jinja ``chat_template`` string equivalent to ``render(template, messages, add_generation_prompt)``."""
    t = template
    sys_text = _expr(t.system_format, content="ns.system")
    single = t.single_turn_format
    user = _expr(t.user_format)
    if single:
        user = f"({_expr(single)} if n_users == 1 else {user})"
    gen = _lit(t.assistant_prefix + t.final_prefix)
    first_user_system = (
        f"{{%- if loop.first and ns.system -%}}{{%- set content = {sys_text} ~ content -%}}{{%- endif -%}}"
        if t.system_placement == "first_user"
        else ""
    )
    start_system = (
        f"{{%- if ns.system -%}}{{{{- {sys_text} -}}}}{{%- endif -%}}"
        if t.system_placement == "start"
        else ""
    )
    return (
        f"{{%- set ns = namespace(system={_lit(t.system)}, start=0) -%}}"
        "{%- if messages and messages[0]['role'] == 'system' -%}"
        "{%- set ns.system = messages[0]['content'] -%}{%- set ns.start = 1 -%}{%- endif -%}"
        "{%- set convo = messages[ns.start:] -%}"
        "{%- set n_users = convo | selectattr('role', 'equalto', 'user') | list | length -%}"
        f"{{{{- {_lit(t.prefix)} -}}}}"
        f"{start_system}"
        "{%- for m in convo -%}"
        "{%- if (m['role'] == 'user') != (loop.index0 % 2 == 0) -%}"
        "{{- raise_exception('Conversation roles must alternate user/assistant after an optional system "
        "message') -}}{%- endif -%}"
        f"{{%- set idx = loop.index0 // 2 + {t.round_start} -%}}"
        "{%- set content = m['content'] -%}"
        "{%- if m['role'] == 'user' -%}"
        f"{first_user_system}"
        f"{{%- if not loop.first -%}}{{{{- {_lit(t.separator)} -}}}}{{%- endif -%}}"
        f"{{{{- {user} -}}}}"
        "{%- else -%}"
        f"{{{{- {_lit(t.assistant_prefix)} -}}}}"
        f"{{%- if loop.last -%}}{{{{- {_lit(t.final_prefix)} -}}}}{{%- endif -%}}"
        f"{{{{- {_expr(t.assistant_format)} -}}}}"
        f"{{%- if loop.last -%}}{{{{- {_lit(t.end_of_conversation)} -}}}}{{%- endif -%}}"
        "{%- endif -%}"
        "{%- endfor -%}"
        "{%- if add_generation_prompt and (not convo or convo[-1]['role'] == 'user') -%}"
        f"{{{{- {gen} -}}}}"
        "{%- endif -%}"
    )
