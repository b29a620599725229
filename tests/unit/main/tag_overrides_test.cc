// Run-time tag changes (agent/main/tag_overrides.h) by hand: which tags an operator may change,
// what a valid key and value are, the JSON shape of a change (the API body and the overrides
// file), and that the overrides keep only the differences from the configuration.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "agent/main/tag_overrides.h"

using agent::TagChange;

namespace {

std::string message(const base::Status& s) { return s.message(); }

TEST(TagOverrides, OnlyLabelsAreTheOperators) {
  EXPECT_TRUE(agent::check_operator_tag("label.rack").is_ok());
  EXPECT_TRUE(agent::check_operator_tag("label.topology.zone-a_1").is_ok());
  EXPECT_TRUE(agent::check_operator_tag("label." + std::string(63, 'a')).is_ok());
  for (const char* system : {"role", "dc", "id", "vsn", "build", "rpc_addr", "kr"}) {
    base::Status s = agent::check_operator_tag(system);
    EXPECT_EQ(s.code(), base::Code::kInvalidArgument) << system;
    EXPECT_NE(message(s).find("belongs to the agent"), std::string::npos) << message(s);
    EXPECT_NE(message(s).find(std::string("\"") + system + "\""), std::string::npos) << message(s);
  }
  base::Status s = agent::check_operator_tag("rack");
  EXPECT_EQ(s.code(), base::Code::kInvalidArgument);
  EXPECT_NE(message(s).find("did you mean label.rack?"), std::string::npos) << message(s);
}

TEST(TagOverrides, LabelNamesAndValuesAreChecked) {
  for (const std::string& bad : std::vector<std::string>{"label.", "label.a b", "label.-a", "label.a-", "label.a/b", "label.a=b",
                                "label." + std::string(64, 'a'), std::string("label.a\nb"), std::string("Label.a")}) {
    EXPECT_EQ(agent::check_operator_tag(bad).code(), base::Code::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(agent::check_label_value("label.a", "").is_ok());
  EXPECT_TRUE(agent::check_label_value("label.a", "two words, r7 & more ~").is_ok());
  EXPECT_TRUE(agent::check_label_value("label.a", std::string(255, 'v')).is_ok());
  EXPECT_FALSE(agent::check_label_value("label.a", std::string(256, 'v')).is_ok());
  EXPECT_FALSE(agent::check_label_value("label.a", "a\nb").is_ok());
  EXPECT_FALSE(agent::check_label_value("label.a", "tab\there").is_ok());
  EXPECT_FALSE(agent::check_label_value("label.a", "\x7f").is_ok());
  EXPECT_FALSE(agent::check_label_value("label.a", "caf\xc3\xa9").is_ok());
}

TEST(TagOverrides, AChangeIsCheckedAsAWhole) {
  TagChange c;
  EXPECT_FALSE(agent::check_tag_change(c, false).is_ok()) << "nothing to change";
  EXPECT_TRUE(agent::check_tag_change(c, true).is_ok()) << "an empty overrides file";
  c.set["label.a"] = "1";
  c.remove.insert("label.b");
  EXPECT_TRUE(agent::check_tag_change(c, false).is_ok());
  c.remove.insert("label.a");
  EXPECT_NE(message(agent::check_tag_change(c, false)).find("both set and deleted"), std::string::npos);
  c.remove.erase("label.a");
  c.set["role"] = "director";
  EXPECT_FALSE(agent::check_tag_change(c, false).is_ok()) << "one bad key refuses the whole change";
  c.set.erase("role");
  c.remove.insert("kr");
  EXPECT_FALSE(agent::check_tag_change(c, false).is_ok()) << "system tags cannot be deleted either";
  TagChange many;
  for (int i = 0; i < 65; ++i) many.set["label.k" + std::to_string(i)] = "v";
  EXPECT_FALSE(agent::check_tag_change(many, false).is_ok());
}

TEST(TagOverrides, JsonShape) {
  auto c = agent::parse_tag_change(R"({"Set": {"label.rack": "r7", "label.zone": ""}, "Delete": ["label.old"]})");
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->set.size(), 2u);
  EXPECT_EQ(c->set.at("label.rack"), "r7");
  EXPECT_EQ(c->remove.count("label.old"), 1u);
  auto again = agent::parse_tag_change(agent::encode_tag_change(*c));
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(*again, *c);
  EXPECT_TRUE(agent::parse_tag_change(R"({"Set": {"label.a": "b"}})").is_ok());
  EXPECT_TRUE(agent::parse_tag_change(R"({"Delete": ["label.a"]})").is_ok());
  EXPECT_TRUE(agent::parse_tag_change(R"({})").is_ok()) << "empty: check_tag_change refuses it";
  for (const char* bad : {"", "[]", "nope", R"({"set": {"label.a": "b"}})", R"({"Set": {"label.a": 1}})",
                          R"({"Set": ["label.a"]})", R"({"Delete": "label.a"})", R"({"Delete": [1]})",
                          R"({"Set": {"label.a": "1", "label.a": "2"}})", R"({"Delete": ["label.a", "label.a"]})",
                          R"({"Set": {}, "Set": {}})", R"({"Set": {}, "Extra": 1})"}) {
    auto r = agent::parse_tag_change(bad);
    EXPECT_EQ(r.status().code(), base::Code::kInvalidArgument) << bad;
  }
  std::string big = R"({"Set": {"label.a": ")" + std::string(agent::kTagChangeJsonBytesMax, 'x') + "\"}}";
  EXPECT_EQ(agent::parse_tag_change(big).status().code(), base::Code::kResourceExhausted);
}

TEST(TagOverrides, OverridesKeepOnlyDifferencesFromTheConfiguration) {
  const gossip::Tags configured = {{"role", "worker"}, {"label.rack", "r1"}, {"label.old", "x"}};
  TagChange change;
  change.set["label.rack"] = "r7";
  change.set["label.zone"] = "z1";
  change.remove = {"label.old", "label.never"};
  TagChange o = agent::merge_overrides({}, change, configured);
  EXPECT_EQ(o.set, (std::map<std::string, std::string>{{"label.rack", "r7"}, {"label.zone", "z1"}}));
  EXPECT_EQ(o.remove, (std::set<std::string>{"label.old"})) << "label.never is not configured: nothing to delete";
  gossip::Tags tags = configured;
  agent::apply_overrides(o, &tags);
  EXPECT_EQ(tags, (gossip::Tags{{"role", "worker"}, {"label.rack", "r7"}, {"label.zone", "z1"}}));

  // Back to the configured value, and a configured label set again: the overrides forget them.
  TagChange back;
  back.set["label.rack"] = "r1";
  back.set["label.old"] = "x";
  o = agent::merge_overrides(o, back, configured);
  EXPECT_EQ(o.set, (std::map<std::string, std::string>{{"label.zone", "z1"}}));
  EXPECT_TRUE(o.remove.empty());
  // A run-time label deleted again leaves nothing behind.
  TagChange drop;
  drop.remove = {"label.zone"};
  o = agent::merge_overrides(o, drop, configured);
  EXPECT_TRUE(o.empty());
}

}  // namespace
