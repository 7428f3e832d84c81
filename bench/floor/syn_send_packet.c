// The kernel's part of a SYN scan sent as masscan sends on Linux: THREADS threads (one a
// core), each with an AF_PACKET socket of its own (PACKET_QDISC_BYPASS), hand their share of
// one SYN to every port 1-65535 of TARGET from SOURCE to the interface IFACE as whole
// Ethernet frames (from SRC_MAC to DST_MAC, the neighbour's), 32 to a sendmmsg, and nothing
// else: no routing, no netfilter, no cookies, no reading of the answers (the neighbour's
// kernel still answers each, on the same cores).
//
//   syn_send_packet SOURCE TARGET THREADS IFACE SRC_MAC DST_MAC [ANSWERS]
//
// With ANSWERS, it is the kernel's part of a whole scan: a raw TCP socket opened before the
// sending (8 MiB of buffer) is read on one more thread, 64 packets a recvmmsg (a sleep of
// 250 µs when nothing is queued, as sockit's reader), until ANSWERS ports of TARGET have
// answered (a reset or a SYN-ACK to the SYNs' source port), or two seconds have passed.
//
// Prints the milliseconds it took (with ANSWERS, and the answers read). IPv4.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 32
#define READ 64
#define SPORT 40000
#define FRAME 58

static struct in_addr src, dst;
static int threads, ifindex;
static uint8_t smac[6], dmac[6];

static uint16_t sum16(const uint8_t *p, size_t n, uint32_t sum) {
    for (size_t i = 0; i + 1 < n; i += 2) sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

// One SYN to `port` as an Ethernet frame.
static void frame(uint8_t *f, long port) {
    memset(f, 0, FRAME);
    memcpy(f, dmac, 6);
    memcpy(f + 6, smac, 6);
    f[12] = 0x08;
    uint8_t *ip = f + 14;
    ip[0] = 0x45; ip[3] = 44; ip[8] = 64; ip[9] = 6;
    memcpy(ip + 12, &src, 4);
    memcpy(ip + 16, &dst, 4);
    uint16_t ic = ~sum16(ip, 20, 0);
    ip[10] = ic >> 8; ip[11] = ic & 0xff;
    uint8_t *tcp = ip + 20;
    tcp[0] = SPORT >> 8; tcp[1] = SPORT & 0xff;
    tcp[2] = port >> 8; tcp[3] = port & 0xff;
    tcp[4] = port >> 8; tcp[5] = port & 0xff; // a sequence number
    tcp[12] = 6 << 4; tcp[13] = 0x02; tcp[14] = 4;
    tcp[20] = 2; tcp[21] = 4; tcp[22] = 0x05; tcp[23] = 0xb4;
    uint8_t pseudo[12] = { 0 };
    memcpy(pseudo, &src, 4); memcpy(pseudo + 4, &dst, 4);
    pseudo[9] = 6; pseudo[11] = 24;
    uint16_t c = ~sum16(tcp, 24, sum16(pseudo, 12, 0));
    tcp[16] = c >> 8; tcp[17] = c & 0xff;
}

static void *sender(void *arg) {
    long t = (long)arg;
    int s = socket(AF_PACKET, SOCK_RAW, 0);
    if (s < 0) { perror("socket"); exit(1); }
    int one = 1;
    setsockopt(s, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
    struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_ifindex = ifindex, .sll_halen = 6,
                              .sll_protocol = htons(ETH_P_IP) };
    memcpy(to.sll_addr, dmac, 6);
    uint8_t frames[BATCH][FRAME];
    struct iovec iov[BATCH];
    struct mmsghdr msgs[BATCH];
    long port = 1 + t;
    while (port <= 65535) {
        int n = 0;
        for (; n < BATCH && port <= 65535; n++, port += threads) {
            frame(frames[n], port);
            iov[n] = (struct iovec){ .iov_base = frames[n], .iov_len = FRAME };
            memset(&msgs[n], 0, sizeof msgs[n]);
            msgs[n].msg_hdr.msg_iov = &iov[n];
            msgs[n].msg_hdr.msg_iovlen = 1;
            msgs[n].msg_hdr.msg_name = &to;
            msgs[n].msg_hdr.msg_namelen = sizeof to;
        }
        for (int off = 0; off < n;) {
            int r = sendmmsg(s, msgs + off, n - off, 0);
            if (r < 0) {
                if (errno != ENOBUFS && errno != EAGAIN) { perror("sendmmsg"); exit(1); }
                usleep(200);
                continue;
            }
            off += r;
        }
    }
    return NULL;
}

static int reader_socket;
static long expected, answered;

// Read answers until `expected` distinct ports have answered, or two seconds have passed.
static void *reader(void *arg) {
    (void)arg;
    static uint8_t seen[65536];
    uint8_t bufs[READ][128];
    struct iovec iov[READ];
    struct mmsghdr msgs[READ];
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (answered < expected) {
        for (int i = 0; i < READ; i++) {
            iov[i] = (struct iovec){ .iov_base = bufs[i], .iov_len = sizeof bufs[i] };
            memset(&msgs[i], 0, sizeof msgs[i]);
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        int n = recvmmsg(reader_socket, msgs, READ, MSG_DONTWAIT, NULL);
        if (n <= 0) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (now.tv_sec - start.tv_sec > 2) break;
            usleep(250);
            continue;
        }
        for (int i = 0; i < n; i++) {
            const uint8_t *ip = bufs[i];
            size_t len = msgs[i].msg_len, hl = (size_t)(ip[0] & 15) * 4;
            if (len < hl + 20 || memcmp(ip + 12, &dst, 4) != 0) continue;
            const uint8_t *tcp = ip + hl;
            if ((tcp[2] << 8 | tcp[3]) != SPORT || !(tcp[13] & 0x14)) continue;
            int port = tcp[0] << 8 | tcp[1];
            if (!seen[port]) { seen[port] = 1; answered++; }
        }
    }
    return NULL;
}

static int mac(const char *s, uint8_t *m) {
    return sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", m, m + 1, m + 2, m + 3, m + 4, m + 5) == 6;
}

int main(int argc, char **argv) {
    if ((argc != 7 && argc != 8) || !inet_aton(argv[1], &src) || !inet_aton(argv[2], &dst) || (threads = atoi(argv[3])) < 1 ||
        !(ifindex = if_nametoindex(argv[4])) || !mac(argv[5], smac) || !mac(argv[6], dmac)) {
        fprintf(stderr, "usage: syn_send_packet SOURCE TARGET THREADS IFACE SRC_MAC DST_MAC [ANSWERS]\n");
        return 2;
    }
    pthread_t rd;
    if (argc == 8) {
        expected = atol(argv[7]);
        reader_socket = socket(AF_INET, SOCK_RAW, IPPROTO_TCP);
        if (reader_socket < 0) { perror("socket"); return 1; }
        int size = 8 << 20;
        if (setsockopt(reader_socket, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
            setsockopt(reader_socket, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    pthread_t th[64];
    if (argc == 8) pthread_create(&rd, NULL, reader, NULL);
    for (long t = 0; t < threads && t < 64; t++) pthread_create(&th[t], NULL, sender, (void *)t);
    for (long t = 0; t < threads && t < 64; t++) pthread_join(th[t], NULL);
    if (argc == 8) pthread_join(rd, NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%ld", (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000);
    if (argc == 8) printf(" %ld", answered);
    printf("\n");
    return 0;
}
