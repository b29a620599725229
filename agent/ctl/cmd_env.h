// What a command of agentctl that lives outside ctl.cc gets from it: the output format, the
// timeout, the standard streams and one way to call the agent's HTTP API. Keeping commands behind
// this small struct lets them be written (and tested) without ctl.cc's socket discovery.
//
// Threading: the calling thread only, like the rest of agentctl.
#pragma once

#include <cstdio>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/base/status.h"
#include "agent/base/time.h"
#include "agent/http/client.h"
#include "agent/http/json.h"
#include "cJSON.h"

namespace ctl {

struct CmdEnv {
  bool json = false;  // -format json
  base::Duration timeout = base::Duration::seconds(10);
  // Sends one request (target already percent-encoded) and returns the agent's answer, whatever
  // its status. When the agent cannot be reached it has printed one line on `err` and returns an
  // error; the command then exits with kExitUnreachable.
  std::function<base::Result<http::ClientResponse>(const std::string& method, const std::string& target,
                                                   std::string body, base::Duration timeout)>
      call;
  FILE* in = nullptr;
  FILE* out = nullptr;
  FILE* err = nullptr;
};

// One command-line word split as a flag: "-name", "--name", "-name=value". False for a word that
// is not a flag ("-" alone is a word: stdin).
bool split_cmd_flag(std::string_view arg, std::string* name, std::string* value, bool* has_value);

// Percent-encodes a KV key for a /v1/kv/ path: RFC 3986 unreserved characters and '/' stay.
std::string escape_key(std::string_view key);
// Percent-encodes a query value (everything but unreserved characters).
std::string escape_query(std::string_view value);

// The error an API answer carries: {"error": "..."}'s text, else a short plain-text body (Consul's
// KV errors are plain text), else "HTTP <status>".
std::string answer_error(const http::ClientResponse& r);

// A JSON member as text: a string, a whole number, true/false; "" otherwise.
std::string json_text(const cJSON* obj, const char* key);
// Consul's columnize: every column but the last padded to its widest cell, two spaces between.
void print_table(const std::vector<std::vector<std::string>>& rows, FILE* out);
// One call that must answer 200: kExitOk with *r filled; otherwise the error printed and the exit
// status (kExitUnreachable, kExitFailed).
int call_ok(const CmdEnv& env, const std::string& method, const std::string& target, http::ClientResponse* r);
// GETs `target`: with `print_raw` prints the JSON body and returns kExitOk; else parses it into
// *doc and returns -1. On failure prints why ("agentctl <command>: ...") and returns the exit status.
int fetch_json(const CmdEnv& env, const std::string& target, const char* command, bool print_raw, http::Json* doc);

}  // namespace ctl
