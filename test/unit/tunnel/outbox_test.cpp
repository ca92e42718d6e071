// outbox: a waiter in control_written() returns only once the write under way is done, and only
// such a waiter gets the wake-up when a write completes (a plain writer does not need one).
#include "localproxy/tunnel/outbox.hpp"

#include <gtest/gtest.h>

#include "session_fixture.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

namespace asio = boost::asio;
namespace lp = localproxy::protocol;
using localproxy::tunnel::outbox;

namespace {
lp::message_fields a_reset() { return session_test::fields(lp::message_type::connection_reset, 1); }

// Runs `wait` on ioc; `done` is set once it returns.
void spawn(asio::io_context& ioc, asio::awaitable<void> wait, bool& done) {
  asio::co_spawn(ioc, std::move(wait), [&done](const std::exception_ptr&) { done = true; });
}

void run(asio::io_context& ioc) {
  ioc.restart();
  ioc.poll();
}

// A writer that counts how often it is resumed from writer_idle().
asio::awaitable<void> counting_writer(outbox& box, int& wakes) {
  for (;;) {
    co_await box.writer_idle();
    ++wakes;
  }
}

// Starts a counting_writer; it is waiting when this returns.
void spawn_counting_writer(asio::io_context& ioc, outbox& box, int& wakes) {
  asio::co_spawn(ioc, counting_writer(box, wakes), asio::detached);
  run(ioc);
}
}  // namespace

TEST(Outbox, ControlWrittenWaitsForTheWriteUnderWay) {
  asio::io_context ioc;
  outbox box(ioc.get_executor(), 131076, {});
  box.push_control(a_reset());
  std::vector<asio::const_buffer> buffers;
  ASSERT_GT(box.take(buffers), 0u);  // the reset is now in the write under way
  bool give_up = false;
  bool written = false;
  spawn(ioc, box.control_written(give_up), written);
  run(ioc);
  EXPECT_FALSE(written);
  box.sent();
  run(ioc);
  EXPECT_TRUE(written);
}

TEST(Outbox, ControlWrittenGivesUpWhenTold) {
  asio::io_context ioc;
  outbox box(ioc.get_executor(), 131076, {});
  box.push_control(a_reset());
  bool give_up = false;
  bool returned = false;
  spawn(ioc, box.control_written(give_up), returned);
  run(ioc);
  EXPECT_FALSE(returned);
  give_up = true;
  box.wake_all();
  run(ioc);
  EXPECT_TRUE(returned);
}

TEST(Outbox, AWriteDoneWakesNobodyUnlessControlWrittenWaits) {
  asio::io_context ioc;
  outbox box(ioc.get_executor(), 131076, {});
  box.push_control(a_reset());
  std::vector<asio::const_buffer> buffers;
  ASSERT_GT(box.take(buffers), 0u);
  bool woken = false;
  spawn(ioc, box.ready().wait(), woken);
  run(ioc);
  box.sent();
  run(ioc);
  EXPECT_FALSE(woken);
  box.ready().notify();  // the waiter is still there and wakes
  run(ioc);
  EXPECT_TRUE(woken);
}

// The reference destination reads no further in a message after a STREAM_START or a STREAM_RESET
// (see outbox.hpp): what follows either goes in the next message; other frames share one.
TEST(Outbox, AStreamStartOrResetEndsItsMessage) {
  asio::io_context ioc;
  outbox box(ioc.get_executor(), 131076, {});
  box.push_control(a_reset());
  box.push_control(session_test::fields(lp::message_type::stream_start, 2));
  box.push_control(a_reset());
  box.push_control(session_test::fields(lp::message_type::stream_reset, 2));
  box.push_control(session_test::fields(lp::message_type::connection_start, 3, "SSH", 2));
  box.push_control(a_reset());
  auto frames_in_next_message = [&] {
    std::vector<asio::const_buffer> buffers;
    const std::size_t size = box.take(buffers);
    std::vector<lp::message_type> types;
    lp::frame_decoder decoder;
    std::size_t at = 0;
    for (const auto& b : buffers) {
      const auto e = decoder.feed(std::span(static_cast<const std::uint8_t*>(b.data()), b.size()),
                                  [&](const lp::message_view& m) { types.push_back(m.type); });
      EXPECT_EQ(e, lp::decode_error::none);
      at += b.size();
    }
    EXPECT_EQ(at, size);
    EXPECT_FALSE(decoder.mid_frame());
    box.sent();
    return types;
  };
  using t = lp::message_type;
  EXPECT_EQ(frames_in_next_message(), (std::vector{t::connection_reset, t::stream_start}));
  EXPECT_EQ(frames_in_next_message(), (std::vector{t::connection_reset, t::stream_reset}));
  EXPECT_EQ(frames_in_next_message(), (std::vector{t::connection_start, t::connection_reset}));
  EXPECT_TRUE(box.empty());
}

// A data frame resumes the idle writer inside push_frame (the byte leaves in the turn it was read
// in); a control frame wakes it through the event loop, so what is pushed in the same turn joins it.
TEST(Outbox, ADataFrameResumesTheIdleWriterAtOnceAControlFrameThroughTheEventLoop) {
  asio::io_context ioc;
  outbox box(ioc.get_executor(), 131076, {});
  int wakes = 0;
  spawn_counting_writer(ioc, box, wakes);
  ASSERT_EQ(wakes, 0);

  localproxy::tunnel::frame_slot slot;
  box.push_frame(nullptr, slot);  // no connection: only the wake-up is under test
  EXPECT_EQ(wakes, 1);            // before the event loop ran again
  run(ioc);
  EXPECT_EQ(wakes, 1);  // the cancelled hold wakes nobody a second time

  box.push_control(a_reset());
  EXPECT_EQ(wakes, 1);
  run(ioc);
  EXPECT_EQ(wakes, 2);
}

// A client's first bytes come right after its CONNECTION_START, in the same turn: the data frame
// resumes the writer at once although the start already woke it through the event loop, and the
// writer is resumed once, not again by that wake-up.
TEST(Outbox, ADataFrameAfterAControlFrameInOneTurnResumesTheWriterAtOnce) {
  asio::io_context ioc;
  outbox box(ioc.get_executor(), 131076, {});
  int wakes = 0;
  spawn_counting_writer(ioc, box, wakes);

  box.push_control(a_reset());
  box.push_control(a_reset());
  EXPECT_EQ(wakes, 0);
  localproxy::tunnel::frame_slot slot;
  box.push_frame(nullptr, slot);
  EXPECT_EQ(wakes, 1);  // before the event loop ran again
  run(ioc);
  EXPECT_EQ(wakes, 1);  // the wake-up through the event loop found it resumed already
  box.push_frame(nullptr, slot);
  EXPECT_EQ(wakes, 2);  // and it waits again, to be resumed at once as before
}

// The idle writer's wait is an operation of the event loop: one that ends without waking it
// destroys the writer's frame. The session's writer holds the session, which owns the outbox:
// were the frame held by the outbox alone, the two would keep each other alive.
TEST(Outbox, AnIdleWriterNeverWokenIsDestroyedWithTheEventLoop) {
  std::weak_ptr<outbox> watch;
  {
    asio::io_context ioc;
    auto box = std::make_shared<outbox>(ioc.get_executor(), 131076, lp::frame_limits{});
    watch = box;
    auto writer = [](std::shared_ptr<outbox> owner) -> asio::awaitable<void> { co_await owner->writer_idle(); };
    asio::co_spawn(ioc, writer(std::move(box)), asio::detached);
    run(ioc);
    EXPECT_FALSE(watch.expired());  // only the writer holds it
  }
  EXPECT_TRUE(watch.expired());
}
