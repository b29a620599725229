// The agent's membership: gossip (agent/gossip) wired to this node's config, disk and API.
//
// It owns the node's gossip Transport and, when gossip is encrypted, the Keyring and Envelope.
// At start it
//   - bumps the gossip generation kept in <data_dir>/gossip-generation (durable), so this
//     process's incarnations start above its previous life's (gossip/member.h);
//   - loads the keyring from <data_dir>/keyring, or makes one from `encrypt` on first start
//     (the file wins afterwards, as in Consul: a restart mid-rotation keeps the rotated keys);
//   - starts gossip on bind_addr:ports.gossip, advertising advertise_addr (or, when unset, the
//     bind address, else the first non-loopback IPv4 address of an interface that is up);
//   - joins through `join` and `retry_join` (retried every gossip.rejoin_interval while none of
//     them is a live member), ignoring the user events the fleet fired before this node joined
//     (Serf's default; Swim::join). PUT /v1/agent/join/<addr>?replay delivers them instead.
// Tags carried in gossip: role (the node's roles, comma-separated), dc, id (the node id), vsn,
// rpc_addr (servers), label.<key> per label, and kr -- the ids of the installed keys -- from
// which `GET /v1/operator/keyring` counts how many members hold each key.
//
// Run-time tag changes (Serf's `serf tags -set/-delete`): PUT /v1/agent/tags changes labels, and
// only labels (tag_overrides.h says why and what is checked); the agent's own tags are refused
// with a 400. A change is checked whole -- keys, values, and the encoded size of all the node's
// tags against wire::kTagsBytesMax -- and then written durably to <data_dir>/tags.json before
// gossip carries it (a new incarnation, Swim::set_tags), so nothing changes unless all of it
// does, and it survives a restart: at start the file's overrides are applied over the configured
// labels (a file that does not parse stops the start, naming it). The file keeps only the
// differences from the configuration; remove it (agent stopped) to go back to the configured labels.
//
// Keyring changes spread to the fleet as internal user events named "weft:keyring" (sealed like
// all gossip, so only holders of a current key can send them); every node applies them and
// persists its keyring before anything else. User events are best-effort gossip, so the node
// that took the command watches the other members' "kr" tags and fires the event again every
// second until every alive member shows the change (or a minute passes): a rotation step is
// done when `keyring list` says so, not when the first event left. Events whose name starts with "weft:" are internal:
// the API neither fires nor lists them.
//
// HTTP API (Consul's shapes): GET /v1/agent/members, PUT /v1/agent/join/<addr>[?replay],
// PUT /v1/agent/leave, PUT /v1/agent/force-leave/<node>, PUT /v1/event/fire/<name>,
// GET /v1/event/list, GET|POST|PUT|DELETE /v1/operator/keyring, GET|PUT /v1/agent/tags (Weft's).
//
// Threading: the loop thread. Ownership: borrows env, loop, config and logger; owns the rest.
#pragma once

#include <memory>
#include <string>

#include "agent/base/log.h"
#include "agent/base/status.h"
#include "agent/config/config.h"
#include "agent/gossip/crypto/envelope.h"
#include "agent/gossip/crypto/keyring.h"
#include "agent/gossip/transport.h"
#include "agent/http/json.h"
#include "agent/http/router.h"
#include "agent/main/tag_overrides.h"
#include "agent/runtime/loop.h"
#include "hal/env.h"

namespace agent {

class Membership {
 public:
  Membership(hal::Env& env, runtime::Loop& loop, const config::Config& config, base::Logger& log);
  ~Membership();
  Membership(const Membership&) = delete;
  Membership& operator=(const Membership&) = delete;

  // See the file comment. `node_id` goes into the tags. On error nothing is left listening.
  [[nodiscard]] base::Status start(const std::string& node_id);
  void add_routes(http::Router& router);
  // Adds the gossip counters to /v1/agent/self's Stats: members by state, health score,
  // incarnation, datagrams and streams, packets dropped by reason.
  void add_stats(http::Json& doc, cJSON* stats) const;
  // Gossip health for /v1/agent/health: passing while the local health score is low.
  bool healthy(std::string* output) const;
  // Called when PUT /v1/agent/leave has finished leaving: the agent should stop.
  void on_left(std::function<void()> fn) { on_left_ = std::move(fn); }
  // Called with the member's new state after every member event (join, update, suspect, alive,
  // fail, leave, reap); the server host follows the foundations with it.
  void on_member_change(std::function<void(const gossip::Member&)> fn) { member_change_ = std::move(fn); }

  gossip::Transport* transport() { return transport_.get(); }
  const hal::SockAddr& advertise() const { return advertise_; }

 private:
  base::Status load_generation(uint64_t* generation);
  base::Status load_keyring();
  base::Result<hal::SockAddr> pick_advertise() const;
  // The tags the configuration and state make, before the run-time overrides.
  gossip::Tags configured_tags() const;
  // configured_tags() with the run-time overrides applied: what gossip carries.
  gossip::Tags make_tags() const;
  base::Status load_tag_overrides();
  base::Status apply_keyring_op(std::string_view op, std::string_view key, bool local);
  void on_member_event(const gossip::MemberEvent& e);
  // Re-fires pending keyring commands until every alive member's tags show them applied.
  void check_keyring_spread();
  bool keyring_op_done(const std::string& op, const std::string& id) const;
  void on_user_event(const gossip::ReceivedUserEvent& e);

  void handle_members(http::Request& req, http::Responder resp);
  void handle_join(http::Request& req, http::Responder resp);
  void handle_leave(http::Request& req, http::Responder resp);
  void handle_force_leave(http::Request& req, http::Responder resp);
  void handle_event_fire(http::Request& req, http::Responder resp);
  void handle_event_list(http::Request& req, http::Responder resp);
  void handle_keyring(http::Request& req, http::Responder resp);
  void handle_tags(http::Request& req, http::Responder resp);
  http::Response tags_response() const;

  hal::Env& env_;
  runtime::Loop& loop_;
  const config::Config& config_;
  base::Logger& log_;
  std::string node_id_;
  std::string keyring_path_;
  std::string tags_path_;   // <data_dir>/tags.json
  TagChange tag_overrides_;  // the operator's label changes, as persisted there
  std::unique_ptr<gossip::crypto::Keyring> keyring_;
  std::unique_ptr<gossip::crypto::Envelope> envelope_;
  std::unique_ptr<gossip::Transport> transport_;
  hal::SockAddr advertise_;
  std::function<void()> on_left_;
  std::function<void(const gossip::Member&)> member_change_;
  // Keyring commands taken here and not yet seen applied fleet-wide (bounded: one per op kind
  // and key; a newer command for the same key replaces the older).
  struct PendingKeyOp {
    std::string op;
    std::string key;  // as given (base64 key or key id); wiped when done
    std::string id;   // the key id, to read members' tags with
    base::MonoTime give_up;
  };
  std::vector<PendingKeyOp> pending_key_ops_;
  runtime::TimerId key_timer_ = runtime::kNoTimer;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace agent
