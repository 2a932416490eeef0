#!/usr/bin/env python3
"""redis_handover.py - carries the chat's Redis read model (rooms' windows, member sets,
cached documents) over a clean Redis restart, so that the restarted server does not have
to rebuild it from MongoDB (about four minutes at a million stored messages). Used by
deploy/stack.py (`make run`'s stop and start) and runnable by an operator:

  python3 deploy/redis_handover.py stop --url redis://[USER:PASS@]HOST:PORT
      on the running server: the epoch its data was built under written to
      chat:redis:handover, every other client's writes paused in the same MULTI, then
      SHUTDOWN (Redis fsyncs its AOF and exits; if it refuses, the pause and the key are
      undone and the command fails)
  python3 deploy/redis_handover.py take --url ... | --socket PATH
      on the restarted server, before any chat process can reach it: the handover moved
      to chat:redis:epoch as "<new run_id> <epoch>" under `appendfsync always` (on disk
      before the reply), the handover key deleted

The servers read chat:redis:epoch when they connect (common/src/redis_sync_node.c) and
stamp and judge the read model with the epoch instead of the new run_id. Why that is safe
(docs/ARCHITECTURE.md, "Loss and restarts"): the handover is written with every other
write paused and only a SHUTDOWN after it, so any dataset that holds it holds everything
the old server was told; the take is on disk before any client can use the epoch, so a
crash of the new server loads a dataset whose epoch names another run_id, and everything
is rebuilt, as after any crash. Only with the AOF on (a snapshot alone would bring the
handover back after a crash); without it both steps do nothing special.

Single threaded; stdlib only.
"""
import argparse
import socket
import sys
import time
import urllib.parse

HANDOVER_KEY = "chat:redis:handover"
EPOCH_KEY = "chat:redis:epoch"
PAUSE_MS = 30000  # the writes of others held while SHUTDOWN writes everything out


class RespError(Exception):
    """An error reply (-ERR ...) from Redis."""


class Resp:
    """One blocking RESP2 connection, with AUTH and SELECT from the URL
    (redis://[[USER]:PASS@]HOST[:PORT][/DB]; with unix_path the URL gives only those):
    call(*args) sends a command and returns the reply (str, int, None, list); an error
    reply raises RespError, a closed connection ConnectionError. Also the tests' Redis
    client (tests/integration/rest_client.py)."""

    def __init__(self, url=None, unix_path=None, timeout=10.0):
        u = urllib.parse.urlsplit(url or "redis://")
        user = urllib.parse.unquote(u.username) if u.username else None
        password = urllib.parse.unquote(u.password) if u.password else None
        if unix_path:  # the URL still gives the credentials
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            try:
                self.sock.connect(unix_path)
            except OSError:
                self.sock.close()
                raise
        else:
            self.sock = socket.create_connection((u.hostname or "127.0.0.1", u.port or 6379),
                                                 timeout)
        self.buf = b""
        if password:
            self.call(*(["AUTH", user, password] if user else ["AUTH", password]))
        db = (u.path or "/").strip("/")
        if db and db != "0":
            self.call("SELECT", db)

    def close(self):
        self.sock.close()

    def call(self, *args):
        self.send(*args)
        return self.reply()

    def send(self, *args):
        out = [f"*{len(args)}\r\n".encode()]
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(b), b))
        self.sock.sendall(b"".join(out))

    def reply(self):
        """The next reply (an error reply raises RespError after it was read whole)."""
        return self._reply()

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("Redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _reply(self, top=True):
        """One reply; an error inside an array is returned as a RespError, so that the
        rest of the array is still read."""
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            if top:
                raise RespError(rest.decode())
            return RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("Redis closed the connection")
                self.buf += chunk
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data.decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply(top=False) for _ in range(n)]
        raise RespError(f"unexpected reply {line[:40]!r}")


def run_id(conn):
    for line in conn.call("INFO", "server").splitlines():
        if line.startswith("run_id:"):
            return line[7:].strip()
    raise RespError("INFO server has no run_id")


def epoch_of(value, run):
    """The epoch "<run> <epoch>" names for run, else run itself (what the servers use)."""
    parts = (value or "").split()
    return parts[1] if len(parts) == 2 and parts[0] == run else run


def aof_on(conn):
    return conn.call("CONFIG", "GET", "appendonly")[1] == "yes"


def wait_loaded(conn, timeout=600.0):
    """Waits while Redis loads its AOF (commands answer LOADING until then)."""
    deadline = time.monotonic() + timeout
    while "loading:1" in conn.call("INFO", "persistence"):
        if time.monotonic() > deadline:
            raise TimeoutError("Redis still loading its data")
        time.sleep(0.05)


def transaction(conn, *commands):
    """MULTI, the commands, EXEC: EXEC's replies. Raises the first error: of a command
    refused when queued (EXEC then aborts it all) or of one that failed in EXEC."""
    conn.call("MULTI")
    refused = None
    for command in commands:
        try:
            conn.call(*command)
        except RespError as e:
            refused = refused or e
    try:
        replies = conn.call("EXEC")
    except RespError as e:
        raise refused or e
    for reply in replies or []:
        if isinstance(reply, RespError):
            raise reply
    return replies


def hand_over(conn, pause_ms=PAUSE_MS):
    """Writes the epoch to the handover key with other writes paused, then SHUTDOWN.
    Returns the epoch handed over, or None when the AOF is off (a plain SHUTDOWN: the
    next start rebuilds). Raises RespError when Redis refuses to shut down."""
    if not aof_on(conn):
        try:
            conn.call("SHUTDOWN")
        except ConnectionError:
            pass
        return None
    run = run_id(conn)
    epoch = epoch_of(conn.call("GET", EPOCH_KEY), run)
    try:
        transaction(conn, ("SET", HANDOVER_KEY, epoch), ("CLIENT", "PAUSE", pause_ms, "WRITE"))
    except RespError:
        _undo(conn)
        raise
    conn.sock.settimeout(300)  # SHUTDOWN may also write a snapshot (save points)
    try:
        conn.call("SHUTDOWN")
    except ConnectionError:
        return epoch  # it exited: the handover is on disk with everything before it
    except RespError:
        _undo(conn)
        raise
    _undo(conn)
    raise RespError("SHUTDOWN answered and Redis kept running")


def _undo(conn):
    """A handover that did not end in SHUTDOWN: writes resume, the key goes (the pause
    holds this client's writes too, so it ends first)."""
    conn.call("CLIENT", "UNPAUSE")
    conn.call("DEL", HANDOVER_KEY)


def take_over(conn):
    """On a restarted server no chat process reaches yet: the handover becomes this run's
    epoch, on disk before the call returns. Returns the epoch, or None (nothing handed
    over, or the AOF is off: the key is dropped and everything is rebuilt)."""
    wait_loaded(conn)
    epoch = conn.call("GET", HANDOVER_KEY)
    if epoch is None:
        return None
    if not aof_on(conn):
        conn.call("DEL", HANDOVER_KEY)
        return None
    run = run_id(conn)
    fsync = conn.call("CONFIG", "GET", "appendfsync")[1]
    conn.call("CONFIG", "SET", "appendfsync", "always")
    try:
        transaction(conn, ("SET", EPOCH_KEY, f"{run} {epoch}"), ("DEL", HANDOVER_KEY))
    finally:
        conn.call("CONFIG", "SET", "appendfsync", fsync)
    return epoch


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("step", choices=["stop", "take"])
    ap.add_argument("--url", help="redis://[USER:PASS@]HOST:PORT")
    ap.add_argument("--socket", help="a Unix socket path instead of --url")
    args = ap.parse_args(argv)
    if not args.url and not args.socket:
        ap.error("--url or --socket is required")
    conn = Resp(url=args.url, unix_path=args.socket)
    try:
        if args.step == "stop":
            epoch = hand_over(conn)
            print(f"Redis stopped; read model handed over (epoch {epoch})" if epoch
                  else "Redis stopped; no AOF, nothing handed over")
        else:
            epoch = take_over(conn)
            print(f"read model taken over (epoch {epoch})" if epoch
                  else "nothing handed over: the read model is rebuilt")
    except (RespError, OSError) as e:
        print(f"redis_handover: {e}", file=sys.stderr)
        return 1
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
