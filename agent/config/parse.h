// Parsers and checkers for the text forms of config values: booleans, integers, durations,
// byte sizes, IP addresses, DNS names, "host[:port]" and base64 keys.
//
// All of them take untrusted text and answer false (never assert) when it is not of the form.
// Formatters produce the canonical text that the parsers read back exactly.
// Threading: pure functions. Not here: name resolution against the schema (schema.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace config {

// "true", "false", "1", "0", "yes", "no", "on", "off", any case.
bool parse_bool(std::string_view text, bool* out);

// A decimal integer with an optional leading '-'; no spaces, no '+', fits in int64_t.
bool parse_int(std::string_view text, int64_t* out);

// A Go-style duration: one or more <integer><unit> with unit ns, us, ms, s, m, h ("1m30s",
// "500ms"), or "0". Never negative; fails on overflow of int64_t nanoseconds.
bool parse_duration(std::string_view text, int64_t* ns);
// The exact inverse of parse_duration: "1m30s", "500ms", "0s".
std::string format_duration(int64_t ns);

// The value of `name` among NAME=value strings (as hal::SysInfo::environment() gives them), or
// "" when absent.
std::string env_lookup(const std::vector<std::string>& environment, std::string_view name);

// A byte count: a non-negative integer, optionally followed by B, KiB, MiB or GiB ("256KiB").
bool parse_bytes(std::string_view text, int64_t* out);
// "1MiB" when the count is a whole number of KiB/MiB/GiB, else the plain number.
std::string format_bytes(int64_t bytes);

bool is_ipv4(std::string_view text);
bool is_ipv6(std::string_view text);  // no brackets, no zone; "::", "fe80::1", "::ffff:1.2.3.4"
inline bool is_ip(std::string_view text) { return is_ipv4(text) || is_ipv6(text); }

// A DNS label: 1..63 of [A-Za-z0-9-], not starting or ending with '-'.
bool is_dns_label(std::string_view text);
// Labels separated by dots, at most 253 characters, an optional final dot.
bool is_dns_name(std::string_view text);

// "host[:port]": host an IPv4 address, a bracketed IPv6 address or a DNS name; port 1..65535.
// On failure *why says what is wrong ("port 0 is out of range 1..65535").
bool is_address(std::string_view text, std::string* why);

// The number of bytes standard base64 (with padding) decodes to, or false if not base64.
bool base64_decoded_bytes(std::string_view text, size_t* out);

// `text` with control characters escaped as \xNN, for names from untrusted input that end up
// in origins and error lines (an error is one line; a name must not break it).
std::string printable(std::string_view text);

// `text` in double quotes with control characters and quotes escaped, at most `chars_max`
// characters of it (then "..."), for quoting untrusted values in error messages.
std::string quote(std::string_view text, size_t chars_max = 64);

}  // namespace config
