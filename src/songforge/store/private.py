"""The data dir and the SQLite files are readable by the server's user alone.

Why: the database holds every tenant's webhook signing secret and token hashes, and the data dir the
download-link secret and everyone's audio. Created with the process umask they were 0755 / 0644, so any
local user could read them. The dir is made 0700 and the database with its `-wal` and `-shm` files
0600, at every start (which also repairs an older install). SQLite creates `-wal` and `-shm` with the
permissions of the database file, so creating that file 0600 before SQLite opens it keeps them private
from the first byte on.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import make_url

__all__ = ["private_dir", "private_sqlite_files"]

DIR_MODE = 0o700
FILE_MODE = 0o600
_SQLITE_SIDECARS = ("", "-wal", "-shm", "-journal")


def private_dir(path: Path) -> Path:
    """`path`, created if needed, with mode 0700, and the files directly in it (the database and
    its sidecars, the download-link secret) 0600: what an older version left readable is repaired."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(path, DIR_MODE)
    for child in path.iterdir():
        if child.is_file() and not child.is_symlink():
            os.chmod(child, FILE_MODE)
    return path


def private_sqlite_files(database_url: str) -> None:
    """For a SQLite URL: the database file exists with mode 0600 before SQLite opens it, and its
    sidecar files that already exist are 0600 too. Other databases: nothing to do."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return
    db_file = Path(url.database)
    db_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(db_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        pass
    for suffix in _SQLITE_SIDECARS:
        path = db_file.with_name(db_file.name + suffix)
        if path.exists():
            os.chmod(path, FILE_MODE)
