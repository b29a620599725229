// AntiEntropy: the node's half of issue 5 item 3. It keeps the foundations' catalog holding what
// this node's LocalServices hold: whenever the local services or a check's status change (within
// a second), and every `full_every` regardless (which repairs any drift: a foundation restored
// from an old snapshot, a catalog edited by hand, a check's output), it sends the node's whole
// state as one wire::CatalogNode sync command (`PUT /v1/internal/catalog/sync`, the encoded
// command as the body) through `dispatch`: the agent's own router, which on a server proposes it
// and on a client agent forwards it to a server. A failed push is retried after `retry` (and
// logged once per run of failures); one push is in flight at a time.
//
// The node's serfHealth is not pushed: gossip's view of the node is the leader's to write.
//
// Threading: the loop thread. Ownership: borrows the loop, LocalServices and logger.
#pragma once

#include <functional>
#include <string>

#include "agent/base/log.h"
#include "agent/base/time.h"
#include "agent/catalog/local.h"
#include "agent/http/message.h"
#include "agent/runtime/loop.h"
#include "agent/wire/catalog_command.h"

namespace catalog {

struct NodeIdentity {
  std::string node;
  std::string id;
  std::string address;
  std::string datacenter;
};

// The node's state as a catalog sync command's content.
wire::CatalogNode catalog_node_of(const NodeIdentity& self, const LocalServices& local);

inline constexpr base::Duration kPushOverdue = base::Duration::seconds(10);

class AntiEntropy {
 public:
  using Dispatch = std::function<void(http::Request request, std::function<void(http::Response)> done)>;
  AntiEntropy(runtime::Loop& loop, const LocalServices& local, NodeIdentity self, Dispatch dispatch, base::Logger& log,
              base::Duration full_every = base::Duration::seconds(60), base::Duration retry = base::Duration::seconds(5));
  ~AntiEntropy();
  AntiEntropy(const AntiEntropy&) = delete;
  AntiEntropy& operator=(const AntiEntropy&) = delete;

  void start();
  // Runs at the start of each push, before the state is read: the owner refreshes what it keeps
  // in LocalServices on a timer (the node's own check), so a push carries it as of now.
  void set_before_push(std::function<void()> f) { before_push_ = std::move(f); }
  uint64_t pushes() const { return pushes_; }      // answered 200
  uint64_t failures() const { return failures_; }  // anything else
  // The last push failed, or the one in flight has waited kPushOverdue for its answer (a
  // foundation that accepted the connection but does not answer: the forwarder's own timeout is
  // a minute).
  bool failing() const;

 private:
  void tick();
  void push();

  runtime::Loop& loop_;
  const LocalServices& local_;
  NodeIdentity self_;
  Dispatch dispatch_;
  std::function<void()> before_push_;
  base::Logger& log_;
  base::Duration full_every_;
  base::Duration retry_;
  runtime::TimerId timer_ = runtime::kNoTimer;
  bool in_flight_ = false;
  bool failing_ = false;
  uint64_t pushed_version_ = UINT64_MAX;  // the LocalServices version last pushed successfully
  base::MonoTime last_push_;
  base::MonoTime push_started_;
  base::MonoTime next_attempt_;
  uint64_t pushes_ = 0;
  uint64_t failures_ = 0;
  std::shared_ptr<AntiEntropy*> alive_;
};

}  // namespace catalog
