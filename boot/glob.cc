// boot/glob.cc -- fnmatch(pattern, text, 0) in the C locale and kmod's normalisations.
//
// How: a pattern is a sequence of elements each of which consumes exactly one byte of text
// ('?', a literal, a quoted byte, a bracket expression) and '*'s between them. Whether an
// element takes a byte, and where the next element starts, depend only on the element and that
// byte, so the classic greedy matcher is exact: run the elements; on a miss, go back to the last
// '*' and let it take one more byte. Earlier '*'s never need revisiting.
#include "boot/glob.h"

#include <cstdint>

namespace boot {
namespace {

// The byte at `i`, or NUL past the end: the bracket rules are glibc's, written against patterns
// that end in a NUL, and reading them the same way keeps them recognisably the same rules.
unsigned char at(std::string_view s, size_t i) {
  return i < s.size() ? static_cast<unsigned char>(s[i]) : 0;
}

std::string_view until_nul(std::string_view s) {
  const size_t nul = s.find('\0');
  return nul == std::string_view::npos ? s : s.substr(0, nul);
}

// What one element did with one byte of text.
struct Step {
  enum Kind : uint8_t { kMiss, kTake } kind = kMiss;
  size_t next = 0;  // with kTake: where the following element starts
};

Step take(size_t next) { return Step{Step::kTake, next}; }

// A '[' at p[open] whose set the pattern ends inside is an ordinary byte.
Step open_bracket_as_byte(size_t open, unsigned char c) {
  return c == '[' ? take(open + 1) : Step{};
}

// The set opened at p[open] named byte c at a member ending just before p[i]: on to just after
// the closing ']'. A '\' that ends the pattern fails the position (glibc's "[... (unterminated)
// loses"); a pattern that ends before any ']' makes the '[' an ordinary byte after all.
Step after_hit(std::string_view p, size_t open, size_t i, bool negated, unsigned char c) {
  for (;;) {
    const unsigned char b = at(p, i++);
    if (b == ']') return negated ? Step{} : take(i);
    if (b == 0) return open_bracket_as_byte(open, c);
    if (b == '\\') {
      if (at(p, i) == 0) return Step{};
      ++i;
    }
  }
}

// The bracket expression whose '[' is at p[open], against byte `c`.
Step bracket(std::string_view p, size_t open, unsigned char c) {
  size_t i = open + 1;
  const bool negated = at(p, i) == '!' || at(p, i) == '^';
  if (negated) ++i;
  for (bool first = true;; first = false) {
    unsigned char lo = at(p, i);
    if (lo == ']' && !first) {
      // The set closed without naming c.
      return negated ? take(i + 1) : Step{};
    }
    if (lo == 0) return open_bracket_as_byte(open, c);
    ++i;
    if (lo == '\\') {
      lo = at(p, i);
      if (lo == 0) return Step{};
      ++i;
    }
    const unsigned char after = at(p, i);
    if (after == '-' && at(p, i + 1) != 0 && at(p, i + 1) != ']') {
      // A range lo-hi, its end possibly quoted.
      i += 1;
      unsigned char hi = at(p, i++);
      if (hi == '\\') hi = at(p, i++);
      if (hi == 0) return Step{};
      if (lo <= c && c <= hi) return after_hit(p, open, i, negated, c);
      continue;
    }
    if (lo == c) return after_hit(p, open, i, negated, c);
    // "x-" at the very end of the pattern: glibc reads a range whose end is missing, and fails.
    if (after == '-' && at(p, i + 1) == 0) return Step{};
  }
}

// The element at p[i] (not '*') against byte `c`.
Step element(std::string_view p, size_t i, unsigned char c) {
  switch (at(p, i)) {
    case '?':
      return take(i + 1);
    case '\\':
      // A quoted byte; a '\' that ends the pattern quotes nothing and never matches.
      if (i + 1 >= p.size()) return Step{};
      return at(p, i + 1) == c ? take(i + 2) : Step{};
    case '[':
      return bracket(p, i, c);
    default:
      return at(p, i) == c ? take(i + 1) : Step{};
  }
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text) {
  const std::string_view p = until_nul(pattern);
  const std::string_view t = until_nul(text);
  size_t pi = 0;
  size_t ti = 0;
  size_t star_pi = std::string_view::npos;  // just after the last '*' met
  size_t star_ti = 0;                       // where the text stood when it was met
  while (ti < t.size()) {
    if (pi < p.size()) {
      if (p[pi] == '*') {
        star_pi = ++pi;
        star_ti = ti;
        continue;
      }
      const Step s = element(p, pi, static_cast<unsigned char>(t[ti]));
      if (s.kind == Step::kTake) {
        pi = s.next;
        ++ti;
        continue;
      }
    }
    if (star_pi == std::string_view::npos) return false;
    pi = star_pi;
    ti = ++star_ti;
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

bool glob_supported(std::string_view pattern) {
  const std::string_view p = until_nul(pattern);
  for (size_t i = 0; i + 1 < p.size(); ++i) {
    if (p[i] == '[' && (p[i + 1] == ':' || p[i + 1] == '=' || p[i + 1] == '.')) return false;
  }
  return true;
}

base::Result<std::string> normalize_alias(std::string_view alias) {
  if (alias.size() > kAliasBytesMax) {
    return base::error(base::Code::kInvalidArgument, "alias of %zu bytes (at most %zu)",
                       alias.size(), kAliasBytesMax);
  }
  std::string out(alias);
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '-') {
      out[i] = '_';
    } else if (out[i] == ']') {
      return base::error(base::Code::kInvalidArgument, "']' without '[' at byte %zu", i);
    } else if (out[i] == '[') {
      const size_t close = out.find(']', i + 1);
      if (close == std::string::npos) {
        return base::error(base::Code::kInvalidArgument, "'[' at byte %zu is not closed", i);
      }
      i = close;  // the bracket's bytes, '-' among them, stay as they are
    }
  }
  return out;
}

std::string normalize_module_name(std::string_view name) {
  std::string out(name.substr(0, name.find('.')));
  for (char& c : out) {
    if (c == '-') c = '_';
  }
  return out;
}

std::string module_name_from_path(std::string_view path) {
  const size_t slash = path.rfind('/');
  return normalize_module_name(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

}  // namespace boot
