"""An IRC bot written with Python's socket module: it registers with message-tags,
server-time and echo-message, then says what it saw on stdout, a fact a line, for the test to
compare, and does what the test writes on its stdin (raw IRC lines; "WAIT text" waits for a
line holding text and prints it)."""

import re
import socket
import sys

port, nick = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=20)
buf = b""


def line():
    global buf
    while b"\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit("closed")
        buf += chunk
    l, buf = buf.split(b"\r\n", 1)
    return l.decode()


def until(pred):
    while True:
        l = line()
        if pred(l):
            return l


def say(text):
    print(text, flush=True)


s.sendall(b"CAP LS 302\r\n")
s.sendall(f"NICK {nick}\r\nUSER {nick}u 0 * :A bot\r\n".encode())
ls = until(lambda l: " CAP * LS " in l)
offered = ls.split(" :", 1)[1].split()
s.sendall(b"CAP REQ :message-tags server-time echo-message\r\n")
ack = until(lambda l: " CAP " in l and (" ACK " in l or " NAK " in l))
say("offered " + " ".join(sorted(w for w in offered if w in ("message-tags", "server-time", "echo-message", "away-notify", "batch", "multi-prefix", "draft/chathistory"))))
say("ack " + ack.split(" :", 1)[1])
s.sendall(b"CAP END\r\n")
welcome = until(lambda l: " 001 " in l)
say("001 to " + welcome.split()[2])
hint = until(lambda l: " NOTICE " in l)
say("told " + hint.split(" :", 1)[1])
s.sendall(b"JOIN #sockit\r\n")
join = until(lambda l: " JOIN " in l)
say("joined " + join.split()[-1] + " as " + join[1:].split("!")[0])
names = []
while True:
    l = line()
    if " 353 " in l:
        names += l.split(" :", 1)[1].split()
    if " 366 " in l:
        break
say("names " + " ".join(sorted(names)))
TIME = re.compile(r"^@time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ")
for cmd in sys.stdin:
    cmd = cmd.rstrip("\n")
    if cmd.startswith("WAIT "):
        want = cmd[5:]
        got = until(lambda l: want in l)
        timed = bool(TIME.match(got))
        say(("timed " if timed else "untimed ") + TIME.sub("", got))
    else:
        s.sendall(cmd.encode() + b"\r\n")
say("done")
