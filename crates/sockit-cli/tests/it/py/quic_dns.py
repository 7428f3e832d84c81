"""A DNS server over QUIC made with aioquic: DNS over QUIC (RFC 9250, ALPN doq), each stream's
query sent on to an upstream DNS server over UDP and its reply written back on the stream, and
DNS over HTTPS on HTTP/3 (RFC 8484, ALPN h3: POST or GET at /dns-query, anything else 404). A
query whose id is not 0 gets its stream reset (DOQ_PROTOCOL_ERROR) or a 400. Arguments:
address, port, certificate, key, upstream address, upstream port. Prints "ready", then
"connection doq" or "connection h3" for each QUIC connection a client opens."""
import asyncio
import base64
import socket
import struct
import sys

from aioquic.asyncio import QuicConnectionProtocol, serve
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import HandshakeCompleted, StreamDataReceived

host, port, cert, key, up_host, up_port = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])


def upstream(query):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.sendto(query, (up_host, up_port))
    reply, _ = s.recvfrom(65535)
    s.close()
    return reply


class DoQ(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.streams = {}
        self.h3 = None
        self.requests = {}

    def quic_event_received(self, event):
        if isinstance(event, HandshakeCompleted):
            print("connection", event.alpn_protocol, flush=True)
            if event.alpn_protocol in H3_ALPN:
                self.h3 = H3Connection(self._quic)
        elif self.h3 is not None:
            for e in self.h3.handle_event(event):
                self.http_event(e)
        elif isinstance(event, StreamDataReceived):
            data = self.streams.get(event.stream_id, b"") + event.data
            self.streams[event.stream_id] = data
            if event.end_stream:
                del self.streams[event.stream_id]
                asyncio.ensure_future(self.answer(event.stream_id, data))

    async def answer(self, stream_id, data):
        length = struct.unpack(">H", data[:2])[0] if len(data) >= 2 else -1
        query = data[2:]
        if length != len(query) or query[:2] != b"\0\0":
            self._quic.reset_stream(stream_id, 2)
            self.transmit()
            return
        reply = await asyncio.get_running_loop().run_in_executor(None, upstream, query)
        self._quic.send_stream_data(stream_id, struct.pack(">H", len(reply)) + reply, end_stream=True)
        self.transmit()


    def http_event(self, e):
        if isinstance(e, HeadersReceived):
            self.requests[e.stream_id] = [dict(e.headers), b""]
        elif isinstance(e, DataReceived):
            self.requests[e.stream_id][1] += e.data
        if getattr(e, "stream_ended", False):
            headers, body = self.requests.pop(e.stream_id)
            asyncio.ensure_future(self.http_answer(e.stream_id, headers, body))

    async def http_answer(self, stream_id, headers, body):
        path, _, query = headers.get(b":path", b"").decode().partition("?")
        method = headers.get(b":method", b"").decode()
        if method == "GET" and query.startswith("dns="):
            text = query[4:]
            body = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        status, reply = 200, b""
        if path != "/dns-query":
            status = 404
        elif body[:2] != b"\0\0" or len(body) < 12:
            status = 400
        else:
            reply = await asyncio.get_running_loop().run_in_executor(None, upstream, body)
        head = [(b":status", str(status).encode()), (b"content-type", b"application/dns-message")]
        self.h3.send_headers(stream_id, head)
        self.h3.send_data(stream_id, reply, end_stream=True)
        self.transmit()


async def main():
    config = QuicConfiguration(is_client=False, alpn_protocols=["doq"] + H3_ALPN)
    config.load_cert_chain(cert, key)
    await serve(host, port, configuration=config, create_protocol=DoQ)
    print("ready", flush=True)
    await asyncio.sleep(120)


asyncio.run(main())
