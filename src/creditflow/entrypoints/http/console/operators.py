"""The console's operators: a file of `name:argon2-hash` lines (CREDITFLOW_CONSOLE_USERS).

A file rather than a table: who may act on wallets is the deployment's decision, made where its
other secrets live, and `creditflow console add-user` writes it without a running server. It is
read on every login and every request, so adding or removing a line takes effect at once.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from creditflow.errors import InvalidRequest

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MIN_PASSWORD_LENGTH = 12
_hasher = PasswordHasher()
# Verified when a name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not anyone's password")


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise InvalidRequest(
            "an operator name is 1 to 64 letters, digits or . _ @ -, starting with a letter "
            "or digit"
        )
    return name


def read(path: Path) -> dict[str, str]:
    """name -> hash; a missing file is no operators."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    entries = {}
    for line in text.splitlines():
        name, _, hashed = line.strip().partition(":")
        if name and hashed and not name.startswith("#") and NAME.fullmatch(name):
            entries[name] = hashed
    return entries


def verify(path: Path, name: str, password: str) -> bool:
    hashed = read(path).get(name)
    try:
        return _hasher.verify(hashed or _DUMMY_HASH, password) and hashed is not None
    except (VerificationError, InvalidHashError):
        return False


def add(path: Path, name: str, password: str) -> bool:
    """Write `name` with a fresh hash of `password` (replacing its line); True if it is new."""
    check_name(name)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidRequest(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    entries = read(path)
    created = name not in entries
    entries[name] = _hasher.hash(password)
    text = "".join(f"{each}:{hashed}\n" for each, hashed in entries.items())
    # Written beside, then renamed over: a reader never sees half a file. Owner-only: hashes.
    partial = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    partial.replace(path)
    return created
