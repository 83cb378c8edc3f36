#include "base/task_group.hpp"

#include <exception>
#include <system_error>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

namespace portcullis::base {
namespace {

namespace asio = boost::asio;

// Why a task ended by an exception: operation_aborted after its cancellation is Asio's
// throw_if_cancelled, a stop; anything else is a failure.
struct Ending {
  bool stop = false;
  std::string what;
};

Ending describe(std::exception_ptr error, bool cancelled) {
  try {
    std::rethrow_exception(error);
  } catch (const boost::system::system_error& e) {
    return {cancelled && e.code() == asio::error::operation_aborted, e.what()};
  } catch (const std::exception& e) {
    return {false, e.what()};
  } catch (...) {
    return {false, "an exception of unknown type"};
  }
}

}  // namespace

TaskGroup::TaskGroup(asio::any_io_executor executor, std::shared_ptr<spdlog::logger> log)
    : executor_(executor), log_(std::move(log)), idle_(executor, asio::steady_timer::time_point::max()) {}

TaskGroup::~TaskGroup() {
  // A live task here still holds references into its owner; nothing safe is left to do but say so.
  if (!tasks_.empty()) log_->error("task group destroyed with tasks alive count={}", tasks_.size());
}

std::optional<TaskGroup::TaskId> TaskGroup::spawn(std::string name, asio::awaitable<void> task) {
  if (stopped_) {
    log_->debug("task not started name=\"{}\" reason=stopping", name);
    return std::nullopt;
  }
  const TaskId id = next_id_++;
  auto& entry = *tasks_.emplace(id, std::make_unique<Task>(std::move(name))).first->second;
  asio::co_spawn(executor_, run(id, std::move(task)),
                 asio::bind_cancellation_slot(entry.signal.slot(),
                                              [this, id](std::exception_ptr error) { on_finished(id, error); }));
  return id;
}

asio::awaitable<void> TaskGroup::run(TaskId id, asio::awaitable<void> task) {
  // Cancelled before its first step (stop() right after spawn()): the signal may not have reached
  // the task's own cancellation state yet, so the group's record decides.
  if (auto it = tasks_.find(id); it != tasks_.end() && it->second->cancelled) co_return;
  co_await std::move(task);
}

void TaskGroup::cancel(TaskId id) {
  auto it = tasks_.find(id);
  if (it == tasks_.end() || it->second->finished || it->second->cancelled) return;
  it->second->cancelled = true;
  // Emitting runs the task's cancellation handlers inline; they only post completions.
  it->second->signal.emit(asio::cancellation_type::terminal);
}

void TaskGroup::stop() {
  stopped_ = true;
  for (auto& [id, task] : tasks_) {
    if (task->finished || task->cancelled) continue;
    task->cancelled = true;
    task->signal.emit(asio::cancellation_type::terminal);
  }
}

asio::awaitable<void> TaskGroup::wait() {
  while (!tasks_.empty()) {
    co_await idle_.async_wait(asio::as_tuple(asio::use_awaitable));
    auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none) co_return;
  }
}

void TaskGroup::on_finished(TaskId id, std::exception_ptr error) {
  auto it = tasks_.find(id);
  if (it == tasks_.end()) return;
  Task& task = *it->second;
  task.finished = true;
  if (error) {
    auto ending = describe(error, task.cancelled);
    if (ending.stop) {
      log_->debug("task stopped name=\"{}\"", task.name);
    } else {
      log_->error("task failed name=\"{}\" error=\"{}\"", task.name, ending.what);
    }
  }
  // This runs inside the task's last step, whose cancellation state still points into the
  // signal: the entry (and its signal) goes once that step is over.
  asio::post(executor_, [this, id] { erase(id); });
}

void TaskGroup::erase(TaskId id) {
  tasks_.erase(id);
  if (tasks_.empty()) idle_.cancel();
}

}  // namespace portcullis::base
