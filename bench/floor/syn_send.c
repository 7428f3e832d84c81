// The kernel's part of a SYN scan: THREADS threads (one a core), each with a raw IPPROTO_RAW
// socket of its own, send their share of one SYN to every port 1-65535 of TARGET from SOURCE,
// and nothing else: no cookies, no order, no reading of the answers (the neighbour's kernel
// still answers each, on the same cores). The wall time to hand every SYN to the kernel is
// the floor of bench/scan_syn.sh's sending phase.
//
//   syn_send SOURCE TARGET THREADS
//
// Prints the milliseconds it took. IPv4.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct in_addr src, dst;
static int threads;

static uint16_t sum16(const uint8_t *p, size_t n, uint32_t sum) {
    for (size_t i = 0; i + 1 < n; i += 2) sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

static void *sender(void *arg) {
    long t = (long)arg;
    int s = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
    if (s < 0) { perror("socket"); exit(1); }
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr = dst };
    uint8_t pkt[44] = { 0x45, 0, 0, 44, 0, 0, 0, 0, 64, 6, 0, 0 };
    memcpy(pkt + 12, &src, 4);
    memcpy(pkt + 16, &dst, 4);
    uint8_t *tcp = pkt + 20;
    tcp[0] = 40000 >> 8; tcp[1] = 40000 & 0xff;
    tcp[12] = 6 << 4; tcp[13] = 0x02; tcp[14] = 4; tcp[15] = 0;
    tcp[20] = 2; tcp[21] = 4; tcp[22] = 0x05; tcp[23] = 0xb4;
    uint8_t pseudo[12];
    memcpy(pseudo, &src, 4); memcpy(pseudo + 4, &dst, 4);
    pseudo[8] = 0; pseudo[9] = 6; pseudo[10] = 0; pseudo[11] = 24;
    for (long port = 1 + t; port <= 65535; port += threads) {
        tcp[2] = port >> 8; tcp[3] = port & 0xff;
        tcp[4] = port >> 8; tcp[5] = port; // a sequence number
        tcp[16] = tcp[17] = 0;
        uint16_t c = ~sum16(tcp, 24, sum16(pseudo, 12, 0));
        tcp[16] = c >> 8; tcp[17] = c & 0xff;
        while (sendto(s, pkt, sizeof pkt, 0, (struct sockaddr *)&to, sizeof to) < 0) {
            if (errno != ENOBUFS && errno != EAGAIN) { perror("sendto"); exit(1); }
            usleep(200);
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 4 || !inet_aton(argv[1], &src) || !inet_aton(argv[2], &dst) || (threads = atoi(argv[3])) < 1) {
        fprintf(stderr, "usage: syn_send SOURCE TARGET THREADS\n");
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
