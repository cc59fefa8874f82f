"""Which backend/model serves: what answers now, and an admin's switch to another (saved and audited)."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy.orm import Session

from chatdoctor.config import ChatConfig, from_dict, to_dict
from webapp.models import AppSetting, User, utcnow
from webapp.services import audit

SETTING_KEY = "chat"  # app_settings row holding the admin's ChatConfig overrides
EDITABLE = ("backend", "model", "adapter", "base_url", "template")  # what the admin form may change


def describe(manager: Any) -> dict[str, str]:
    """``backend.describe()`` of the engine serving now (or why none is)."""
    engine = getattr(manager, "engine", None)
    if engine is None:
        return {"backend": "none", "status": "no backend is configured or it failed to load; see /readyz"}
    return {str(k): str(v) for k, v in engine.backend.describe().items()}


def saved_overrides(*, session: Session) -> dict[str, Any]:
    row = session.get(AppSetting, SETTING_KEY)
    return dict(row.value) if row is not None else {}


def current_config(*, session: Session, settings: Any) -> ChatConfig:
    """The environment's ``ChatConfig`` with the admin's saved overrides on top."""
    base = to_dict(settings.chat_settings())
    return from_dict(ChatConfig, {**base, **saved_overrides(session=session)})


def clean_form(form: dict[str, str]) -> dict[str, Any]:
    """Form fields → ChatConfig overrides: editable keys only; an empty field means 'not set'."""
    return {k: (form.get(k) or "").strip() or None for k in EDITABLE if k in form}


def switch_backend(
    *, session: Session, manager: Any, settings: Any, overrides: dict[str, Any], actor: User
) -> dict[str, str]:
    """Build the new backend first (a bad config raises and changes nothing), then swap, save and audit.

    The running engine's safety guard and knowledge grounder are kept: only the model changes.
    """
    from chatdoctor.backends import create_backend
    from webapp.generation import build_engine

    merged = {**saved_overrides(session=session), **overrides}
    if not merged.get("backend"):
        merged.pop("backend", None)
    config = from_dict(ChatConfig, {**to_dict(settings.chat_settings()), **merged})
    if manager.engine is None:
        engine = build_engine(config)  # raises ConfigError / BackendUnavailable / RegistryError
    else:
        engine = dataclasses.replace(manager.engine, backend=create_backend(config))
    manager.params = config.params
    # The old backend is not closed: answers that started on it keep it until they finish.
    manager.engine = engine
    row = session.get(AppSetting, SETTING_KEY)
    if row is None:
        row = AppSetting(key=SETTING_KEY, value=merged)
        session.add(row)
    row.value, row.updated_at, row.updated_by = merged, utcnow(), actor.id
    audit.record(
        session=session,
        action="backend.configure",
        actor=actor,
        resource_type="backend",
        details={"backend": config.backend, "model": config.model, "adapter": config.adapter},
    )
    return describe(manager)
