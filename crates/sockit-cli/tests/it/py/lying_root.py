"""A DNS server over UDP that lies to a resolver walking down from the root, by its first
argument: `sideways` refers every question to a zone not on its way (other.), `upward` refers
it back to the root itself, `garbage` answers with bytes that are not DNS, `wrongid` answers
another query's id. Listens on the address and port given next; prints "ready"."""
import socket
import struct
import sys

mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])

def name(text):
    return b"".join(bytes([len(p)]) + p.encode() for p in text.split(".") if p) + b"\0"

def question_end(msg):
    at = 12
    while msg[at] != 0:
        at += 1 + msg[at]
    return at + 5

def referral(qid, question, zone):
    ns = name("ns.lies.example.")
    rr = name(zone) + struct.pack(">HHIH", 2, 1, 60, len(ns)) + ns
    return struct.pack(">HHHHHH", qid, 0x8000, 1, 0, 1, 0) + question + rr

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((host, port))
s.settimeout(60)
print("ready", flush=True)
while True:
    try:
        msg, peer = s.recvfrom(4096)
    except socket.timeout:
        break
    if len(msg) < 17:
        continue
    qid = struct.unpack(">H", msg[:2])[0]
    question = msg[12:question_end(msg)]
    if mode == "sideways":
        out = referral(qid, question, "other.")
    elif mode == "upward":
        out = referral(qid, question, ".")
    elif mode == "wrongid":
        out = referral(qid ^ 0x5555, question, "test.")
    else:
        out = b"\x00\x01not dns"
    s.sendto(out, peer)
