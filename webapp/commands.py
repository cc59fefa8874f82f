"""``chatdoctor serve`` and ``chatdoctor db upgrade|downgrade|current``."""

from __future__ import annotations

import typer

db_app = typer.Typer(help="Database migrations (URL from CHATDOCTOR_DATABASE_URL).", no_args_is_help=True)


def _settings():
    from webapp.settings import Settings

    settings = Settings()
    settings.ensure_data_dir()
    return settings


@db_app.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="target revision")) -> None:
    """Migrate the database up to ``revision``."""
    from webapp.db import current_revision
    from webapp.db import upgrade as run

    settings = _settings()
    run(settings.database_url, revision)
    typer.echo(f"database at revision {current_revision(settings.database_url)}")


@db_app.command("downgrade")
def downgrade(revision: str = typer.Argument("-1", help="target revision (base: drop everything)")) -> None:
    """Migrate the database down to ``revision``."""
    from webapp.db import current_revision
    from webapp.db import downgrade as run

    settings = _settings()
    run(settings.database_url, revision)
    typer.echo(f"database at revision {current_revision(settings.database_url) or 'base'}")


@db_app.command("current")
def current() -> None:
    """Print the database's revision and the newest one."""
    from webapp.db import current_revision, head_revision

    settings = _settings()
    typer.echo(
        f"current: {current_revision(settings.database_url) or 'base (empty)'}  head: {head_revision()}"
    )


@db_app.command("create-user")
def create_user(
    email: str = typer.Argument(..., help="sign-in email"),
    role: str = typer.Option("admin", help="patient | clinician | admin"),
    password: str = typer.Option(
        ..., prompt=True, hide_input=True, confirmation_prompt=True, help="at least 8 characters"
    ),
) -> None:
    """Create an approved account: the way to make the first admin (then approve others in the admin page)."""
    from webapp.db import Database
    from webapp.services.users import create_user as run

    database = Database(_settings().database_url)
    database.check_schema()
    with database.session() as session:
        user = run(session=session, email=email, password=password, role=role, approved=True)
        typer.echo(f"created {user.role} {user.email}")
    database.dispose()


@db_app.command("export-corrections")
def export_corrections(out: str = typer.Argument(..., help="JSON Lines file to write")) -> None:
    """Write clinicians' corrected answers as {instruction, input, output} records (for `chatdoctor data`)."""
    from webapp.db import Database
    from webapp.services.feedback import export_corrections as run

    database = Database(_settings().database_url)
    database.check_schema()
    with database.session() as session:
        n = run(session=session, path=out)
    database.dispose()
    typer.echo(f"wrote {n} correction record(s) to {out}")


@db_app.command("verify-audit")
def verify_audit() -> None:
    """Check the audit trail's hash chain; exit code 2 names the first tampered row."""
    from chatdoctor.errors import DataError
    from webapp.db import Database
    from webapp.services.audit import verify_chain

    database = Database(_settings().database_url)
    database.check_schema()
    with database.session() as session:
        broken = verify_chain(session=session)
    database.dispose()
    if broken is not None:
        raise DataError(f"audit_events row {broken} does not match the hash chain (edited or deleted rows)")
    typer.echo("audit trail intact")


def serve(
    host: str = typer.Option("127.0.0.1", help="interface to listen on (0.0.0.0: every interface)"),
    port: int = typer.Option(8000, help="TCP port"),
    workers: int = typer.Option(
        1, help="worker processes (>1 needs PostgreSQL and Redis; see docs/webapp.md)"
    ),
    reload: bool = typer.Option(False, help="restart on code changes (development)"),
    migrate: bool = typer.Option(True, help="run `db upgrade head` first"),
    log_level: str = typer.Option("info", help="debug | info | warning | error"),
) -> None:
    """Run the web app (patient page, clinician portal, admin, /v1 API) with uvicorn."""
    import uvicorn

    from chatdoctor.errors import ConfigError
    from webapp.db import upgrade as run_upgrade
    from webapp.observability import configure_logging

    settings = _settings()
    if workers > 1 and (settings.database_url.startswith("sqlite") or not settings.redis_url):
        raise ConfigError(
            "--workers > 1 needs PostgreSQL (CHATDOCTOR_DATABASE_URL=postgresql+psycopg://...) and Redis "
            "(CHATDOCTOR_REDIS_URL=redis://...): answers stream and limits count across workers through them"
        )
    settings.resolved_secret()  # refuse a placeholder secret before starting workers
    if migrate:
        run_upgrade(settings.database_url, "head")
    configure_logging(log_level.upper())
    typer.echo(f"ChatDoctor on http://{host}:{port}  (database {settings.database_url.split('@')[-1]})")
    uvicorn.run(
        "webapp.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        log_level=log_level,
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=10,
    )
