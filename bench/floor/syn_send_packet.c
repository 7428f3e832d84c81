// The kernel's part of a SYN scan sent as masscan sends on Linux: THREADS threads (one a
// core), each with an AF_PACKET socket of its own (PACKET_QDISC_BYPASS), hand their share of
// one SYN to every port 1-65535 of TARGET from SOURCE to the interface IFACE as whole
// Ethernet frames (from SRC_MAC to DST_MAC, the neighbour's), 32 to a sendmmsg, and nothing
// else: no routing, no netfilter, no cookies, no reading of the answers (the neighbour's
// kernel still answers each, on the same cores).
//
//   syn_send_packet SOURCE TARGET THREADS IFACE SRC_MAC DST_MAC
//
// Prints the milliseconds it took. IPv4.
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
    tcp[0] = 40000 >> 8; tcp[1] = 40000 & 0xff;
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

static int mac(const char *s, uint8_t *m) {
    return sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", m, m + 1, m + 2, m + 3, m + 4, m + 5) == 6;
}

int main(int argc, char **argv) {
    if (argc != 7 || !inet_aton(argv[1], &src) || !inet_aton(argv[2], &dst) || (threads = atoi(argv[3])) < 1 ||
        !(ifindex = if_nametoindex(argv[4])) || !mac(argv[5], smac) || !mac(argv[6], dmac)) {
        fprintf(stderr, "usage: syn_send_packet SOURCE TARGET THREADS IFACE SRC_MAC DST_MAC\n");
        return 2;
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    pthread_t th[64];
    for (long t = 0; t < threads && t < 64; t++) pthread_create(&th[t], NULL, sender, (void *)t);
    for (long t = 0; t < threads && t < 64; t++) pthread_join(th[t], NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%ld\n", (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000);
    return 0;
}
