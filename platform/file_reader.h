// FileReader: positioned reads of a mapped file's bytes into the caller's memory, bypassing
// the page cache where the filesystem allows it (O_DIRECT). Weight streaming
// (memory/residency.h) reads the layers that are not resident through it, so that a model
// larger than its budget is read once per token into fixed buffers instead of being left to
// the page cache (which, under a memory limit, re-reads everything and evicts the rest).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "platform/mapped_file.h"
#include "platform/status.h"

namespace ondo::platform {

class FileReader {
 public:
  // Alignment of the destination, the offset and the length that ReadAt requires when the
  // reads are direct (4096 covers every logical block size Linux filesystems use).
  static constexpr size_t kDirectAlign = 4096;

  // Reads the file behind `file` (through its descriptor, so a file unlinked or renamed
  // since it was mapped still reads). With `direct`, O_DIRECT is tried and, where the
  // filesystem refuses it (tmpfs, some overlays), buffered reads are used instead; direct()
  // tells which.
  static Status Open(const MappedFile& file, bool direct, std::unique_ptr<FileReader>* out);
  ~FileReader();
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  bool direct() const { return direct_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // Reads [offset, offset + bytes) into dst, stopping early only at the end of the file;
  // IoError (naming the file and the range) when fewer than `min_bytes` arrive. dst, offset
  // and bytes must be multiples of kDirectAlign (checked: InvalidArgument). Buffered reads
  // drop the range from the page cache afterwards (posix_fadvise DONTNEED), so streaming
  // leaves no cache behind to be charged to the process's memory cgroup. Thread-safe.
  Status ReadAt(uint64_t offset, size_t bytes, size_t min_bytes, void* dst) const;

 private:
  FileReader(int fd, bool direct, uint64_t size, std::string path)
      : fd_(fd), direct_(direct), size_(size), path_(std::move(path)) {}
  int fd_ = -1;
  bool direct_ = false;
  uint64_t size_ = 0;
  std::string path_;
};

// Bytes this process has caused to be read from storage (read_bytes of /proc/self/io;
// 0 if unknown): what streaming costs per token.
uint64_t StorageReadBytes();

}  // namespace ondo::platform
