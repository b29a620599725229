// Each source on its own: tokenizing, name resolution and the shape of its error lines.
#include "agent/config/sources.h"

#include <gtest/gtest.h>

namespace config {
namespace {

std::string all_errors(const Collected& c) {
  std::string out;
  for (const std::string& e : c.errors) out += e + "\n";
  return out;
}

// The kernel command line: only agent.* tokens, quotes group words, bare booleans are true.
TEST(CmdlineTest, TokensQuotesAndForeignParameters) {
  Collected c;
  read_cmdline(
      "BOOT_IMAGE=/vmlinuz root=/dev/sda1 quiet agent.labels.note=\"a b  c\" "
      "\"agent.datacenter=dc 2\" console=ttyS0,115200 agent.dev\n",
      &c);
  // "agent.datacenter=dc 2" is one token, which then fails the DNS-label check.
  ASSERT_EQ(c.errors.size(), 1u) << all_errors(c);
  EXPECT_EQ(c.errors[0].find("datacenter: want a DNS label"), 0u) << c.errors[0];
  ASSERT_EQ(c.entries.size(), 2u);
  EXPECT_EQ(c.entries[0].spec->name, "labels");
  EXPECT_EQ(c.entries[0].value.map.at("note"), "a b  c");
  EXPECT_EQ(c.entries[0].origin, "kernel command line: agent.labels.note");
  EXPECT_EQ(c.entries[1].spec->name, "dev");
  EXPECT_TRUE(c.entries[1].value.b);
}

// agent.config=<url> is for the first process (boot/config_url.h), not a configuration key.
TEST(CmdlineTest, ConfigUrlIsLeftToBoot) {
  Collected c;
  read_cmdline("agent.config=http://10.0.0.1/node.json agent.node_name=n7", &c);
  EXPECT_TRUE(c.errors.empty()) << all_errors(c);
  ASSERT_EQ(c.entries.size(), 1u);
  EXPECT_EQ(c.entries[0].spec->name, "node_name");
}

TEST(CmdlineTest, Errors) {
  Collected c;
  read_cmdline("agent.ports.http agent.labels.x=\"open agent.nope=1", &c);
  ASSERT_EQ(c.errors.size(), 2u) << all_errors(c);
  EXPECT_EQ(c.errors[0],
            "ports.http: want a value: agent.ports.http=<value> "
            "(from kernel command line: agent.ports.http)");
  EXPECT_EQ(c.errors[1], "kernel command line: agent.labels.x: unterminated double quote");

  Collected big;
  read_cmdline(std::string(kCmdlineBytesMax + 1, 'a'), &big);
  ASSERT_EQ(big.errors.size(), 1u);
  EXPECT_EQ(big.errors[0], "kernel command line: longer than 64KiB; refused");
}

TEST(EnvironmentTest, MapsNamesThroughTheSchema) {
  Collected c;
  read_environment({"AGENT_HTTP_BODY_BYTES_MAX=512KiB", "AGENT_NODE_NAME=n1", "AGENT_PORTS_DNS",
                    "AGENT_HTTP__IDLE_TIMEOUT=1s"},
                   &c);
  ASSERT_EQ(c.entries.size(), 2u);
  EXPECT_EQ(c.entries[0].spec->name, "http.body_bytes_max");
  EXPECT_EQ(c.entries[0].value.i, 512 << 10);
  EXPECT_EQ(c.entries[1].spec->name, "node_name");
  ASSERT_EQ(c.errors.size(), 2u) << all_errors(c);
  EXPECT_EQ(c.errors[0],
            "ports.dns: want an integer 1..65535, got \"\" "
            "(from environment AGENT_PORTS_DNS)");
  EXPECT_EQ(c.errors[1],
            "environment AGENT_HTTP__IDLE_TIMEOUT: unknown variable "
            "AGENT_HTTP__IDLE_TIMEOUT; did you mean AGENT_HTTP_IDLE_TIMEOUT?");
}

TEST(FlagsTest, Spellings) {
  Collected c;
  std::vector<std::string> paths;
  read_flags({"-node_name", "n1", "--datacenter=d2", "-server", "-dev=false", "-config=/a",
              "--config", "/b", "-labels.rack=r1", "--", "extra"},
             &c, &paths);
  EXPECT_EQ(paths, (std::vector<std::string>{"/a", "/b"}));
  ASSERT_EQ(c.entries.size(), 5u);
  EXPECT_EQ(c.entries[0].value.s, "n1");
  EXPECT_EQ(c.entries[0].origin, "flag -node_name");
  EXPECT_EQ(c.entries[1].origin, "flag --datacenter");
  EXPECT_TRUE(c.entries[2].value.b);
  EXPECT_FALSE(c.entries[3].value.b);
  EXPECT_EQ(c.entries[4].value.map.at("rack"), "r1");
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0], "unexpected argument \"extra\" after \"--\"");
}

TEST(FlagsTest, Errors) {
  Collected c;
  std::vector<std::string> paths;
  read_flags({"positional", "-", "---server", "-confg=/x", "-datacenter"}, &c, &paths);
  ASSERT_EQ(c.errors.size(), 5u) << all_errors(c);
  EXPECT_EQ(c.errors[0], "unexpected argument \"positional\"");
  EXPECT_EQ(c.errors[1], "unexpected argument \"-\"");
  EXPECT_EQ(c.errors[2].find("unknown flag \"---server\""), 0u);
  EXPECT_EQ(c.errors[3], "unknown flag \"-confg\"; did you mean -config?");
  EXPECT_EQ(c.errors[4],
            "datacenter: want a value: -datacenter <value> or -datacenter=<value> "
            "(from flag -datacenter)");
}

TEST(JsonTest, WrongShapesUnderGroups) {
  Collected c;
  read_json(R"({"ports": 7700, "http": {"idle_timeout": null}, "join": "a", "roles": [1]})",
            "f.json", &c);
  ASSERT_EQ(c.errors.size(), 4u) << all_errors(c);
  EXPECT_EQ(c.errors[0], "ports: want an object holding ports.* keys (from f.json: ports)");
  EXPECT_NE(c.errors[1].find("got null (from f.json: http.idle_timeout)"), std::string::npos);
  EXPECT_EQ(c.errors[2],
            "join: want a list of host[:port] addresses, got \"a\" (from f.json: join)");
  EXPECT_NE(c.errors[3].find("got an array holding the number 1"), std::string::npos);
}

// "service" and "services" at the top level are service definitions kept whole, in order, with
// origins; under a group, or of the wrong shape, they are errors; the count and size are bounded.
TEST(JsonTest, ServiceDefinitions) {
  Collected c;
  read_json(R"({"service": {"name": "web", "port": 80}, "datacenter": "dc2",
               "services": [{"name": "db"}, {"name": "cache", "meta": {"k": "v"}}]})",
            "s.json", &c);
  ASSERT_TRUE(c.errors.empty()) << all_errors(c);
  ASSERT_EQ(c.entries.size(), 1u);
  ASSERT_EQ(c.services.size(), 3u);
  EXPECT_EQ(c.services[0].json, R"({"name":"web","port":80})");
  EXPECT_EQ(c.services[0].origin, "s.json: service");
  EXPECT_EQ(c.services[1].json, R"({"name":"db"})");
  EXPECT_EQ(c.services[2].origin, "s.json: services[1]");

  Collected bad;
  read_json(R"({"service": [{"name": "web"}], "services": [{"name": "a"}, 7],
               "ports": {"service": {"name": "x"}}})",
            "b.json", &bad);
  ASSERT_EQ(bad.errors.size(), 3u) << all_errors(bad);
  EXPECT_EQ(bad.errors[0], "b.json: service: want a service definition (a JSON object)");
  EXPECT_EQ(bad.errors[1], "b.json: services[1]: want a service definition (a JSON object)");
  EXPECT_NE(bad.errors[2].find("unknown key \"ports.service\""), std::string::npos) << bad.errors[2];
  EXPECT_EQ(bad.services.size(), 1u);

  Collected big;
  read_json(R"({"service": {"name": ")" + std::string(kServiceDocBytesMax, 'a') + R"("}})", "big.json", &big);
  ASSERT_EQ(big.errors.size(), 1u) << all_errors(big);
  EXPECT_NE(big.errors[0].find("big.json: service: service definition larger than"), std::string::npos) << big.errors[0];

  Collected many;
  std::string text = R"({"services": [)";
  for (size_t i = 0; i <= kServiceDocsMax; ++i) text += std::string(i == 0 ? "" : ",") + R"({"name": "s"})";
  read_json(text + "]}", "many.json", &many);
  EXPECT_EQ(many.services.size(), kServiceDocsMax);
  ASSERT_EQ(many.errors.size(), 1u) << all_errors(many);
  EXPECT_NE(many.errors[0].find("more than 512 service definitions"), std::string::npos) << many.errors[0];
}

// A JSON string with an embedded NUL or odd bytes must be handled as data, never trusted.
TEST(JsonTest, ControlCharactersAreRejected) {
  Collected c;
  read_json("{\"datacenter\": \"a\\u0001b\", \"labels\": {\"k\": \"v\\n\"}}", "f.json", &c);
  ASSERT_EQ(c.errors.size(), 2u) << all_errors(c);
  EXPECT_NE(c.errors[0].find("\"a\\x01b\""), std::string::npos) << c.errors[0];
}

}  // namespace
}  // namespace config

namespace config {
namespace {

// Found by the fuzzer: a JSON key holding a newline put a raw newline into an error line, and
// the caller prints one error per line. Names from input are escaped wherever they are echoed.
TEST(SourcesTest, NewlineInANameDoesNotBreakErrorLines) {
  Collected c;
  read_json("{\"data\\ncenter\": 1, \"labels\": {\"a\\nb\": \"x\"}}", "f\n.json", &c);
  read_cmdline("\"agent.x\ny=1\"", &c);
  read_environment({"AGENT_X\nY=1"}, &c);
  std::vector<std::string> paths;
  read_flags({"-x\ny=1", "-labels.a\nb=1"}, &c, &paths);
  ASSERT_EQ(c.errors.size(), 6u);
  for (const std::string& e : c.errors) EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  EXPECT_NE(c.errors[0].find("f\\x0a.json: data\\x0acenter"), std::string::npos) << c.errors[0];
}

}  // namespace
}  // namespace config
