"""A crowd of N line clients held open on a chat room, reading all the time (a client that
does not read is let go, by design).

argv: PORT N WORD. Prints "connected" once every client is welcomed; then, for each line
read on stdin, prints how many clients have received a line containing WORD and how many
connections the server has closed, once all N have it or 30 s have passed.
"""
import resource, selectors, socket, sys, time

port, n, word = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].encode()
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 1024), hard))
sel = selectors.DefaultSelector()
tail = {}
welcomed, got, closed = set(), set(), set()


def drain(timeout):
    for key, _ in sel.select(timeout):
        s = key.fileobj
        try:
            d = s.recv(65536)
        except BlockingIOError:
            continue
        except OSError:
            d = b""
        if not d:
            sel.unregister(s)
            closed.add(s)
            continue
        seen = tail[s] + d
        if b"* welcome" in seen:
            welcomed.add(s)
        if word in seen:
            got.add(s)
        tail[s] = seen[-max(len(word), 16):]


for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.setblocking(False)
    tail[s] = b""
    sel.register(s, selectors.EVENT_READ)
    drain(0)
deadline = time.time() + 60
while time.time() < deadline and len(welcomed) < n:
    drain(0.1)
print("connected" if len(welcomed) == n else f"only {len(welcomed)} welcomed", flush=True)
for _ in sys.stdin:
    deadline = time.time() + 30
    while time.time() < deadline and len(got) < n:
        drain(0.1)
    # A moment more: a connection the server closes would show now.
    end = time.time() + 0.5
    while time.time() < end:
        drain(0.1)
    print(len(got), len(closed), flush=True)
