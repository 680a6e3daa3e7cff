"""Event class paths are written into the database: renaming one breaks every replay.

The committed list is the contract with our own history. A new event is added to the list;
a renamed or moved one must instead be registered with ``register_topic(old, new)``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

from eventsourcing.domain import Aggregate, CanMutateAggregate
from eventsourcing.utils import get_topic

import domain
from services import message_ledger

LIST = Path(__file__).resolve().parent / "stored_event_topics.txt"


def current_topics() -> set[str]:
    modules = [importlib.import_module(f"domain.{m.name}") for m in pkgutil.iter_modules(domain.__path__)]
    modules.append(message_ledger)
    topics = set()
    for module in modules:
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Aggregate) and cls is not Aggregate and cls.__module__ == module.__name__:
                for _, member in inspect.getmembers(cls, inspect.isclass):
                    if (issubclass(member, CanMutateAggregate)
                            and member.__qualname__.startswith(cls.__name__ + ".")
                            and member.__name__ not in ("Event", "Created")):  # library bases
                        topics.add(get_topic(member))
    return topics


def test_no_stored_event_name_disappears() -> None:
    committed = set(LIST.read_text().split())
    missing = committed - current_topics()
    assert not missing, f"renamed or removed stored events (register_topic them): {sorted(missing)}"


def test_every_event_is_in_the_committed_list() -> None:
    committed = set(LIST.read_text().split())
    new = current_topics() - committed
    assert not new, f"new events: add them to {LIST.name}: {sorted(new)}"


def test_every_stored_domain_event_says_who_acted_and_when() -> None:
    """Provenance (actor, business time, message) is on every event that leaves careloop."""
    import dataclasses

    from eventsourcing.utils import resolve_topic

    missing = [t for t in current_topics() if t.startswith("domain.")
               and "provenance" not in {f.name for f in dataclasses.fields(resolve_topic(t))}]
    assert missing == []
