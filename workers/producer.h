#pragma once
/// What a worker process runs: a Producer fills one batch slot per task. The
/// process machinery never sees datasets or images, only tasks (an id and a
/// list of item numbers) and bytes.
#include <cstdint>
#include <exception>
#include <span>
#include <string>
#include <vector>

namespace ferry::workers {

struct Task {
  uint64_t id = 0;  ///< unique per pool, increasing in dispatch order
  uint64_t epoch = 0;
  std::vector<int64_t> items;  ///< e.g. sample indices
  int worker = -1;             ///< the worker that must run it (one reading a stream); -1: any
};

/// Where a producer writes a task's output. Memory comes from the worker's
/// slot when it fits, otherwise from a one-off segment sent along with the
/// result (slower, never a failure).
class SlotSink {
 public:
  virtual ~SlotSink() = default;
  /// At least `bytes` of shared memory for the output. Calling it again
  /// replaces the earlier memory (its contents are not carried over).
  virtual std::span<std::byte> allocate(size_t bytes) = 0;
  /// The size of a regular slot.
  virtual size_t slot_bytes() const = 0;
  /// Records that `item` is being produced, in shared memory, so that if the
  /// process dies the main side can name the items in flight (several with
  /// threads). Returns a ticket for item_finished(). Thread-safe.
  virtual int item_started(int64_t /*item*/) { return -1; }
  virtual void item_finished(int /*ticket*/) {}
};

/// Thrown by a producer when one item of a task fails; the consumer gets an
/// error carrying the item and the message at that task's position.
class ItemFailed : public std::exception {
 public:
  ItemFailed(int64_t item, std::string message) : item_(item), message_(std::move(message)) {}
  int64_t item() const noexcept { return item_; }
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  int64_t item_;
  std::string message_;
};

class Producer {
 public:
  virtual ~Producer() = default;
  /// Runs once in the worker process before its first task (open files,
  /// user init hooks). An exception here fails the pool's start with its text.
  virtual void start_worker(int /*worker_id*/) {}
  /// Produces `task` into memory from `sink`; returns a small description of
  /// what was written (the layout), delivered to the main process with it.
  virtual std::vector<std::byte> produce(const Task& task, SlotSink& sink) = 0;
};

}  // namespace ferry::workers
