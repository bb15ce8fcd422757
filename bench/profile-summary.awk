# bench/profile-summary.awk: a gateway CPU profile, summed by what the gateway was doing.
#
#   awk -f bench/profile-summary.awk PROFILE.collapsed
#   awk -v us=31.5 -f bench/profile-summary.awk PROFILE.collapsed   # also each share of 31.5 us per answer
#
# Input: async-profiler's collapsed stacks ("frame;frame;...;leaf COUNT", one line per distinct stack), as
# bench/cold-ab.sh writes them with PROFILE=1. Each stack goes to the category of the frame nearest its leaf that
# matches one of the patterns below (the part doing the work, not the one that called it: an answer written from a
# Redis reply's callback is a socket write, not reply parsing); where one frame matches several, the first rule
# wins. Vert.x's and Netty's own frames count only for the last rule, when no other rule matches any frame (so a
# buffer filled while encoding a Redis command counts as Redis, the event loop's own plumbing as Vert.x and Netty).
# A socket write is Redis's when the Redis client's send or batch is up its stack (an answer written from a Redis
# reply's callback has the client's reply handling up its stack, not its send); socket reads of requests and of
# Redis replies look alike (Netty reads before it knows what for) and are counted together. Prints one line per
# category, largest first, as a share of all samples (and, given us, as that share of us microseconds).
BEGIN {
  rule("JIT compiler threads", "CompileBroker::")
  rule("garbage collection (G1 threads, barriers)", "G1|GangWorker|ConcurrentGCThread|GCTaskThread|WorkerThread::run")
  rule("other JVM threads (VM thread, profiler)", "VMThread|VM_Operation|Profiler::|WallClock|PeriodicTask")
  rule("token verification (HMAC)", "TokenCodec|VerifiedTokens|javax/crypto|com/sun/crypto")
  rule("Redis: parsing replies", "RESPParser|redis/client/impl/types")
  rule("Redis: commands and connection", "io/vertx/redis|RedisLink")
  rule("profile cache (Caffeine)", "benmanes/caffeine")
  rule("profile reads (lanes, deadlines, breaker)", "io/opentime/profile|circuitbreaker")
  rule("metrics (Micrometer)", "micrometer")
  rule("HTTP parsing and encoding (Netty codec)", "HttpObjectDecoder\\.decode|HttpObjectEncoder|HttpHeaders|DefaultHeaders")
  rule("answer (routing, blocks, JSON, CORS)", "io/opentime")
  rule("socket reads (requests and Redis replies)", "unix/Socket\\.(recv|read)|unix/FileDescriptor\\.read|__libc_read|ksys_read")
  rule("socket writes (answers)", "unix/Socket\\.(send|write)|unix/FileDescriptor\\.write|__libc_write|ksys_write|sendto")
  rule("waiting for events (epoll_wait)", "epollWait|epoll_wait|epollBusyWait")
  rule("Vert.x and Netty, other", "io/vertx|io/netty")
}

function rule(name, pattern) {
  rules++
  names[rules] = name
  patterns[rules] = pattern
}

{
  count = $NF
  stack = substr($0, 1, length($0) - length(count) - 1)
  total += count
  depth = split(stack, frames, ";")
  for (f = depth; f >= 1; f--) {
    for (i = 1; i < rules; i++) {
      if (frames[f] ~ patterns[i]) {
        if (names[i] ~ /^socket writes/ && stack ~ /io\/vertx\/redis\/client\/impl\/[A-Za-z]*Connection\.(send|batch|doSend|doBatch)/) {
          redis_io += count
        } else {
          sums[i] += count
        }
        next
      }
    }
  }
  if (stack ~ patterns[rules]) {
    sums[rules] += count
  } else {
    other += count
  }
}

END {
  if (total == 0) {
    print "  (no samples)"
    exit
  }
  names[rules + 1] = "other (kernel, libc, JVM runtime)"
  sums[rules + 1] = other
  names[rules + 2] = "socket writes (Redis commands)"
  sums[rules + 2] = redis_io
  for (i = 1; i <= rules + 2; i++) {
    if (sums[i] > 0) {
      if (us > 0) {
        printf "%6.1f%%  %5.1f us  %s\n", 100 * sums[i] / total, us * sums[i] / total, names[i] | "sort -rn"
      } else {
        printf "%6.1f%%  %s\n", 100 * sums[i] / total, names[i] | "sort -rn"
      }
    }
  }
  close("sort -rn")
  printf "  (%d samples)\n", total
}
