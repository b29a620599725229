// CatalogApi: see catalog_api.h.
#include "agent/catalog/catalog_api.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/http/json.h"
#include "agent/state/store.h"

namespace catalog {

namespace {

using kv::ReadAnswer;
using state::CatalogCheckRow;
using state::CatalogNodeRow;
using state::CatalogServiceRow;
using state::CatalogTable;
using state::Store;

// The largest of the tables' indexes (an answer that reads several).
base::Status index_of(const Store& store, std::initializer_list<CatalogTable> tables, uint64_t* out) {
  *out = 0;
  for (CatalogTable t : tables) {
    AGENT_ASSIGN_OR_RETURN(uint64_t i, store.catalog_index(t));
    *out = std::max(*out, i);
  }
  return base::Status::ok();
}

void add_meta(http::Json& doc, cJSON* o, const char* key, const wire::MetaPairs& meta) {
  cJSON* m = doc.add_object(o, key);
  for (const auto& [k, v] : meta) doc.add_string(m, k, v);
}

void add_tags(http::Json& doc, cJSON* o, const char* key, const std::vector<std::string>& tags) {
  cJSON* a = doc.add_array(o, key);
  for (const std::string& t : tags) doc.add_string(a, "", t);
}

void add_tagged_addresses(http::Json& doc, cJSON* o, const std::string& address) {
  cJSON* t = doc.add_object(o, "TaggedAddresses");
  doc.add_string(t, "lan", address);
  doc.add_string(t, "wan", address);
}

// Consul's structs.Node as /v1/catalog/nodes and /v1/health/service write it.
void fill_node(http::Json& doc, cJSON* o, const CatalogNodeRow& n) {
  doc.add_string(o, "ID", n.id);
  doc.add_string(o, "Node", n.name);
  doc.add_string(o, "Address", n.address);
  doc.add_string(o, "Datacenter", n.datacenter);
  add_tagged_addresses(doc, o, n.address);
  add_meta(doc, o, "Meta", n.meta);
  doc.add_u64(o, "CreateIndex", n.create_index);
  doc.add_u64(o, "ModifyIndex", n.modify_index);
}

void add_weights(http::Json& doc, cJSON* o, const char* key) {
  cJSON* w = doc.add_object(o, key);
  doc.add_i64(w, "Passing", 1);
  doc.add_i64(w, "Warning", 1);
}

// Consul's structs.NodeService (health and catalog/node).
void fill_service(http::Json& doc, cJSON* o, const CatalogServiceRow& s, const std::string& datacenter) {
  doc.add_string(o, "ID", s.service.id);
  doc.add_string(o, "Service", s.service.name);
  add_tags(doc, o, "Tags", s.service.tags);
  doc.add_string(o, "Address", s.service.address);
  add_meta(doc, o, "Meta", s.service.meta);
  doc.add_i64(o, "Port", s.service.port);
  add_weights(doc, o, "Weights");
  doc.add_bool(o, "EnableTagOverride", false);
  doc.add_string(o, "Datacenter", datacenter);
  doc.add_u64(o, "CreateIndex", s.create_index);
  doc.add_u64(o, "ModifyIndex", s.modify_index);
}

// Consul's structs.HealthCheck.
void fill_check(http::Json& doc, cJSON* o, const CatalogCheckRow& c, const std::vector<std::string>& service_tags) {
  doc.add_string(o, "Node", c.node);
  doc.add_string(o, "CheckID", c.check.id);
  doc.add_string(o, "Name", c.check.name);
  doc.add_string(o, "Status", wire::check_health_name(c.check.status));
  doc.add_string(o, "Notes", c.check.notes);
  doc.add_string(o, "Output", c.check.output);
  doc.add_string(o, "ServiceID", c.check.service_id);
  doc.add_string(o, "ServiceName", c.service_name);
  add_tags(doc, o, "ServiceTags", service_tags);
  doc.add_string(o, "Type", c.check.type);
  doc.add_u64(o, "CreateIndex", c.create_index);
  doc.add_u64(o, "ModifyIndex", c.modify_index);
}

// The ?tag values of a request (Consul takes several; an instance must have every one).
std::vector<std::string> tags_of(const http::Request& r) {
  std::vector<std::string> out;
  for (const auto& [k, v] : r.query) {
    if (k == "tag") out.push_back(v);
  }
  return out;
}

bool has_tags(const std::vector<std::string>& have, const std::vector<std::string>& want) {
  for (const std::string& t : want) {
    if (std::find(have.begin(), have.end(), t) == have.end()) return false;
  }
  return true;
}

void json_answer(http::Json& doc, ReadAnswer* out) {
  auto body = doc.dump();
  if (!body.is_ok()) {
    out->status = body.status();
    return;
  }
  out->response = http::Response::json(200, std::move(body).value());
}

// Node rows by name, read once per answer.
base::Result<std::map<std::string, CatalogNodeRow>> nodes_by_name(const Store& store) {
  AGENT_ASSIGN_OR_RETURN(std::vector<CatalogNodeRow> nodes, store.catalog_nodes());
  std::map<std::string, CatalogNodeRow> out;
  for (auto& n : nodes) out.emplace(n.name, std::move(n));
  return out;
}

}  // namespace

CatalogApi::CatalogApi(runtime::Loop& loop, kv::Backend& backend, base::Logger& logger, kv::BlockingOptions options)
    : backend_(backend), reads_(loop, backend, logger, "catalog", options), alive_(std::make_shared<CatalogApi*>(this)) {}

void CatalogApi::handle_sync(http::Request& req, http::Responder resp) {
  auto node = wire::decode_catalog_sync(req.body);
  if (!node.is_ok()) {
    resp.send(kv::text_error(400, node.status().message()));
    return;
  }
  // Anti-entropy pushes every minute whether or not anything changed: when this server's store
  // already holds exactly that state, nothing is proposed (a server a moment behind the leader
  // may say so wrongly; the next push, to any server, repairs it).
  std::weak_ptr<CatalogApi*> weak = alive_;
  auto holder = std::make_shared<http::Responder>(std::move(resp));
  auto holds = std::make_shared<bool>(false);
  auto want = std::make_shared<wire::CatalogNode>(std::move(node).value());
  backend_.read(
      kv::Consistency::kStale,
      [want, holds](const Store& store) -> base::Status {
        AGENT_ASSIGN_OR_RETURN(*holds, store.catalog_holds(*want));
        return base::Status::ok();
      },
      [this, weak, holder, holds, body = std::move(req.body)](base::Status st, kv::ReadMeta) mutable {
        if (!weak.lock()) return;
        if (st.is_ok() && *holds) {
          ++syncs_unchanged_;
          holder->send(http::Response::json(200, "true"));
          return;
        }
        propose_sync(std::move(body), holder);
      });
}

void CatalogApi::propose_sync(std::string body, std::shared_ptr<http::Responder> holder) {
  ++syncs_proposed_;
  std::weak_ptr<CatalogApi*> weak = alive_;
  backend_.write(std::move(body), [weak, holder](base::Result<state::ApplyResult> r) {
    if (!weak.lock()) return;
    if (!r.is_ok()) {
      holder->send(kv::backend_error(r.status()));
      return;
    }
    if (!r->status.is_ok()) {
      holder->send(kv::text_error(400, r->status.message()));
      return;
    }
    holder->send(http::Response::json(200, "true"));
  });
}

void CatalogApi::add_routes(http::Router& router) {
  router.add("PUT", "/v1/internal/catalog/sync", [this](http::Request& q, http::Responder r) { handle_sync(q, std::move(r)); });
  router.add("GET", "/v1/catalog/services", [this](http::Request& q, http::Responder r) {
    reads_.serve(q, std::move(r), [](const Store& store, ReadAnswer* out) -> base::Status {
        AGENT_ASSIGN_OR_RETURN(out->index, store.catalog_index(CatalogTable::kServices));
        AGENT_ASSIGN_OR_RETURN(auto names, store.catalog_service_names());
        http::Json doc = http::Json::object();
        for (const auto& [name, tags] : names) add_tags(doc, doc.get(), name.c_str(), tags);
        json_answer(doc, out);
        return base::Status::ok();
    });
  });
  router.add_prefix("GET", "/v1/catalog/service/", [this](http::Request& q, http::Responder r) {
    std::string name(q.path_rest());
    std::vector<std::string> tags = tags_of(q);
    reads_.serve(q, std::move(r), [name, tags](const Store& store, ReadAnswer* out) -> base::Status {
        AGENT_TRY(index_of(store, {CatalogTable::kNodes, CatalogTable::kServices}, &out->index));
        AGENT_ASSIGN_OR_RETURN(auto nodes, nodes_by_name(store));
        AGENT_ASSIGN_OR_RETURN(auto instances, store.catalog_service_instances(name));
        http::Json doc = http::Json::array();
        for (const CatalogServiceRow& s : instances) {
          if (!has_tags(s.service.tags, tags)) continue;
          auto n = nodes.find(s.node);
          if (n == nodes.end()) continue;
          cJSON* o = doc.add_object(doc.get(), "");
          doc.add_string(o, "ID", n->second.id);
          doc.add_string(o, "Node", n->second.name);
          doc.add_string(o, "Address", n->second.address);
          doc.add_string(o, "Datacenter", n->second.datacenter);
          add_tagged_addresses(doc, o, n->second.address);
          add_meta(doc, o, "NodeMeta", n->second.meta);
          doc.add_string(o, "ServiceKind", "");
          doc.add_string(o, "ServiceID", s.service.id);
          doc.add_string(o, "ServiceName", s.service.name);
          add_tags(doc, o, "ServiceTags", s.service.tags);
          doc.add_string(o, "ServiceAddress", s.service.address);
          add_weights(doc, o, "ServiceWeights");
          add_meta(doc, o, "ServiceMeta", s.service.meta);
          doc.add_i64(o, "ServicePort", s.service.port);
          doc.add_bool(o, "ServiceEnableTagOverride", false);
          doc.add_u64(o, "CreateIndex", s.create_index);
          doc.add_u64(o, "ModifyIndex", s.modify_index);
        }
        json_answer(doc, out);
        return base::Status::ok();
    });
  });
  router.add("GET", "/v1/catalog/nodes", [this](http::Request& q, http::Responder r) {
    reads_.serve(q, std::move(r), [](const Store& store, ReadAnswer* out) -> base::Status {
        AGENT_ASSIGN_OR_RETURN(out->index, store.catalog_index(CatalogTable::kNodes));
        AGENT_ASSIGN_OR_RETURN(auto nodes, store.catalog_nodes());
        http::Json doc = http::Json::array();
        for (const CatalogNodeRow& n : nodes) fill_node(doc, doc.add_object(doc.get(), ""), n);
        json_answer(doc, out);
        return base::Status::ok();
    });
  });
  router.add_prefix("GET", "/v1/catalog/node/", [this](http::Request& q, http::Responder r) {
    std::string name(q.path_rest());
    reads_.serve(q, std::move(r), [name](const Store& store, ReadAnswer* out) -> base::Status {
        AGENT_TRY(index_of(store, {CatalogTable::kNodes, CatalogTable::kServices}, &out->index));
        AGENT_ASSIGN_OR_RETURN(auto node, store.catalog_node(name));
        if (!node) {
          out->response = http::Response::json(200, "null");
          return base::Status::ok();
        }
        AGENT_ASSIGN_OR_RETURN(auto services, store.catalog_services_of_node(name));
        http::Json doc = http::Json::object();
        fill_node(doc, doc.add_object(doc.get(), "Node"), *node);
        cJSON* m = doc.add_object(doc.get(), "Services");
        for (const CatalogServiceRow& s : services) fill_service(doc, doc.add_object(m, s.service.id), s, node->datacenter);
        json_answer(doc, out);
        return base::Status::ok();
    });
  });
  router.add_prefix("GET", "/v1/health/service/", [this](http::Request& q, http::Responder r) {
    std::string name(q.path_rest());
    std::vector<std::string> tags = tags_of(q);
    const bool passing = q.has_query("passing");
    reads_.serve(q, std::move(r), [name, tags, passing](const Store& store, ReadAnswer* out) -> base::Status {
        AGENT_TRY(index_of(store, {CatalogTable::kNodes, CatalogTable::kServices, CatalogTable::kChecks}, &out->index));
        AGENT_ASSIGN_OR_RETURN(auto nodes, nodes_by_name(store));
        AGENT_ASSIGN_OR_RETURN(auto instances, store.catalog_service_instances(name));
        http::Json doc = http::Json::array();
        std::map<std::string, std::vector<CatalogCheckRow>> checks_of;  // by node, read once each
        for (const CatalogServiceRow& s : instances) {
          if (!has_tags(s.service.tags, tags)) continue;
          auto n = nodes.find(s.node);
          if (n == nodes.end()) continue;
          auto c = checks_of.find(s.node);
          if (c == checks_of.end()) {
            AGENT_ASSIGN_OR_RETURN(auto rows, store.catalog_checks_of_node(s.node));
            c = checks_of.emplace(s.node, std::move(rows)).first;
          }
          std::vector<const CatalogCheckRow*> mine;
          bool all_passing = true;
          for (const CatalogCheckRow& k : c->second) {
            if (!k.check.service_id.empty() && k.check.service_id != s.service.id) continue;
            mine.push_back(&k);
            all_passing = all_passing && k.check.status == wire::CheckHealth::kPassing;
          }
          if (passing && !all_passing) continue;
          cJSON* o = doc.add_object(doc.get(), "");
          fill_node(doc, doc.add_object(o, "Node"), n->second);
          fill_service(doc, doc.add_object(o, "Service"), s, n->second.datacenter);
          cJSON* a = doc.add_array(o, "Checks");
          for (const CatalogCheckRow* k : mine) {
            fill_check(doc, doc.add_object(a, ""), *k, k->check.service_id.empty() ? std::vector<std::string>{} : s.service.tags);
          }
        }
        json_answer(doc, out);
        return base::Status::ok();
    });
  });
  // Weft's own: every service instance with its aggregate health, for the agents' DNS views
  // (catalog_api.h). Blocking like the rest.
  router.add("GET", "/v1/internal/catalog/view", [this](http::Request& q, http::Responder r) {
    reads_.serve(q, std::move(r), [](const Store& store, ReadAnswer* out) -> base::Status {
        AGENT_TRY(index_of(store, {CatalogTable::kNodes, CatalogTable::kServices, CatalogTable::kChecks}, &out->index));
        AGENT_ASSIGN_OR_RETURN(auto nodes, store.catalog_nodes());
        AGENT_ASSIGN_OR_RETURN(auto checks, store.catalog_checks(std::nullopt));  // by node, id
        http::Json doc = http::Json::object();
        cJSON* arr = doc.add_array(doc.get(), "Nodes");
        size_t k = 0;
        for (const CatalogNodeRow& n : nodes) {
          AGENT_ASSIGN_OR_RETURN(auto services, store.catalog_services_of_node(n.name));
          // This node's checks: worst node-level status, and worst per service.
          wire::CheckHealth node_worst = wire::CheckHealth::kPassing;
          std::map<std::string, wire::CheckHealth> service_worst;
          while (k < checks.size() && checks[k].node < n.name) ++k;
          for (; k < checks.size() && checks[k].node == n.name; ++k) {
            const CatalogCheckRow& c = checks[k];
            wire::CheckHealth& w = c.check.service_id.empty() ? node_worst : service_worst[c.check.service_id];
            w = std::max(w, c.check.status);
          }
          cJSON* o = doc.add_object(arr, "");
          doc.add_string(o, "Node", n.name);
          doc.add_string(o, "Address", n.address);
          cJSON* sa = doc.add_array(o, "Services");
          for (const CatalogServiceRow& s : services) {
            cJSON* so = doc.add_object(sa, "");
            doc.add_string(so, "Service", s.service.name);
            add_tags(doc, so, "Tags", s.service.tags);
            doc.add_string(so, "Address", s.service.address);
            doc.add_i64(so, "Port", s.service.port);
            auto it = service_worst.find(s.service.id);
            wire::CheckHealth h = std::max(node_worst, it == service_worst.end() ? wire::CheckHealth::kPassing : it->second);
            doc.add_string(so, "Health", wire::check_health_name(h));
          }
        }
        json_answer(doc, out);
        return base::Status::ok();
    });
  });
  auto checks_route = [this](http::Request& q, http::Responder r, int which) {
    // which: 0 state, 1 node, 2 service
    std::string arg(q.path_rest());
    std::optional<wire::CheckHealth> state;
    if (which == 0 && arg != "any") {
      wire::CheckHealth h;
      if (!wire::parse_check_health(arg, &h)) {
        r.send(kv::text_error(400, "Invalid check state"));
        return;
      }
      state = h;
    }
    reads_.serve(q, std::move(r), [which, arg, state](const Store& store, ReadAnswer* out) -> base::Status {
        AGENT_ASSIGN_OR_RETURN(out->index, store.catalog_index(CatalogTable::kChecks));
        std::vector<CatalogCheckRow> rows;
        if (which == 1) {
          AGENT_ASSIGN_OR_RETURN(rows, store.catalog_checks_of_node(arg));
        } else {
          AGENT_ASSIGN_OR_RETURN(rows, store.catalog_checks(state));
        }
        http::Json doc = http::Json::array();
        for (const CatalogCheckRow& c : rows) {
          if (which == 2 && c.service_name != arg) continue;
          fill_check(doc, doc.add_object(doc.get(), ""), c, {});
        }
        json_answer(doc, out);
        return base::Status::ok();
    });
  };
  router.add_prefix("GET", "/v1/health/state/", [checks_route](http::Request& q, http::Responder r) { checks_route(q, std::move(r), 0); });
  router.add_prefix("GET", "/v1/health/node/", [checks_route](http::Request& q, http::Responder r) { checks_route(q, std::move(r), 1); });
  router.add_prefix("GET", "/v1/health/checks/", [checks_route](http::Request& q, http::Responder r) { checks_route(q, std::move(r), 2); });
}

}  // namespace catalog
