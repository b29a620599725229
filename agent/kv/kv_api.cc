#include "agent/kv/kv_api.h"

#include <string_view>
#include <utility>

#include "agent/http/json.h"
#include "hal/crypto.h"

namespace kv {

namespace {

constexpr std::string_view kModule = "kv";

// Query flags are present even when bare ("?recurse"); Consul tests presence, not value.
bool has(const http::Request& r, std::string_view name) { return r.has_query(name); }

}  // namespace

KvApi::KvApi(runtime::Loop& loop, Backend& backend, base::Logger& logger, KvOptions options)
    : backend_(backend),
      options_(options),
      reads_(loop, backend, logger, kModule, options.blocking),
      alive_(std::make_shared<KvApi*>(this)) {}

KvApi::~KvApi() { alive_.reset(); }

void KvApi::add_routes(http::Router& router) {
  router.add_prefix("GET", "/v1/kv/", [this](http::Request& r, http::Responder resp) { handle_get(r, std::move(resp)); });
  router.add_prefix("PUT", "/v1/kv/", [this](http::Request& r, http::Responder resp) { handle_put(r, std::move(resp)); });
  router.add_prefix("DELETE", "/v1/kv/",
                    [this](http::Request& r, http::Responder resp) { handle_delete(r, std::move(resp)); });
}

// --- reads ------------------------------------------------------------------------------------

void KvApi::handle_get(http::Request& request, http::Responder responder) {
  enum class Kind : uint8_t { kGet, kList, kKeys };
  std::string key(request.path_rest());
  const Kind kind = has(request, "keys") ? Kind::kKeys : has(request, "recurse") ? Kind::kList : Kind::kGet;
  if (kind == Kind::kGet && key.empty()) {
    responder.send(text_error(400, "Missing key name"));
    return;
  }
  if (base::Status s = wire::check_kv_key(key, /*prefix=*/kind != Kind::kGet); !s.is_ok()) {
    responder.send(text_error(400, s.message()));
    return;
  }
  std::string separator;
  if (kind == Kind::kKeys) {
    // Consul reads both spellings; the correct one wins.
    if (const std::string* s = request.query_value("seperator")) separator = *s;
    if (const std::string* s = request.query_value("separator")) separator = *s;
  }
  const bool raw = kind == Kind::kGet && has(request, "raw");
  reads_.serve(request, std::move(responder), [kind, key, separator, raw](const state::Store& store, ReadAnswer* out) -> base::Status {
    std::vector<state::KvEntry> entries;
    std::vector<std::string> keys;
    auto run = [&]() -> base::Status {
      switch (kind) {
        case Kind::kGet: {
          AGENT_ASSIGN_OR_RETURN(std::optional<state::KvEntry> e, store.get(key));
          if (e.has_value()) {
            out->index = e->modify_index;
            entries.push_back(std::move(*e));
            return base::Status::ok();
          }
          break;
        }
        case Kind::kList: {
          AGENT_ASSIGN_OR_RETURN(entries, store.list(key));
          break;
        }
        case Kind::kKeys: {
          AGENT_ASSIGN_OR_RETURN(keys, store.keys(key, separator));
          break;
        }
      }
      AGENT_ASSIGN_OR_RETURN(out->index, store.prefix_index(key));
      return base::Status::ok();
    };
    AGENT_TRY(run());
    const bool empty = kind == Kind::kKeys ? (keys.empty() && !key.empty()) : entries.empty();
    if (empty) {
      out->response.status = 404;
      return base::Status::ok();
    }
    if (raw) {
      out->response = http::Response::text(200, entries.front().value);
      // Consul's guard against a browser rendering a stored value as a page.
      out->response.set_header("X-Content-Type-Options", "nosniff");
      out->response.set_header("Content-Security-Policy", "sandbox");
      return base::Status::ok();
    }
    http::Json doc = http::Json::array();
    if (kind == Kind::kKeys) {
      for (const std::string& k : keys) doc.add_string(doc.get(), "", k);
    } else {
      for (const state::KvEntry& e : entries) {
        cJSON* o = doc.add_object(doc.get(), "");
        doc.add_u64(o, "LockIndex", e.lock_index);
        doc.add_string(o, "Key", e.key);
        doc.add_u64(o, "Flags", e.flags);
        if (e.value.empty()) doc.add_null(o, "Value");
        else doc.add_string(o, "Value", hal::crypto::base64_encode(base::as_bytes(std::string_view(e.value))));
        if (e.session.has_value()) doc.add_string(o, "Session", *e.session);
        doc.add_u64(o, "CreateIndex", e.create_index);
        doc.add_u64(o, "ModifyIndex", e.modify_index);
      }
    }
    auto body = doc.dump();
    if (!body.is_ok()) {
      return body.status();
    }
    out->response = http::Response::json(200, std::move(body).value());
    return base::Status::ok();
  });
}

// --- writes -----------------------------------------------------------------------------------

void KvApi::handle_put(http::Request& request, http::Responder responder) {
  wire::StateCommand cmd;
  cmd.type = wire::StateCommandType::kKvSet;
  cmd.key = std::string(request.path_rest());
  if (cmd.key.empty()) {
    responder.send(text_error(400, "Missing key name"));
    return;
  }
  if (base::Status s = wire::check_kv_key(cmd.key); !s.is_ok()) {
    responder.send(text_error(400, s.message()));
    return;
  }
  int exclusive = has(request, "cas") + has(request, "acquire") + has(request, "release");
  if (exclusive > 1) {
    responder.send(text_error(400, "Conflicting flags: " + request.raw_query + "\n"));
    return;
  }
  if (has(request, "acquire") || has(request, "release")) {
    responder.send(text_error(501, "sessions are not supported yet (?acquire, ?release)"));
    return;
  }
  if (const std::string* f = request.query_value("flags")) {
    if (!parse_u64(*f, &cmd.flags)) {
      responder.send(text_error(400, "Invalid flags: want a decimal uint64, got \"" + *f + "\""));
      return;
    }
  }
  bool is_cas = false;
  if (const std::string* c = request.query_value("cas")) {
    if (!parse_u64(*c, &cmd.index)) {
      responder.send(text_error(400, "Invalid cas: want a decimal uint64, got \"" + *c + "\""));
      return;
    }
    cmd.type = wire::StateCommandType::kKvCas;
    is_cas = true;
  }
  if (request.body.size() > options_.value_bytes_max) {
    responder.send(text_error(413, "Request body(" + std::to_string(request.body.size()) +
                                       " bytes) too large, max size: " + std::to_string(options_.value_bytes_max) +
                                       " bytes. See https://developer.hashicorp.com/docs/agent/config/"
                                       "config-files#kv_max_value_size."));
    return;
  }
  cmd.value = std::move(request.body);
  propose(cmd, is_cas, std::move(responder));
}

void KvApi::handle_delete(http::Request& request, http::Responder responder) {
  if (has(request, "recurse") && has(request, "cas")) {
    responder.send(text_error(400, "Conflicting flags: " + request.raw_query + "\n"));
    return;
  }
  wire::StateCommand cmd;
  cmd.type = wire::StateCommandType::kKvDelete;
  cmd.key = std::string(request.path_rest());
  const bool recurse = has(request, "recurse");
  if (recurse) cmd.type = wire::StateCommandType::kKvDeleteTree;
  else if (cmd.key.empty()) {
    responder.send(text_error(400, "Missing key name"));
    return;
  }
  if (base::Status s = wire::check_kv_key(cmd.key, recurse); !s.is_ok()) {
    responder.send(text_error(400, s.message()));
    return;
  }
  bool is_cas = false;
  if (const std::string* c = request.query_value("cas")) {
    if (!parse_u64(*c, &cmd.index)) {
      responder.send(text_error(400, "Invalid cas: want a decimal uint64, got \"" + *c + "\""));
      return;
    }
    cmd.type = wire::StateCommandType::kKvDeleteCas;
    is_cas = true;
  }
  propose(cmd, is_cas, std::move(responder));
}

void KvApi::propose(const wire::StateCommand& command, bool answer_value, http::Responder responder) {
  auto bytes = wire::encode_state_command(command);
  if (!bytes.is_ok()) {
    const bool too_big = bytes.status().code() == base::Code::kResourceExhausted;
    responder.send(text_error(too_big ? 413 : 400, bytes.status().message()));
    return;
  }
  std::weak_ptr<KvApi*> weak = alive_;
  // The Responder travels with the callback: if the connection closes first, send() is dropped
  // and the write still completes (it cannot be recalled once proposed).
  auto holder = std::make_shared<http::Responder>(std::move(responder));
  backend_.write(std::move(bytes).value(),
                 [weak, holder, answer_value](base::Result<state::ApplyResult> result) {
                   if (!weak.lock()) return;
                   if (!result.is_ok()) {
                     holder->send(backend_error(result.status()));
                     return;
                   }
                   if (!result->status.is_ok()) {
                     holder->send(text_error(400, result->status.message()));
                     return;
                   }
                   const bool value = answer_value ? result->value : true;
                   holder->send(http::Response::json(200, value ? "true" : "false"));
                 });
}

}  // namespace kv
