// MappedFile on POSIX mmap.
#include "platform/mapped_file.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ondo::platform {

size_t PageSize() {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

Status MappedFile::Open(const std::string& path, std::unique_ptr<MappedFile>* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    return MakeStatus(err == ENOENT ? StatusCode::kNotFound : StatusCode::kIoError,
                      "cannot open '{}': {}", path, std::strerror(err));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return MakeStatus(StatusCode::kIoError, "cannot stat '{}': {}", path, std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return InvalidArgument("'{}' is not a regular file", path);
  }
  size_t size = static_cast<size_t>(st.st_size);
  const uint8_t* data = nullptr;
  if (size > 0) {
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      return MakeStatus(StatusCode::kIoError, "cannot map '{}' ({} bytes): {}", path, size,
                        std::strerror(err));
    }
    data = static_cast<const uint8_t*>(p);
  }
  // The descriptor stays open for FileReader (weight streaming), which reads through it.
  out->reset(new MappedFile(path, data, size, fd));
  return Status::Ok();
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
  if (fd_ >= 0) ::close(fd_);
}

void MappedFile::Advise(size_t offset, size_t bytes, Advice advice) const {
  if (data_ == nullptr || offset >= size_) return;
  if (bytes > size_ - offset) bytes = size_ - offset;
  const size_t page = PageSize();
  uintptr_t begin = reinterpret_cast<uintptr_t>(data_) + offset;
  uintptr_t end = begin + bytes;
  begin &= ~(uintptr_t)(page - 1);
  int a = MADV_NORMAL;
  switch (advice) {
    case Advice::kNormal: a = MADV_NORMAL; break;
    case Advice::kSequential: a = MADV_SEQUENTIAL; break;
    case Advice::kRandom: a = MADV_RANDOM; break;
    case Advice::kWillNeed: a = MADV_WILLNEED; break;
    case Advice::kDontNeed: a = MADV_DONTNEED; break;
  }
  (void)::madvise(reinterpret_cast<void*>(begin), end - begin, a);
}

}  // namespace ondo::platform
