"""Opens the event store and the view store.

Both create their tables at start; processes started together take turns at that
(``projections.postgres_ddl``).
"""

from __future__ import annotations

from projections.view_store import ViewStore
from services.settings import Settings
from services.store.care_app import CareLoop, create_care_app
from services.store.event_store_config import eventsourcing_env
from services.store.view_stores import open_view_store


def open_stores(settings: Settings) -> tuple[CareLoop, ViewStore]:
    app = create_care_app(eventsourcing_env(settings))
    try:
        views = open_view_store(settings)
    except BaseException:
        app.close()
        raise
    return app, views
