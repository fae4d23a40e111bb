"""Live reload: watch the configuration's files, react to SIGHUP, say what changed.

Triggers, all ending in :meth:`realmgate.server.service.Service.reload`:

* **file watching** – every file the configuration was read from (``Config.files``: the
  configuration, its includes, trust stores; a trust-store directory is watched for files
  appearing, changing and disappearing) is polled every ``[server] watch_interval`` seconds.
  Polling ``stat`` (mtime, size, inode) needs no extra dependency, works on every file
  system including network and container mounts where inotify is unreliable, and costs a
  few microseconds per file. A change must be stable for one interval before it reloads,
  so an editor's write-then-rename does not load half a file;
* **SIGHUP** – the conventional "re-read your configuration" signal;
* **the admin endpoint** ``POST /admin/reload``.

Registry changes need none of this: the identity mapper notices them by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from realmgate.configmodel import ClientDefinition, Config
from realmgate.keys.jwk import secret_fingerprint
from realmgate.server.settings import SurfaceSettings

log = logging.getLogger("realmgate.server.reload")

Signature = tuple[tuple[str, int, int, int], ...]

SETTLE = 0.1
MAX_SETTLE_ROUNDS = 20


def _stat(path: Path) -> tuple[str, int, int, int]:
    try:
        st = path.stat()
    except OSError:
        return (str(path), -1, -1, -1)
    return (str(path), st.st_mtime_ns, st.st_size, st.st_ino)


def file_signature(paths: Iterable[str]) -> Signature:
    """The watched state of ``paths``: each file's (mtime, size, inode); for a directory,
    that of every entry in it (trust-store directories gain and lose certificates)."""
    rows: list[tuple[str, int, int, int]] = []
    for name in paths:
        path = Path(name)
        rows.append(_stat(path))
        if path.is_dir():
            try:
                entries = sorted(os.scandir(path), key=lambda e: e.name)
            except OSError:
                continue
            rows.extend(_stat(Path(entry.path)) for entry in entries)
    return tuple(rows)


def changed_files(old: Signature, new: Signature) -> list[str]:
    before = {row[0]: row for row in old}
    after = {row[0]: row for row in new}
    names = sorted(set(before) | set(after))
    return [name for name in names if before.get(name) != after.get(name)]


_KEY_FIELDS = ("static_keys", "shared_secret")
_IGNORED = ("lines", "location")


def _key_view(definition: ClientDefinition) -> tuple[Any, ...]:
    """The keys, comparable across loads: key objects compare by identity, so compare
    fingerprints, and the secret by its hash."""
    secret = definition.shared_secret
    return (
        tuple(sorted(k.fingerprint for k in definition.static_keys)),
        secret_fingerprint(secret.reveal()) if secret is not None else None,
    )


def describe_changes(
    old: Config, new: Config, old_settings: SurfaceSettings, new_settings: SurfaceSettings
) -> list[str]:
    """One phrase per effective change, e.g. ``client 'linux': keys changed``."""
    out: list[str] = []
    old_clients = {d.id: d for d in old.clients}
    new_clients = {d.id: d for d in new.clients}
    for cid in new_clients.keys() - old_clients.keys():
        out.append(f"client {cid!r} added")
    for cid in old_clients.keys() - new_clients.keys():
        out.append(f"client {cid!r} removed")
    for cid in sorted(new_clients.keys() & old_clients.keys()):
        before, after = old_clients[cid], new_clients[cid]
        if _key_view(before) != _key_view(after):
            out.append(f"client {cid!r}: keys changed")
        fields = [
            f.name
            for f in dataclasses.fields(ClientDefinition)
            if f.name not in _KEY_FIELDS + _IGNORED
            and getattr(before, f.name) != getattr(after, f.name)
        ]
        if fields:
            out.append(f"client {cid!r}: {', '.join(fields)} changed")
    if [c.id for c in old.clients] != [c.id for c in new.clients] and not out:
        out.append("client order changed")
    if dict(old.filters) != dict(new.filters):
        out.append("auth filters changed")
    if old.issuers != new.issuers:
        out.append("local issuers changed")
    for name in ("registry", "limits", "discovery_allow", "trace_spec"):
        if getattr(old, name) != getattr(new, name):
            out.append(f"{name} changed")
    for name in ("server", "admin", "demo"):
        if getattr(old_settings, name) != getattr(new_settings, name):
            out.append(f"[{name}] changed")
    if tuple(old.files) != tuple(new.files):
        out.append("set of configuration files changed")
    return sorted(set(out), key=out.index)


class FileWatcher:
    """Polls the configuration's files and calls ``on_change`` with the changed names."""

    def __init__(
        self,
        files: Callable[[], Iterable[str]],
        on_change: Callable[[list[str]], Awaitable[Any]],
        interval: Callable[[], float],
    ) -> None:
        self._files = files
        self._on_change = on_change
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        seen = file_signature(self._files())
        while True:
            await asyncio.sleep(self._interval())
            try:
                current = await asyncio.to_thread(file_signature, list(self._files()))
                if current == seen:
                    continue
                for _ in range(MAX_SETTLE_ROUNDS):  # wait until the writer is done
                    await asyncio.sleep(SETTLE)
                    settled = await asyncio.to_thread(file_signature, list(self._files()))
                    if settled == current:
                        break
                    current = settled
                changed = changed_files(seen, current)
                seen = current
                # A write after ``current`` was taken shows up at the next poll; a new file
                # list (an include added) shows up as a difference too and reloads once more.
                await self._on_change(changed)
            except asyncio.CancelledError:
                raise
            except Exception:  # the watcher must never die: log and keep polling
                log.exception("watching the configuration files failed")
