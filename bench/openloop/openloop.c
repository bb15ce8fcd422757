/*
 * openloop: a constant-rate (open-loop) HTTP/1.1 load generator for the Opentime benchmark.
 *
 *   openloop -p PORT -r RATE[,RATE...] [-d SECONDS] [-w WARMUP_SECONDS] [-c CONNECTIONS] [-g TICK_US]
 *            [-f TOKENS_FILE] [-H 'Name: value']... PATH
 *
 * With -f, PATH holds @TOKEN@ once, and each request puts there a line of TOKENS_FILE drawn at random (one token per
 * line, as bench/wrk/greeting.lua does for wrk): many readers instead of one.
 *
 * It talks to 127.0.0.1:PORT only (the benchmark's rule: loopback). Defaults: -d 10, -w 5, -c 256, -g 100: it
 * wakes on a 100 us grid, so a request goes out at most one tick after it is due, and that delay counts in its
 * latency.
 *
 * Why it exists: the p99 target of issue #6 is defined at a constant arrival rate of 70% of the gateway's maximum,
 * offered from the same 2-core machine. wrk paces a closed loop (a slow answer holds back the requests behind it
 * and hides their wait). wrk2, the C tool that fixes this, is not packaged for Debian and cannot be fetched from
 * the registries this project builds from; Hyperfoil (a JVM, from Maven Central) needs about a core for 25,000-30,000
 * requests/s, so at 60,000/s it measured its own queue. This program does one thing: it schedules request n at
 * t0 + n / RATE, sends it on any idle keep-alive connection, and counts its latency from that scheduled time, so a
 * stalled server is charged for every request it held back (no coordinated omission). One thread, epoll, no
 * allocation per request; idle connections are used in turn (FIFO), as a client's connection pool would.
 *
 * For each rate (each run for -d seconds, the first preceded by -w seconds at that rate, unmeasured) it prints:
 *
 *   RESULT rate=R achieved=A sent=N ok=N p50=.. p90=.. p99=.. p999=.. max=.. errors=E non2xx=N unsent=N
 *          lag_p99=.. lag_max=.. wait_p99=..
 *
 * Latencies in milliseconds, each the upper bound of its histogram bucket (under 1% wide). errors counts socket
 * errors and answers not complete at the end (2 s after the last rate); unsent counts arrivals no connection was
 * free to carry by then. A request can go out after its due time for two reasons, reported apart: lag_p99 and
 * lag_max are the generator's own lateness (it shares the CPU: the request was due and a connection was free, but
 * the generator did not run), wait_p99 the wait for a free connection (all of them held by answers still to come:
 * the server's). Both count in the latency; a lag_p99 near the latency p99 means the generator, not the server,
 * set the figure.
 *
 * Build: gcc -O2 -o openloop bench/openloop/openloop.c  (bench/run.sh does this itself).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_RATES 16
#define BUF_SIZE 65536
#define SUB_BITS 7 /* 128 sub-buckets per power of two: buckets under 1% wide */
#define SUB_COUNT (1 << SUB_BITS)
#define HIST_SIZE (64 * SUB_COUNT)
#define DRAIN_NS 2000000000LL

typedef struct {
  uint64_t counts[HIST_SIZE];
  uint64_t total, max_us;
} histogram;

static int bucket_of(uint64_t v) {
  if (v < SUB_COUNT) {
    return (int)v;
  }
  int e = 63 - __builtin_clzll(v) - (SUB_BITS - 1); /* v >> e lies in [64, 128) */
  return e * (SUB_COUNT / 2) + (int)(v >> e);
}

static uint64_t bucket_top(int i) {
  if (i < SUB_COUNT) {
    return (uint64_t)i;
  }
  int e = i / (SUB_COUNT / 2) - 1;
  uint64_t sub = (uint64_t)(i % (SUB_COUNT / 2) + SUB_COUNT / 2);
  return ((sub + 1) << e) - 1;
}

static void record(histogram *h, uint64_t us) {
  h->counts[bucket_of(us)]++;
  h->total++;
  if (us > h->max_us) {
    h->max_us = us;
  }
}

static double percentile_ms(const histogram *h, double q) {
  if (h->total == 0) {
    return 0;
  }
  uint64_t want = (uint64_t)(q * (double)h->total + 0.999999);
  uint64_t seen = 0;
  for (int i = 0; i < HIST_SIZE; i++) {
    seen += h->counts[i];
    if (seen >= want) {
      uint64_t top = bucket_top(i);
      return (top > h->max_us ? h->max_us : top) / 1000.0;
    }
  }
  return h->max_us / 1000.0;
}

typedef struct {
  histogram hist;
  histogram lag;  /* how late the generator itself sent each request after it was due and a connection was free */
  histogram wait; /* how long each request waited for a free connection */
  uint64_t sent, ok, non2xx, errors;
} phase_stats;

typedef struct {
  int fd;
  int busy;           /* a request is in flight */
  int connected;
  int idle;           /* on the idle ring */
  int64_t idle_since; /* when it joined the ring */
  int phase;          /* phase of the request in flight (-1: warm-up) */
  int64_t sched_ns;   /* its scheduled time */
  size_t have;        /* bytes of the answer read so far */
  char buf[BUF_SIZE + 1];
} conn;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what) {
  fprintf(stderr, "openloop: %s\n", what);
  exit(2);
}

static struct sockaddr_in addr;
static int epfd;
static conn *conns;
static int nconns;
/* Idle connections, in a FIFO ring: each is used in turn, as a pool of keep-alive connections spreads its load,
 * so none sits idle long enough for the server's idle timeout to close it under a request. */
static int *idle;
static int idle_head, nidle;

static void push_idle(int i) {
  conns[i].idle = 1;
  conns[i].idle_since = now_ns();
  idle[(idle_head + nidle++) % nconns] = i;
}

static int pop_idle(void) {
  int i = idle[idle_head];
  idle_head = (idle_head + 1) % nconns;
  nidle--;
  conns[i].idle = 0;
  return i;
}

static void remove_idle(int i) {
  for (int k = 0; k < nidle; k++) {
    if (idle[(idle_head + k) % nconns] == i) {
      for (; k < nidle - 1; k++) {
        idle[(idle_head + k) % nconns] = idle[(idle_head + k + 1) % nconns];
      }
      nidle--;
      break;
    }
  }
  conns[i].idle = 0;
}
static char *request;
static size_t request_len;
/* -f: the request is prefix + token + suffix, the token drawn at random from the file's lines */
static char *tokens_data;
static size_t *token_at, *token_len;
static size_t ntokens;
static char *request_prefix, *request_suffix;
static size_t prefix_len, suffix_len;
static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static void load_tokens(const char *file) {
  FILE *f = fopen(file, "rb");
  if (f == NULL) die("cannot open the tokens file");
  if (fseek(f, 0, SEEK_END) != 0) die("cannot read the tokens file");
  long size = ftell(f);
  if (size <= 0) die("the tokens file is empty");
  rewind(f);
  tokens_data = malloc((size_t)size + 1);
  if (tokens_data == NULL || fread(tokens_data, 1, (size_t)size, f) != (size_t)size) die("cannot read the tokens file");
  fclose(f);
  tokens_data[size] = '\n';
  size_t lines = 0;
  for (long i = 0; i <= size; i++) lines += tokens_data[i] == '\n';
  token_at = malloc(lines * sizeof(size_t));
  token_len = malloc(lines * sizeof(size_t));
  if (token_at == NULL || token_len == NULL) die("out of memory");
  size_t start = 0, longest = 0;
  for (long i = 0; i <= size; i++) {
    if (tokens_data[i] != '\n') continue;
    size_t end = (size_t)i;
    if (end > start && tokens_data[end - 1] == '\r') end--;
    if (end > start) {
      token_at[ntokens] = start;
      token_len[ntokens] = end - start;
      if (end - start > longest) longest = end - start;
      ntokens++;
    }
    start = (size_t)i + 1;
  }
  if (ntokens == 0) die("the tokens file has no token");
  if (longest > 4096) die("a token is longer than 4096 bytes");
}

/* The next request to send: the same bytes each time, or, with -f, a random token's. */
static const char *next_request(size_t *len) {
  if (ntokens == 0) {
    *len = request_len;
    return request;
  }
  rng ^= rng << 13; /* xorshift64 */
  rng ^= rng >> 7;
  rng ^= rng << 17;
  size_t t = (size_t)(rng % ntokens);
  memcpy(request, request_prefix, prefix_len);
  memcpy(request + prefix_len, tokens_data + token_at[t], token_len[t]);
  memcpy(request + prefix_len + token_len[t], request_suffix, suffix_len);
  *len = prefix_len + token_len[t] + suffix_len;
  return request;
}
static long reconnects;

static void open_conn(int i) {
  conn *c = &conns[i];
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (c->fd < 0) {
    die("socket() failed");
  }
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->busy = 0;
  c->connected = 0;
  c->idle = 0;
  c->have = 0;
  if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
    die("connect() failed: is the server up?");
  }
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.u32 = (uint32_t)i};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
    die("epoll_ctl() failed");
  }
}

static void drop_conn(int i, phase_stats *stats) {
  conn *c = &conns[i];
  if (c->busy && c->phase >= 0) {
    stats[c->phase].errors++;
  }
  if (c->idle) { /* closed while idle (by the server): off the ring; it rejoins once reconnected */
    remove_idle(i);
  }
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  reconnects++;
  open_conn(i); /* joins the idle stack once connected */
}

/* Parses a complete answer at the start of c->buf: returns its length, 0 if incomplete, -1 if unusable. */
static long answer_length(conn *c, int *status, int *closing) {
  char *end = memmem(c->buf, c->have, "\r\n\r\n", 4);
  if (end == NULL) {
    return c->have >= BUF_SIZE ? -1 : 0;
  }
  size_t head = (size_t)(end - c->buf) + 4;
  if (c->have < 12 || memcmp(c->buf, "HTTP/1.", 7) != 0) {
    return -1;
  }
  *status = atoi(c->buf + 9);
  long length = -1;
  *closing = 0;
  for (char *line = memchr(c->buf, '\n', head) + 1; line < c->buf + head - 2;) {
    char *next = memchr(line, '\n', (size_t)(c->buf + head - line));
    if (strncasecmp(line, "content-length:", 15) == 0) {
      length = atol(line + 15);
    } else if (strncasecmp(line, "transfer-encoding:", 18) == 0) {
      return -1; /* chunked answers are not needed by the benchmark */
    } else if (strncasecmp(line, "connection:", 11) == 0 && strcasestr(line, "close") != NULL
               && strcasestr(line, "close") < next) {
      *closing = 1;
    }
    line = next + 1;
  }
  if (length < 0) {
    return -1;
  }
  return c->have >= head + (size_t)length ? (long)(head + (size_t)length) : 0;
}

int main(int argc, char **argv) {
  int port = 0;
  double rates[MAX_RATES];
  int nrates = 0;
  double duration = 10, warmup = 5;
  int64_t tick_ns = 100000;
  nconns = 256;
  char headers[8192] = "";
  const char *tokens_file = NULL;
  int opt;
  while ((opt = getopt(argc, argv, "p:r:d:w:c:H:g:f:")) != -1) {
    switch (opt) {
      case 'p': port = atoi(optarg); break;
      case 'r':
        for (char *s = strtok(optarg, ","); s != NULL; s = strtok(NULL, ",")) {
          if (nrates == MAX_RATES) die("too many rates");
          rates[nrates++] = atof(s);
        }
        break;
      case 'd': duration = atof(optarg); break;
      case 'w': warmup = atof(optarg); break;
      case 'c': nconns = atoi(optarg); break;
      case 'g': tick_ns = atol(optarg) * 1000L; break;
      case 'f': tokens_file = optarg; break;
      case 'H':
        if (strlen(headers) + strlen(optarg) + 3 > sizeof headers) die("headers too long");
        strcat(headers, optarg);
        strcat(headers, "\r\n");
        break;
      default:
        die("usage: openloop -p PORT -r RATE[,RATE...] [-d SECONDS] [-w WARMUP_SECONDS] [-c CONNECTIONS] "
            "[-g TICK_US] [-f TOKENS_FILE] [-H 'Name: value']... PATH");
    }
  }
  if (optind != argc - 1 || port <= 0 || port > 65535 || nrates == 0 || duration <= 0 || warmup < 0
      || nconns < 1 || nconns > 10000 || tick_ns < 1000 || tick_ns > 10000000) {
    die("usage: openloop -p PORT -r RATE[,RATE...] [-d SECONDS] [-w WARMUP_SECONDS] [-c CONNECTIONS] "
        "[-g TICK_US] [-f TOKENS_FILE] [-H 'Name: value']... PATH");
  }
  for (int i = 0; i < nrates; i++) {
    if (!(rates[i] > 0 && rates[i] <= 10000000)) die("a rate must be a positive number of requests per second");
  }
  const char *path = argv[optind];
  if (path[0] != '/') die("PATH must start with /");
  if (tokens_file == NULL) {
    if (strstr(path, "@TOKEN@") != NULL) die("PATH holds @TOKEN@ but no -f TOKENS_FILE was given");
    request_len = (size_t)asprintf(&request, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n", path, port, headers);
  } else {
    const char *at = strstr(path, "@TOKEN@");
    if (at == NULL || strstr(at + 7, "@TOKEN@") != NULL) die("with -f, PATH must hold @TOKEN@ exactly once");
    load_tokens(tokens_file);
    prefix_len = (size_t)asprintf(&request_prefix, "GET %.*s", (int)(at - path), path);
    suffix_len = (size_t)asprintf(&request_suffix, "%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n", at + 7, port, headers);
    request = malloc(prefix_len + 4096 + suffix_len);
    if (request == NULL) die("out of memory");
  }
  signal(SIGPIPE, SIG_IGN);

  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  epfd = epoll_create1(0);
  conns = calloc((size_t)nconns, sizeof(conn));
  idle = calloc((size_t)nconns, sizeof(int));
  phase_stats *stats = calloc(MAX_RATES, sizeof(phase_stats));
  if (epfd < 0 || conns == NULL || idle == NULL || stats == NULL) die("out of memory");
  for (int i = 0; i < nconns; i++) open_conn(i);

  /* Phases: warm-up at rates[0] (index -1), then each rate. Arrival n of a phase is due at start + n / rate. */
  int phase = warmup > 0 ? -1 : 0;
  int64_t phase_start = now_ns() + 200000000LL; /* 200 ms to connect */
  int64_t phase_end = phase_start + (int64_t)((phase < 0 ? warmup : duration) * 1e9);
  double rate = rates[0];
  uint64_t arrival = 0;      /* next arrival of the current phase */
  int done = 0;
  int64_t drain_until = 0;
  struct epoll_event events[512];

  while (1) {
    int64_t now = now_ns();
    /* Send every due arrival that an idle connection can carry. */
    while (!done) {
      int64_t due = phase_start + (int64_t)((double)arrival * 1e9 / rate);
      /* Next phase once every arrival of this one is sent, or, with no connection free for DRAIN_NS past its
       * end, without the rest (they are reported as unsent). */
      if (due >= phase_end || now >= phase_end + DRAIN_NS) {
        phase++;
        if (phase == nrates) {
          done = 1;
          drain_until = now + DRAIN_NS;
          break;
        }
        phase_start = phase_end;
        phase_end = phase_start + (int64_t)(duration * 1e9);
        rate = rates[phase];
        arrival = 0;
        continue;
      }
      if (due > now || nidle == 0) {
        break;
      }
      int i = pop_idle();
      conn *c = &conns[i];
      size_t len;
      const char *bytes = next_request(&len);
      ssize_t w = write(c->fd, bytes, len);
      if (w != (ssize_t)len) { /* a fresh keep-alive connection takes a few hundred bytes at once */
        drop_conn(i, stats);
        continue;
      }
      c->busy = 1;
      c->phase = phase;
      c->sched_ns = due;
      c->have = 0;
      if (phase >= 0) {
        stats[phase].sent++;
        /* FIFO: this connection has been free the longest, so it shows when the request could first have gone */
        int64_t could = c->idle_since > due ? c->idle_since : due;
        record(&stats[phase].lag, (uint64_t)((now > could ? now - could : 0) / 1000));
        record(&stats[phase].wait, (uint64_t)((could - due) / 1000));
      }
      arrival++;
    }
    if (done) {
      int busy = 0;
      for (int i = 0; i < nconns; i++) busy += conns[i].busy;
      if (busy == 0 || now >= drain_until) break;
    }
    /* Sleep until the next arrival is due (if a connection is idle to carry it) or an answer comes. */
    struct timespec ts = {0, 0}, *timeout = NULL;
    int64_t wake = done ? drain_until : 0;
    if (!done && nidle > 0) { /* woken on a tick grid: several arrivals per wake-up, none later than one tick */
      wake = phase_start + (int64_t)((double)arrival * 1e9 / rate);
      wake += tick_ns - 1 - (wake % tick_ns);
    }
    if (!done && nidle == 0) wake = now + 100000000LL; /* an answer will free a connection; else look again */
    if (wake > 0) {
      int64_t d = wake - now_ns();
      if (d < 0) d = 0;
      ts.tv_sec = d / 1000000000LL;
      ts.tv_nsec = d % 1000000000LL;
      timeout = &ts;
    }
    int n = epoll_pwait2(epfd, events, 512, timeout, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_pwait2() failed");
    }
    int64_t t = now_ns();
    for (int k = 0; k < n; k++) {
      int i = (int)events[k].data.u32;
      conn *c = &conns[i];
      if (!c->connected) {
        if (events[k].events & (EPOLLERR | EPOLLHUP)) die("could not connect: is the server up?");
        if (events[k].events & EPOLLOUT) {
          c->connected = 1;
          struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = (uint32_t)i};
          epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
          push_idle(i);
        }
        continue;
      }
      if (events[k].events & EPOLLIN) {
        ssize_t r = read(c->fd, c->buf + c->have, BUF_SIZE - c->have);
        if (r > 0) {
          c->have += (size_t)r;
          c->buf[c->have] = 0; /* the header parse below uses string functions */
          int status = 0, closing = 0;
          long len = answer_length(c, &status, &closing);
          if (len < 0) {
            fprintf(stderr, "openloop: unreadable answer, starting: %.80s\n", c->buf);
            die("the server sent an answer this generator cannot read (no content-length, or chunked)");
          }
          if (len > 0 && (!c->busy || (size_t)len < c->have)) {
            die("the server sent more than was asked for on a connection (an answer without a request)");
          }
          if (len > 0) {
            if (c->phase >= 0) {
              phase_stats *s = &stats[c->phase];
              record(&s->hist, (uint64_t)((t - c->sched_ns) / 1000));
              if (status >= 200 && status < 300) s->ok++; else s->non2xx++;
            }
            c->busy = 0;
            c->have = 0;
            if (closing) {
              drop_conn(i, stats); /* the server asked for it: counted as a reconnect, not an error */
            } else {
              push_idle(i);
            }
          }
          continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        drop_conn(i, stats);
        continue;
      }
      if (events[k].events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) drop_conn(i, stats);
    }
  }
  for (int i = 0; i < nconns; i++) {
    if (conns[i].busy && conns[i].phase >= 0) stats[conns[i].phase].errors++;
  }
  for (int p = 0; p < nrates; p++) {
    phase_stats *s = &stats[p];
    double secs = duration;
    uint64_t offered = (uint64_t)(rates[p] * secs);
    uint64_t unsent = offered > s->sent ? offered - s->sent : 0;
    printf("RESULT rate=%.0f achieved=%.0f sent=%llu ok=%llu p50=%.3f p90=%.3f p99=%.3f p999=%.3f max=%.3f "
           "errors=%llu non2xx=%llu unsent=%llu lag_p99=%.3f lag_max=%.3f wait_p99=%.3f\n",
           rates[p], (double)(s->ok + s->non2xx) / secs, (unsigned long long)s->sent, (unsigned long long)s->ok,
           percentile_ms(&s->hist, 0.50), percentile_ms(&s->hist, 0.90), percentile_ms(&s->hist, 0.99),
           percentile_ms(&s->hist, 0.999), s->hist.max_us / 1000.0, (unsigned long long)s->errors,
           (unsigned long long)s->non2xx, (unsigned long long)unsent, percentile_ms(&s->lag, 0.99),
           s->lag.max_us / 1000.0, percentile_ms(&s->wait, 0.99));
  }
  struct timespec cpu;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
  printf("GENERATOR cpu_seconds=%.2f reconnects=%ld\n", (double)cpu.tv_sec + cpu.tv_nsec / 1e9, reconnects);
  return 0;
}
