"""test_gateway_sockets.py - the TCP options of the gateway's end of a client connection,
read from the running gateway itself: a duplicate of its descriptor taken with
pidfd_getfd(2) (Linux 5.6+; needs ptrace rights over the gateway, which root has), then
getsockopt(2). Runs against the module's real stack (2 gateways)."""
import ctypes
import errno
import os
import socket
import time
from urllib.parse import urlparse

import pytest

SYS_PIDFD_GETFD = 438  # x86_64 and aarch64 alike (the generic syscall table)


def _inode_of_peer(server_port, port, deadline_s=5.0):
    """The socket inode of the connection's server end: local port server_port, remote
    port port (/proc/net/tcp*)."""
    deadline = time.time() + deadline_s
    while time.time() < deadline:
        for path in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(path) as f:
                for line in f.read().splitlines()[1:]:
                    fields = line.split()
                    if (int(fields[1].rsplit(":", 1)[1], 16) == server_port
                            and int(fields[2].rsplit(":", 1)[1], 16) == port
                            and fields[9] != "0"):
                        return fields[9]
        time.sleep(0.05)
    raise AssertionError(f"no server end for the client port {port}")


def _fd_of_inode(pid, inode):
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                return int(fd)
        except OSError:
            continue
    raise AssertionError(f"the gateway {pid} holds no socket {inode}")


def _server_sockopt(pid, server_port, client_port, level, option):
    target = _fd_of_inode(pid, _inode_of_peer(server_port, client_port))
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        dup = libc.syscall(SYS_PIDFD_GETFD, pidfd, target, 0)
        if dup < 0:
            err = ctypes.get_errno()
            if err == errno.EPERM:
                pytest.skip("no ptrace rights over the gateway (pidfd_getfd: EPERM)")
            raise OSError(err, os.strerror(err))
        s = socket.socket(fileno=dup)
        try:
            return s.getsockopt(level, option)
        finally:
            s.close()  # the duplicate only; the gateway's descriptor stays open
    finally:
        os.close(pidfd)


@pytest.mark.parametrize("gateway", [0, 1])
def test_the_gateway_turns_nagle_off_on_client_sockets(stack, gateway):
    """Every accepted client socket has TCP_NODELAY: with Nagle on, a small frame written
    while the peer has not acknowledged the previous one waits for the peer's delayed ACK
    (up to 40 ms on Linux): measured, the ack of a new room's first message took 42-47 ms
    in 8 of 14 trials (bench/new_rooms.py), and every fan-out frame could wait so.
    libwebsockets does not set it on a socket the gateway accepts and adopts itself."""
    url = urlparse(stack.gateway_ws_url(gateway))
    with socket.create_connection((url.hostname, url.port), timeout=5) as c:
        port = c.getsockname()[1]
        nodelay = _server_sockopt(stack.gateway_pid(gateway), url.port, port,
                                  socket.IPPROTO_TCP, socket.TCP_NODELAY)
    assert nodelay == 1, "the gateway's end of a client connection has Nagle on"
