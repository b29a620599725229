// kvclient: the load and history client of issue 4's lab linearizability runs and the benchmark
// beside etcd. It drives Weft's Consul-compatible KV or etcd v3's JSON gateway (kv_api.h) with N
// concurrent keep-alive clients, one connection each, and has five modes:
//
//   lin            clients doing random reads, writes and compare-and-sets on a few keys, values
//                  unique per write; every operation is written to --out in the Weft history
//                  format (tests/lin/README.md) with CLOCK_MONOTONIC invoke/completion times and
//                  its outcome (ok, fail, info = unknown). `lincheck --format=weft` checks it.
//   latency        one client, sequential writes: p50/p99/mean/max.
//   throughput     C clients writing as fast as they are answered for D seconds: writes/s.
//   probe          one client per endpoint writing every few ms; reports the longest gap between
//                  two successful writes (with its wall-clock ends) -- failover time.
//   durable-write  C clients writing unique keys, each acknowledged key logged to --out;
//   durable-check  reads back every key of such a log (consistent reads) and counts lost ones.
//
// Every loop is bounded in count (--ops-max, --count) and in time (--duration-s, the per-request
// --timeout-ms). Threads share nothing but atomics and a mutex-guarded list in probe mode; each
// lin client keeps its own lines and they are written at the end.
//
// Keys in lin mode. Jepsen's trick for keeping histories checkable: each key takes at most
// --ops-per-key operations per slot, or --unknown-per-key operations of unknown outcome (an
// outage makes many in few operations), then every client moves to a fresh generation of keys
// (<prefix>/<generation>-<slot>). Operations of unknown outcome stay pending forever in the
// checker's eyes; bounding each key's history and its unknowns bounds what they can cost.
//
// Compare-and-set in lin mode is by version (Consul ?cas=<ModifyIndex>, etcd mod_revision): a
// client cas-es a key it has read, with the version it read, to a fresh value; it is recorded
// as `cas K <value read> <new value>` -- with unique values, "version unchanged" is "value
// unchanged" (kv_api.h).
//
// Output: one summary line on stdout, `kvclient <mode>: key=value ...`, that scripts parse;
// errors seen, with counts, on stderr. Exit status: 0 ran (whatever the server did), 1 the mode's
// own verdict failed (durable-check found lost writes), 2 usage error or could not run.
#include <signal.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tests/lin/kv_api.h"

namespace kvlin {
namespace {

constexpr int kClientsMax = 1024;
constexpr int64_t kOpsMaxCeiling = 10'000'000;  // lincheck's kOperationsMax
constexpr int kEndpointsMax = 16;

const char kUsage[] =
    "usage: kvclient MODE --api=consul|etcd --endpoints=HOST:PORT[,HOST:PORT...] [options]\n"
    "modes: lin | latency | throughput | probe | durable-write | durable-check\n"
    "  --timeout-ms=N      per request (default 2000)\n"
    "  --duration-s=X      time bound (lin 60, throughput 10, probe 30, durable-write 20)\n"
    "  --clients=N         concurrent clients, one connection each (lin 10, throughput 16)\n"
    "  --prefix=P          key prefix (default kvclient/<pid>)\n"
    "  --value-bytes=N     value size for latency/throughput/probe (default 1024)\n"
    "  --out=FILE          lin: the history; durable-write: the acknowledged keys\n"
    "  --in=FILE           durable-check: the log durable-write made\n"
    "lin:        --keys=K (5) --ops-per-key=N (250) --unknown-per-key=N (8) --ops-max=N (1000000)\n"
    "            --mix=R,W,C (1,1,1)\n"
    "            --read-mode=consistent|default|stale (consistent) --think-ms=N (0)\n"
    "            --backoff-ms=N (100, after an unknown outcome) --seed=N\n"
    "latency:    --count=N (1000) --warmup=N (20)\n"
    "throughput: --warmup-s=X (1)\n"
    "probe:      --interval-ms=N (5) --gap-min-ms=N (50) --recovered-ms=N (1000: stop once\n"
    "            writes have succeeded this long after a gap of at least --gap-min-ms)\n"
    "            --armed-after-ms=N (0: only gaps that end later than this count, e.g. after\n"
    "            the moment a script kills the leader; earlier hiccups are ignored)\n";

struct Options {
  std::string mode;
  Api api = Api::kConsul;
  bool api_set = false;
  std::vector<std::string> endpoints;
  int timeout_ms = 2000;
  double duration_s = -1;
  int clients = -1;
  std::string prefix;
  int value_bytes = 1024;
  std::string out, in;
  int keys = 5;
  int ops_per_key = 250;
  int unknown_per_key = 8;
  int64_t ops_max = 1'000'000;
  int mix[3] = {1, 1, 1};
  ReadMode read_mode = ReadMode::kConsistent;
  int think_ms = 0;
  int backoff_ms = 100;
  uint64_t seed = 0;
  int count = 1000;
  int warmup = 20;
  double warmup_s = 1;
  int interval_ms = 5;
  int gap_min_ms = 50;
  int recovered_ms = 1000;
  int armed_after_ms = 0;
};

bool parse_int(std::string_view s, int64_t lo, int64_t hi, int64_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size() && *out >= lo && *out <= hi;
}

bool parse_double(std::string_view s, double lo, double hi, double* out) {
  std::string t(s);
  char* end = nullptr;
  *out = std::strtod(t.c_str(), &end);
  return !t.empty() && end == t.c_str() + t.size() && *out >= lo && *out <= hi;
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t b = 0;
  while (b <= s.size()) {
    size_t e = s.find(sep, b);
    if (e == std::string_view::npos) e = s.size();
    out.emplace_back(s.substr(b, e - b));
    b = e + 1;
  }
  return out;
}

bool parse_args(int argc, char** argv, Options* o, std::string* error) {
  if (argc < 2) {
    *error = "no mode";
    return false;
  }
  o->mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string_view a = argv[i];
    size_t eq = a.find('=');
    if (a.substr(0, 2) != "--" || eq == std::string_view::npos) {
      *error = "unexpected argument \"" + std::string(a) + "\"";
      return false;
    }
    std::string_view name = a.substr(2, eq - 2), v = a.substr(eq + 1);
    int64_t n = 0;
    double d = 0;
    bool ok = true;
    if (name == "api") {
      o->api_set = true;
      if (v == "consul") {
        o->api = Api::kConsul;
      } else if (v == "etcd") {
        o->api = Api::kEtcd;
      } else {
        ok = false;
      }
    } else if (name == "endpoints") {
      o->endpoints = split(v, ',');
      ok = !o->endpoints.empty() && o->endpoints.size() <= kEndpointsMax;
      for (const auto& e : o->endpoints) ok = ok && e.find(':') != std::string::npos;
    } else if (name == "timeout-ms") {
      ok = parse_int(v, 1, 600'000, &n);
      o->timeout_ms = static_cast<int>(n);
    } else if (name == "duration-s") {
      ok = parse_double(v, 0.01, 86400, &o->duration_s);
    } else if (name == "clients") {
      ok = parse_int(v, 1, kClientsMax, &n);
      o->clients = static_cast<int>(n);
    } else if (name == "prefix") {
      o->prefix = v;
      ok = !v.empty();
    } else if (name == "value-bytes") {
      ok = parse_int(v, 1, 512 * 1024, &n);
      o->value_bytes = static_cast<int>(n);
    } else if (name == "out") {
      o->out = v;
    } else if (name == "in") {
      o->in = v;
    } else if (name == "keys") {
      ok = parse_int(v, 1, 1000, &n);
      o->keys = static_cast<int>(n);
    } else if (name == "ops-per-key") {
      ok = parse_int(v, 1, 10'000'000, &n);
      o->ops_per_key = static_cast<int>(n);
    } else if (name == "unknown-per-key") {
      ok = parse_int(v, 1, 1'000'000, &n);
      o->unknown_per_key = static_cast<int>(n);
    } else if (name == "ops-max") {
      ok = parse_int(v, 1, kOpsMaxCeiling, &o->ops_max);
    } else if (name == "mix") {
      auto parts = split(v, ',');
      ok = parts.size() == 3;
      for (int k = 0; ok && k < 3; ++k) {
        ok = parse_int(parts[k], 0, 1000, &n);
        o->mix[k] = static_cast<int>(n);
      }
      ok = ok && o->mix[0] + o->mix[1] + o->mix[2] > 0;
    } else if (name == "read-mode") {
      if (v == "consistent") {
        o->read_mode = ReadMode::kConsistent;
      } else if (v == "default") {
        o->read_mode = ReadMode::kDefault;
      } else if (v == "stale") {
        o->read_mode = ReadMode::kStale;
      } else {
        ok = false;
      }
    } else if (name == "think-ms") {
      ok = parse_int(v, 0, 60'000, &n);
      o->think_ms = static_cast<int>(n);
    } else if (name == "backoff-ms") {
      ok = parse_int(v, 0, 60'000, &n);
      o->backoff_ms = static_cast<int>(n);
    } else if (name == "seed") {
      ok = parse_int(v, 0, INT64_MAX, &n);
      o->seed = static_cast<uint64_t>(n);
    } else if (name == "count") {
      ok = parse_int(v, 1, 10'000'000, &n);
      o->count = static_cast<int>(n);
    } else if (name == "warmup") {
      ok = parse_int(v, 0, 1'000'000, &n);
      o->warmup = static_cast<int>(n);
    } else if (name == "warmup-s") {
      ok = parse_double(v, 0, 3600, &d);
      o->warmup_s = d;
    } else if (name == "interval-ms") {
      ok = parse_int(v, 1, 60'000, &n);
      o->interval_ms = static_cast<int>(n);
    } else if (name == "gap-min-ms") {
      ok = parse_int(v, 1, 600'000, &n);
      o->gap_min_ms = static_cast<int>(n);
    } else if (name == "armed-after-ms") {
      ok = parse_int(v, 0, 3'600'000, &n);
      o->armed_after_ms = static_cast<int>(n);
    } else if (name == "recovered-ms") {
      ok = parse_int(v, 1, 600'000, &n);
      o->recovered_ms = static_cast<int>(n);
    } else {
      *error = "unknown option --" + std::string(name);
      return false;
    }
    if (!ok) {
      *error = "bad value for --" + std::string(name) + ": \"" + std::string(v) + "\"";
      return false;
    }
  }
  if (!o->api_set || o->endpoints.empty()) {
    *error = "--api and --endpoints are required";
    return false;
  }
  if (o->prefix.empty()) o->prefix = "kvclient/" + std::to_string(getpid());
  return true;
}

void sleep_ms(int64_t ms) {
  if (ms <= 0) return;
  timespec ts{static_cast<time_t>(ms / 1000), static_cast<long>((ms % 1000) * 1'000'000)};
  nanosleep(&ts, nullptr);
}

int64_t wall_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// Error tally, for the stderr report: a few distinct messages with counts, bounded.
class Errors {
 public:
  void add(const std::string& what) {
    std::lock_guard<std::mutex> g(mu_);
    auto it = counts_.find(what);
    if (it != counts_.end()) {
      ++it->second;
    } else if (counts_.size() < 32) {
      counts_[what] = 1;
    } else {
      ++other_;
    }
  }
  void print(const char* mode) {
    std::lock_guard<std::mutex> g(mu_);
    for (const auto& [what, n] : counts_)
      std::fprintf(stderr, "kvclient %s: %lld x %s\n", mode, static_cast<long long>(n),
                   what.c_str());
    if (other_ > 0)
      std::fprintf(stderr, "kvclient %s: %lld x other errors\n", mode,
                   static_cast<long long>(other_));
  }

 private:
  std::mutex mu_;
  std::map<std::string, int64_t> counts_;
  int64_t other_ = 0;
};

// The errors are grouped by their text without endpoint-specific details where possible.
std::string error_kind(const std::string& e) { return e.substr(0, 160); }

const char* outcome_name(Outcome o) {
  switch (o) {
    case Outcome::kOk:
      return "ok";
    case Outcome::kFail:
      return "fail";
    case Outcome::kInfo:
      return "info";
  }
  return "info";
}

std::string make_value(int bytes, uint64_t tag) {
  std::string v = std::to_string(tag) + ":";
  v.resize(static_cast<size_t>(bytes), 'x');
  if (v.size() > static_cast<size_t>(bytes)) v.resize(static_cast<size_t>(bytes));
  return v;
}

double percentile(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return static_cast<double>(v[std::min(i, v.size() - 1)]) / 1e6;
}

double mean_ms(const std::vector<int64_t>& v) {
  if (v.empty()) return 0;
  long double s = 0;
  for (int64_t x : v) s += x;
  return static_cast<double>(s / v.size() / 1e6);
}

// ---- lin --------------------------------------------------------------------------------------

struct LinTotals {
  std::atomic<int64_t> started{0};
  // The key generation and what it has taken so far. Advanced by whichever client sees a bound
  // reached; the counters' reset races with other clients' increments, which only makes a
  // generation a few operations longer or shorter -- any split of keys is checkable.
  std::atomic<int64_t> generation{0};
  std::atomic<int64_t> generation_ops{0};
  std::atomic<int64_t> generation_unknown{0};
  std::atomic<int64_t> ok{0}, fail{0}, info{0};
  std::atomic<int64_t> reads{0}, writes{0}, cases{0};
};

void lin_client(const Options& o, int id, int64_t deadline_ns, LinTotals* t, Errors* errors,
                std::vector<std::string>* lines) {
  KvConn conn(o.api, o.endpoints[static_cast<size_t>(id) % o.endpoints.size()], o.timeout_ms);
  std::mt19937_64 rng(o.seed * 1000003 + static_cast<uint64_t>(id) + 1);
  const std::string client = "c" + std::to_string(id);
  struct Seen {
    bool found = false;
    std::string value;
    uint64_t version = 0;
  };
  std::map<std::string, Seen> seen;  // this generation's keys this client has read
  int64_t generation_seen = -1;
  uint64_t seq = 0;
  const int mix_total = o.mix[0] + o.mix[1] + o.mix[2];
  const int64_t per_generation = int64_t{o.ops_per_key} * o.keys;
  const int64_t unknown_per_generation = int64_t{o.unknown_per_key} * o.keys;
  auto advance = [t](int64_t from) {
    int64_t expected = from;
    if (t->generation.compare_exchange_strong(expected, from + 1)) {
      t->generation_ops = 0;
      t->generation_unknown = 0;
    }
  };
  char buf[256];
  auto line = [&](int64_t ts, const char* type, const char* f, const std::string& key,
                  const std::string& a, const std::string& b) {
    int n = std::snprintf(buf, sizeof buf, "%lld %s %s %s %s%s%s%s%s\n",
                          static_cast<long long>(ts), client.c_str(), type, f, key.c_str(),
                          a.empty() ? "" : " ", a.c_str(), b.empty() ? "" : " ", b.c_str());
    lines->emplace_back(buf, static_cast<size_t>(std::min<int>(n, sizeof buf - 1)));
  };
  for (;;) {
    if (mono_ns() >= deadline_ns) break;
    int64_t n = t->started.fetch_add(1);
    if (n >= o.ops_max) break;
    int64_t generation = t->generation.load();
    if (t->generation_ops.fetch_add(1) + 1 >= per_generation) advance(generation);
    if (generation != generation_seen) {
      seen.clear();
      generation_seen = generation;
    }
    const std::string key =
        o.prefix + "/" + std::to_string(generation) + "-" +
        std::to_string(std::uniform_int_distribution<int>(0, o.keys - 1)(rng));
    int pick = std::uniform_int_distribution<int>(0, mix_total - 1)(rng);
    int f = pick < o.mix[0] ? 0 : pick < o.mix[0] + o.mix[1] ? 1 : 2;
    auto it = seen.find(key);
    if (f == 2 && it == seen.end()) f = 0;  // a cas needs a version this client read
    Outcome outcome = Outcome::kInfo;
    bool last_sent = true;
    if (f == 0) {
      t->reads++;
      line(mono_ns(), "invoke", "read", key, "", "");
      ReadResult r = conn.read(key, o.read_mode);
      int64_t done = mono_ns();
      outcome = r.outcome;
      if (r.outcome == Outcome::kOk) {
        std::string v = r.found ? (r.value.empty() ? std::string("<empty>") : r.value) : "nil";
        // Values are printable tokens we wrote; anything else is recorded so that it fails
        // the check rather than breaking the format.
        for (char& c : v)
          if (c <= ' ' || c > '~') c = '?';
        if (v.size() > 200) v.resize(200);
        line(done, "ok", "read", key, v, "");
        seen[key] = Seen{r.found, r.value, r.version};
      } else {
        line(done, outcome_name(r.outcome), "read", key, "", "");
        errors->add("read: " + error_kind(r.error));
      }
    } else {
      const std::string value = std::to_string(id) + "." + std::to_string(++seq);
      WriteResult w;
      if (f == 1) {
        t->writes++;
        line(mono_ns(), "invoke", "write", key, value, "");
        w = conn.write(key, value);
        line(mono_ns(), outcome_name(w.outcome), "write", key, value, "");
      } else {
        t->cases++;
        const Seen s = it->second;
        std::string expect = s.found ? s.value : "nil";
        line(mono_ns(), "invoke", "cas", key, expect, value);
        w = conn.cas(key, s.found ? s.version : 0, value);
        if (w.sent) {
          line(mono_ns(), outcome_name(w.outcome), "cas", key, expect, value);
        } else {
          lines->pop_back();  // never reached a server: leave it out of the history
        }
        seen.erase(key);  // the version is used; read again before the next cas
      }
      outcome = w.outcome;
      last_sent = w.sent;
      if (w.outcome != Outcome::kOk && !(f == 2 && w.outcome == Outcome::kFail && w.sent))
        errors->add(std::string(f == 1 ? "write: " : "cas: ") + error_kind(w.error));
    }
    if (outcome == Outcome::kOk) {
      t->ok++;
    } else if (outcome == Outcome::kFail) {
      t->fail++;
    } else {
      t->info++;
      if (f != 0 && t->generation_unknown.fetch_add(1) + 1 >= unknown_per_generation)
        advance(generation);
    }
    // An unknown outcome or an unreachable server: back off, so a dead or cut-off node costs a
    // few operations per second rather than thousands (each unknown write stays pending in the
    // checker).
    bool unreachable = f == 0 ? outcome != Outcome::kOk : outcome == Outcome::kFail;
    if (f == 2) unreachable = outcome == Outcome::kFail && !last_sent;
    if (outcome == Outcome::kInfo || unreachable) {
      sleep_ms(std::min<int64_t>(o.backoff_ms, (deadline_ns - mono_ns()) / 1'000'000));
    }
    if (o.think_ms > 0)
      sleep_ms(std::uniform_int_distribution<int>(0, o.think_ms)(rng));
  }
}

int run_lin(const Options& o) {
  if (o.out.empty()) {
    std::fprintf(stderr, "kvclient lin: --out=FILE is required\n");
    return 2;
  }
  std::FILE* out = std::fopen(o.out.c_str(), "w");
  if (out == nullptr) {
    std::fprintf(stderr, "kvclient lin: cannot write %s\n", o.out.c_str());
    return 2;
  }
  const int clients = o.clients > 0 ? o.clients : 10;
  const double duration_s = o.duration_s > 0 ? o.duration_s : 60;
  LinTotals t;
  Errors errors;
  std::vector<std::vector<std::string>> lines(static_cast<size_t>(clients));
  int64_t start = mono_ns();
  int64_t deadline = start + static_cast<int64_t>(duration_s * 1e9);
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i)
    threads.emplace_back(lin_client, std::cref(o), i, deadline, &t, &errors,
                         &lines[static_cast<size_t>(i)]);
  for (auto& th : threads) th.join();
  double elapsed = static_cast<double>(mono_ns() - start) / 1e9;
  std::fprintf(out, "# weft-history 1: kvclient lin, %s, %d clients, %d keys per generation, "
               "%d ops per key, read mode %d\n",
               o.api == Api::kConsul ? "consul" : "etcd", clients, o.keys, o.ops_per_key,
               static_cast<int>(o.read_mode));
  for (const auto& v : lines)
    for (const auto& l : v) std::fputs(l.c_str(), out);
  bool write_ok = std::fflush(out) == 0;
  write_ok = std::fclose(out) == 0 && write_ok;
  int64_t ops = t.ok + t.fail + t.info;
  errors.print("lin");
  std::printf("kvclient lin: ops=%lld ok=%lld fail=%lld info=%lld reads=%lld writes=%lld "
              "cas=%lld elapsed_s=%.1f rate=%.1f history=%s\n",
              static_cast<long long>(ops), static_cast<long long>(t.ok.load()),
              static_cast<long long>(t.fail.load()), static_cast<long long>(t.info.load()),
              static_cast<long long>(t.reads.load()), static_cast<long long>(t.writes.load()),
              static_cast<long long>(t.cases.load()), elapsed,
              elapsed > 0 ? static_cast<double>(ops) / elapsed : 0, o.out.c_str());
  return write_ok ? 0 : 2;
}

// ---- latency, throughput ----------------------------------------------------------------------

int run_latency(const Options& o) {
  KvConn conn(o.api, o.endpoints[0], o.timeout_ms);
  Errors errors;
  std::vector<int64_t> lat;
  lat.reserve(static_cast<size_t>(o.count));
  const double duration_s = o.duration_s > 0 ? o.duration_s : 120;
  int64_t deadline = mono_ns() + static_cast<int64_t>(duration_s * 1e9);
  int64_t failures = 0;
  const std::string key = o.prefix + "/latency";
  for (int i = 0; i < o.warmup + o.count && mono_ns() < deadline; ++i) {
    std::string value = make_value(o.value_bytes, static_cast<uint64_t>(i));
    int64_t t0 = mono_ns();
    WriteResult w = conn.write(key, value);
    int64_t t1 = mono_ns();
    if (w.outcome != Outcome::kOk) {
      ++failures;
      errors.add(error_kind(w.error));
      continue;
    }
    if (i >= o.warmup) lat.push_back(t1 - t0);
  }
  errors.print("latency");
  size_t n = lat.size();
  double mean = mean_ms(lat);
  double p50 = percentile(lat, 0.50), p99 = percentile(lat, 0.99);
  double mx = lat.empty() ? 0 : static_cast<double>(lat.back()) / 1e6;
  std::printf("kvclient latency: writes=%zu failures=%lld value_bytes=%d p50_ms=%.3f "
              "p99_ms=%.3f mean_ms=%.3f max_ms=%.3f\n",
              n, static_cast<long long>(failures), o.value_bytes, p50, p99, mean, mx);
  return 0;
}

int run_throughput(const Options& o) {
  const int clients = o.clients > 0 ? o.clients : 16;
  const double duration_s = o.duration_s > 0 ? o.duration_s : 10;
  Errors errors;
  std::atomic<int64_t> failures{0};
  std::vector<std::vector<int64_t>> lat(static_cast<size_t>(clients));
  int64_t start = mono_ns();
  int64_t measure_from = start + static_cast<int64_t>(o.warmup_s * 1e9);
  int64_t deadline = measure_from + static_cast<int64_t>(duration_s * 1e9);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      KvConn conn(o.api, o.endpoints[static_cast<size_t>(c) % o.endpoints.size()],
                  o.timeout_ms);
      const std::string base = o.prefix + "/t" + std::to_string(c) + "-";
      auto& mine = lat[static_cast<size_t>(c)];
      for (uint64_t i = 0; i < 100'000'000; ++i) {
        int64_t t0 = mono_ns();
        if (t0 >= deadline) break;
        // 64 keys per client, rewritten in turn: the store stays small.
        WriteResult w = conn.write(base + std::to_string(i % 64), make_value(o.value_bytes, i));
        int64_t t1 = mono_ns();
        if (w.outcome != Outcome::kOk) {
          failures++;
          errors.add(error_kind(w.error));
          sleep_ms(10);
          continue;
        }
        // Count writes that completed inside the window.
        if (t0 >= measure_from && t1 <= deadline) mine.push_back(t1 - t0);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<int64_t> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  errors.print("throughput");
  double window_s = duration_s;
  std::printf("kvclient throughput: clients=%d value_bytes=%d writes=%zu failures=%lld "
              "window_s=%.1f writes_per_s=%.1f p50_ms=%.3f p99_ms=%.3f\n",
              clients, o.value_bytes, all.size(), static_cast<long long>(failures.load()),
              window_s, static_cast<double>(all.size()) / window_s, percentile(all, 0.5),
              percentile(all, 0.99));
  return 0;
}

// ---- probe ------------------------------------------------------------------------------------

int run_probe(const Options& o) {
  const double duration_s = o.duration_s > 0 ? o.duration_s : 30;
  const int64_t start = mono_ns();
  const int64_t wall_offset = wall_ns() - start;  // wall = mono + offset, for the report
  const int64_t deadline = start + static_cast<int64_t>(duration_s * 1e9);
  const int64_t armed = start + int64_t{o.armed_after_ms} * 1'000'000;
  std::mutex mu;
  std::vector<int64_t> successes;  // mono ns of each successful write's completion
  successes.reserve(1 << 16);
  std::atomic<bool> stop{false};
  std::atomic<int64_t> failures{0};
  Errors errors;
  // Watches for "a gap happened and writes have succeeded for recovered_ms since": done.
  auto recovered = [&]() {
    std::lock_guard<std::mutex> g(mu);
    if (successes.size() < 2) return false;
    int64_t now = mono_ns();
    int64_t gap_min = int64_t{o.gap_min_ms} * 1'000'000;
    // The last gap of at least gap_min, then continuous successes for recovered_ms.
    for (size_t i = successes.size() - 1; i > 0 && successes[i] > armed; --i) {
      if (successes[i] - successes[i - 1] >= gap_min)
        return now - successes[i] >= int64_t{o.recovered_ms} * 1'000'000 &&
               now - successes.back() < gap_min;
    }
    return false;
  };
  std::vector<std::thread> threads;
  for (size_t e = 0; e < o.endpoints.size(); ++e) {
    threads.emplace_back([&, e] {
      KvConn conn(o.api, o.endpoints[e], o.timeout_ms);
      const std::string key = o.prefix + "/probe-" + std::to_string(e);
      for (uint64_t i = 0; i < 100'000'000 && !stop.load(); ++i) {
        int64_t t0 = mono_ns();
        if (t0 >= deadline) break;
        WriteResult w = conn.write(key, make_value(o.value_bytes, i));
        int64_t t1 = mono_ns();
        if (w.outcome == Outcome::kOk) {
          std::lock_guard<std::mutex> g(mu);
          if (successes.size() < 10'000'000) successes.push_back(t1);
        } else {
          failures++;
          errors.add(o.endpoints[e] + ": " + error_kind(w.error));
        }
        int64_t next = t0 + int64_t{o.interval_ms} * 1'000'000;
        sleep_ms((next - mono_ns()) / 1'000'000);
      }
    });
  }
  while (mono_ns() < deadline && !stop.load()) {
    sleep_ms(20);
    if (recovered()) stop = true;
  }
  stop = true;
  for (auto& th : threads) th.join();
  std::sort(successes.begin(), successes.end());
  int64_t gap = 0, gap_start = 0, gap_end = 0;
  for (size_t i = 1; i < successes.size(); ++i) {
    if (successes[i] > armed && successes[i] - successes[i - 1] > gap) {
      gap = successes[i] - successes[i - 1];
      gap_start = successes[i - 1];
      gap_end = successes[i];
    }
  }
  // A run whose writes never came back ends in a gap from the last success to the end.
  if (!successes.empty() && mono_ns() - successes.back() > gap && mono_ns() >= deadline) {
    gap = mono_ns() - successes.back();
    gap_start = successes.back();
    gap_end = 0;
  }
  errors.print("probe");
  std::printf("kvclient probe: successes=%zu failures=%lld gap_ms=%.1f gap_start_unix_ns=%lld "
              "gap_end_unix_ns=%lld recovered=%s elapsed_s=%.1f\n",
              successes.size(), static_cast<long long>(failures.load()),
              static_cast<double>(gap) / 1e6,
              static_cast<long long>(gap_start ? gap_start + wall_offset : 0),
              static_cast<long long>(gap_end ? gap_end + wall_offset : 0),
              gap_end ? "yes" : "no", static_cast<double>(mono_ns() - start) / 1e9);
  return 0;
}

// ---- durability -------------------------------------------------------------------------------

int run_durable_write(const Options& o) {
  if (o.out.empty()) {
    std::fprintf(stderr, "kvclient durable-write: --out=FILE is required\n");
    return 2;
  }
  const int clients = o.clients > 0 ? o.clients : 8;
  const double duration_s = o.duration_s > 0 ? o.duration_s : 20;
  const int64_t deadline = mono_ns() + static_cast<int64_t>(duration_s * 1e9);
  std::mutex mu;
  std::vector<std::string> acked;
  std::atomic<int64_t> unknown{0}, failed{0};
  Errors errors;
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      size_t ep = static_cast<size_t>(c) % o.endpoints.size();
      auto conn = std::make_unique<KvConn>(o.api, o.endpoints[ep], o.timeout_ms);
      for (int64_t i = 0; i < o.ops_max && mono_ns() < deadline; ++i) {
        const std::string key = o.prefix + "/d" + std::to_string(c) + "-" + std::to_string(i);
        const std::string value = std::to_string(c) + "." + std::to_string(i);
        WriteResult w = conn->write(key, value);
        if (w.outcome == Outcome::kOk) {
          std::lock_guard<std::mutex> g(mu);
          acked.push_back(key + " " + value + "\n");
          continue;
        }
        (w.outcome == Outcome::kInfo ? unknown : failed)++;
        errors.add(o.endpoints[ep] + ": " + error_kind(w.error));
        // Move to the next server: the one we used may be dead.
        ep = (ep + 1) % o.endpoints.size();
        conn = std::make_unique<KvConn>(o.api, o.endpoints[ep], o.timeout_ms);
        sleep_ms(std::min<int64_t>(o.backoff_ms, (deadline - mono_ns()) / 1'000'000));
      }
    });
  }
  for (auto& th : threads) th.join();
  std::FILE* out = std::fopen(o.out.c_str(), "w");
  if (out == nullptr) {
    std::fprintf(stderr, "kvclient durable-write: cannot write %s\n", o.out.c_str());
    return 2;
  }
  for (const auto& l : acked) std::fputs(l.c_str(), out);
  bool ok = std::fclose(out) == 0;
  errors.print("durable-write");
  std::printf("kvclient durable-write: acknowledged=%zu unknown=%lld failed=%lld log=%s\n",
              acked.size(), static_cast<long long>(unknown.load()),
              static_cast<long long>(failed.load()), o.out.c_str());
  return ok ? 0 : 2;
}

int run_durable_check(const Options& o) {
  std::FILE* in = std::fopen(o.in.c_str(), "r");
  if (in == nullptr) {
    std::fprintf(stderr, "kvclient durable-check: cannot read --in=%s\n", o.in.c_str());
    return 2;
  }
  std::vector<std::pair<std::string, std::string>> want;
  char buf[1024];
  while (std::fgets(buf, sizeof buf, in) != nullptr && want.size() < 10'000'000) {
    std::string_view l(buf);
    while (!l.empty() && (l.back() == '\n' || l.back() == '\r')) l.remove_suffix(1);
    size_t sp = l.find(' ');
    if (sp == std::string_view::npos) continue;
    want.emplace_back(std::string(l.substr(0, sp)), std::string(l.substr(sp + 1)));
  }
  std::fclose(in);
  const int clients = o.clients > 0 ? o.clients : 8;
  const double duration_s = o.duration_s > 0 ? o.duration_s : 120;
  const int64_t deadline = mono_ns() + static_cast<int64_t>(duration_s * 1e9);
  std::atomic<size_t> next{0};
  std::atomic<int64_t> lost{0}, unreadable{0}, present{0};
  std::mutex mu;
  std::vector<std::string> lost_keys;
  Errors errors;
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      size_t ep = static_cast<size_t>(c) % o.endpoints.size();
      auto conn = std::make_unique<KvConn>(o.api, o.endpoints[ep], o.timeout_ms);
      for (size_t i = next++; i < want.size(); i = next++) {
        bool done = false;
        for (int attempt = 0; attempt < 20 && !done && mono_ns() < deadline; ++attempt) {
          ReadResult r = conn->read(want[i].first, ReadMode::kConsistent);
          if (r.outcome != Outcome::kOk) {
            errors.add(o.endpoints[ep] + ": " + error_kind(r.error));
            ep = (ep + 1) % o.endpoints.size();
            conn = std::make_unique<KvConn>(o.api, o.endpoints[ep], o.timeout_ms);
            sleep_ms(100);
            continue;
          }
          done = true;
          if (r.found && r.value == want[i].second) {
            present++;
          } else {
            lost++;
            std::lock_guard<std::mutex> g(mu);
            if (lost_keys.size() < 20)
              lost_keys.push_back(want[i].first + (r.found ? " (value " + r.value + ")" : " (absent)"));
          }
        }
        if (!done) unreadable++;
      }
    });
  }
  for (auto& th : threads) th.join();
  errors.print("durable-check");
  for (const auto& k : lost_keys) std::fprintf(stderr, "kvclient durable-check: lost %s\n", k.c_str());
  std::printf("kvclient durable-check: acknowledged=%zu present=%lld lost=%lld unreadable=%lld\n",
              want.size(), static_cast<long long>(present.load()),
              static_cast<long long>(lost.load()), static_cast<long long>(unreadable.load()));
  if (lost > 0) return 1;
  return unreadable > 0 ? 2 : 0;
}

}  // namespace
}  // namespace kvlin

int main(int argc, char** argv) {
  using namespace kvlin;
  signal(SIGPIPE, SIG_IGN);
  Options o;
  std::string error;
  if (!parse_args(argc, argv, &o, &error)) {
    std::fprintf(stderr, "kvclient: %s\n%s", error.c_str(), kUsage);
    return 2;
  }
  if (o.mode == "lin") return run_lin(o);
  if (o.mode == "latency") return run_latency(o);
  if (o.mode == "throughput") return run_throughput(o);
  if (o.mode == "probe") return run_probe(o);
  if (o.mode == "durable-write") return run_durable_write(o);
  if (o.mode == "durable-check") return run_durable_check(o);
  std::fprintf(stderr, "kvclient: unknown mode \"%s\"\n%s", o.mode.c_str(), kUsage);
  return 2;
}
