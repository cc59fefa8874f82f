"""Exit 0 when the database URL given as argv[1] accepts a connection (used by `make test`)."""

import sys

from sqlalchemy import create_engine, text

try:
    with create_engine(sys.argv[1]).connect() as conn:
        conn.execute(text("select 1"))
except Exception:
    sys.exit(1)
