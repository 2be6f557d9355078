"""A TCP proxy in front of PostgreSQL that counts the round trips its clients make.

It reads the frontend half of the wire protocol (what a client sends), whatever the client is
(SQLAlchemy, psycopg, psycopg's pipeline mode, asyncpg, psql), and counts the client's turns: a
round trip is everything the client sends, up to and including the messages the server must
answer, before an answer comes back. The messages the server must answer are

- `Query` (simple protocol: `BEGIN`, `COMMIT`, a multi-statement string), `FunctionCall`;
- `Sync`, which ends an extended-protocol exchange (Parse/Bind/Describe/Execute... Sync): one
  statement through psycopg, or a whole pipeline (statements sent back to back, one Sync);
- `Flush`, which psycopg sends inside a pipeline when the code needs a result before the Sync;
- `CopyDone` / `CopyFail`, which end a COPY FROM STDIN.

Several of them sent before the server has answered any (a pipeline's Sync and the Flush psycopg
sends right after it, or several Syncs written at once) are one round trip: the client waited
once. Bytes the client sends that need no answer (a Parse before its Sync, Terminate) are not a
round trip on their own. Both directions pass through the proxy, and a client message is
counted before it is forwarded, so a turn is complete before the client can read its answer.

Connecting (the startup packet and authentication) is counted apart, as `connections`: a warm
pool opens none. Each round trip keeps the SQL it carried (from Query, or from the Parse of the
statement a Bind names, prepared earlier or not), for reading. The code measured is told
nothing: the count is what crossed the wire.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

# Messages after which the server answers and the client waits (type byte -> name).
ROUND_TRIP_ENDS = {b"Q": "Query", b"F": "FunctionCall", b"S": "Sync", b"H": "Flush"}
ROUND_TRIP_ENDS |= {b"c": "CopyDone", b"f": "CopyFail"}
# Startup-phase requests answered by one byte ('S'/'N'), before the real startup packet.
SSL_REQUEST, GSSENC_REQUEST, CANCEL_REQUEST = 80877103, 80877104, 80877102


@dataclass(frozen=True)
class RoundTrip:
    connection: int  # which client connection (numbered from 1 in the order they opened)
    message: str  # what ended it: Query, Sync, Flush...
    statements: tuple[str, ...]  # the SQL it carried (empty for a bare Sync or Flush)

    def __str__(self) -> str:
        sql = " | ".join(" ".join(s.split()) for s in self.statements) or "-"
        return f"{self.message:5} {sql}"


@dataclass
class Tally:
    """What crossed the wire since the last `take`: round trips, and connections opened."""

    round_trips: list[RoundTrip] = field(default_factory=list)
    connections: int = 0


class FrontendParser:
    """One client connection: splits its byte stream into messages, and closes a round trip
    when the server answers a turn that held a message it must answer."""

    def __init__(
        self,
        number: int,
        on_round_trip: Callable[[RoundTrip], None],
        on_connect: Callable[[], None],
    ) -> None:
        self.number = number
        self._on_round_trip = on_round_trip
        self._on_connect = on_connect
        self._lock = threading.Lock()
        self._buffer = bytearray()
        self._started = False
        self._prepared: dict[bytes, str] = {}  # statement name -> SQL, from Parse
        self._statements: list[str] = []  # SQL sent in the turn so far
        self._ends: list[str] = []  # messages of the turn the server must answer

    def feed(self, data: bytes) -> None:
        """Bytes the client sent (before they are forwarded)."""
        with self._lock:
            self._buffer.extend(data)
            while (message := self._next()) is not None:
                self._handle(*message)

    def answered(self) -> None:
        """Bytes the server sent (before they are forwarded): the client's turn, if it asked
        for an answer, was one round trip."""
        with self._lock:
            if not self._ends:
                return  # connecting, or a notice nobody asked for
            message = "+".join(dict.fromkeys(self._ends))
            trip = RoundTrip(self.number, message, tuple(self._statements))
            self._statements, self._ends = [], []
            self._on_round_trip(trip)

    def _next(self) -> tuple[bytes, bytes] | None:
        header = 4 if not self._started else 5
        if len(self._buffer) < header:
            return None
        if not self._started:  # untyped: int32 length (itself included), then the packet
            (length,) = struct.unpack_from("!i", self._buffer, 0)
            kind, start = b"", 4
        else:
            kind = bytes(self._buffer[:1])
            (length,) = struct.unpack_from("!i", self._buffer, 1)
            start, length = 5, length + 1
        if len(self._buffer) < length:
            return None
        body = bytes(self._buffer[start:length])
        del self._buffer[:length]
        return kind, body

    def _handle(self, kind: bytes, body: bytes) -> None:
        if not self._started:
            (code,) = struct.unpack_from("!i", body, 0)
            if code not in (SSL_REQUEST, GSSENC_REQUEST, CANCEL_REQUEST):
                self._started = True  # the startup packet: typed messages follow
                self._on_connect()
            return
        if kind == b"Q":
            self._statements.append(_cstring(body, 0)[0])
        elif kind == b"P":
            name, offset = _cstring_bytes(body, 0)
            self._prepared[name] = sql = _cstring(body, offset)[0]
            # The unnamed statement runs at once; a named one is prepared, to run when a Bind
            # names it (psycopg prepares a statement on its sixth run on a connection).
            self._statements.append(f"(prepare) {sql}" if name else sql)
        elif kind == b"B":
            _portal, offset = _cstring_bytes(body, 0)
            statement, _ = _cstring_bytes(body, offset)
            if statement:
                self._statements.append(self._prepared.get(statement, f"<{statement!r}>"))
        if kind in ROUND_TRIP_ENDS:
            self._ends.append(ROUND_TRIP_ENDS[kind])


def _cstring_bytes(body: bytes, offset: int) -> tuple[bytes, int]:
    end = body.index(b"\0", offset)
    return body[offset:end], end + 1


def _cstring(body: bytes, offset: int) -> tuple[str, int]:
    raw, after = _cstring_bytes(body, offset)
    return raw.decode("utf-8", errors="replace"), after


class CountingProxy:
    """Listens on 127.0.0.1:`port`, forwards every connection to `target`, counts as it goes."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()  # the tally is written by every connection's threads
        self._tally = Tally()
        self._sockets: list[socket.socket] = []
        self._connections = 0
        self._accepting = threading.Thread(target=self._accept, daemon=True, name="wire-accept")

    def start(self) -> None:
        self._accepting.start()

    def take(self) -> Tally:
        """What was counted since the last call; counting starts afresh."""
        with self._lock:
            tally, self._tally = self._tally, Tally()
        return tally

    def stop(self) -> None:
        with suppress(OSError):
            self._listener.close()
        for sock in list(self._sockets):
            with suppress(OSError):
                sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # stopped
            server = socket.create_connection(self._target)
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sockets += [client, server]
            self._connections += 1
            parser = FrontendParser(self._connections, self._record, self._opened)
            for source, sink, seen in ((client, server, parser.feed), (server, client, None)):
                threading.Thread(
                    target=self._pump, args=(source, sink, seen or _answered(parser)), daemon=True
                ).start()

    def _record(self, trip: RoundTrip) -> None:
        with self._lock:
            self._tally.round_trips.append(trip)

    def _opened(self) -> None:
        with self._lock:
            self._tally.connections += 1

    def _pump(
        self, source: socket.socket, sink: socket.socket, seen: Callable[[bytes], None]
    ) -> None:
        """Copy one direction, telling the parser what passed before forwarding it."""
        try:
            while data := source.recv(65536):
                seen(data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def _answered(parser: FrontendParser) -> Callable[[bytes], None]:
    return lambda _data: parser.answered()


@contextmanager
def counting_proxy(target_host: str, target_port: int) -> Iterator[CountingProxy]:
    proxy = CountingProxy(target_host, target_port)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
