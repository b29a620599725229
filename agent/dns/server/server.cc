// See server.h.
#include "agent/dns/server/server.h"

#include <algorithm>
#include <utility>

#include "agent/dns/writer.h"

namespace dns {

namespace {
constexpr size_t kDatagramBytesMax = 4096;  // a query is one question and an OPT record
}  // namespace

Server::Server(runtime::Loop& loop, hal::Net& net, ServerOptions options, ViewFn view)
    : loop_(loop), net_(net), options_(std::move(options)), view_(std::move(view)), seed_(options_.seed) {
  in_.resize(kDatagramBytesMax);
  out_.resize(std::max<size_t>(512, options_.responder.udp_answer_max));
}

Server::~Server() { stop(); }

base::Status Server::start() {
  AGENT_ASSIGN_OR_RETURN(hal::Handle h, net_.udp_open(options_.bind));
  base::Status s = loop_.watch(h, hal::kReadable, [this](uint8_t) { on_readable(); });
  if (!s.is_ok()) {
    net_.close(h);
    return s;
  }
  udp_ = h;
  return base::Status::ok();
}

void Server::stop() {
  if (udp_ == hal::kInvalidHandle) return;
  loop_.unwatch(udp_);
  net_.close(udp_);
  udp_ = hal::kInvalidHandle;
}

base::Result<hal::SockAddr> Server::local_addr() const {
  if (udp_ == hal::kInvalidHandle) return base::error(base::Code::kFailedPrecondition, "dns: not started");
  return net_.local_addr(udp_);
}

size_t Server::answer(std::span<const uint8_t> query, bool over_tcp, std::span<uint8_t> out) {
  Query q;
  const DecodeError e = decode_query(query, &q);
  switch (e) {
    case DecodeError::kNone:
      break;
    case DecodeError::kShortHeader:
      ++counters_.dropped_short;
      return 0;
    case DecodeError::kNotQuery:
      ++counters_.dropped_response;
      return 0;
    default:
      ++counters_.formerr;
      return error_response(q.header, kRcodeFormErr, out);
  }
  const Result r = respond(q, view_(), options_.responder, ++seed_, over_tcp, out);
  if (r.outcome == Outcome::kAnswered) {
    ++counters_.answered;
    return r.size;
  }
  // Not ours and no upstream: REFUSED, with the question so the client can match it.
  ++counters_.refused;
  MessageWriter w(out, 512);
  const uint16_t flags = static_cast<uint16_t>(kFlagQr | (q.header.flags & (0x7800 | kFlagRd)) | kRcodeRefused);
  if (!w.header(q.header.id, flags)) return 0;
  (void)w.question(q.qname, q.qtype, q.qclass);
  return w.finish();
}

void Server::on_readable() {
  for (size_t i = 0; i < options_.datagrams_per_pass; ++i) {
    hal::SockAddr from;
    base::Result<size_t> n = net_.udp_recv(udp_, in_, &from);
    if (!n.is_ok()) {
      if (n.status().code() == base::Code::kResourceExhausted) {
        ++counters_.dropped_oversize;
        continue;
      }
      return;  // kUnavailable: nothing more queued (other errors: the next event retries)
    }
    ++counters_.received;
    const size_t size = answer(std::span<const uint8_t>(in_.data(), *n), false, out_);
    if (size == 0) continue;
    if (!net_.udp_send(udp_, from, base::ByteSpan(out_.data(), size)).is_ok()) ++counters_.send_failed;
  }
}

}  // namespace dns
