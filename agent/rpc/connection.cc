// rpc::Connection: TLS session + frame decoder + call table; see connection.h for the contract.
#include "agent/rpc/connection.h"

#include <utility>

#include "agent/base/assert.h"

namespace rpc {

using wire::RpcFrame;
using wire::RpcFrameType;

Connection::Connection(hal::tls::Session session, ConnectionLimits limits, bool is_client)
    : session_(std::move(session)),
      limits_(limits),
      is_client_(is_client),
      decoder_(limits.body_bytes_max) {
  AGENT_ASSERT(limits.calls_in_flight_max > 0);
}

Connection Connection::client(hal::tls::Session session, ConnectionLimits limits) {
  return Connection(std::move(session), limits, true);
}

Connection Connection::server(hal::tls::Session session, ConnectionLimits limits) {
  return Connection(std::move(session), limits, false);
}

base::Status Connection::fatal(base::Status s) {
  if (error_.is_ok()) error_ = s;
  in_flight_.clear();
  return error_;
}

base::Status Connection::send(const RpcFrame& f) {
  if (!error_.is_ok()) return error_;
  if (!session_.handshake_done()) return base::Status(base::Code::kFailedPrecondition, "TLS handshake not done");
  return wire::append_rpc_frame(f, limits_.body_bytes_max, &plain_out_);
}

std::string Connection::take_output() {
  if (!plain_out_.empty() && error_.is_ok()) {
    base::Status s = session_.write_plaintext(base::as_bytes(plain_out_));
    // Keep the buffer for the next pass unless a large body (a snapshot chunk) grew it.
    constexpr size_t kKeepBytes = 64 * 1024;
    if (plain_out_.capacity() > kKeepBytes) {
      std::string().swap(plain_out_);
    } else {
      plain_out_.clear();
    }
    if (!s.is_ok()) (void)fatal(s);
  }
  return session_.take_ciphertext();
}

base::Status Connection::on_ciphertext(base::ByteSpan bytes, std::vector<Event>* events) {
  if (!error_.is_ok()) return error_;
  base::Status s = session_.on_ciphertext(bytes);
  if (!s.is_ok()) return fatal(s);
  const std::string plain = session_.take_plaintext();
  base::ByteSpan in = base::as_bytes(plain);
  // Bounded: every pass consumes input or completes a frame, which is taken.
  while (!in.empty()) {
    base::Result<size_t> used = decoder_.feed(in);
    if (!used.is_ok()) return fatal(used.status());
    in = in.subspan(used.value());
    if (!decoder_.has_frame()) break;
    AGENT_TRY(handle(decoder_.take_frame(), events));
  }
  return base::Status::ok();
}

base::Status Connection::handle(RpcFrame f, std::vector<Event>* events) {
  using base::Code;
  const auto wrong_direction = [&] {
    return fatal(base::error(Code::kInvalidArgument, "rpc: %s frame sent to a %s",
                             std::string(wire::rpc_frame_type_name(f.type)).c_str(),
                             is_client_ ? "client" : "server"));
  };
  Event e;
  e.call_id = f.call_id;
  switch (f.type) {
    case RpcFrameType::kRequest:
      if (is_client_) return wrong_direction();
      if (in_flight_.count(f.call_id) != 0) {
        return fatal(base::error(Code::kInvalidArgument, "rpc: call id %u reused while in flight",
                                 f.call_id));
      }
      if (in_flight_.size() >= limits_.calls_in_flight_max) {
        // Refuse the call, keep the connection: the client may retry once others finish.
        RpcFrame refuse{.type = RpcFrameType::kError, .flags = 0, .call_id = f.call_id,
                        .method = "",
                        .body = wire::encode_rpc_error_body(base::error(
                            Code::kResourceExhausted, "too many calls in flight (%zu)",
                            limits_.calls_in_flight_max))};
        return send(refuse);
      }
      in_flight_.insert(f.call_id);
      e.kind = Event::Kind::kRequest;
      e.method = std::move(f.method);
      e.body = std::move(f.body);
      break;
    case RpcFrameType::kCancel:
      if (is_client_) return wrong_direction();
      // The server's application sees it and may stop work; the call stays open until it is
      // answered (the client drops the answer), so the call id is not reused under it.
      if (in_flight_.count(f.call_id) == 0) {
        ++stale_frames_;
        return base::Status::ok();
      }
      e.kind = Event::Kind::kCancel;
      break;
    case RpcFrameType::kResponse:
    case RpcFrameType::kError:
      if (!is_client_) return wrong_direction();
      if (in_flight_.count(f.call_id) == 0) {
        ++stale_frames_;  // cancelled or already finished
        return base::Status::ok();
      }
      if (f.type == RpcFrameType::kResponse) {
        e.kind = Event::Kind::kResponse;
        e.more = (f.flags & wire::kRpcFlagMore) != 0;
        e.body = std::move(f.body);
        if (!e.more) in_flight_.erase(f.call_id);
      } else {
        e.kind = Event::Kind::kError;
        e.error = wire::decode_rpc_error_body(f.body);
        in_flight_.erase(f.call_id);
      }
      break;
  }
  events->push_back(std::move(e));
  return base::Status::ok();
}

base::Result<uint32_t> Connection::call(std::string_view method, base::ByteSpan body) {
  using base::Code;
  if (!error_.is_ok()) return error_;
  if (!is_client_) return base::Status(Code::kFailedPrecondition, "rpc: call on a server connection");
  if (!session_.handshake_done()) {
    return base::Status(Code::kFailedPrecondition, "rpc: TLS handshake not done");
  }
  if (in_flight_.size() >= limits_.calls_in_flight_max) {
    return base::error(Code::kResourceExhausted, "rpc: %zu calls in flight",
                       limits_.calls_in_flight_max);
  }
  // Next id that is non-zero and not in flight; bounded because fewer than 2^32 - 1 are in flight.
  while (next_call_id_ == 0 || in_flight_.count(next_call_id_) != 0) ++next_call_id_;
  const uint32_t id = next_call_id_++;
  RpcFrame f{.type = RpcFrameType::kRequest, .flags = 0, .call_id = id,
             .method = std::string(method), .body = std::string(base::as_chars(body))};
  AGENT_TRY(send(f));
  in_flight_.insert(id);
  return id;
}

base::Status Connection::cancel(uint32_t call_id) {
  if (!error_.is_ok()) return error_;
  if (!is_client_ || in_flight_.erase(call_id) == 0) return base::Status::ok();
  return send(RpcFrame{.type = RpcFrameType::kCancel, .flags = 0, .call_id = call_id,
                       .method = "", .body = ""});
}

base::Status Connection::respond(uint32_t call_id, base::ByteSpan body, bool more) {
  if (!error_.is_ok()) return error_;
  if (is_client_ || in_flight_.count(call_id) == 0) {
    return base::error(base::Code::kNotFound, "rpc: call %u not in flight", call_id);
  }
  AGENT_TRY(send(RpcFrame{.type = RpcFrameType::kResponse,
                          .flags = more ? wire::kRpcFlagMore : uint8_t{0}, .call_id = call_id,
                          .method = "", .body = std::string(base::as_chars(body))}));
  if (!more) in_flight_.erase(call_id);
  return base::Status::ok();
}

base::Status Connection::fail(uint32_t call_id, const base::Status& error) {
  AGENT_ASSERT(!error.is_ok());
  if (!error_.is_ok()) return error_;
  if (is_client_ || in_flight_.count(call_id) == 0) {
    return base::error(base::Code::kNotFound, "rpc: call %u not in flight", call_id);
  }
  AGENT_TRY(send(RpcFrame{.type = RpcFrameType::kError, .flags = 0, .call_id = call_id,
                          .method = "", .body = wire::encode_rpc_error_body(error)}));
  in_flight_.erase(call_id);
  return base::Status::ok();
}

}  // namespace rpc
