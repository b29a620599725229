// The node's console (issue 7 item 3): a read-eval loop on the serial console. Every agentctl
// command works as typed (`status`, `members`, `kv get k`, ...), run in-process against the
// agent's local socket; a few more are the console's own, and work with the agent down:
//
//   help                 what is here
//   ip                   the node's interfaces and addresses
//   ps                   processes with their resident memory
//   log [N]              the agent's last N log lines (20)
//   maintenance          why the node is in maintenance mode, if it is
//   config show          the config files and the kernel command line's agent.* keys
//   config set KEY VALUE a key in /etc/agent/90-console.json (read after the other files)
//   continue             start the agent again after maintenance (SIGHUP to init)
//   reboot | poweroff    ask init to go down (SIGTERM | SIGUSR2)
//
// Lines are read in the terminal's canonical mode (its own editing: erase, kill-line); words
// split at blanks, with '...' and "..." quoting. Input lines longer than kLineMax are refused.
// Not yet: history and cursor keys, `dhcp` (later steps of issue 7).
#include <dirent.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "boot/init.h"

namespace boot {

namespace {

constexpr size_t kLineMax = 4096;
constexpr const char* kConfigDir = "/etc/agent";
constexpr size_t kConfigShowBytesMax = 64 << 10;
constexpr size_t kLogLinesMax = 1000;

std::vector<std::string> split_words(const std::string& line, bool* ok) {
  std::vector<std::string> out;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (char c : line) {
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else {
        word += c;
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (in_word) out.push_back(word);
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) out.push_back(word);
  *ok = quote == 0;
  return out;
}

void show_ip() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) {
    std::printf("ip: %s\n", std::strerror(errno));
    return;
  }
  for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr) continue;
    const int family = i->ifa_addr->sa_family;
    if (family != AF_INET && family != AF_INET6) continue;
    char addr[INET6_ADDRSTRLEN] = "?";
    const void* raw = family == AF_INET ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr)
                                        : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr);
    inet_ntop(family, raw, addr, sizeof addr);
    std::printf("%-10s %-5s %s%s\n", i->ifa_name, (i->ifa_flags & IFF_UP) ? "up" : "down", addr,
                (i->ifa_flags & IFF_LOOPBACK) ? " (loopback)" : "");
  }
  freeifaddrs(list);
}

std::string read_text(const std::string& path, size_t max) {
  FILE* f = std::fopen(path.c_str(), "re");
  if (f == nullptr) return "";
  std::string out(max, '\0');
  size_t n = std::fread(out.data(), 1, max, f);
  std::fclose(f);
  out.resize(n);
  return out;
}

void show_ps() {
  DIR* d = opendir("/proc");
  if (d == nullptr) {
    std::printf("ps: no /proc\n");
    return;
  }
  std::printf("%7s %9s  %s\n", "PID", "RSS(KiB)", "COMMAND");
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    const std::string dir = std::string("/proc/") + e->d_name;
    std::string status = read_text(dir + "/status", 8192);
    long rss = 0;
    if (size_t at = status.find("VmRSS:"); at != std::string::npos) rss = std::strtol(status.c_str() + at + 6, nullptr, 10);
    std::string cmd = read_text(dir + "/cmdline", 256);
    for (char& c : cmd) {
      if (c == '\0') c = ' ';
    }
    if (cmd.empty()) {
      size_t at = status.find("Name:");
      cmd = at == std::string::npos ? "?" : "[" + status.substr(at + 6, status.find('\n', at) - at - 6) + "]";
    }
    std::printf("%7s %9ld  %s\n", e->d_name, rss, cmd.c_str());
  }
  closedir(d);
}

void show_log(size_t lines) {
  FILE* f = std::fopen("/run/weft/agent.log", "re");
  if (f == nullptr) {
    std::printf("log: no agent log yet\n");
    return;
  }
  std::deque<std::string> last;
  char buf[1024];
  while (std::fgets(buf, sizeof buf, f) != nullptr) {
    last.emplace_back(buf);
    if (last.size() > lines) last.pop_front();
  }
  std::fclose(f);
  for (const std::string& l : last) std::fputs(l.c_str(), stdout);
}

// `config show`: the node's config files in the order the agent reads them, and the kernel
// command line's agent.* keys (which override them).
void config_show() {
  DIR* d = opendir(kConfigDir);
  std::vector<std::string> names;
  while (d != nullptr) {
    dirent* e = readdir(d);
    if (e == nullptr) break;
    const std::string n = e->d_name;
    if (n.size() > 5 && n[0] != '.' && n.compare(n.size() - 5, 5, ".json") == 0) names.push_back(n);
  }
  if (d != nullptr) closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& n : names) {
    std::printf("== %s/%s\n%s", kConfigDir, n.c_str(), read_text(std::string(kConfigDir) + "/" + n, kConfigShowBytesMax).c_str());
  }
  std::string cmdline = read_text("/proc/cmdline", 4096), keys;
  bool ok = true;
  for (const std::string& w : split_words(cmdline, &ok)) {
    if (w.compare(0, 6, "agent.") == 0) keys += " " + w;
  }
  std::printf("== kernel command line:%s\n", keys.empty() ? " (no agent.* keys)" : keys.c_str());
}

// A JSON value as typed: a number, true, false, null, a quoted string, an array or an object
// stays as it is; anything else becomes a JSON string.
std::string json_value(const std::string& v) {
  if (v == "true" || v == "false" || v == "null") return v;
  if (!v.empty() && (v[0] == '[' || v[0] == '{' || v[0] == '"')) return v;
  char* end = nullptr;
  std::strtod(v.c_str(), &end);
  if (!v.empty() && end != nullptr && *end == '\0' && (std::isdigit(static_cast<unsigned char>(v[0])) || v[0] == '-')) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) out += c;
  }
  return out + "\"";
}

// `config set KEY VALUE`: kept in /etc/agent/90-console.json, read after every other file (so
// it overrides them; agent.* keys on the kernel command line still win), one "key": value per
// line as this function writes it. The agent reads it when it (re)starts: `continue`.
void config_set(const std::string& key, const std::string& value) {
  const std::string path = std::string(kConfigDir) + "/90-console.json";
  std::vector<std::pair<std::string, std::string>> pairs;
  std::string old = read_text(path, kConfigShowBytesMax);
  size_t at = 0;
  while (at < old.size()) {
    size_t nl = old.find('\n', at);
    std::string line = old.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
    at = nl == std::string::npos ? old.size() : nl + 1;
    if (line.size() < 4 || line[0] != '"') continue;
    size_t close = line.find("\": ");
    if (close == std::string::npos) continue;
    std::string v = line.substr(close + 3);
    if (!v.empty() && v.back() == ',') v.pop_back();
    pairs.emplace_back(line.substr(1, close - 1), v);
  }
  bool replaced = false;
  for (auto& [k, v] : pairs) {
    if (k == key) {
      v = json_value(value);
      replaced = true;
    }
  }
  if (!replaced) pairs.emplace_back(key, json_value(value));
  std::string text = "{\n";
  for (size_t i = 0; i < pairs.size(); ++i) text += "\"" + pairs[i].first + "\": " + pairs[i].second + (i + 1 < pairs.size() ? ",\n" : "\n");
  text += "}\n";
  FILE* f = std::fopen(path.c_str(), "we");
  if (f == nullptr || std::fwrite(text.data(), 1, text.size(), f) != text.size()) {
    std::printf("config set: cannot write %s: %s\n", path.c_str(), std::strerror(errno));
  } else {
    std::printf("%s = %s (in %s; `continue` restarts the agent with it)\n", key.c_str(), json_value(value).c_str(), path.c_str());
  }
  if (f != nullptr) std::fclose(f);
}

void help() {
  std::printf(
      "Every agentctl command, as typed: status, members, kv get KEY, alloc status, ... (`agentctl help` lists them).\n"
      "The console's own, which work with the agent down:\n"
      "  ip                  interfaces and addresses\n"
      "  ps                  processes and their resident memory\n"
      "  log [N]             the agent's last N log lines (20)\n"
      "  maintenance         why the node is in maintenance mode\n"
      "  config show         the node's config files and the kernel command line's agent.* keys\n"
      "  config set KEY VAL  set a config key (in /etc/agent/90-console.json; JSON values as typed)\n"
      "  continue            start the agent again after maintenance\n"
      "  reboot | poweroff   stop the agent and tasks, then go down\n");
}

}  // namespace

int run_console(const InitOptions& options) {
  char host[256] = "?";
  gethostname(host, sizeof host - 1);
  std::printf("\nWeft %s console on %s. Type `help`.\n", options.version.c_str(), host);
  std::string line;
  for (;;) {
    std::printf("weft> ");
    std::fflush(stdout);
    line.clear();
    bool too_long = false;
    for (;;) {
      int c = std::fgetc(stdin);
      if (c == EOF) return 0;
      if (c == '\n') break;
      if (line.size() < kLineMax) {
        line += static_cast<char>(c);
      } else {
        too_long = true;
      }
    }
    if (too_long) {
      std::printf("console: a line longer than %zu bytes is refused\n", kLineMax);
      continue;
    }
    bool ok = true;
    std::vector<std::string> words = split_words(line, &ok);
    if (!ok) {
      std::printf("console: unbalanced quote\n");
      continue;
    }
    if (words.empty()) continue;
    const std::string& cmd = words[0];
    if (cmd == "help" || cmd == "?") {
      help();
    } else if (cmd == "ip") {
      show_ip();
    } else if (cmd == "ps") {
      show_ps();
    } else if (cmd == "log") {
      size_t n = words.size() > 1 ? std::strtoul(words[1].c_str(), nullptr, 10) : 20;
      show_log(std::min(std::max<size_t>(n, 1), kLogLinesMax));
    } else if (cmd == "maintenance") {
      std::string why = read_text("/run/weft/maintenance", 4096);
      std::printf("%s", why.empty() ? "the node is not in maintenance mode\n" : why.c_str());
    } else if (cmd == "config" && words.size() == 2 && words[1] == "show") {
      config_show();
    } else if (cmd == "config" && words.size() == 4 && words[1] == "set" && !words[2].empty() &&
               words[2].find_first_of("\"\\") == std::string::npos) {
      config_set(words[2], words[3]);
    } else if (cmd == "config") {
      std::printf("usage: config show | config set KEY VALUE\n");
    } else if (cmd == "continue") {
      ::kill(getppid(), SIGHUP);
      std::printf("starting the agent again\n");
    } else if (cmd == "reboot" || cmd == "poweroff") {
      ::kill(getppid(), cmd == "reboot" ? SIGTERM : SIGUSR2);
      std::printf("%s\n", cmd == "reboot" ? "rebooting" : "powering off");
      std::fflush(stdout);
      pause();
    } else if (cmd == "exit" || cmd == "quit") {
      std::printf("this is the node's console: use poweroff or reboot\n");
    } else if (options.ctl) {
      std::vector<std::string> args = {"agentctl"};
      if (cmd == "agentctl") words.erase(words.begin());
      args.insert(args.end(), words.begin(), words.end());
      int code = options.ctl(args, stdout, stdout);
      std::fflush(stdout);
      if (code != 0) std::printf("(exit %d)\n", code);
    }
    std::fflush(stdout);
  }
}

}  // namespace boot
