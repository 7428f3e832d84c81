// The kernel's part of a paced chat load, served: a relay that writes every byte any client
// sends to every client that has not spoken, and does nothing else (no lines, no nicks, no
// queues). THREADS writing threads (one a core) each keep their share of the receivers caught
// up with one log of everything said: what piled up for a receiver since its last write goes
// in one write. Driven by chat-load like a chat server, its send-to-receipt latency is what the
// kernel and the reader cost for that load on this machine, measured the same way as sockit's:
// the floor of bench/chat_fanout.sh's paced loads.
//
//   relay PORT THREADS
//
// Listens on 127.0.0.1:PORT until killed.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CLIENTS 65536
#define LOG_BYTES (64u << 20)

static int fds[MAX_CLIENTS];
static _Atomic int clients;
// A client that has spoken is a sender: nothing is written to it.
static _Atomic char spoke[MAX_CLIENTS];
// How much of the log each receiver has been sent.
static size_t sent[MAX_CLIENTS];
static char *journal;
static _Atomic size_t said;
static int threads;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t more = PTHREAD_COND_INITIALIZER;

// One writing thread: wait for the log to grow, then write to each of its receivers what it
// has not had, pass after pass until none is behind.
static void *writer(void *arg) {
  int t = (int)(long)arg;
  size_t seen = 0;
  for (;;) {
    pthread_mutex_lock(&mu);
    while (atomic_load(&said) == seen) pthread_cond_wait(&more, &mu);
    pthread_mutex_unlock(&mu);
    for (;;) {
      size_t end = atomic_load(&said);
      int n = atomic_load(&clients), lo = n * t / threads, hi = n * (t + 1) / threads;
      int behind = 0, moved = 0;
      for (int i = lo; i < hi; i++) {
        if (fds[i] < 0 || atomic_load(&spoke[i]) || sent[i] >= end) continue;
        ssize_t w = send(fds[i], journal + sent[i], end - sent[i], MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) sent[i] += (size_t)w, moved = 1;
        else if (w < 0 && errno != EAGAIN) fds[i] = -1;
        if (fds[i] >= 0 && sent[i] < end) behind = 1;
      }
      seen = end;
      if (!behind && atomic_load(&said) == end) break;
      if (!moved) poll(NULL, 0, 1);  // every socket behind is full: let the readers read
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 3 || atoi(argv[1]) <= 0 || atoi(argv[2]) <= 0) {
    fprintf(stderr, "usage: relay PORT THREADS\n");
    return 2;
  }
  threads = atoi(argv[2]);
  journal = malloc(LOG_BYTES);
  if (!journal) return 1;
  for (int t = 0; t < threads; t++) {
    pthread_t th;
    pthread_create(&th, NULL, writer, (void *)(long)t);
  }
  int one = 1, l = socket(AF_INET, SOCK_STREAM, 0);
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 4096)) {
    perror("relay: listen");
    return 1;
  }
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = MAX_CLIENTS};
  epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
  struct epoll_event evs[256];
  static char buf[65536];
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    for (int i = 0; i < n; i++) {
      unsigned k = evs[i].data.u32;
      if (k == MAX_CLIENTS) {
        int s = accept4(l, NULL, NULL, 0), j = atomic_load(&clients);
        if (s < 0) continue;
        if (j == MAX_CLIENTS) {
          close(s);
          continue;
        }
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fds[j] = s;
        sent[j] = atomic_load(&said);
        atomic_store(&clients, j + 1);
        struct epoll_event e = {.events = EPOLLIN, .data.u32 = (unsigned)j};
        epoll_ctl(ep, EPOLL_CTL_ADD, s, &e);
        continue;
      }
      atomic_store(&spoke[k], 1);
      ssize_t r = read(fds[k], buf, sizeof buf);
      if (r <= 0) {
        epoll_ctl(ep, EPOLL_CTL_DEL, fds[k], NULL);
        continue;
      }
      size_t end = atomic_load(&said);
      if (end + (size_t)r > LOG_BYTES) continue;
      memcpy(journal + end, buf, (size_t)r);
      pthread_mutex_lock(&mu);
      atomic_store(&said, end + (size_t)r);
      pthread_cond_broadcast(&more);
      pthread_mutex_unlock(&mu);
    }
  }
}
