// MappedFile: a read-only memory mapping of a whole file (the only owner of mmap'd weights).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "platform/status.h"

namespace ondo::platform {

enum class Advice { kNormal, kSequential, kRandom, kWillNeed, kDontNeed };

class MappedFile {
 public:
  // Maps `path` read-only. An empty file maps to data() == nullptr, size() == 0.
  static Status Open(const std::string& path, std::unique_ptr<MappedFile>* out);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // The open descriptor of the file (read-only), for FileReader.
  int fd() const { return fd_; }

  // Hints the kernel about [offset, offset + bytes); the range is widened to page bounds.
  // Best effort: errors are ignored (advice is never required for correctness).
  void Advise(size_t offset, size_t bytes, Advice advice) const;

 private:
  MappedFile(std::string path, const uint8_t* data, size_t size, int fd)
      : path_(std::move(path)), data_(data), size_(size), fd_(fd) {}
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  int fd_ = -1;
};

size_t PageSize();

}  // namespace ondo::platform
