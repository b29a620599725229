// DNS responder: every name form against a small catalog view (A, tags, RFC 2782 SRV with
// additional addresses, nodes, PTR, the apex), NXDOMAIN against NODATA, critical instances
// left out, the client's case echoed, truncation by transport and EDNS size, seeded shuffling,
// forwarding decisions, NOTIMP, REFUSED and BADVERS.
#include "agent/dns/responder.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "tests/unit/dns/dns_test_util.h"

namespace dns {
namespace {

using test::be16;
using test::name;
using test::parse;
using test::query_bytes;
using test::Parsed;

Address v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  Address x;
  x.bytes[0] = a, x.bytes[1] = b, x.bytes[2] = c, x.bytes[3] = d;
  return x;
}

Address v6_last(uint8_t last) {
  Address x;
  x.v6 = true;
  x.bytes[0] = 0xfd;
  x.bytes[15] = last;
  return x;
}

struct Fixture {
  std::vector<std::string_view> v2_tags = {"v2", "http"};
  std::vector<std::string_view> v1_tags = {"v1", "http"};
  std::vector<Instance> instances;
  std::vector<NodeEntry> nodes = {{"n1", v4(10, 0, 0, 1)}, {"n2", v4(10, 0, 0, 2)}, {"n3", v4(10, 0, 0, 3)}};
  ResponderConfig config;
  View view() const { return View{instances, nodes}; }

  Fixture() {
    instances.push_back(Instance{"web", "n1", v1_tags, v4(10, 0, 0, 1), 8080, Health::kPassing});
    instances.push_back(Instance{"web", "n2", v2_tags, v4(10, 0, 0, 2), 8081, Health::kWarning});
    instances.push_back(Instance{"web", "n3", v2_tags, v4(10, 0, 0, 3), 8082, Health::kCritical});
    instances.push_back(Instance{"down", "n3", {}, v4(10, 0, 0, 3), 9000, Health::kCritical});
    instances.push_back(Instance{"db", "n2", {}, v6_last(2), 5432, Health::kPassing});
    config.domain = name("weft");
    config.datacenter = "dc1";
    config.service_ttl = 5;
  }

  Result ask(const std::vector<uint8_t>& bytes, std::vector<uint8_t>* out, uint64_t seed = 1, bool tcp = false) {
    Query q;
    EXPECT_EQ(decode_query(bytes, &q), DecodeError::kNone);
    out->assign(65535, 0);
    Result r = respond(q, view(), config, seed, tcp, *out);
    out->resize(r.size);
    return r;
  }
};

uint8_t rcode(const Parsed& p) { return static_cast<uint8_t>(p.flags & 0xF); }

TEST(DnsResponder, ServiceAnswersLeaveCriticalInstancesOutAndEchoTheCase) {
  Fixture f;
  std::vector<uint8_t> out;
  ASSERT_EQ(f.ask(query_bytes("WEB.Service.weft", kTypeA), &out).outcome, Outcome::kAnswered);
  Parsed p = parse(out);
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(rcode(p), kRcodeNoError);
  EXPECT_NE(p.flags & kFlagAa, 0);
  EXPECT_NE(p.flags & kFlagRd, 0);  // copied from the query
  EXPECT_EQ(p.qname, "WEB.Service.weft.");
  ASSERT_EQ(p.counts[1], 2);  // n3's instance is critical
  std::set<uint8_t> last;
  for (const auto& rr : p.rrs) {
    EXPECT_EQ(rr.type, kTypeA);
    EXPECT_EQ(rr.ttl, 5u);
    EXPECT_EQ(rr.owner, "WEB.Service.weft.");
    last.insert(rr.rdata[3]);
  }
  EXPECT_EQ(last, (std::set<uint8_t>{1, 2}));

  // The datacenter label is accepted; a tag filters.
  ASSERT_EQ(f.ask(query_bytes("v2.web.service.dc1.weft", kTypeA), &out).outcome, Outcome::kAnswered);
  p = parse(out);
  ASSERT_EQ(p.counts[1], 1);
  EXPECT_EQ(p.rrs[0].rdata[3], 2);
}

TEST(DnsResponder, Rfc2782SrvWithTargetsInAdditional) {
  Fixture f;
  std::vector<uint8_t> out;
  f.ask(query_bytes("_web._v2.service.weft", kTypeSrv), &out);
  Parsed p = parse(out);
  ASSERT_TRUE(p.ok);
  ASSERT_EQ(p.counts[1], 1);
  EXPECT_EQ(be16(p.rrs[0].rdata, 4), 8081);
  ASSERT_EQ(p.counts[3], 1);
  EXPECT_EQ(p.rrs[1].owner, "n2.node.weft.");
  EXPECT_EQ(p.rrs[1].type, kTypeA);

  f.ask(query_bytes("_web._tcp.service.weft", kTypeSrv), &out);  // _tcp: any tag
  p = parse(out);
  EXPECT_EQ(p.counts[1], 2);
  EXPECT_EQ(p.counts[3], 2);
  f.ask(query_bytes("_web._tcp.service.weft", kTypeA), &out);  // the SRV name has no A records
  p = parse(out);
  EXPECT_EQ(rcode(p), kRcodeNoError);
  EXPECT_EQ(p.counts[1], 0);
  EXPECT_EQ(p.counts[2], 1);
}

// An instance on another address than its node's gets Consul's <hex>.addr target, whose
// additional record and whose own A query both give that address; two instances of one node on
// two addresses get two names; <hex>.addr answers AAAA for 32 digits and nothing for bad hex.
TEST(DnsResponder, SrvTargetOfAnInstanceOffItsNodesAddress) {
  Fixture f;
  f.instances.push_back(Instance{"api", "n1", {}, v4(192, 168, 7, 9), 7000, Health::kPassing});
  f.instances.push_back(Instance{"api", "n1", {}, v4(10, 0, 0, 1), 7001, Health::kPassing});  // n1's own
  f.instances.push_back(Instance{"api", "n1", {}, v4(192, 168, 7, 10), 7002, Health::kPassing});
  f.config.answers_max = 8;
  std::vector<uint8_t> out;
  f.ask(query_bytes("_api._tcp.service.weft", kTypeSrv), &out);
  Parsed p = parse(out);
  ASSERT_TRUE(p.ok);
  ASSERT_EQ(p.counts[1], 3);
  ASSERT_EQ(p.counts[3], 3);
  std::map<uint16_t, std::string> target_of_port;
  for (int i = 0; i < 3; ++i) {
    const test::Rr& srv = p.rrs[static_cast<size_t>(i)];
    Name t;
    size_t end = 0;
    ASSERT_EQ(read_name(out, srv.rdata_at + 6, &t, &end), DecodeError::kNone);
    target_of_port[be16(srv.rdata, 4)] = test::text(t);
  }
  EXPECT_EQ(target_of_port[7000], "c0a80709.addr.weft.");
  EXPECT_EQ(target_of_port[7001], "n1.node.weft.");
  EXPECT_EQ(target_of_port[7002], "c0a8070a.addr.weft.");
  std::map<std::string, std::vector<uint8_t>> additional;
  for (size_t i = 3; i < p.rrs.size(); ++i) additional[p.rrs[i].owner] = p.rrs[i].rdata;
  EXPECT_EQ(additional["c0a80709.addr.weft."], (std::vector<uint8_t>{192, 168, 7, 9}));
  EXPECT_EQ(additional["c0a8070a.addr.weft."], (std::vector<uint8_t>{192, 168, 7, 10}));
  EXPECT_EQ(additional["n1.node.weft."], (std::vector<uint8_t>{10, 0, 0, 1}));
  // The target resolves by itself to the same address (with the datacenter label too).
  for (const char* q : {"c0a80709.addr.weft", "C0A80709.addr.dc1.weft"}) {
    f.ask(query_bytes(q, kTypeA), &out);
    p = parse(out);
    ASSERT_EQ(p.counts[1], 1) << q;
    EXPECT_EQ(p.rrs[0].rdata, (std::vector<uint8_t>{192, 168, 7, 9})) << q;
  }
  f.ask(query_bytes("fd00000000000000000000000000002a.addr.weft", kTypeAaaa), &out);
  p = parse(out);
  ASSERT_EQ(p.counts[1], 1);
  EXPECT_EQ(p.rrs[0].rdata[0], 0xfd);
  EXPECT_EQ(p.rrs[0].rdata[15], 0x2a);
  f.ask(query_bytes("c0a80709.addr.weft", kTypeAaaa), &out);
  EXPECT_EQ(rcode(parse(out)), kRcodeNoError);  // NODATA
  EXPECT_EQ(parse(out).counts[1], 0);
  for (const char* bad : {"c0a8070g.addr.weft", "c0a807.addr.weft", "x.c0a80709.addr.weft"}) {
    f.ask(query_bytes(bad, kTypeA), &out);
    EXPECT_EQ(rcode(parse(out)), kRcodeNxDomain) << bad;
  }
}

TEST(DnsResponder, NxdomainAgainstNodata) {
  Fixture f;
  std::vector<uint8_t> out;
  struct Case {
    const char* name;
    uint16_t type;
    uint8_t rcode;
  } const cases[] = {
      {"nope.service.weft", kTypeA, kRcodeNxDomain},
      {"down.service.weft", kTypeA, kRcodeNxDomain},  // every instance critical: no name
      {"v3.web.service.weft", kTypeA, kRcodeNxDomain},
      {"db.service.weft", kTypeA, kRcodeNoError},     // NODATA: db has only AAAA
      {"web.service.weft", kTypeAaaa, kRcodeNoError}, // NODATA
      {"n1.node.weft", kTypeAaaa, kRcodeNoError},     // NODATA
      {"n9.node.weft", kTypeA, kRcodeNxDomain},
      {"x.y.z.weft", kTypeA, kRcodeNxDomain},
      {"weft", kTypeA, kRcodeNoError},                // the apex has SOA and NS only
  };
  for (const Case& c : cases) {
    f.ask(query_bytes(c.name, c.type), &out);
    Parsed p = parse(out);
    ASSERT_TRUE(p.ok) << c.name;
    EXPECT_EQ(rcode(p), c.rcode) << c.name;
    EXPECT_EQ(p.counts[1], 0) << c.name;
    ASSERT_EQ(p.counts[2], 1) << c.name;  // SOA for negative caching
    EXPECT_EQ(p.rrs[0].type, kTypeSoa) << c.name;
    EXPECT_EQ(p.rrs[0].owner, "weft.") << c.name;
  }
  f.ask(query_bytes("db.service.weft", kTypeAaaa), &out);
  Parsed p = parse(out);
  ASSERT_EQ(p.counts[1], 1);
  EXPECT_EQ(p.rrs[0].rdata.size(), 16u);
  EXPECT_EQ(p.rrs[0].rdata[15], 2);
}

TEST(DnsResponder, NodesPtrAndTheApex) {
  Fixture f;
  std::vector<uint8_t> out;
  f.ask(query_bytes("N2.node.dc1.weft", kTypeA), &out);
  Parsed p = parse(out);
  ASSERT_EQ(p.counts[1], 1);
  EXPECT_EQ(p.rrs[0].rdata, (std::vector<uint8_t>{10, 0, 0, 2}));

  ASSERT_EQ(f.ask(query_bytes("3.0.0.10.in-addr.arpa", kTypePtr), &out).outcome, Outcome::kAnswered);
  p = parse(out);
  ASSERT_EQ(p.counts[1], 1);
  Name target;
  size_t next = 0;
  ASSERT_EQ(read_name(out, p.rrs[0].rdata_at, &target, &next), DecodeError::kNone);
  EXPECT_EQ(test::text(target), "n3.node.weft.");
  // db's IPv6 instance address, nibble by nibble.
  std::string ip6 = "2.0";
  for (int i = 0; i < 28; ++i) ip6 += ".0";  // bytes 14..1
  ip6 += ".d.f.ip6.arpa";
  ASSERT_EQ(f.ask(query_bytes(ip6, kTypePtr), &out).outcome, Outcome::kAnswered);
  EXPECT_EQ(parse(out).counts[1], 1);
  EXPECT_EQ(f.ask(query_bytes("9.0.0.10.in-addr.arpa", kTypePtr), &out).outcome, Outcome::kForward);
  EXPECT_EQ(f.ask(query_bytes("example.org", kTypeA), &out).outcome, Outcome::kForward);
  EXPECT_EQ(f.ask(query_bytes("01.0.0.10.in-addr.arpa", kTypePtr), &out).outcome, Outcome::kForward);

  f.ask(query_bytes("weft", kTypeSoa), &out);
  p = parse(out);
  ASSERT_EQ(p.counts[1], 1);
  EXPECT_EQ(p.rrs[0].type, kTypeSoa);
  f.ask(query_bytes("dc1.weft", kTypeNs), &out);
  p = parse(out);
  ASSERT_EQ(p.counts[1], 1);
  EXPECT_EQ(p.rrs[0].type, kTypeNs);
}

TEST(DnsResponder, TruncatesByTransportAndEdnsSize) {
  Fixture f;
  f.instances.clear();
  std::vector<Address> addrs;
  for (int i = 0; i < 60; ++i) f.instances.push_back(Instance{"big", "n1", {}, v4(10, 1, 0, static_cast<uint8_t>(i)), 80, Health::kPassing});
  std::vector<uint8_t> out;
  f.ask(query_bytes("big.service.weft", kTypeA), &out);  // 60 x 16 bytes > 512
  Parsed p = parse(out);
  ASSERT_TRUE(p.ok);
  EXPECT_LE(out.size(), 512u);
  EXPECT_NE(p.flags & kFlagTc, 0);
  EXPECT_EQ(p.counts[1], 0);

  f.ask(query_bytes("big.service.weft", kTypeA, 4096), &out);  // clamped to 1232: fits
  p = parse(out);
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.flags & kFlagTc, 0);
  EXPECT_EQ(p.counts[1], 60);
  EXPECT_EQ(p.counts[3], 1);  // OPT
  EXPECT_EQ(p.rrs.back().klass, 1232);

  f.ask(query_bytes("big.service.weft", kTypeA), &out, 1, /*tcp=*/true);
  p = parse(out);
  EXPECT_EQ(p.flags & kFlagTc, 0);
  EXPECT_EQ(p.counts[1], 60);

  f.config.answers_max = 10;
  f.ask(query_bytes("big.service.weft", kTypeA), &out);
  p = parse(out);
  EXPECT_EQ(p.flags & kFlagTc, 0);
  EXPECT_EQ(p.counts[1], 10);
}

TEST(DnsResponder, ShuffledBySeedAndEveryInstanceReachable) {
  Fixture f;
  f.instances.clear();
  for (int i = 0; i < 300; ++i) f.instances.push_back(Instance{"big", "n1", {}, v4(10, 1, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)), 80, Health::kPassing});
  f.config.answers_max = 8;
  auto answer = [&](uint64_t seed) {
    std::vector<uint8_t> out;
    f.ask(query_bytes("big.service.weft", kTypeA), &out, seed);
    Parsed p = parse(out);
    std::vector<int> got;
    for (const auto& rr : p.rrs) got.push_back(rr.rdata[2] << 8 | rr.rdata[3]);
    return got;
  };
  EXPECT_EQ(answer(7), answer(7));
  EXPECT_NE(answer(7), answer(8));
  std::set<int> seen;
  for (uint64_t seed = 0; seed < 400; ++seed) {
    for (int x : answer(seed)) seen.insert(x);
  }
  // 300 instances, more than the 256 sampled per answer: every one still turns up.
  EXPECT_EQ(seen.size(), 300u);
}

TEST(DnsResponder, NotimpRefusedAndBadvers) {
  Fixture f;
  std::vector<uint8_t> out;
  f.ask(query_bytes("web.service.weft", kTypeA, -1, 0, 0x0800 | kFlagRd), &out);  // opcode 1
  Parsed p = parse(out);
  EXPECT_EQ(rcode(p), kRcodeNotImp);
  EXPECT_EQ(p.counts[1] + p.counts[2], 0);
  f.ask(query_bytes("web.service.weft", kTypeA, -1, 0, kFlagRd, 3), &out);  // class CH
  EXPECT_EQ(rcode(parse(out)), kRcodeRefused);
  f.ask(query_bytes("web.service.weft", kTypeA, 1232, 1), &out);  // EDNS version 1
  p = parse(out);
  ASSERT_EQ(p.counts[3], 1);
  EXPECT_EQ(p.rrs.back().ttl >> 24, 1u);  // extended RCODE 1 with RCODE 0: BADVERS (16)
  EXPECT_EQ(p.counts[1], 0);

  Header h;
  h.id = 0x4242;
  h.flags = kFlagRd;
  std::vector<uint8_t> err(512);
  err.resize(error_response(h, kRcodeFormErr, err));
  p = parse(err);
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.id, 0x4242);
  EXPECT_EQ(rcode(p), kRcodeFormErr);
  EXPECT_NE(p.flags & kFlagQr, 0);
}

}  // namespace
}  // namespace dns
