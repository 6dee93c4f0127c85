// FileReader on pread, with O_DIRECT where the filesystem takes it.
#include "platform/file_reader.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace ondo::platform {
namespace {

bool Aligned(uint64_t v) { return v % FileReader::kDirectAlign == 0; }

// One aligned page read at offset 0: some filesystems accept O_DIRECT at open and refuse it
// at the first read.
bool DirectReadWorks(int fd) {
  void* page = std::aligned_alloc(FileReader::kDirectAlign, FileReader::kDirectAlign);
  if (page == nullptr) return false;
  ssize_t n;
  do {
    n = ::pread(fd, page, FileReader::kDirectAlign, 0);
  } while (n < 0 && errno == EINTR);
  std::free(page);
  return n >= 0;
}

}  // namespace

Status FileReader::Open(const MappedFile& file, bool direct, std::unique_ptr<FileReader>* out) {
  if (file.fd() < 0) return InvalidArgument("'{}' has no open descriptor to read from", file.path());
  int fd = -1;
  bool is_direct = false;
  if (direct) {
    // Reopening the descriptor's magic link gives a new open file description (O_DIRECT is a
    // property of it) on the same inode, even if the path is gone.
    const std::string link = fmt::format("/proc/self/fd/{}", file.fd());
    fd = ::open(link.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT);
    if (fd >= 0 && DirectReadWorks(fd)) {
      is_direct = true;
    } else if (fd >= 0) {
      ::close(fd);
      fd = -1;
    }
  }
  if (fd < 0) {
    fd = ::fcntl(file.fd(), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
      return MakeStatus(StatusCode::kIoError, "cannot open '{}' for reading: {}", file.path(), std::strerror(errno));
    }
  }
  out->reset(new FileReader(fd, is_direct, file.size(), file.path()));
  return Status::Ok();
}

FileReader::~FileReader() {
  if (fd_ >= 0) ::close(fd_);
}

Status FileReader::ReadAt(uint64_t offset, size_t bytes, size_t min_bytes, void* dst) const {
  if (!Aligned(offset) || !Aligned(bytes) || !Aligned(reinterpret_cast<uintptr_t>(dst))) {
    return InvalidArgument("unaligned read of '{}': {} bytes at {}", path_, bytes, offset);
  }
  size_t done = 0;
  while (done < bytes) {
    const ssize_t n = ::pread(fd_, static_cast<uint8_t*>(dst) + done, bytes - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return MakeStatus(StatusCode::kIoError, "cannot read '{}' ({} bytes at {}): {}", path_, bytes, offset,
                        std::strerror(errno));
    }
    if (n == 0) break;  // end of file
    done += static_cast<size_t>(n);
  }
  if (!direct_) (void)::posix_fadvise(fd_, static_cast<off_t>(offset), static_cast<off_t>(done), POSIX_FADV_DONTNEED);
  if (done < min_bytes) {
    return MakeStatus(StatusCode::kIoError, "'{}' ends at {} bytes, before the weights at {}..{} (was it truncated?)",
                      path_, offset + done, offset, offset + min_bytes);
  }
  return Status::Ok();
}

uint64_t StorageReadBytes() {
  std::FILE* f = std::fopen("/proc/self/io", "r");
  if (f == nullptr) return 0;
  char line[128];
  unsigned long long v = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::sscanf(line, "read_bytes: %llu", &v) == 1) break;
  }
  std::fclose(f);
  return v;
}

}  // namespace ondo::platform
