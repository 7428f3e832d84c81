"""A DNS over QUIC server (RFC 9250) made with aioquic: ALPN doq, each stream's query sent on
to an upstream DNS server over UDP and its reply written back on the stream. A query whose id
is not 0 gets its stream reset (DOQ_PROTOCOL_ERROR), as RFC 9250 4.2.1 allows. Arguments:
address, port, certificate, key, upstream address, upstream port. Prints "ready", then
"connection" for each QUIC connection a client opens."""
import asyncio
import socket
import struct
import sys

from aioquic.asyncio import QuicConnectionProtocol, serve
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

    def quic_event_received(self, event):
        if isinstance(event, HandshakeCompleted):
            print("connection", flush=True)
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


async def main():
    config = QuicConfiguration(is_client=False, alpn_protocols=["doq"])
    config.load_cert_chain(cert, key)
    await serve(host, port, configuration=config, create_protocol=DoQ)
    print("ready", flush=True)
    await asyncio.sleep(120)


asyncio.run(main())
