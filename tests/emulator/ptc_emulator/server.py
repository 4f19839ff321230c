"""Starts and stops the whole emulator: upstream registries, test images, moto + extension."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from . import upstream as upstream_mod

ACCOUNT_ID = "123456789012"


def _make_moto_server(host: str, port: int, wrap):
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    class WrappedMotoServer(ThreadedMotoServer):
        """moto's threaded server with our middleware around its WSGI app."""

        startup_error: BaseException | None = None

        def _server_entry(self) -> None:
            try:
                app = wrap(DomainDispatcherApplication(create_backend_app))
                self._server = make_server(self._ip_address, self._port, app, True,
                                           request_handler=MotoRequestHandler)
            except BaseException as err:  # noqa: BLE001 - reported by start()
                self.startup_error = err
                self._server_ready_event.set()
                return
            self._server_ready_event.set()
            self._server.serve_forever()

        def start(self) -> None:
            super().start()
            if self.startup_error is not None:
                raise RuntimeError(f"moto server failed to start: {self.startup_error}")

    return WrappedMotoServer(ip_address=host, port=port, verbose=False)


def _write_atomic(path: str, text: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".ready-", dir=directory)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def serve(host: str = "127.0.0.1", port: int = 0, state_dir: str | None = None,
          ready_file: str | None = None, exit_on_stdin_eof: bool = False, verbose: bool = False) -> int:
    t0 = time.monotonic()
    stop = threading.Event()

    def on_signal(signum, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if exit_on_stdin_eof:
        def watch_stdin():
            try:
                while sys.stdin.buffer.read1(65536):
                    pass
            except (OSError, ValueError):
                pass
            stop.set()
        threading.Thread(target=watch_stdin, name="stdin-eof", daemon=True).start()

    if not verbose:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)

    temp_state = state_dir is None
    state_dir = os.path.abspath(state_dir or tempfile.mkdtemp(prefix="ptc-emulator-"))
    os.makedirs(state_dir, exist_ok=True)

    upstreams = upstream_mod.Upstreams()
    server = None
    try:
        upstreams.start(state_dir)
        with ThreadPoolExecutor(max_workers=1) as pool:
            seeding = pool.submit(upstreams.seed, state_dir)
            # import moto while skopeo pushes the test images
            from . import ecr_ext, iam_ext
            from .middleware import PtcMiddleware

            ecr_ext.install(upstreams)
            iam_ext.install()
            info: dict = {}
            server = _make_moto_server(host, port, lambda app: PtcMiddleware(app, ACCOUNT_ID, lambda: info))
            server.start()
            image_list = seeding.result()
        bound_host, bound_port = server.get_host_and_port()
        info.update({
            "endpoint": f"http://{bound_host}:{bound_port}",
            "account_id": ACCOUNT_ID,
            "upstreams": dict(upstreams.addresses),
            "upstream_credentials": {"username": upstream_mod.UPSTREAM_USERNAME,
                                     "access_token": upstream_mod.UPSTREAM_TOKEN},
            "upstream_map": dict(upstream_mod.UPSTREAM_MAP),
            "images": image_list,
            "pid": os.getpid(),
            "state_dir": state_dir,
            "startup_seconds": round(time.monotonic() - t0, 3),
        })
        line = json.dumps(info)
        if ready_file:
            _write_atomic(ready_file, line + "\n")
        print(line, flush=True)
        while not stop.wait(0.5):
            pass
        return 0
    finally:
        if server is not None:
            try:
                server.stop()
            except Exception:  # noqa: BLE001 - best effort while stopping
                pass
        upstreams.stop()
        if ready_file:
            try:
                os.unlink(ready_file)
            except OSError:
                pass
        if temp_state:
            shutil.rmtree(state_dir, ignore_errors=True)
