"""A TLS server that asks for a client certificate and says which name was asked for (SNI)
and who the client was; argv: server cert, server key, the client certificate it trusts."""
import socket
import ssl
import sys

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
ctx.verify_mode = ssl.CERT_REQUIRED
ctx.load_verify_locations(sys.argv[3])
asked = []
ctx.sni_callback = lambda sock, name, c: asked.append(name)
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(4)
listener.settimeout(20)
print(listener.getsockname()[1], flush=True)
for _ in range(3):
    conn, _ = listener.accept()
    conn.settimeout(10)
    try:
        tls = ctx.wrap_socket(conn, server_side=True)
    except (ssl.SSLError, OSError) as e:
        print("refused", type(e).__name__, flush=True)
        continue
    peer = dict(x[0] for x in tls.getpeercert()["subject"])
    print("sni=%s client=%s" % (asked[-1] if asked else None, peer.get("commonName")), flush=True)
    tls.sendall(b"hello\n")
    # Read to the client's end before closing: a close with its bytes unread would be a reset,
    # which can cost the client the greeting still on its way.
    try:
        while tls.recv(100):
            pass
    except (ssl.SSLError, OSError):
        pass
    tls.close()
