"""`sockit chat join` on a terminal (a pty), beside a line client (dave) on a plain socket.

argv: SOCKIT_BIN PORT. Types half a line, has dave speak, finishes the line; edits a line
with the cursor keys; sends the last line again from history; pastes a line and half a line;
ends with Ctrl-D. Prints one
JSON object: what dave received from erin, the terminal transcript, the exit code, and
whether the terminal was left in canonical mode with echo.
"""
import fcntl, json, os, select, socket, struct, subprocess, sys, termios, time

sockit, port = sys.argv[1], int(sys.argv[2])
dave = socket.create_connection(("127.0.0.1", port), timeout=0.2)
dave_buf = b""


def dave_until(word, secs=10):
    """dave's lines until one contains `word`."""
    global dave_buf
    end = time.time() + secs
    while word.encode() not in dave_buf and time.time() < end:
        try:
            chunk = dave.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            break
        dave_buf += chunk


dave.sendall(b"/nick dave\n")
dave_until("now known as dave")

master, slave = os.openpty()
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
proc = subprocess.Popen(
    [sockit, "chat", "join", "--nick", "erin", f"127.0.0.1:{port}"],
    stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
)
transcript = b""


def read_for(secs, until=None):
    global transcript
    end = time.time() + secs
    while time.time() < end:
        if until is not None and until in transcript:
            return
        r, _, _ = select.select([master], [], [], 0.05)
        if r:
            try:
                transcript += os.read(master, 65536)
            except OSError:
                return


def typed(keys, pause=0.3):
    """Type as a person does, a key at a time (an escape sequence is one key)."""
    i = 0
    while i < len(keys):
        n = 3 if keys[i:i + 2] == b"\x1b[" else 1
        os.write(master, keys[i:i + n])
        i += n
        read_for(0.01)
    read_for(pause)


read_for(10, until=b"welcome")
dave_until("now known as erin")
read_for(0.5)
typed(b"half-typed")
dave.sendall(b"dave line 3\n")
read_for(5, until=b"dave line 3")
typed(b" rest\r")
dave_until("<erin> half-typed rest")
typed(b"hllo" + b"\x1b[D" * 3 + b"e\r")
dave_until("<erin> hello")
typed(b"\x1b[A\r")
time.sleep(0.3)
dave_until("<erin> hello\n<erin> hello")
# Keys that arrive together (a paste, fast typing): a whole line in one write is sent at once,
# and a half line is drawn at once, before any other key comes.
os.write(master, b"pasted at once\r")
dave_until("<erin> pasted at once")
mark = len(transcript)
os.write(master, b"drawn whole")
read_for(2, until=b"drawn whole")
shown_at_once = b"drawn whole" in transcript[mark:]
typed(b"\x15\x04", pause=0.1)
try:
    code = proc.wait(timeout=10)
except subprocess.TimeoutExpired:
    proc.kill()
    code = None
read_for(0.3)
attrs = termios.tcgetattr(master)
lflag = attrs[3]
from_erin = [l for l in dave_buf.decode(errors="replace").split("\n") if l.startswith("<erin>")]
print(json.dumps({
    "from_erin": from_erin,
    "transcript": transcript.decode(errors="replace"),
    "code": code,
    "canonical": bool(lflag & termios.ICANON) and bool(lflag & termios.ECHO),
    "shown_at_once": shown_at_once,
}))
