"""The local person: who `make run` (single-user mode) and the CLI mean on a laptop without sign-in.

Marked in the person's settings, so adding other people (a clinician, a family member) never locks the local
person out, and `formcheck today` on a fresh install uses the same person `make run` creates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from formcheck.store.records import Person, Role

if TYPE_CHECKING:
    from formcheck.store.store import Store

LOCAL_PERSON_NAME = "me"  # the sign-in name; the name pages show is asked for on first use (issue 19)
LOCAL_SETTING = "local_person"  # people.settings key: true for the one person of this machine


def find_local_person(store: Store) -> Person | None:
    """The person marked local; else the only person (an install from before the marker); else None."""
    people = store.list_people(role=Role.PERSON)
    marked = [p for p in people if (p.settings or {}).get(LOCAL_SETTING)]
    if marked:
        return marked[0]
    return people[0] if len(people) == 1 else None


def ensure_local_person(store: Store) -> tuple[Person | None, bool]:
    """(the local person, created?): marks the only person, or creates `me` when there is nobody yet."""
    found = find_local_person(store)
    if found is not None:
        if not (found.settings or {}).get(LOCAL_SETTING):
            found = store.update_settings(found.id, {LOCAL_SETTING: True})
        return found, False
    if store.list_people(role=Role.PERSON):
        return None, False  # several people and none marked: the CLI asks for --person
    person = store.add_person(LOCAL_PERSON_NAME, role=Role.PERSON, settings={LOCAL_SETTING: True})
    return person, True
