#!/usr/bin/env python3
"""TCP ports for the test servers, all on 127.0.0.1 (sourced helpers call it; see lib.sh).

  ports.py free N             N distinct ports that nothing listens on now, one a line
  ports.py listens PID PORT   exit 0 if process PID holds a listening TCP socket on PORT
  ports.py hold PORT...       listen on each PORT that is free until SIGTERM; prints
                              "held P..." and "taken P..." once all are tried (test support:
                              the proof that the servers avoid occupied ports)
  ports.py lo-up              bring the loopback interface up (inside a fresh network namespace)

Why `free` does not just bind port 0: the kernel hands those out of its ephemeral range, from
which every outgoing connection also takes its local port, and the test suites make many. A
port picked there can be taken by some client's connection in the second between the pick and
the server's bind. Ports below that range are never assigned implicitly, so `free` draws at
random from them (10,000 candidates by default) and keeps those that bind; only a server
started at the same moment can race for one, and the server scripts retry on that.
"""
import os
import random
import signal
import socket
import sys


def ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
            return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


def candidates():
    lo, hi = ephemeral_range()
    if lo - 1 >= 21000:
        return range(max(20000, lo - 12000), lo)  # below the ephemeral range
    if hi + 1 <= 64000:
        return range(hi + 1, 65536)  # above it
    return None  # the range covers (nearly) everything: fall back to port 0


def try_bind(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return s
    except OSError:
        s.close()
        return None


def cmd_free(n):
    pool = candidates()
    held, ports = [], []
    try:
        if pool is None:
            for _ in range(n):
                s = try_bind(0)
                held.append(s)
                ports.append(s.getsockname()[1])
        else:
            order = random.SystemRandom().sample(pool, len(pool))
            for p in order:
                if len(ports) == n:
                    break
                # Also refuse a port bound to 0.0.0.0 or in use by any socket: bind() without
                # SO_REUSEADDR fails on both.
                s = try_bind(p)
                if s:
                    held.append(s)
                    ports.append(p)
        if len(ports) < n:
            sys.exit("ports.py: found only %d free ports" % len(ports))
    finally:
        for s in held:
            s.close()
    print("\n".join(str(p) for p in ports))


def listening_inodes(port):
    """Socket inodes of the LISTEN sockets on PORT (IPv4 and IPv6, any local address)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    local, state, inode = fields[1], fields[3], fields[9]
                    if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                        inodes.add(inode)
        except OSError:
            pass
    return inodes


def cmd_listens(pid, port):
    wanted = {"socket:[%s]" % i for i in listening_inodes(port)}
    if not wanted:
        return 1
    fd_dir = "/proc/%d/fd" % pid
    try:
        fds = os.listdir(fd_dir)
    except OSError:
        return 1
    for fd in fds:
        try:
            if os.readlink(os.path.join(fd_dir, fd)) in wanted:
                return 0
        except OSError:
            continue
    return 1


def cmd_hold(ports):
    held, taken, socks = [], [], []
    for p in ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", p))
            s.listen(16)
            socks.append(s)
            held.append(p)
        except OSError:
            s.close()
            taken.append(p)
    print("held", *held)
    print("taken", *taken, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # Bounded: it never outlives a test that forgot it by more than ten minutes.
    signal.alarm(600)
    signal.pause()


def cmd_lo_up():
    import fcntl
    import struct
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = fcntl.ioctl(s, siocgifflags, struct.pack("16sH14x", b"lo", 0))
        flags = struct.unpack("16sH14x", req)[1]
        fcntl.ioctl(s, siocsifflags, struct.pack("16sH14x", b"lo", flags | iff_up))


def main(argv):
    usage = "usage: ports.py free N | listens PID PORT | hold PORT... | lo-up"
    if len(argv) < 2:
        sys.exit(usage)
    cmd, args = argv[1], argv[2:]
    if cmd == "free" and len(args) == 1:
        cmd_free(int(args[0]))
    elif cmd == "listens" and len(args) == 2:
        sys.exit(cmd_listens(int(args[0]), int(args[1])))
    elif cmd == "hold" and args:
        cmd_hold([int(a) for a in args])
    elif cmd == "lo-up" and not args:
        cmd_lo_up()
    else:
        sys.exit(usage)


if __name__ == "__main__":
    main(sys.argv)
