// Status and StatusOr<T>: errors as values.
//
// Every fallible call at an I/O boundary (Kafka, RocksDB, files, sockets) returns a Status or a
// StatusOr<T>; both are [[nodiscard]], so ignoring an error is a compile warning (an error under
// -Werror). Swallowing one on purpose is spelled `status.IgnoreError()`, which is searchable.
//
//   StatusOr<Config> config = LoadConfig(path);
//   if (!config.ok()) return config.status();
//   Use(*config);
//
// Thread-safety: value types; a const Status may be read from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/check.h"

namespace learnflow {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // bad configuration, bad command line, bad input
  kNotFound,
  kIoError,          // disk, RocksDB
  kUnavailable,      // broker unreachable, timeouts: retrying may help
  kAborted,          // transaction or rebalance interrupted the work
  kInternal,         // broken invariant or unexpected library failure
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "IoError: cannot open /var/lib/learnflow: Permission denied"
  std::string ToString() const;
  // Explicitly discards the error. Use only where dropping it is correct, and say why.
  void IgnoreError() const {}

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgumentError(std::string message) {
  return Status(StatusCode::kInvalidArgument, std::move(message));
}
inline Status NotFoundError(std::string message) {
  return Status(StatusCode::kNotFound, std::move(message));
}
inline Status IoError(std::string message) { return Status(StatusCode::kIoError, std::move(message)); }
inline Status UnavailableError(std::string message) {
  return Status(StatusCode::kUnavailable, std::move(message));
}
inline Status AbortedError(std::string message) {
  return Status(StatusCode::kAborted, std::move(message));
}
inline Status InternalError(std::string message) {
  return Status(StatusCode::kInternal, std::move(message));
}

// Holds either a T or a non-OK Status.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  StatusOr(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    LF_CHECK(!status_.ok(), "StatusOr constructed from an OK status without a value");
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }

  // REQUIRES: ok().
  T& value() & {
    LF_CHECK(ok(), status_.ToString());
    return *value_;
  }
  const T& value() const& {
    LF_CHECK(ok(), status_.ToString());
    return *value_;
  }
  T&& value() && {
    LF_CHECK(ok(), status_.ToString());
    return std::move(*value_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace learnflow

// Returns the status from the enclosing function if it is not OK.
#define LF_RETURN_IF_ERROR(expr)                  \
  do {                                            \
    ::learnflow::Status lf_status_ = (expr);      \
    if (!lf_status_.ok()) return lf_status_;      \
  } while (0)

#define LF_CONCAT_INNER_(a, b) a##b
#define LF_CONCAT_(a, b) LF_CONCAT_INNER_(a, b)
// Declares `lhs` from a StatusOr expression, or returns its error.
#define LF_ASSIGN_OR_RETURN(lhs, expr) LF_ASSIGN_OR_RETURN_IMPL_(LF_CONCAT_(lf_or_, __LINE__), lhs, expr)
#define LF_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()
