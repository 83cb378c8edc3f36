// TaskGroup: the background coroutines of one owner (the certificate manager's schedule loop,
// issuances, ARI poll), each with its own cancellation signal, so that the owner can stop them all
// and await their end before anything they use is destroyed. Replaces co_spawn(..., detached) with
// liveness flags: a task is never orphaned, an exception escaping a task is logged with its name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/logger.h>

namespace portcullis::base {

// Every member is called on the group's executor's thread (one io_context run by one thread, the
// control thread); none blocks. Not thread-safe.
//
// Cancellation reaches a task as Asio per-operation cancellation (terminal): the operation it is
// suspended on (a timer, a socket read) completes with operation_aborted, and
// `co_await asio::this_coro::cancellation_state` reports it cancelled. Asio's default stays on
// (throw_if_cancelled): a task that awaits again after its cancellation gets a system_error
// (operation_aborted) thrown, which the group records as a stop, not a failure. A task should
// take the first aborted operation as "stop", release what it holds and return.
//
// Lifetime: destroy the group only after wait() has completed, or when its executor will never
// run again (frames the io_context destroys unrun never call back into the group).
class TaskGroup {
 public:
  using TaskId = std::uint64_t;

  // `log` receives "task failed" (error) and "task stopped" (debug) lines; it names the owner.
  TaskGroup(boost::asio::any_io_executor executor, std::shared_ptr<spdlog::logger> log);
  ~TaskGroup();
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

  // Starts `task` on the executor (it first runs once the caller returns to the event loop),
  // bound to a cancellation signal of its own. `name` appears in the log lines about the task
  // ("issue app", "ari"). Returns the task's id, or nullopt after stop(): the task is then
  // destroyed unrun (a shutting-down owner starts nothing new).
  std::optional<TaskId> spawn(std::string name, boost::asio::awaitable<void> task);

  // Emits terminal cancellation to one live task; nothing if it has already finished.
  void cancel(TaskId id);

  // Emits terminal cancellation to every live task and refuses later spawns. Returns at once;
  // await wait() for the tasks to end. Idempotent.
  void stop();

  // Completes once no task is left (at once when there is none). Several may wait. Cancelling the
  // waiter (a deadline around it) ends the wait early; the tasks keep running.
  boost::asio::awaitable<void> wait();

  // Tasks holding a slot: spawned, and not yet finished (a finished task frees its slot right
  // after its last step).
  std::size_t size() const noexcept { return tasks_.size(); }
  bool stopped() const noexcept { return stopped_; }

 private:
  struct Task {
    explicit Task(std::string n) : name(std::move(n)) {}
    std::string name;
    boost::asio::cancellation_signal signal;
    bool cancelled = false;
    bool finished = false;  // its completion ran; the entry is erased by a posted step
  };
  boost::asio::awaitable<void> run(TaskId id, boost::asio::awaitable<void> task);
  void on_finished(TaskId id, std::exception_ptr error);
  void erase(TaskId id);

  boost::asio::any_io_executor executor_;
  std::shared_ptr<spdlog::logger> log_;
  // unique_ptr: a cancellation_signal cannot move, and the task's bound slot points into it.
  std::map<TaskId, std::unique_ptr<Task>> tasks_;
  TaskId next_id_ = 1;
  bool stopped_ = false;
  // Never expires: wait() suspends on it and erase() cancels it when the last task is gone.
  boost::asio::steady_timer idle_;
};

}  // namespace portcullis::base
