"""Run localstripe on 127.0.0.1, on a port the kernel picks, keeping nothing on disk.

localstripe's own `localstripe` command binds every interface ('::', port 8420) and pickles its
whole store to /tmp/localstripe.pickle after every write, loading it back at start: two test runs
(or two pytest workers) would share objects and webhooks, and the file would outlive the tests.
This launcher serves the very same aiohttp app on a loopback socket bound to port 0, with the
store's disk persistence switched off, and prints the port as the first line of stdout.

    python tests/localstripe_server.py      # the `localstripe` fixture in tests/conftest.py
"""

from __future__ import annotations

import socket

from aiohttp import web
from localstripe import resources  # type: ignore[import-untyped]


def _in_memory_only(_store: object) -> None:
    """Replaces Store.dump_to_disk and Store.try_load_from_disk."""


def main() -> None:
    resources.Store.dump_to_disk = _in_memory_only
    resources.Store.try_load_from_disk = _in_memory_only
    from localstripe.server import app  # type: ignore[import-untyped]  # after the patch

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)  # clients may connect from now on; requests wait until the app runs
    print(sock.getsockname()[1], flush=True)
    # No graceful shutdown: SIGTERM ends it at once (it holds nothing worth flushing), instead of
    # aiohttp waiting on the SDK's idle keep-alive connections.
    web.run_app(app, sock=sock, print=None, access_log=None, handle_signals=False)


if __name__ == "__main__":
    main()
