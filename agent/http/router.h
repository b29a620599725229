// Routes requests to handlers by method and path: exact routes, then the longest matching
// prefix route; 404 when no route's path matches, 405 with an Allow field when a path matches
// but not for this method.
//
// Matching uses the decoded path (Request::path). An exact route "/v1/agent/self" matches only
// that path; a prefix route "/v1/kv/" matches every path that starts with it, and its handler
// reads the rest with Request::path_rest(). If any exact route has the path, prefix routes are
// not consulted. HEAD is served by a GET route when no HEAD route is registered (the server
// omits the body). Registering the same method and pattern twice is a programming error
// (asserts): routes are wired once at start-up from code.
//
// Threading: build it before the Server starts; after that it is read-only and used on the
// loop thread. Not here: path parameters or patterns, middleware, ACL checks (handlers do them).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "agent/http/server.h"

namespace http {

class Router {
 public:
  // `method` is a token such as "GET"; `path` must start with '/'.
  void add(std::string_view method, std::string_view path, Handler handler);
  void add_prefix(std::string_view method, std::string_view prefix, Handler handler);

  // Finds the route and calls its handler, or answers 404/405 through `responder`.
  void dispatch(Request& request, Responder responder) const;
  // A Handler for Server that dispatches through this router (which must outlive the Server).
  Handler handler() const;

  size_t routes() const;

 private:
  struct Route {
    std::string method;
    Handler handler;
  };
  using Routes = std::vector<Route>;
  void add_to(std::map<std::string, Routes, std::less<>>* table, std::string_view method,
              std::string_view pattern, Handler handler);
  // Picks the handler for `method` among `routes`, or answers 405.
  void pick(const Routes& routes, Request& request, Responder responder) const;

  std::map<std::string, Routes, std::less<>> exact_;
  std::map<std::string, Routes, std::less<>> prefix_;
};

}  // namespace http
