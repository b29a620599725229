// Proves the cJSON owner builds, serializes and parses safely: 64-bit integers survive exactly,
// failures stick instead of crashing, and parsing is bounded and rejects trailing garbage.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "agent/http/json.h"
#include "agent/http/message.h"

namespace {

using http::Json;

TEST(Json, BuildsAndDumps) {
  Json doc = Json::object();
  doc.add_string("Node", "n1 \"quoted\"\n");
  doc.add_u64("ModifyIndex", UINT64_MAX);
  doc.add_i64("Neg", -5);
  doc.add_bool("Leader", true);
  cJSON* tags = doc.add_array(doc.get(), "Tags");
  doc.add_string(tags, "", "a");
  doc.add_string(tags, "", "b");
  cJSON* meta = doc.add_object(doc.get(), "Meta");
  doc.add_null(meta, "x");
  doc.add_double(meta, "f", 1.5);
  ASSERT_TRUE(doc.ok());
  auto text = doc.dump();
  ASSERT_TRUE(text.is_ok());
  EXPECT_EQ(*text,
            "{\"Node\":\"n1 \\\"quoted\\\"\\n\",\"ModifyIndex\":18446744073709551615,\"Neg\":-5,\"Leader\":true,"
            "\"Tags\":[\"a\",\"b\"],\"Meta\":{\"x\":null,\"f\":1.5}}");
}

TEST(Json, FailuresStick) {
  Json doc = Json::object();
  EXPECT_EQ(doc.add_string("k", std::string("a\0b", 3)), nullptr);
  EXPECT_FALSE(doc.ok());
  EXPECT_FALSE(doc.dump().is_ok());
  Json arr = Json::array();
  cJSON* s = arr.add_string(arr.get(), "", "leaf");
  EXPECT_EQ(arr.add_string(s, "k", "v"), nullptr);  // a string is not a container
  EXPECT_FALSE(arr.ok());
  Json nan = Json::object();
  EXPECT_EQ(nan.add_double(nan.get(), "x", 0.0 / 0.0), nullptr);
  Json empty;
  EXPECT_FALSE(empty.ok());
  EXPECT_EQ(http::json_dump(nullptr), "");
}

TEST(Json, AddTreeMovesOwnership) {
  Json child = Json::object();
  child.add_string("a", "b");
  Json parent = Json::array();
  EXPECT_NE(parent.add_tree(parent.get(), "", std::move(child)), nullptr);
  EXPECT_EQ(*parent.dump(), "[{\"a\":\"b\"}]");
}

TEST(Json, ParseIsBoundedAndStrict) {
  auto ok = Json::parse(" {\"Key\":\"v\",\"Flags\":42,\"On\":true,\"Big\":1e300} \n", 1024);
  ASSERT_TRUE(ok.is_ok());
  std::string s;
  bool b = false;
  int64_t i = 0;
  EXPECT_TRUE(http::json_get_string(ok->get(), "Key", &s));
  EXPECT_EQ(s, "v");
  EXPECT_TRUE(http::json_get_i64(ok->get(), "Flags", &i));
  EXPECT_EQ(i, 42);
  EXPECT_TRUE(http::json_get_bool(ok->get(), "On", &b));
  EXPECT_TRUE(b);
  EXPECT_FALSE(http::json_get_i64(ok->get(), "Big", &i));
  EXPECT_FALSE(http::json_get_string(ok->get(), "Flags", &s));
  EXPECT_FALSE(http::json_get_string(ok->get(), "key", &s));  // case-sensitive
  EXPECT_FALSE(http::json_get_string(nullptr, "Key", &s));
  EXPECT_EQ(Json::parse("{} x", 1024).status().code(), base::Code::kInvalidArgument);
  EXPECT_EQ(Json::parse("{\"a\":", 1024).status().code(), base::Code::kInvalidArgument);
  EXPECT_EQ(Json::parse("", 1024).status().code(), base::Code::kInvalidArgument);
  EXPECT_EQ(Json::parse("[1,2,3]", 3).status().code(), base::Code::kResourceExhausted);
  std::string deep(5000, '[');
  EXPECT_FALSE(Json::parse(deep + std::string(5000, ']'), 1 << 20).is_ok());  // nesting limit
}

TEST(Json, ErrorResponseShape) {
  http::Response r = http::Response::error(404, "no such \"key\"");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "{\"error\":\"no such \\\"key\\\"\"}");
  EXPECT_EQ(*http::find_header(r.headers, "content-type"), "application/json");
}

}  // namespace
