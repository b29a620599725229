// config::load() end to end over an in-memory Fs: precedence of the four sources, defaults,
// dev mode, cross-field checks, error reporting and the JSON rendering.
#include "agent/config/config.h"

#include <gtest/gtest.h>

#include "cJSON.h"
#include "tests/unit/config/fake_fs.h"

namespace config {
namespace {

using config_test::FakeFs;

class LoadTest : public ::testing::Test {
 protected:
  LoadTest() {
    in_.fs = &fs_;
    in_.hostname = "node1.example.com";
  }

  Config load_ok() {
    base::Result<Config> r = load(in_);
    EXPECT_TRUE(r.is_ok()) << r.status().message();
    if (!r.is_ok()) return Config();
    return std::move(r).value();
  }

  std::string load_error() {
    base::Result<Config> r = load(in_);
    EXPECT_FALSE(r.is_ok());
    if (r.is_ok()) return "";
    EXPECT_EQ(r.status().code(), base::Code::kInvalidArgument);
    return r.status().message();
  }

  static const Setting& setting(const Config& c, std::string_view key) {
    for (const Setting& s : c.settings) {
      if (s.key == key) return s;
    }
    static const Setting kNone;
    ADD_FAILURE() << "no setting " << key;
    return kNone;
  }

  FakeFs fs_;
  LoadInputs in_;
};

size_t lines(const std::string& text) {
  return text.empty() ? 0 : 1 + static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

// With no source at all, every field equals Config's initializer (the table and the struct
// agree), and the machine- and key-dependent defaults are derived.
TEST_F(LoadTest, DefaultsMatchTheStructAndDeriveTheRest) {
  Config c = load_ok();
  Config d;
  EXPECT_EQ(c.node_name, "node1");
  EXPECT_EQ(c.datacenter, d.datacenter);
  EXPECT_EQ(c.data_dir, d.data_dir);
  EXPECT_EQ(c.log_level, d.log_level);
  EXPECT_EQ(c.server, d.server);
  EXPECT_EQ(c.bootstrap_expect, d.bootstrap_expect);
  EXPECT_EQ(c.roles, std::vector<std::string>{"worker"});
  EXPECT_EQ(c.labels, d.labels);
  EXPECT_EQ(c.bind_addr, d.bind_addr);
  EXPECT_EQ(c.advertise_addr, d.advertise_addr);
  EXPECT_EQ(c.client_addr, d.client_addr);
  EXPECT_EQ(c.ports.http, d.ports.http);
  EXPECT_EQ(c.ports.rpc, d.ports.rpc);
  EXPECT_EQ(c.ports.gossip, d.ports.gossip);
  EXPECT_EQ(c.ports.dns, d.ports.dns);
  EXPECT_EQ(c.domain, d.domain);
  EXPECT_EQ(c.socket_path, "/var/lib/agent/agent.sock");
  EXPECT_EQ(c.join, d.join);
  EXPECT_EQ(c.retry_join, d.retry_join);
  EXPECT_EQ(c.encrypt, d.encrypt);
  EXPECT_EQ(c.http.body_bytes_max, d.http.body_bytes_max);
  EXPECT_EQ(c.http.connections_max, d.http.connections_max);
  EXPECT_EQ(c.http.idle_timeout, d.http.idle_timeout);
  EXPECT_EQ(c.http.header_timeout, d.http.header_timeout);
  EXPECT_EQ(c.log.ring_bytes_max, d.log.ring_bytes_max);
  EXPECT_EQ(c.gossip.profile, d.gossip.profile);
  EXPECT_EQ(c.gossip.label, d.gossip.label);
  EXPECT_EQ(c.gossip.reap_after, d.gossip.reap_after);
  EXPECT_EQ(c.gossip.rejoin_interval, d.gossip.rejoin_interval);
  EXPECT_EQ(c.enable_exec_checks, d.enable_exec_checks);
  EXPECT_EQ(c.dns.recursors, d.dns.recursors);
  EXPECT_EQ(c.dns.recursion_networks, d.dns.recursion_networks);
  EXPECT_EQ(c.dns.recursor_timeout, d.dns.recursor_timeout);
  EXPECT_EQ(c.dev, d.dev);
  EXPECT_EQ(c.settings.size(), schema().size());
  EXPECT_EQ(setting(c, "ports.http").origin, "default");
  EXPECT_EQ(setting(c, "node_name").origin, "hostname");
  EXPECT_EQ(setting(c, "http.body_bytes_max").value, "1MiB");
  EXPECT_EQ(setting(c, "http.idle_timeout").value, "1m");
}

// One key set in all four sources: each later source wins, and the origin names it.
TEST_F(LoadTest, PrecedenceFilesThenCmdlineThenEnvironmentThenFlags) {
  fs_.add_file("/etc/agent/a.json", R"({"ports": {"http": 1001}, "datacenter": "file"})");
  in_.kernel_cmdline = "quiet agent.ports.http=1002 agent.domain=cmdline";
  in_.environment = {"PATH=/bin", "AGENT_PORTS_HTTP=1003", "AGENT_LOG_LEVEL=warn"};
  in_.flags = {"-ports.http=1004"};

  Config c = load_ok();
  EXPECT_EQ(c.ports.http, 1004);
  EXPECT_EQ(setting(c, "ports.http").origin, "flag -ports.http");
  EXPECT_EQ(c.datacenter, "file");
  EXPECT_EQ(setting(c, "datacenter").origin, "/etc/agent/a.json: datacenter");
  EXPECT_EQ(c.domain, "cmdline");
  EXPECT_EQ(setting(c, "domain").origin, "kernel command line: agent.domain");
  EXPECT_EQ(c.log_level, base::LogLevel::kWarn);
  EXPECT_EQ(setting(c, "log_level").origin, "environment AGENT_LOG_LEVEL");

  in_.flags.clear();
  c = load_ok();
  EXPECT_EQ(c.ports.http, 1003);
  EXPECT_EQ(setting(c, "ports.http").origin, "environment AGENT_PORTS_HTTP");

  in_.environment.clear();
  c = load_ok();
  EXPECT_EQ(c.ports.http, 1002);
  EXPECT_EQ(setting(c, "ports.http").origin, "kernel command line: agent.ports.http");

  in_.kernel_cmdline.clear();
  c = load_ok();
  EXPECT_EQ(c.ports.http, 1001);
  EXPECT_EQ(setting(c, "ports.http").origin, "/etc/agent/a.json: ports.http");
}

// "ports": {"http": N} and "ports.http": N are the same key.
TEST_F(LoadTest, NestedJsonEqualsDottedKeys) {
  fs_.add_file("/etc/agent/a.json", R"({"ports": {"http": 8000}, "http": {"idle_timeout": "5s"}})");
  Config nested = load_ok();
  FakeFs other;
  other.add_file("/etc/agent/a.json", R"({"ports.http": 8000, "http.idle_timeout": "5s"})");
  in_.fs = &other;
  Config dotted = load_ok();
  EXPECT_EQ(nested.ports.http, 8000);
  EXPECT_EQ(dotted.ports.http, 8000);
  EXPECT_EQ(nested.http.idle_timeout, base::Duration::seconds(5));
  EXPECT_EQ(dotted.http.idle_timeout, base::Duration::seconds(5));
}

// A directory means its *.json files in sorted order; other files are not read.
TEST_F(LoadTest, DirectoryFilesInSortedOrder) {
  fs_.add_file("/etc/agent/20-late.json", R"({"datacenter": "late"})");
  fs_.add_file("/etc/agent/10-early.json", R"({"datacenter": "early", "domain": "early"})");
  fs_.add_file("/etc/agent/README", "not json");
  fs_.add_file("/etc/agent/.30-swap.json", "{");
  Config c = load_ok();
  EXPECT_EQ(c.datacenter, "late");
  EXPECT_EQ(c.domain, "early");
  EXPECT_EQ(setting(c, "datacenter").origin, "/etc/agent/20-late.json: datacenter");
}

// A refused value is an error only where it would take effect: a later file or a flag setting the
// key replaces it (the console's 90-console.json fixing a CIDATA volume's value).
TEST_F(LoadTest, ARefusedValueALaterSourceReplacesIsNoError) {
  fs_.add_file("/etc/agent/60-cidata.json", R"({"log_level": "shouting", "ports": {"http": "many"}})");
  auto broken = load(in_);
  ASSERT_FALSE(broken.is_ok());
  EXPECT_NE(broken.status().message().find("log_level"), std::string::npos) << broken.status().message();
  EXPECT_NE(broken.status().message().find("ports.http"), std::string::npos) << broken.status().message();
  fs_.add_file("/etc/agent/90-console.json", R"({"log_level": "info"})");
  auto half = load(in_);
  ASSERT_FALSE(half.is_ok());
  EXPECT_EQ(half.status().message().find("log_level"), std::string::npos) << half.status().message();
  EXPECT_NE(half.status().message().find("ports.http"), std::string::npos) << half.status().message();
  in_.flags = {"-ports.http=8500"};
  Config c = load_ok();
  EXPECT_EQ(c.log_level, base::LogLevel::kInfo);
  EXPECT_EQ(c.ports.http, 8500);
  // A later refused value does not hide an earlier one's error either: both are reported.
  in_.flags = {"-ports.http=nope"};
  auto both = load(in_);
  ASSERT_FALSE(both.is_ok());
  EXPECT_NE(both.status().message().find("flag -ports.http"), std::string::npos) << both.status().message();
}

// -config replaces the default directory; its paths are read in order and must exist, while a
// missing default directory is fine.
TEST_F(LoadTest, ConfigFlagSelectsFiles) {
  fs_.add_file("/etc/agent/a.json", R"({"datacenter": "etc"})");
  fs_.add_file("/srv/one.json", R"({"datacenter": "one"})");
  fs_.add_file("/srv/dir/x.json", R"({"datacenter": "dir"})");
  in_.flags = {"-config", "/srv/dir", "--config=/srv/one.json"};
  EXPECT_EQ(load_ok().datacenter, "one");
  in_.flags = {"-config", "/srv/one.json", "-config", "/srv/dir"};
  EXPECT_EQ(load_ok().datacenter, "dir");

  in_.flags = {"-config", "/srv/missing.json"};
  EXPECT_NE(load_error().find("/srv/missing.json: no such file or directory"), std::string::npos);

  in_.flags.clear();
  in_.config_paths = {"/nowhere"};
  EXPECT_EQ(load_ok().datacenter, "dc1");
}

TEST_F(LoadTest, TypeErrorsNameKeyAndOriginInEverySource) {
  fs_.add_file("/etc/agent/a.json", R"({"ports": {"http": "eighty"}})");
  EXPECT_EQ(load_error(),
            "ports.http: want an integer 1..65535, got \"eighty\" "
            "(from /etc/agent/a.json: ports.http)");

  fs_.add_file("/etc/agent/a.json", "{}");
  in_.kernel_cmdline = "agent.ports.rpc=99999";
  EXPECT_EQ(load_error(),
            "ports.rpc: want an integer 1..65535, got 99999 "
            "(from kernel command line: agent.ports.rpc)");

  in_.kernel_cmdline.clear();
  in_.environment = {"AGENT_HTTP_IDLE_TIMEOUT=10 seconds"};
  EXPECT_EQ(load_error(),
            "http.idle_timeout: want a duration 1s..1h (like \"500ms\", \"10s\", \"1m\"), got "
            "\"10 seconds\" (from environment AGENT_HTTP_IDLE_TIMEOUT)");

  in_.environment.clear();
  in_.flags = {"--log_level=verbose"};
  EXPECT_EQ(load_error(),
            "log_level: want one of debug|info|warn|error, got \"verbose\" "
            "(from flag --log_level)");

  in_.flags = {"-bind_addr", "10.0.0.300"};
  EXPECT_EQ(load_error(),
            "bind_addr: want an IPv4 or IPv6 address, got \"10.0.0.300\" (from flag -bind_addr)");

  in_.flags = {"-retry_join=10.0.0.1:0"};
  EXPECT_NE(load_error().find("retry_join: want host[:port], got \"10.0.0.1:0\""),
            std::string::npos);
}

// The DNS forwarding keys: recursors are literal IP[:port] (at most 8), the recursion networks
// CIDRs whose every item is checked (an error names the bad one and, for host bits, the network
// meant), a list from a flag replaces the loopback default, and the timeout is bounded.
TEST_F(LoadTest, DnsRecursorsNetworksAndTimeout) {
  Config c = load_ok();
  EXPECT_TRUE(c.dns.recursors.empty());
  EXPECT_EQ(c.dns.recursion_networks, (std::vector<std::string>{"127.0.0.0/8", "::1/128"}));
  EXPECT_EQ(setting(c, "dns.recursion_networks").value, "127.0.0.0/8,::1/128");
  EXPECT_EQ(c.dns.recursor_timeout, base::Duration::seconds(2));

  fs_.add_file("/etc/agent/a.json", R"({"dns": {"recursors": ["192.0.2.53", "[2001:db8::53]:5353"], "recursor_timeout": "500ms"}})");
  in_.flags = {"-dns.recursion_networks=10.0.0.0/8", "-dns.recursion_networks", "fd00::/8"};
  c = load_ok();
  EXPECT_EQ(c.dns.recursors, (std::vector<std::string>{"192.0.2.53", "[2001:db8::53]:5353"}));
  EXPECT_EQ(c.dns.recursion_networks, (std::vector<std::string>{"10.0.0.0/8", "fd00::/8"}));
  EXPECT_EQ(c.dns.recursor_timeout, base::Duration::millis(500));

  in_.flags = {"-dns.recursion_networks=10.0.0.1/8"};
  EXPECT_EQ(load_error(),
            "dns.recursion_networks: want networks in CIDR form (like 10.0.0.0/8 or fd00::/8): host bits set in "
            "\"10.0.0.1/8\": did you mean 10.0.0.0/8? (from flag -dns.recursion_networks)");
  in_.flags = {"-dns.recursion_networks=127.0.0.0/8,10.0.0.0/40"};
  EXPECT_NE(load_error().find("bad prefix length in \"10.0.0.0/40\": want 0..32"), std::string::npos);
  in_.flags = {"-dns.recursors=resolver.example.com"};
  EXPECT_NE(load_error().find("dns.recursors: want IP[:port] (an IPv6 address with a port in brackets), got "
                              "\"resolver.example.com\""),
            std::string::npos);
  in_.flags = {"-dns.recursors=127.0.0.1:0"};
  EXPECT_NE(load_error().find("got \"127.0.0.1:0\": port 0"), std::string::npos);
  in_.flags = {"-dns.recursors=1.0.0.1,1.0.0.2,1.0.0.3,1.0.0.4,1.0.0.5,1.0.0.6,1.0.0.7,1.0.0.8,1.0.0.9"};
  EXPECT_NE(load_error().find("dns.recursors: want at most 8 items, got 9"), std::string::npos);
  in_.flags = {"-dns.recursor_timeout=1m"};
  EXPECT_NE(load_error().find("dns.recursor_timeout: want a duration"), std::string::npos);
}

TEST_F(LoadTest, UnknownKeysSuggestTheNearestInEachSourcesSpelling) {
  fs_.add_file("/etc/agent/a.json", R"({"prots": {"http": 1}, "ports": {"htp": 2}})");
  in_.kernel_cmdline = "agent.datacentre=x";
  in_.environment = {"AGENT_PORTS_HTP=3"};
  in_.flags = {"-node-name=x"};
  std::string err = load_error();
  EXPECT_NE(err.find("/etc/agent/a.json: prots: unknown key \"prots\"; did you mean ports?"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("/etc/agent/a.json: ports.htp: unknown key \"ports.htp\"; did you mean "
                     "ports.http?"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("kernel command line: agent.datacentre: unknown key \"datacentre\"; did "
                     "you mean agent.datacenter?"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("environment AGENT_PORTS_HTP: unknown variable AGENT_PORTS_HTP; did you "
                     "mean AGENT_PORTS_HTTP?"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("unknown flag \"-node-name\"; did you mean -node_name?"), std::string::npos)
      << err;
  EXPECT_EQ(lines(err), 5u) << err;
}

// Problems across all sources come back together, one line each, in source order.
TEST_F(LoadTest, AllErrorsReportedTogether) {
  fs_.add_file("/etc/agent/a.json", R"({"server": "yes", "bootstrap_expect": 9, "bogus": 1})");
  in_.kernel_cmdline = "agent.ports.http=x";
  in_.environment = {"AGENT_DEV=maybe"};
  in_.flags = {"-roles=worker,cook"};
  std::string err = load_error();
  EXPECT_EQ(lines(err), 6u) << err;
  EXPECT_NE(err.find("server: want a boolean"), std::string::npos) << err;
  EXPECT_NE(err.find("bootstrap_expect: want an integer 0..7, got 9"), std::string::npos);
  EXPECT_NE(err.find("unknown key \"bogus\""), std::string::npos);
  EXPECT_NE(err.find("(from kernel command line: agent.ports.http)"), std::string::npos);
  EXPECT_NE(err.find("(from environment AGENT_DEV)"), std::string::npos);
  EXPECT_NE(err.find("roles: want a list of foundation|director|worker, got \"cook\""),
            std::string::npos);
  EXPECT_LT(err.find("a.json"), err.find("kernel command line"));
  EXPECT_LT(err.find("kernel command line"), err.find("environment"));
  EXPECT_LT(err.find("environment"), err.find("flag"));
}

TEST_F(LoadTest, ErrorCountIsCapped) {
  for (int i = 0; i < 150; ++i) in_.flags.push_back("-nope" + std::to_string(i) + "=1");
  std::string err = load_error();
  EXPECT_EQ(lines(err), kErrorsMax + 1);
  EXPECT_NE(err.find("... and 50 more errors"), std::string::npos);
}

TEST_F(LoadTest, DuplicateJsonKeysAreErrors) {
  fs_.add_file("/etc/agent/a.json", R"({"datacenter": "a", "datacenter": "b"})");
  EXPECT_NE(load_error().find("/etc/agent/a.json: datacenter: duplicate key \"datacenter\""),
            std::string::npos);
  fs_.add_file("/etc/agent/a.json", R"({"ports": {"http": 1}, "ports.http": 2})");
  EXPECT_NE(load_error().find("duplicate key \"ports.http\""), std::string::npos);
  fs_.add_file("/etc/agent/a.json", R"({"labels": {"rack": "a"}, "labels.rack": "b"})");
  EXPECT_NE(load_error().find("duplicate key \"labels.rack\""), std::string::npos);
  fs_.add_file("/etc/agent/a.json", R"({"labels": {"rack": "a", "rack": "b"}})");
  EXPECT_NE(load_error().find("duplicate key \"labels.rack\""), std::string::npos);
  fs_.add_file("/etc/agent/a.json", R"({"role": ["worker"], "roles": ["worker"]})");
  EXPECT_NE(load_error().find("duplicate key \"roles\""), std::string::npos);
  // The same key in two files is not a duplicate: the later file wins.
  fs_.add_file("/etc/agent/a.json", R"({"datacenter": "a"})");
  fs_.add_file("/etc/agent/b.json", R"({"datacenter": "b"})");
  EXPECT_EQ(load_ok().datacenter, "b");
}

TEST_F(LoadTest, BadJsonReportsLineAndColumn) {
  fs_.add_file("/etc/agent/a.json", "{\n  \"datacenter\": \"x\",\n  \"domain\" \"y\"\n}\n");
  std::string err = load_error();
  EXPECT_EQ(err.find("/etc/agent/a.json:3:"), 0u) << err;
  EXPECT_NE(err.find("invalid JSON"), std::string::npos) << err;

  fs_.add_file("/etc/agent/a.json", "{} {}");
  EXPECT_EQ(load_error(), "/etc/agent/a.json:1:4: unexpected text after the JSON object");
  fs_.add_file("/etc/agent/a.json", "[1, 2]");
  EXPECT_EQ(load_error(), "/etc/agent/a.json: want a JSON object at the top level");
  fs_.add_file("/etc/agent/a.json", "");
  EXPECT_NE(load_error().find("/etc/agent/a.json:1:1: invalid JSON"), std::string::npos);
}

TEST_F(LoadTest, OversizeFileAndDeepNestingAreRefused) {
  std::string big = R"({"datacenter": ")" + std::string(kFileBytesMax, 'x') + "\"}";
  fs_.add_file("/etc/agent/big.json", big);
  EXPECT_EQ(load_error(), "/etc/agent/big.json: file is larger than 1MiB; refused");

  fs_.add_file("/etc/agent/big.json", std::string(100, '[') + std::string(100, ']'));
  EXPECT_EQ(load_error(), "/etc/agent/big.json: JSON nested deeper than 16 levels; refused");
}

TEST_F(LoadTest, ListsReplaceAcrossSourcesAndRepeatedFlagsAppend) {
  fs_.add_file("/etc/agent/a.json", R"({"retry_join": ["10.0.0.1", "10.0.0.2:7702"]})");
  EXPECT_EQ(load_ok().retry_join, (std::vector<std::string>{"10.0.0.1", "10.0.0.2:7702"}));

  in_.environment = {"AGENT_RETRY_JOIN=a.example.com, [fd00::1]:7702"};
  Config c = load_ok();
  EXPECT_EQ(c.retry_join, (std::vector<std::string>{"a.example.com", "[fd00::1]:7702"}));
  EXPECT_EQ(setting(c, "retry_join").value, "a.example.com,[fd00::1]:7702");

  in_.flags = {"-retry_join", "b", "-retry_join=c,d", "-join=x"};
  c = load_ok();
  EXPECT_EQ(c.retry_join, (std::vector<std::string>{"b", "c", "d"}));
  EXPECT_EQ(c.join, (std::vector<std::string>{"x"}));
  EXPECT_EQ(setting(c, "retry_join").origin, "flag -retry_join");

  in_.flags = {"-join=x", "-join=x"};
  EXPECT_NE(load_error().find("join: \"x\" is listed twice (from flag -join)"), std::string::npos);
}

TEST_F(LoadTest, RolesAliasAndDefaultsFollowServer) {
  in_.kernel_cmdline = "quiet agent.role=worker,director";
  Config c = load_ok();
  EXPECT_EQ(c.roles, (std::vector<std::string>{"worker", "director"}));
  EXPECT_EQ(setting(c, "roles").origin, "kernel command line: agent.role");

  in_.kernel_cmdline = "agent.server";
  c = load_ok();
  EXPECT_EQ(c.roles, std::vector<std::string>{"foundation"});
  EXPECT_EQ(setting(c, "roles").origin, "default (from server)");
}

// Labels merge entry by entry; each source can set one entry or several.
TEST_F(LoadTest, MapsMergeEntryByEntry) {
  fs_.add_file("/etc/agent/a.json", R"({"labels": {"rack": "r1", "zone": "a", "os": "linux"}})");
  in_.kernel_cmdline = "agent.labels.rack=r12 agent.labels.note=\"two words\"";
  in_.environment = {"AGENT_LABELS=zone=b,gpu=yes"};
  in_.flags = {"-labels.os=debian", "-labels", "tier=edge"};
  Config c = load_ok();
  std::map<std::string, std::string> want = {{"gpu", "yes"},   {"note", "two words"},
                                             {"os", "debian"}, {"rack", "r12"},
                                             {"tier", "edge"}, {"zone", "b"}};
  EXPECT_EQ(c.labels, want);
  const Setting& s = setting(c, "labels");
  EXPECT_NE(s.origin.find("kernel command line: agent.labels.rack"), std::string::npos);
  EXPECT_NE(s.origin.find("environment AGENT_LABELS"), std::string::npos);
  EXPECT_NE(s.origin.find("flag -labels.os"), std::string::npos);
  EXPECT_EQ(s.origin.find("a.json"), std::string::npos);  // every file label was overridden

  in_.flags = {"-labels", "no-equals-sign"};
  EXPECT_NE(load_error().find("labels: want key=value pairs"), std::string::npos);
  in_.flags = {"-labels.bad key=x"};
  EXPECT_NE(load_error().find("labels.bad key: entry name \"bad key\""), std::string::npos);
  in_.flags.clear();
  fs_.add_file("/etc/agent/a.json", R"({"labels": {"rack": 12}})");
  EXPECT_NE(load_error().find("labels: entry \"rack\": want a string, got the number 12"),
            std::string::npos);
}

TEST_F(LoadTest, MapLimitAppliesAfterMerging) {
  std::string json = "{\"labels\": {";
  for (int i = 0; i < 64; ++i) json += (i ? ",\"l" : "\"l") + std::to_string(i) + "\": \"v\"";
  json += "}}";
  fs_.add_file("/etc/agent/a.json", json);
  EXPECT_EQ(load_ok().labels.size(), 64u);
  in_.flags = {"-labels.extra=v"};
  EXPECT_NE(load_error().find("labels: want at most 64 entries, got 65"), std::string::npos);
}

TEST_F(LoadTest, BooleansInEverySource) {
  fs_.add_file("/etc/agent/a.json", R"({"enable_exec_checks": true})");
  EXPECT_TRUE(load_ok().enable_exec_checks);

  in_.kernel_cmdline = "agent.enable_exec_checks=false agent.server agent.bootstrap_expect=3";
  Config c = load_ok();
  EXPECT_FALSE(c.enable_exec_checks);
  EXPECT_TRUE(c.server);

  in_.environment = {"AGENT_SERVER=no", "AGENT_BOOTSTRAP_EXPECT=0", "AGENT_ENABLE_EXEC_CHECKS=On"};
  c = load_ok();
  EXPECT_FALSE(c.server);
  EXPECT_TRUE(c.enable_exec_checks);

  in_.flags = {"-server", "-bootstrap_expect=1", "--enable_exec_checks=0"};
  c = load_ok();
  EXPECT_TRUE(c.server);
  EXPECT_FALSE(c.enable_exec_checks);

  in_.flags = {"-server=false", "-enable_exec_checks", "true"};
  EXPECT_NE(load_error().find("unexpected argument \"true\" (a boolean flag takes its value as "
                              "-name=value)"),
            std::string::npos);

  fs_.add_file("/etc/agent/a.json", R"({"enable_exec_checks": "true"})");
  in_.flags.clear();
  in_.environment.clear();  // which would replace the file's value (and its error)
  in_.kernel_cmdline.clear();
  EXPECT_NE(load_error().find("enable_exec_checks: want a boolean (true or false), got \"true\" "
                              "(from /etc/agent/a.json: enable_exec_checks)"),
            std::string::npos);
}

TEST_F(LoadTest, CrossFieldChecks) {
  in_.flags = {"-bootstrap_expect=3"};
  EXPECT_EQ(load_error(),
            "bootstrap_expect: needs server=true (server is false, from default) "
            "(from flag -bootstrap_expect)");

  in_.flags = {"-roles=foundation"};
  EXPECT_NE(load_error().find("roles: the foundation role needs server=true"), std::string::npos);

  in_.flags = {"-server", "-roles=worker"};
  EXPECT_NE(load_error().find("roles: a server must have the foundation role (server=true, from "
                              "flag -server) (from flag -roles)"),
            std::string::npos);

  in_.flags = {"-ports.rpc=7700"};
  EXPECT_EQ(load_error(),
            "ports.rpc: 7700 is also ports.http (from default) (from flag -ports.rpc)");
}

TEST_F(LoadTest, DevModeDefaults) {
  in_.flags = {"-dev"};
  Config c = load_ok();
  EXPECT_TRUE(c.dev);
  EXPECT_EQ(c.ports.dns, 8600);
  EXPECT_EQ(c.log_level, base::LogLevel::kDebug);
  EXPECT_EQ(c.bind_addr, "127.0.0.1");
  EXPECT_TRUE(c.server);
  EXPECT_EQ(c.bootstrap_expect, 1);
  EXPECT_EQ(c.roles, std::vector<std::string>{"foundation"});
  EXPECT_EQ(c.data_dir, "/tmp/agent-dev-1");
  EXPECT_EQ(c.socket_path, "/tmp/agent-dev-1/agent.sock");
  EXPECT_EQ(setting(c, "ports.dns").origin, "dev default");
  EXPECT_EQ(setting(c, "data_dir").origin, "dev default");

  // The caller's directory wins over a new temporary one; explicit keys win over dev defaults.
  in_.dev_data_dir = "/run/dev";
  in_.flags = {"-dev", "-ports.dns=5353", "-log_level=info", "-server=false"};
  c = load_ok();
  EXPECT_EQ(c.data_dir, "/run/dev");
  EXPECT_EQ(c.ports.dns, 5353);
  EXPECT_EQ(c.log_level, base::LogLevel::kInfo);
  EXPECT_FALSE(c.server);
  EXPECT_EQ(c.bootstrap_expect, 0);
  EXPECT_EQ(fs_.temp_dirs_made, 1);

  // A config with errors makes no temporary directory.
  in_.dev_data_dir.clear();
  in_.flags = {"-dev", "-ports.http=x"};
  load_error();
  EXPECT_EQ(fs_.temp_dirs_made, 1);

  fs_.temp_dir_fails = true;
  in_.flags = {"-dev"};
  base::Result<Config> r = load(in_);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("data_dir: cannot make a temporary directory"),
            std::string::npos);
}

TEST_F(LoadTest, NodeNameFromHostnameIsChecked) {
  in_.hostname = "";
  EXPECT_EQ(load_error(),
            "node_name: not set, and the hostname is unknown; set node_name (from hostname)");
  in_.hostname = "bad_host";
  EXPECT_NE(load_error().find("node_name: want a DNS label"), std::string::npos);
  in_.flags = {"-node_name=n7"};
  EXPECT_EQ(load_ok().node_name, "n7");
}

TEST_F(LoadTest, SocketPathFollowsDataDir) {
  in_.flags = {"-data_dir=/data/"};
  EXPECT_EQ(load_ok().socket_path, "/data/agent.sock");
  in_.flags = {"-data_dir=/" + std::string(120, 'd')};
  EXPECT_NE(load_error().find("socket_path: want a string of at most 107 characters"),
            std::string::npos);
  in_.flags.push_back("-socket_path=/run/agent/agent.sock");
  EXPECT_EQ(load_ok().socket_path, "/run/agent/agent.sock");
}

TEST_F(LoadTest, EncryptIsCheckedAndHidden) {
  const std::string key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";  // 32 bytes
  in_.environment = {"AGENT_ENCRYPT=" + key};
  Config c = load_ok();
  EXPECT_EQ(c.encrypt, key);
  EXPECT_EQ(setting(c, "encrypt").value, "<hidden>");
  EXPECT_EQ(to_json_text(c, false).find(key), std::string::npos);
  EXPECT_EQ(to_json_text(c, true).find(key), std::string::npos);

  in_.environment = {"AGENT_ENCRYPT=c2hvcnQ="};
  std::string err = load_error();
  EXPECT_EQ(err,
            "encrypt: want base64 of a 32-byte key (agentctl keygen makes one) "
            "(from environment AGENT_ENCRYPT)");
}

// agentctl's variables and everyone else's are not config, and not errors.
TEST_F(LoadTest, EnvironmentIgnoresOtherVariables) {
  in_.environment = {"HOME=/root", "AGENT_HTTP_ADDR=127.0.0.1:7700", "AGENT_TOKEN=t",
                     "agent_ports_http=1", "NOEQUALS"};
  EXPECT_EQ(load_ok().ports.http, 7700);
}

TEST_F(LoadTest, BytesAndDurationsAcceptOperatorForms) {
  fs_.add_file("/etc/agent/a.json",
               R"({"http": {"body_bytes_max": "2MiB", "header_timeout": "1m30s"},
                   "log": {"ring_bytes_max": 65536}})");
  Config c = load_ok();
  EXPECT_EQ(c.http.body_bytes_max, 2u << 20);
  EXPECT_EQ(c.http.header_timeout, base::Duration::seconds(90));
  EXPECT_EQ(c.log.ring_bytes_max, 65536u);
  EXPECT_EQ(setting(c, "log.ring_bytes_max").value, "64KiB");

  fs_.add_file("/etc/agent/a.json", R"({"http": {"idle_timeout": 10}})");
  EXPECT_NE(load_error().find("http.idle_timeout: want a duration 1s..1h (like \"500ms\", "
                              "\"10s\", \"1m\"), got the number 10"),
            std::string::npos);
  fs_.add_file("/etc/agent/a.json", R"({"ports": {"http": 80.5}})");
  EXPECT_NE(load_error().find("got the number 80.5"), std::string::npos);
}

TEST_F(LoadTest, JsonRendering) {
  in_.flags = {"-ports.http=8000", "-labels.rack=r1", "-retry_join=a,b"};
  Config c = load_ok();

  JsonPtr json = to_json(c, false);
  ASSERT_TRUE(json);
  const cJSON* ports = cJSON_GetObjectItemCaseSensitive(json.get(), "ports");
  ASSERT_TRUE(cJSON_IsObject(ports));
  EXPECT_EQ(cJSON_GetObjectItemCaseSensitive(ports, "http")->valuedouble, 8000);
  const cJSON* http = cJSON_GetObjectItemCaseSensitive(json.get(), "http");
  EXPECT_STREQ(cJSON_GetObjectItemCaseSensitive(http, "idle_timeout")->valuestring, "1m");
  const cJSON* labels = cJSON_GetObjectItemCaseSensitive(json.get(), "labels");
  EXPECT_STREQ(cJSON_GetObjectItemCaseSensitive(labels, "rack")->valuestring, "r1");
  EXPECT_EQ(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(json.get(), "retry_join")), 2);
  EXPECT_TRUE(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(json.get(), "server")));

  // The rendering is itself a valid config file that loads to the same values.
  FakeFs again;
  again.add_file("/etc/agent/self.json", to_json_text(c, false));
  LoadInputs in2;
  in2.fs = &again;
  base::Result<Config> reloaded = load(in2);
  ASSERT_TRUE(reloaded.is_ok()) << reloaded.status().message();
  EXPECT_EQ(reloaded->ports.http, 8000);
  EXPECT_EQ(reloaded->labels, c.labels);
  EXPECT_EQ(reloaded->node_name, "node1");

  JsonPtr rows = to_json(c, true);
  ASSERT_TRUE(cJSON_IsArray(rows.get()));
  EXPECT_EQ(static_cast<size_t>(cJSON_GetArraySize(rows.get())), schema().size());
  bool found = false;
  for (const cJSON* row = rows->child; row != nullptr; row = row->next) {
    if (std::string(cJSON_GetObjectItemCaseSensitive(row, "Key")->valuestring) == "ports.http") {
      EXPECT_STREQ(cJSON_GetObjectItemCaseSensitive(row, "Origin")->valuestring,
                   "flag -ports.http");
      EXPECT_EQ(cJSON_GetObjectItemCaseSensitive(row, "Value")->valuedouble, 8000);
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(LoadTest, UnreadableFilesAndDirectoriesAreErrors) {
  fs_.add_dir("/etc/agent/sub.json");  // a directory named like a file
  std::string err = load_error();
  EXPECT_NE(err.find("/etc/agent/sub.json: cannot read"), std::string::npos) << err;
}

TEST(SchemaTest, HelpListsEveryKey) {
  std::string help = help_text();
  for (const KeySpec& k : schema()) {
    EXPECT_NE(help.find("-" + std::string(k.name) + " "), std::string::npos) << k.name;
    EXPECT_FALSE(k.description.empty()) << k.name;
  }
}

TEST(SchemaTest, EveryKeyHasOneEnvironmentName) {
  for (const KeySpec& k : schema()) {
    EXPECT_EQ(find_env(env_name(k.name)), &k) << k.name;
  }
  EXPECT_EQ(env_name("http.body_bytes_max"), "AGENT_HTTP_BODY_BYTES_MAX");
}

}  // namespace
}  // namespace config
