"""Accounts as the web layer signs them in: users, sign-in lookups and the binding of a sign-in cookie.

"Sign-in session" is the cookie; it is bound to the password hash and a sign-out generation kept in the person's
settings, so a new password or a sign-out ends every earlier sign-in of that account.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from formcheck.errors import InputError
from formcheck.store.local_person import find_local_person
from formcheck.store.paths import DB_FILENAME
from formcheck.store.records import Person, Role, User
from formcheck.store.store import Store

SESSION_GENERATION = "session_generation"  # people.settings key: bumped by sign-out, so old cookies stop working


class DatabaseSettings(Protocol):
    """What opening the store needs from the settings (the web helper's Settings has these)."""

    @property
    def database_url(self) -> str | None: ...

    @property
    def data_dir(self) -> Path: ...


def open_store(settings: DatabaseSettings) -> Store:
    url = settings.database_url or f"sqlite:///{settings.data_dir / DB_FILENAME}"
    return Store.open(url)


def close_store(store: Store) -> None:
    store.close()


# Words that are not anyone's name: the local person used to be shown as "You" ("Welcome, You"; "You reported knee
# pain 6/10" on clinician pages, issue 19). A person named so is shown as NO_NAME until they give their name.
PRONOUNS = frozenset({"i", "me", "my", "mine", "myself", "you", "your", "yours", "yourself"})
NO_NAME = "Person without a name yet"


def has_name(p: Person) -> bool:
    return (p.display_name or p.name).strip().casefold() not in PRONOUNS


def shown_name(p: Person) -> str:
    """How pages name a person: their display name, never a pronoun."""
    return (p.display_name or p.name) if has_name(p) else NO_NAME


def user_of(p: Person) -> User | None:
    """The web account of a person or clinician; None for an admin (admins manage accounts from the CLI)."""
    if p.role not in (Role.CLINICIAN, Role.PERSON):
        return None
    return User(id=p.id, name=shown_name(p), role=p.role, clinician_id=p.clinician_id, named=has_name(p))


def session_binding(p: Person) -> str:
    """What a sign-in cookie is bound to: the password hash and the sign-out generation (a change of either
    ends every earlier sign-in of this account)."""
    return f"{p.password_hash or ''}#{int((p.settings or {}).get(SESSION_GENERATION, 0))}"


def get_user_and_hash(store: Store, user_id: int) -> tuple[User, str | None] | None:
    """The account and its sign-in binding (see `session_binding`), or None."""
    try:
        p = store.get_person_by_id(user_id)
    except InputError:
        return None
    user = user_of(p)
    return (user, session_binding(p)) if user else None


def get_user(store: Store, user_id: int) -> User | None:
    found = get_user_and_hash(store, user_id)
    return found[0] if found else None


def revoke_sessions(store: Store, user_id: int) -> None:
    """Sign-out: every cookie issued to this account so far stops working (server-side sign-out generation)."""
    p = store.get_person_by_id(user_id)
    store.update_settings(user_id, {SESSION_GENERATION: int((p.settings or {}).get(SESSION_GENERATION, 0)) + 1})


def find_login(store: Store, name: str) -> tuple[User, str, str] | None:
    """The account, its password hash and its sign-in binding for a sign-in name, or None."""
    try:
        p = store.get_person(name)
    except InputError:
        return None
    user = user_of(p)
    if user is None or not p.password_hash:
        return None
    return user, p.password_hash, session_binding(p)


def single_user_person(store: Store) -> User | None:
    """Single-user mode: the local person of this machine (local_person.py), even when others exist."""
    person = find_local_person(store)
    return user_of(person) if person is not None else None


def people_of_clinician(store: Store, clinician_id: int) -> list[int]:
    return [p.id for p in store.list_people(role=Role.PERSON, clinician_id=clinician_id)]


def display_name(store: Store, person_id: int) -> str:
    try:
        p = store.get_person_by_id(person_id)
    except InputError:
        return "clinician"
    return shown_name(p)
