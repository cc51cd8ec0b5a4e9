#pragma once
// A strict, small JSON parser (RFC 8259) for tests: parses what ferry-bench
// writes back into a tree so tests can check keys and values without Python.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ferry::bench::testing {

struct JsonValue {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<JsonValue> items;                            // kArray
  std::vector<std::pair<std::string, JsonValue>> members;  // kObject, in document order

  bool is_object() const { return kind == Kind::kObject; }
  bool is_array() const { return kind == Kind::kArray; }
  bool is_number() const { return kind == Kind::kNumber; }
  bool is_string() const { return kind == Kind::kString; }
  /// The member named `key`, or null when absent (or not an object).
  const JsonValue* find(std::string_view key) const;
};

/// The parsed document, or nullopt with `*error` saying where it failed.
std::optional<JsonValue> parse_json(std::string_view text, std::string* error = nullptr);

}  // namespace ferry::bench::testing
