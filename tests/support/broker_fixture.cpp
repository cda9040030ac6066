// Starting and stopping an in-process broker for tests.
#include "broker_fixture.hpp"

#include <spdlog/spdlog.h>

#include "bcast/proto/clock.hpp"

namespace bcast::test {

broker::options test_options() {
  broker::options opts;
  opts.in_endpoint = "tcp://127.0.0.1:*";
  opts.out_endpoint = "tcp://127.0.0.1:*";
  opts.heartbeat_ms = test_heartbeat_ms;
  return opts;
}

broker_fixture::broker_fixture(broker::options opts)
    : opts_(std::move(opts)), history_(opts_.history, opts_.history_bytes, proto::wall_ms()) {
  // Tests assert on answers, not logs; set BCAST_TEST_LOG=1 to see them.
  spdlog::set_level(std::getenv("BCAST_TEST_LOG") != nullptr ? spdlog::level::debug
                                                               : spdlog::level::off);
  broker_ = std::make_unique<broker::broker>(context_, opts_, history_);
  in_ = broker_->in_endpoint();
  out_ = broker_->out_endpoint();
  loop_ = std::thread([this] { broker_->run(); });
}

broker_fixture::~broker_fixture() { stop(); }

void broker_fixture::stop() {
  if (!loop_.joinable()) return;
  broker_->request_stop();
  loop_.join();
}

}  // namespace bcast::test
