"""A DNS server over TCP that lies about zone transfers, one lie a connection: a first record
that is not the zone's SOA, a transfer cut before its closing SOA, a message that is not DNS,
an answer to another query's id. Prints its port."""
import socket
import struct
import sys

def rr_soa(zone):
    name = b"".join(bytes([len(p)]) + p.encode() for p in zone.split(".") if p) + b"\0"
    mname = b"\x03ns1" + name
    rdata = mname + mname + struct.pack(">IIIII", 1, 3600, 600, 86400, 60)
    return name + struct.pack(">HHIH", 6, 1, 60, len(rdata)) + rdata

def rr_a(zone):
    name = b"\x04host" + b"".join(bytes([len(p)]) + p.encode() for p in zone.split(".") if p) + b"\0"
    return name + struct.pack(">HHIH", 1, 1, 60, 4) + bytes([198, 18, 0, 10])

def reply(qid, question, answers):
    head = struct.pack(">HHHHHH", qid, 0x8400, 1, len(answers), 0, 0)
    return head + question + b"".join(answers)

def framed(msg):
    return struct.pack(">H", len(msg)) + msg

lies = sys.argv[1:]
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
s.settimeout(20)
print(s.getsockname()[1], flush=True)
for lie in lies:
    c, _ = s.accept()
    c.settimeout(10)
    n = struct.unpack(">H", c.recv(2))[0]
    q = b""
    while len(q) < n:
        q += c.recv(n - len(q))
    qid, question = struct.unpack(">H", q[:2])[0], q[12:]
    # The question is the query's up to its EDNS record, if any: name, type, class.
    end = question.index(b"\0") + 5
    question = question[:end]
    if lie == "no-soa-first":
        c.sendall(framed(reply(qid, question, [rr_a("test")])))
    elif lie == "cut":
        c.sendall(framed(reply(qid, question, [rr_soa("test"), rr_a("test")])))
    elif lie == "garbage":
        c.sendall(framed(b"\xff" * 7))
    elif lie == "other-id":
        c.sendall(framed(reply((qid + 1) % 65536, question, [rr_soa("test")])))
    c.close()
