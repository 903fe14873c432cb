"""Health data is private to the account that runs formcheck: data directories 0700, files 0600 (finding 9).

`formcheck serve` sets umask 077 so everything it and its workers create (database, WAL, uploads, landmarks,
annotated videos, clips) starts private; `private_tree` tightens what an older version left readable.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
PRIVATE_UMASK = 0o077


def restrict_umask() -> int:
    """Make new files 0600 and directories 0700 for this process and its children; returns the old umask."""
    return os.umask(PRIVATE_UMASK)


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) as 0700 directories; tighten it if it exists."""
    path = Path(path)
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(path, DIR_MODE)
    return path


def private_tree(root: Path) -> None:
    """chmod every directory under `root` to 0700 and every regular file to 0600 (symlinks untouched)."""
    for dirpath, _dirnames, filenames in os.walk(root):
        os.chmod(dirpath, DIR_MODE)
        for name in filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            if stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) != FILE_MODE:
                os.chmod(p, FILE_MODE)
