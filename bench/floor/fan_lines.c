// The kernel's part of a chat fan-out, nothing else: one sender writes the same lines of LEN
// bytes to N loopback TCP sockets (TCP_NODELAY), BATCH lines a write, and a child process
// drains them all with epoll. No parsing, no queues, no chat: what any chat server's delivery
// costs at least, for lines of that size. bench/chat_irc.sh runs it for a line member's bytes
// and for an IRC member's, to tell how much of IRC's cost is its longer lines.
//
//   fan_lines N LINES BATCH LEN
//
// Prints `rate=` deliveries a second end to end (from the first write until the reader has
// every byte) and `cpu_ns=` the sender's CPU time a delivery. Traffic stays on 127.0.0.1.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static double cpu(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return r.ru_utime.tv_sec + r.ru_utime.tv_usec * 1e-6 + r.ru_stime.tv_sec + r.ru_stime.tv_usec * 1e-6;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: fan_lines N LINES BATCH LEN\n");
    return 2;
  }
  int n = atoi(argv[1]), lines = atoi(argv[2]), batch = atoi(argv[3]), len = atoi(argv[4]);
  if (n < 1 || lines < 1 || batch < 1 || len < 2) {
    fprintf(stderr, "fan_lines: N, LINES, BATCH must be at least 1 and LEN at least 2\n");
    return 2;
  }
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);

  int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  if (ls < 0 || bind(ls, (void *)&a, sizeof a) || listen(ls, 4096) || getsockname(ls, (void *)&a, &al))
    die("listen");
  int *cl = malloc(n * sizeof(int)), *sv = malloc(n * sizeof(int));
  for (int i = 0; i < n; i++) {
    cl[i] = socket(AF_INET, SOCK_STREAM, 0);
    if (cl[i] < 0 || connect(cl[i], (void *)&a, sizeof a)) die("connect");
    sv[i] = accept(ls, 0, 0);
    if (sv[i] < 0) die("accept");
    setsockopt(sv[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  long long expect = (long long)n * lines * len;
  int done[2];
  if (pipe(done)) die("pipe");
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {  // the receivers: read everything, count bytes
    for (int i = 0; i < n; i++) close(sv[i]);
    int ep = epoll_create1(0);
    for (int i = 0; i < n; i++) {
      fcntl(cl[i], F_SETFL, O_NONBLOCK);
      struct epoll_event e = {.events = EPOLLIN, .data.fd = cl[i]};
      epoll_ctl(ep, EPOLL_CTL_ADD, cl[i], &e);
    }
    static char buf[65536];
    struct epoll_event ev[512];
    long long got = 0;
    while (got < expect) {
      int k = epoll_wait(ep, ev, 512, 10000);
      if (k <= 0) _exit(1);
      for (int j = 0; j < k; j++)
        for (;;) {
          ssize_t r = read(ev[j].data.fd, buf, sizeof buf);
          if (r <= 0) break;
          got += r;
        }
    }
    if (write(done[1], "x", 1) != 1) _exit(1);
    _exit(0);
  }
  for (int i = 0; i < n; i++) close(cl[i]);
  size_t chunk = (size_t)len * batch;
  char *msg = malloc(chunk);
  for (size_t i = 0; i < chunk; i++) msg[i] = (i % len == (size_t)len - 1) ? '\n' : 'x';
  double t0 = now(), c0 = cpu();
  for (int sent = 0; sent < lines; sent += batch) {
    size_t bytes = (size_t)len * (lines - sent < batch ? lines - sent : batch);
    for (int i = 0; i < n; i++)
      for (size_t off = 0; off < bytes;) {
        ssize_t w = send(sv[i], msg + off, bytes - off, 0);
        if (w < 0 && errno != EINTR) die("send");
        if (w > 0) off += w;
      }
  }
  double c1 = cpu();
  char x;
  if (read(done[0], &x, 1) != 1) {
    fprintf(stderr, "fan_lines: the reader stopped before every byte came\n");
    return 1;
  }
  double t1 = now();
  int st;
  waitpid(pid, &st, 0);
  double deliveries = (double)n * lines;
  printf("rate=%.0f cpu_ns=%.1f\n", deliveries / (t1 - t0), (c1 - c0) * 1e9 / deliveries);
  return 0;
}
