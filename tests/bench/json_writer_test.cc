#include "tools/bench/json_writer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "tests/bench/mini_json.h"

namespace ferry::bench {
namespace {

using testing::parse_json;

std::string json_quoted(std::string_view s) {
  std::string out;
  JsonWriter::append_string(out, s);
  return out;
}

TEST(JsonWriter, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(json_quoted("plain"), "\"plain\"");
  EXPECT_EQ(json_quoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(json_quoted("\n\r\t\b\f"), "\"\\n\\r\\t\\b\\f\"");
  EXPECT_EQ(json_quoted(std::string("\x01\x1f\x7f", 3)), "\"\\u0001\\u001f\\u007f\"");
  EXPECT_EQ(json_quoted(std::string("a\0b", 3)), "\"a\\u0000b\"");
}

TEST(JsonWriter, KeepsValidUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(json_quoted("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xb7"), "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xb7\"");
  EXPECT_EQ(json_quoted("bad\xff"), "\"bad\\ufffd\"");
  EXPECT_EQ(json_quoted("\xc3"), "\"\\ufffd\"");                        // truncated sequence
  EXPECT_EQ(json_quoted("\xc0\xaf"), "\"\\ufffd\\ufffd\"");             // overlong
  EXPECT_EQ(json_quoted("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");  // surrogate
}

TEST(JsonWriter, EscapedStringsParseBackToTheSameText) {
  std::string all;
  for (int c = 1; c < 128; ++c) all += char(c);
  all += "\xc3\xa9\xf0\x9f\x93\xb7";
  const auto v = parse_json(json_quoted(all));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->string, all);
}

TEST(JsonWriter, WritesNestedDocumentsThatParse) {
  for (bool pretty : {false, true}) {
    std::string out;
    JsonWriter w(out, pretty);
    w.begin_object();
    w.key("n");
    w.value(int64_t{-42});
    w.key("u");
    w.value(uint64_t{18446744073709551615ull});
    w.key("d");
    w.value(0.125);
    w.key("inf");
    w.value(std::numeric_limits<double>::infinity());
    w.key("nan");
    w.value(std::nan(""));
    w.key("flag");
    w.value(true);
    w.key("none");
    w.null();
    w.key("empty_object");
    w.begin_object();
    w.end_object();
    w.key("list");
    w.begin_array();
    w.value("a");
    w.begin_array();
    w.end_array();
    w.begin_object();
    w.key("k");
    w.value(false);
    w.end_object();
    w.value(3);
    w.end_array();
    w.end_object();
    std::string error;
    const auto v = parse_json(out, &error);
    ASSERT_TRUE(v.has_value()) << error << "\n" << out;
    EXPECT_EQ(v->find("n")->number, -42);
    EXPECT_EQ(v->find("d")->number, 0.125);
    EXPECT_EQ(v->find("inf")->kind, testing::JsonValue::Kind::kNull);
    EXPECT_EQ(v->find("nan")->kind, testing::JsonValue::Kind::kNull);
    EXPECT_TRUE(v->find("flag")->boolean);
    EXPECT_TRUE(v->find("empty_object")->is_object());
    ASSERT_EQ(v->find("list")->items.size(), 4u);
    EXPECT_EQ(v->find("list")->items[0].string, "a");
    EXPECT_EQ(v->find("list")->items[3].number, 3);
    if (!pretty) {
      EXPECT_EQ(out.find('\n'), std::string::npos);
    }
  }
}

TEST(JsonWriter, NewlinePutsTheNextElementOnItsOwnLineAfterTheComma) {
  std::string out;
  JsonWriter w(out);
  w.begin_array();
  for (int i = 0; i < 3; ++i) {
    w.newline();
    w.value(i);
  }
  w.newline();
  w.end_array();
  EXPECT_EQ(out, "[\n0,\n1,\n2\n]");
}

TEST(JsonWriter, DoublesRoundTrip) {
  for (double d : {0.0, -0.5, 1e-12, 123456.789, 1e300, 2.0 / 3.0}) {
    std::string out;
    JsonWriter w(out);
    w.value(d);
    const auto v = parse_json(out);
    ASSERT_TRUE(v.has_value()) << out;
    EXPECT_EQ(v->number, d) << out;
  }
}

TEST(MiniJson, RejectsMalformedDocuments) {
  for (const char* bad : {"", "{", "{\"a\":}", "[1,]", "{\"a\" 1}", "01", "1.", "\"\\x\"", "\"a", "tru", "[1] 2",
                          "{\"a\":1,}", "\"\x01\"", "nan"})
    EXPECT_FALSE(parse_json(bad).has_value()) << bad;
}

}  // namespace
}  // namespace ferry::bench
