# The lecture's socket calls as a student writes them, run by `sockit lab --run` with tcpdump
# beside it: a handshake, data both ways, a half-close, a refused connect (RST), a broadcast
# with SO_BROADCAST and a datagram to a port nobody holds (ICMP port unreachable).
import socket
s = socket.create_server(('127.0.0.1', 40000))
c = socket.create_connection(('127.0.0.1', 40000))
conn, _ = s.accept()
c.sendall(b'Hello, server')
conn.recv(1024)
c.shutdown(socket.SHUT_WR)
conn.recv(1024)
conn.sendall(b'Bye')
c.recv(1024)
conn.close(); c.close()
try:
    socket.create_connection(('127.0.0.1', 40001))
except ConnectionRefusedError:
    pass
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); r.bind(('', 40002))
u.sendto(b'Hello there', ('127.255.255.255', 40002))
r.recvfrom(100)
u.sendto(b'Hello there', ('127.0.0.1', 40003))
