"""Run the service under uvicorn (uvloop + httptools): listeners, signals, workers.

uvicorn was chosen over granian by measurement and for control (docs/server.md): it runs
inside our own event loop, so one process can serve the main and the admin listener, take
SIGHUP as "reload the configuration" (granian uses SIGHUP to restart its workers), and be
started in-process by ``realmgate demo``.

Signals: SIGINT/SIGTERM stop gracefully (in-flight requests finish); SIGHUP reloads.

``--workers N`` (N > 1) pre-forks: the parent binds the socket, forks N workers that each run
the service on it, forwards SIGHUP/SIGTERM/SIGINT to them and restarts a worker that dies.
The admin listener runs in worker 0; its reload endpoint signals the parent so every worker
reloads. Each worker has its own metrics and caches (scrape each worker, or run one worker
per container and scale out).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass

import uvicorn

from realmgate.errors import RealmgateError, UsageError
from realmgate.server.admin import MIN_TOKEN_CHARS, AdminApp
from realmgate.server.app import RealmgateApp
from realmgate.server.service import Service

log = logging.getLogger("realmgate.server")

RESTART_BACKOFF = 1.0


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the runner owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@dataclass(frozen=True, slots=True)
class Listen:
    host: str
    port: int


def _uvicorn_config(app: object, service: Service, **where: object) -> uvicorn.Config:
    limits = service.state.config.limits
    settings = service.state.settings.server
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        loop="uvloop" if _has("uvloop") else "asyncio",
        http=_guarded(service) if _has("httptools") else "h11",
        lifespan="on",
        log_config=None,
        access_log=settings.access_log,
        timeout_keep_alive=5,
        h11_max_incomplete_event_size=limits.max_header_bytes,
        timeout_graceful_shutdown=max(1, int(settings.request_timeout)),
        server_header=False,
        # realmgate decides whose X-Forwarded-* to believe ([server] trusted_proxies);
        # uvicorn's own handling believes 127.0.0.1 by default and would rewrite the peer
        # address before the auth filters see it.
        proxy_headers=False,
        **where,  # type: ignore[arg-type]
    )


def _guarded(service: Service) -> type[asyncio.Protocol]:
    """httptools with a bounded, timed request head (see realmgate.server.headguard)."""
    from realmgate.server.headguard import guarded_protocol

    def limits() -> tuple[int, float]:
        state = service.state
        return state.config.limits.max_header_bytes, state.settings.server.request_timeout

    return guarded_protocol(limits)


def _has(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def bind(listen: Listen) -> socket.socket:
    """The listening socket (bound before forking, so every worker shares it)."""
    family = socket.AF_INET6 if ":" in listen.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((listen.host, listen.port))
    except OSError as exc:
        sock.close()
        raise UsageError(
            "RG8041E", address=f"{listen.host}:{listen.port}", detail=exc.strerror or str(exc)
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def admin_token(service: Service) -> str | None:
    """The admin token, or None when the admin listener is off; RG8042E if it is on but the
    token is missing or too short (the service refuses to start then)."""
    admin = service.state.settings.admin
    if not admin.enabled:
        return None
    value = os.environ.get(admin.token_env or "", "")
    if len(value) < MIN_TOKEN_CHARS:
        state = "not set" if not value else f"shorter than {MIN_TOKEN_CHARS} characters"
        raise UsageError("RG8042E", detail=f"${admin.token_env} is {state}")
    return value


def _admin_server(service: Service, token: str) -> _Server:
    admin = service.state.settings.admin
    app = AdminApp(service, token)
    if admin.socket:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(admin.socket)
        config = _uvicorn_config(app, service, uds=admin.socket)
    else:
        assert admin.listen is not None
        config = _uvicorn_config(app, service, host=admin.listen[0], port=admin.listen[1])
    return _Server(config)


async def serve_async(
    service: Service,
    sock: socket.socket,
    *,
    with_admin: bool = True,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Serve ``service`` on ``sock`` (and the admin listener) until SIGINT/SIGTERM."""
    app = RealmgateApp(service)
    servers = [_Server(_uvicorn_config(app, service))]
    # Everything loaded so far (modules, configuration, keys) lives as long as the process:
    # out of the collector's way, a full collection walks only what serving creates (the
    # verified-token cache above all). 36 000 objects, 19 ms of every full collection
    # (issue 5, benchmark machine, 2026-12-03).
    gc.collect()
    gc.freeze()
    token = admin_token(service) if with_admin else None
    admin_socket = service.state.settings.admin.socket
    if token is not None:
        servers.append(_admin_server(service, token))
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server in servers:
            if server.should_exit:
                server.force_exit = True
            server.should_exit = True

    background: set[asyncio.Task[object]] = set()

    def keep(task: asyncio.Task[object]) -> None:
        background.add(task)
        task.add_done_callback(background.discard)

    def hup() -> None:
        keep(loop.create_task(service.reload("SIGHUP")))

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    loop.add_signal_handler(signal.SIGHUP, hup)
    tasks = [asyncio.create_task(servers[0].serve(sockets=[sock]))]
    tasks += [asyncio.create_task(s.serve()) for s in servers[1:]]
    if admin_socket and token is not None:
        keep(loop.create_task(_restrict_socket(admin_socket, servers[1])))
    if on_ready is not None:
        while not all(s.started for s in servers) and not any(t.done() for t in tasks):
            await asyncio.sleep(0.02)
        if all(s.started for s in servers):
            on_ready()
    try:
        await asyncio.gather(*tasks)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)


async def _restrict_socket(path: str, server: _Server) -> None:
    while not server.started and not server.should_exit:
        await asyncio.sleep(0.01)
    with contextlib.suppress(OSError):
        os.chmod(path, 0o600)


def _new_loop() -> asyncio.AbstractEventLoop:
    if _has("uvloop"):
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def run(
    service_factory: Callable[[], Service],
    listen: Listen,
    *,
    workers: int = 1,
    on_ready: Callable[[Service, str], None] | None = None,
) -> int:
    """Serve until stopped; returns the exit code. ``on_ready(service, url)`` is called once
    the listeners accept connections (single worker only)."""
    service = service_factory()
    admin_token(service)  # refuse to start before binding if the admin token is missing
    sock = bind(listen)
    host, port = sock.getsockname()[:2]
    url = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
    admin = service.state.settings.admin
    where = ""
    if admin.enabled:
        place = admin.socket or (f"{admin.listen[0]}:{admin.listen[1]}" if admin.listen else "")
        where = f"; admin on {place}"
    started = RealmgateError(
        "RG8040I",
        url=url,
        file=service.config_path,
        generation=service.state.generation,
        workers=workers,
        admin=where,
    )
    log.info("%s", started.text)
    if workers <= 1:

        def ready() -> None:
            if on_ready is not None:
                on_ready(service, url)

        with asyncio.Runner(loop_factory=_new_loop) as runner:
            runner.run(serve_async(service, sock, on_ready=ready))
        return 0
    return _prefork(service_factory, sock, workers)


def _prefork(service_factory: Callable[[], Service], sock: socket.socket, workers: int) -> int:
    children: dict[int, int] = {}  # pid → worker index
    stopping = False
    parent = os.getpid()

    def spawn(index: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker: its own service, caches and event loop
            code = 0
            try:
                for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                    signal.signal(sig, signal.SIG_DFL)
                service = service_factory()
                service.on_admin_reload = lambda: os.kill(parent, signal.SIGHUP)
                with asyncio.Runner(loop_factory=_new_loop) as runner:
                    runner.run(serve_async(service, sock, with_admin=index == 0))
            except BaseException:  # report and exit; the parent restarts the worker
                log.exception("worker %d failed", index)
                code = 1
            finally:
                os._exit(code)
        children[pid] = index

    def forward(sig: int, _frame: object) -> None:
        nonlocal stopping
        if sig in (signal.SIGINT, signal.SIGTERM):
            stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, forward)
    for index in range(workers):
        spawn(index)
    while children:
        try:
            pid, _status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        index = children.pop(pid, -1)
        if index >= 0 and not stopping:
            log.warning("worker %d (pid %d) exited; restarting it", index, pid)
            time.sleep(RESTART_BACKOFF)
            spawn(index)
    return 0
