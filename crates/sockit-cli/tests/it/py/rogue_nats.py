"""A rogue on the cluster's broker: a NATS client of a few dozen lines on a socket.

argv: PORT SUBJECT [--login USER PASS] [--key FILE]. Reads JSON Lines on stdin, each a message
to publish as is on SUBJECT (HPUB with a Sockit-Mac header when a key FILE is given: the rogue
holds the cluster key too). Prints "ok N" once the broker has answered a PING after the last, or the
broker's -ERR line.
"""
import base64, hashlib, hmac, json, socket, sys

port, subject, rest = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
user = password = key = None
while rest:
    if rest[0] == "--login":
        user, password, rest = rest[1], rest[2], rest[3:]
    elif rest[0] == "--key":
        key, rest = open(rest[1], "rb").read().rstrip(b"\n"), rest[2:]
    else:
        sys.exit(f"unknown argument {rest[0]}")

s = socket.create_connection(("127.0.0.1", port), timeout=10)
f = s.makefile("rb")
info = f.readline()
assert info.startswith(b"INFO "), info
connect = {"verbose": False, "pedantic": False, "headers": True}
if user is not None:
    connect.update(user=user, **{"pass": password})
s.sendall(b"CONNECT " + json.dumps(connect).encode() + b"\r\n")
n = 0
for line in sys.stdin.buffer:
    payload = line.rstrip(b"\n")
    if key is None:
        s.sendall(b"PUB %s %d\r\n%s\r\n" % (subject.encode(), len(payload), payload))
    else:
        mac = hmac.new(key, subject.encode() + b"\n" + payload, hashlib.sha256).digest()
        head = b"NATS/1.0\r\nSockit-Mac: " + base64.b64encode(mac) + b"\r\n\r\n"
        s.sendall(b"HPUB %s %d %d\r\n%s%s\r\n" % (subject.encode(), len(head), len(head) + len(payload), head, payload))
    n += 1
s.sendall(b"PING\r\n")
while True:
    answer = f.readline()
    if answer.startswith(b"PONG"):
        print("ok", n)
        break
    if answer.startswith(b"-ERR") or not answer:
        print(answer.decode().strip())
        break
