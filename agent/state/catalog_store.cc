// state::Store's service catalog (schema version 3): applying wire/catalog_command.h's commands
// and the catalog reads. See store.h for the tables.
#include <sqlite3.h>

#include <algorithm>
#include <map>
#include <set>

#include "agent/base/assert.h"
#include "agent/sql/sql.h"
#include "agent/state/store.h"

namespace state {

namespace {

using base::Code;
using base::Status;
using sql::from_sql;
using sql::step_done;
using sql::to_sql;

void bind(sqlite3_stmt* st, int i, std::string_view s) {
  sqlite3_bind_text64(st, i, s.data(), s.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
}
void bind_blob(sqlite3_stmt* st, int i, std::string_view s) {
  sqlite3_bind_blob64(st, i, s.data(), s.size(), SQLITE_TRANSIENT);
}
std::string text(sqlite3_stmt* st, int i) {
  const void* p = sqlite3_column_blob(st, i);
  int n = sqlite3_column_bytes(st, i);
  return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), static_cast<size_t>(n));
}
uint64_t u64(sqlite3_stmt* st, int i) { return from_sql(sqlite3_column_int64(st, i)); }

const char* index_key(CatalogTable t) {
  switch (t) {
    case CatalogTable::kNodes: return "catalog_nodes_index";
    case CatalogTable::kServices: return "catalog_services_index";
    case CatalogTable::kChecks: break;
  }
  return "catalog_checks_index";
}

// Runs `st` (bound), calling `row` for each result row; resets it.
template <typename F>
Status each_row(sqlite3* db, sqlite3_stmt* st, const char* what, F row) {
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) row(st);
  Status s = rc == SQLITE_DONE ? Status::ok() : sql::error(db, rc, what);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return s;
}

constexpr const char* kSelectNode =
    "SELECT name, id, address, datacenter, meta, create_index, modify_index FROM catalog_nodes WHERE name = ?1";
constexpr const char* kSelectNodes =
    "SELECT name, id, address, datacenter, meta, create_index, modify_index FROM catalog_nodes ORDER BY name";
constexpr const char* kUpsertNode =
    "INSERT OR REPLACE INTO catalog_nodes(name, id, address, datacenter, meta, create_index, modify_index) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
constexpr const char* kDeleteNode = "DELETE FROM catalog_nodes WHERE name = ?1";
constexpr const char* kSelectServicesOfNode =
    "SELECT node, id, name, tags, address, port, meta, create_index, modify_index FROM catalog_services "
    "WHERE node = ?1 ORDER BY id";
constexpr const char* kSelectServicesByName =
    "SELECT node, id, name, tags, address, port, meta, create_index, modify_index FROM catalog_services "
    "WHERE name = ?1 ORDER BY node, id";
constexpr const char* kSelectServiceTags = "SELECT name, tags FROM catalog_services ORDER BY name";
constexpr const char* kUpsertService =
    "INSERT OR REPLACE INTO catalog_services(node, id, name, tags, address, port, meta, create_index, modify_index) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
constexpr const char* kDeleteService = "DELETE FROM catalog_services WHERE node = ?1 AND id = ?2";
constexpr const char* kDeleteServicesOfNode = "DELETE FROM catalog_services WHERE node = ?1";
constexpr const char* kSelectChecksOfNode =
    "SELECT node, id, name, status, notes, output, service_id, service_name, type, create_index, modify_index "
    "FROM catalog_checks WHERE node = ?1 ORDER BY id";
constexpr const char* kSelectChecksAll =
    "SELECT node, id, name, status, notes, output, service_id, service_name, type, create_index, modify_index "
    "FROM catalog_checks ORDER BY node, id";
constexpr const char* kSelectChecksInState =
    "SELECT node, id, name, status, notes, output, service_id, service_name, type, create_index, modify_index "
    "FROM catalog_checks WHERE status = ?1 ORDER BY node, id";
constexpr const char* kUpsertCheck =
    "INSERT OR REPLACE INTO catalog_checks(node, id, name, status, notes, output, service_id, service_name, type, "
    "create_index, modify_index) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
constexpr const char* kDeleteCheck = "DELETE FROM catalog_checks WHERE node = ?1 AND id = ?2";
constexpr const char* kDeleteChecksOfNode = "DELETE FROM catalog_checks WHERE node = ?1";
constexpr const char* kSelectIndex = "SELECT value FROM meta WHERE key = ?1";
constexpr const char* kSetIndex = "UPDATE meta SET value = ?2 WHERE key = ?1";

CatalogNodeRow read_node(sqlite3_stmt* st) {
  CatalogNodeRow n;
  n.name = text(st, 0);
  n.id = text(st, 1);
  n.address = text(st, 2);
  n.datacenter = text(st, 3);
  wire::decode_meta(text(st, 4), &n.meta);
  n.create_index = u64(st, 5);
  n.modify_index = u64(st, 6);
  return n;
}

CatalogServiceRow read_service(sqlite3_stmt* st) {
  CatalogServiceRow r;
  r.node = text(st, 0);
  r.service.id = text(st, 1);
  r.service.name = text(st, 2);
  wire::decode_string_list(text(st, 3), &r.service.tags);
  r.service.address = text(st, 4);
  r.service.port = static_cast<uint16_t>(sqlite3_column_int(st, 5));
  wire::decode_meta(text(st, 6), &r.service.meta);
  r.create_index = u64(st, 7);
  r.modify_index = u64(st, 8);
  return r;
}

CatalogCheckRow read_check(sqlite3_stmt* st) {
  CatalogCheckRow r;
  r.node = text(st, 0);
  r.check.id = text(st, 1);
  r.check.name = text(st, 2);
  int status = sqlite3_column_int(st, 3);
  r.check.status = status >= 0 && status <= 2 ? static_cast<wire::CheckHealth>(status) : wire::CheckHealth::kCritical;
  r.check.notes = text(st, 4);
  r.check.output = text(st, 5);
  r.check.service_id = text(st, 6);
  r.service_name = text(st, 7);
  r.check.type = text(st, 8);
  r.create_index = u64(st, 9);
  r.modify_index = u64(st, 10);
  return r;
}

}  // namespace

sqlite3_stmt* Store::cached(const char* sql_text) const {
  for (auto& [k, st] : cached_) {
    if (k == sql_text) return st;
  }
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql_text, -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr);
  // The statements are this file's constants over a schema open() checked: failing to prepare one
  // is a bug or a broken file, as for the statements prepare_all() makes.
  AGENT_ASSERT_MSG(rc == SQLITE_OK, sqlite3_errmsg(db_));
  cached_.emplace_back(sql_text, st);
  return st;
}

Status Store::bump_index(CatalogTable table, uint64_t index) {
  sqlite3_stmt* st = cached(kSetIndex);
  bind(st, 1, index_key(table));
  sqlite3_bind_int64(st, 2, to_sql(index));
  return step_done(db_, st, "set catalog index");
}

Status Store::apply_catalog(uint64_t index, std::string_view bytes, ApplyResult* result) {
  switch (wire::catalog_command_type(bytes)) {
    case wire::kCatalogSyncNodeType: {
      auto n = wire::decode_catalog_sync(bytes);
      if (!n.is_ok()) {
        result->status = n.status();
        return Status::ok();
      }
      result->value = true;
      return catalog_sync(index, *n);
    }
    case wire::kCatalogDeregisterNodeType: {
      auto node = wire::decode_catalog_deregister(bytes);
      if (!node.is_ok()) {
        result->status = node.status();
        return Status::ok();
      }
      result->value = true;
      return catalog_deregister(index, *node);
    }
    case wire::kCatalogNodeHealthType: {
      auto h = wire::decode_catalog_node_health(bytes);
      if (!h.is_ok()) {
        result->status = h.status();
        return Status::ok();
      }
      result->value = true;
      return catalog_node_health(index, *h);
    }
    default: break;
  }
  result->status = base::error(Code::kInvalidArgument, "catalog command: unknown type");
  return Status::ok();
}

Status Store::catalog_sync(uint64_t index, const wire::CatalogNode& n) {
  AGENT_ASSIGN_OR_RETURN(std::optional<CatalogNodeRow> old, catalog_node(n.node));
  const std::string meta = wire::encode_meta(n.meta);
  if (!old || old->id != n.id || old->address != n.address || old->datacenter != n.datacenter || old->meta != n.meta) {
    sqlite3_stmt* st = cached(kUpsertNode);
    bind(st, 1, n.node);
    bind(st, 2, n.id);
    bind(st, 3, n.address);
    bind(st, 4, n.datacenter);
    bind_blob(st, 5, meta);
    sqlite3_bind_int64(st, 6, to_sql(old ? old->create_index : index));
    sqlite3_bind_int64(st, 7, to_sql(index));
    AGENT_TRY(step_done(db_, st, "write catalog node"));
    AGENT_TRY(bump_index(CatalogTable::kNodes, index));
  }

  // Services: exactly the node's set; a row is rewritten only when it differs.
  AGENT_ASSIGN_OR_RETURN(std::vector<CatalogServiceRow> had, catalog_services_of_node(n.node));
  std::map<std::string, const CatalogServiceRow*> had_by_id;
  for (const auto& r : had) had_by_id.emplace(r.service.id, &r);
  std::map<std::string, std::string> name_of;  // service id -> name, for the checks
  bool services_changed = false;
  for (const wire::CatalogService& s : n.services) {
    name_of.emplace(s.id, s.name);
    auto it = had_by_id.find(s.id);
    const CatalogServiceRow* prev = it == had_by_id.end() ? nullptr : it->second;
    if (prev != nullptr) had_by_id.erase(it);
    if (prev != nullptr && prev->service == s) continue;
    sqlite3_stmt* st = cached(kUpsertService);
    bind(st, 1, n.node);
    bind(st, 2, s.id);
    bind(st, 3, s.name);
    bind_blob(st, 4, wire::encode_string_list(s.tags));
    bind(st, 5, s.address);
    sqlite3_bind_int(st, 6, s.port);
    bind_blob(st, 7, wire::encode_meta(s.meta));
    sqlite3_bind_int64(st, 8, to_sql(prev != nullptr ? prev->create_index : index));
    sqlite3_bind_int64(st, 9, to_sql(index));
    AGENT_TRY(step_done(db_, st, "write catalog service"));
    services_changed = true;
  }
  for (const auto& [id, row] : had_by_id) {
    sqlite3_stmt* st = cached(kDeleteService);
    bind(st, 1, n.node);
    bind(st, 2, id);
    AGENT_TRY(step_done(db_, st, "delete catalog service"));
    services_changed = true;
  }
  if (services_changed) AGENT_TRY(bump_index(CatalogTable::kServices, index));

  // Checks: likewise, except the node's serfHealth, which gossip (catalog_node_health) owns; a
  // node that syncs is alive, so it gets one (passing) if it has none.
  AGENT_ASSIGN_OR_RETURN(std::vector<CatalogCheckRow> had_checks, catalog_checks_of_node(n.node));
  std::map<std::string, const CatalogCheckRow*> had_check_by_id;
  for (const auto& r : had_checks) had_check_by_id.emplace(r.check.id, &r);
  bool checks_changed = false;
  auto write_check = [&](const wire::CatalogCheck& c, const std::string& service_name, const CatalogCheckRow* prev) -> Status {
    sqlite3_stmt* st = cached(kUpsertCheck);
    bind(st, 1, n.node);
    bind(st, 2, c.id);
    bind(st, 3, c.name);
    sqlite3_bind_int(st, 4, static_cast<int>(c.status));
    bind(st, 5, c.notes);
    bind(st, 6, c.output);
    bind(st, 7, c.service_id);
    bind(st, 8, service_name);
    bind(st, 9, c.type);
    sqlite3_bind_int64(st, 10, to_sql(prev != nullptr ? prev->create_index : index));
    sqlite3_bind_int64(st, 11, to_sql(index));
    checks_changed = true;
    return step_done(db_, st, "write catalog check");
  };
  auto serf = had_check_by_id.find(kSerfHealthCheckId);
  if (serf == had_check_by_id.end()) {
    wire::CatalogCheck c{kSerfHealthCheckId, "Serf Health Status", wire::CheckHealth::kPassing, "", "Agent alive and reachable", "", "serf"};
    AGENT_TRY(write_check(c, "", nullptr));
  } else {
    had_check_by_id.erase(serf);
  }
  for (const wire::CatalogCheck& c : n.checks) {
    if (c.id == kSerfHealthCheckId) continue;
    const std::string service_name = c.service_id.empty() ? std::string() : name_of[c.service_id];
    auto it = had_check_by_id.find(c.id);
    const CatalogCheckRow* prev = it == had_check_by_id.end() ? nullptr : it->second;
    if (prev != nullptr) had_check_by_id.erase(it);
    if (prev != nullptr && prev->check == c && prev->service_name == service_name) continue;
    AGENT_TRY(write_check(c, service_name, prev));
  }
  for (const auto& [id, row] : had_check_by_id) {
    sqlite3_stmt* st = cached(kDeleteCheck);
    bind(st, 1, n.node);
    bind(st, 2, id);
    AGENT_TRY(step_done(db_, st, "delete catalog check"));
    checks_changed = true;
  }
  if (checks_changed) AGENT_TRY(bump_index(CatalogTable::kChecks, index));
  return Status::ok();
}

Status Store::catalog_deregister(uint64_t index, std::string_view node) {
  const struct {
    const char* sql;
    CatalogTable table;
  } steps[] = {{kDeleteChecksOfNode, CatalogTable::kChecks},
               {kDeleteServicesOfNode, CatalogTable::kServices},
               {kDeleteNode, CatalogTable::kNodes}};
  for (const auto& s : steps) {
    sqlite3_stmt* st = cached(s.sql);
    bind(st, 1, node);
    AGENT_TRY(step_done(db_, st, "deregister catalog node"));
    if (sqlite3_changes(db_) != 0) AGENT_TRY(bump_index(s.table, index));
  }
  return Status::ok();
}

Status Store::catalog_node_health(uint64_t index, const wire::CatalogNodeHealth& h) {
  AGENT_ASSIGN_OR_RETURN(std::optional<CatalogNodeRow> node, catalog_node(h.node));
  if (!node) return Status::ok();
  AGENT_ASSIGN_OR_RETURN(std::vector<CatalogCheckRow> checks, catalog_checks_of_node(h.node));
  const CatalogCheckRow* prev = nullptr;
  for (const auto& c : checks) {
    if (c.check.id == kSerfHealthCheckId) prev = &c;
  }
  if (prev != nullptr && prev->check.status == h.status && prev->check.output == h.output) return Status::ok();
  sqlite3_stmt* st = cached(kUpsertCheck);
  bind(st, 1, h.node);
  bind(st, 2, kSerfHealthCheckId);
  bind(st, 3, "Serf Health Status");
  sqlite3_bind_int(st, 4, static_cast<int>(h.status));
  bind(st, 5, "");
  bind(st, 6, h.output);
  bind(st, 7, "");
  bind(st, 8, "");
  bind(st, 9, "serf");
  sqlite3_bind_int64(st, 10, to_sql(prev != nullptr ? prev->create_index : index));
  sqlite3_bind_int64(st, 11, to_sql(index));
  AGENT_TRY(step_done(db_, st, "write serfHealth"));
  return bump_index(CatalogTable::kChecks, index);
}

// --- reads ----------------------------------------------------------------------------------------

base::Result<bool> Store::catalog_holds(const wire::CatalogNode& n) const {
  AGENT_ASSIGN_OR_RETURN(std::optional<CatalogNodeRow> node, catalog_node(n.node));
  if (!node || node->id != n.id || node->address != n.address || node->datacenter != n.datacenter || node->meta != n.meta) {
    return false;
  }
  AGENT_ASSIGN_OR_RETURN(std::vector<CatalogServiceRow> services, catalog_services_of_node(n.node));
  if (services.size() != n.services.size()) return false;
  std::map<std::string, const wire::CatalogService*> want;
  for (const auto& sv : n.services) want.emplace(sv.id, &sv);
  for (const auto& r : services) {
    auto it = want.find(r.service.id);
    if (it == want.end() || !(*it->second == r.service)) return false;
  }
  AGENT_ASSIGN_OR_RETURN(std::vector<CatalogCheckRow> checks, catalog_checks_of_node(n.node));
  std::map<std::string, const wire::CatalogCheck*> want_checks;
  for (const auto& c : n.checks) {
    if (c.id != kSerfHealthCheckId) want_checks.emplace(c.id, &c);
  }
  size_t seen = 0;
  bool serf = false;
  for (const auto& r : checks) {
    if (r.check.id == kSerfHealthCheckId) {
      serf = true;
      continue;
    }
    auto it = want_checks.find(r.check.id);
    if (it == want_checks.end() || !(*it->second == r.check)) return false;
    const std::string& sid = r.check.service_id;
    if (!sid.empty() && (want.count(sid) == 0 || want.at(sid)->name != r.service_name)) return false;
    ++seen;
  }
  return serf && seen == want_checks.size();
}

base::Result<uint64_t> Store::catalog_index(CatalogTable table) const {
  sqlite3_stmt* st = cached(kSelectIndex);
  bind(st, 1, index_key(table));
  uint64_t v = 0;
  AGENT_TRY(each_row(db_, st, "catalog index", [&](sqlite3_stmt* s) { v = u64(s, 0); }));
  return v;
}

base::Result<std::vector<CatalogNodeRow>> Store::catalog_nodes() const {
  std::vector<CatalogNodeRow> out;
  AGENT_TRY(each_row(db_, cached(kSelectNodes), "catalog nodes", [&](sqlite3_stmt* s) { out.push_back(read_node(s)); }));
  return out;
}

base::Result<std::optional<CatalogNodeRow>> Store::catalog_node(std::string_view name) const {
  sqlite3_stmt* st = cached(kSelectNode);
  bind(st, 1, name);
  std::optional<CatalogNodeRow> out;
  AGENT_TRY(each_row(db_, st, "catalog node", [&](sqlite3_stmt* s) { out = read_node(s); }));
  return out;
}

base::Result<std::vector<CatalogServiceRow>> Store::catalog_services_of_node(std::string_view node) const {
  sqlite3_stmt* st = cached(kSelectServicesOfNode);
  bind(st, 1, node);
  std::vector<CatalogServiceRow> out;
  AGENT_TRY(each_row(db_, st, "catalog services", [&](sqlite3_stmt* s) { out.push_back(read_service(s)); }));
  return out;
}

base::Result<std::vector<CatalogServiceRow>> Store::catalog_service_instances(std::string_view name) const {
  sqlite3_stmt* st = cached(kSelectServicesByName);
  bind(st, 1, name);
  std::vector<CatalogServiceRow> out;
  AGENT_TRY(each_row(db_, st, "catalog service", [&](sqlite3_stmt* s) { out.push_back(read_service(s)); }));
  return out;
}

base::Result<std::vector<std::pair<std::string, std::vector<std::string>>>> Store::catalog_service_names() const {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  std::set<std::string> tags;
  auto flush = [&] {
    if (!out.empty()) out.back().second.assign(tags.begin(), tags.end());
    tags.clear();
  };
  AGENT_TRY(each_row(db_, cached(kSelectServiceTags), "catalog service names", [&](sqlite3_stmt* s) {
    std::string name = text(s, 0);
    if (out.empty() || out.back().first != name) {
      flush();
      out.emplace_back(std::move(name), std::vector<std::string>{});
    }
    std::vector<std::string> t;
    wire::decode_string_list(text(s, 1), &t);
    tags.insert(t.begin(), t.end());
  }));
  flush();
  return out;
}

base::Result<std::vector<CatalogCheckRow>> Store::catalog_checks_of_node(std::string_view node) const {
  sqlite3_stmt* st = cached(kSelectChecksOfNode);
  bind(st, 1, node);
  std::vector<CatalogCheckRow> out;
  AGENT_TRY(each_row(db_, st, "catalog checks", [&](sqlite3_stmt* s) { out.push_back(read_check(s)); }));
  return out;
}

base::Result<std::vector<CatalogCheckRow>> Store::catalog_checks(std::optional<wire::CheckHealth> state) const {
  sqlite3_stmt* st = cached(state ? kSelectChecksInState : kSelectChecksAll);
  if (state) sqlite3_bind_int(st, 1, static_cast<int>(*state));
  std::vector<CatalogCheckRow> out;
  AGENT_TRY(each_row(db_, st, "catalog checks", [&](sqlite3_stmt* s) { out.push_back(read_check(s)); }));
  return out;
}

}  // namespace state
