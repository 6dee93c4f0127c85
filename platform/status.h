// Status: the error value returned across every fallible boundary (no exceptions).
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace ondo {

enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument = 1,  // caller passed something unusable (bad flag, bad UTF-8, ...)
  kNotFound = 2,         // file or key missing
  kCorrupt = 3,          // a file is malformed, truncated or inconsistent
  kUnsupported = 4,      // well-formed but not handled (type, architecture, version)
  kOutOfMemory = 5,      // a budget or an allocation cannot be satisfied
  kIoError = 6,          // the OS refused (open, mmap, read)
  kOutOfRange = 7,       // e.g. prompt longer than the context
  kInternal = 8,
};

const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "corrupt: tensor 'x' ends past the end of the file" style text.
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

template <typename... Args>
Status MakeStatus(StatusCode code, fmt::format_string<Args...> f, Args&&... args) {
  return Status(code, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
Status InvalidArgument(fmt::format_string<Args...> f, Args&&... args) {
  return MakeStatus(StatusCode::kInvalidArgument, f, std::forward<Args>(args)...);
}
template <typename... Args>
Status Corrupt(fmt::format_string<Args...> f, Args&&... args) {
  return MakeStatus(StatusCode::kCorrupt, f, std::forward<Args>(args)...);
}
template <typename... Args>
Status Unsupported(fmt::format_string<Args...> f, Args&&... args) {
  return MakeStatus(StatusCode::kUnsupported, f, std::forward<Args>(args)...);
}
template <typename... Args>
Status NotFound(fmt::format_string<Args...> f, Args&&... args) {
  return MakeStatus(StatusCode::kNotFound, f, std::forward<Args>(args)...);
}
template <typename... Args>
Status OutOfRange(fmt::format_string<Args...> f, Args&&... args) {
  return MakeStatus(StatusCode::kOutOfRange, f, std::forward<Args>(args)...);
}
template <typename... Args>
Status OutOfMemory(fmt::format_string<Args...> f, Args&&... args) {
  return MakeStatus(StatusCode::kOutOfMemory, f, std::forward<Args>(args)...);
}

}  // namespace ondo

// Propagates a non-OK Status to the caller.
#define ONDO_RETURN_IF_ERROR(expr)              \
  do {                                          \
    ::ondo::Status ondo_status_ = (expr);       \
    if (!ondo_status_.ok()) return ondo_status_; \
  } while (0)
