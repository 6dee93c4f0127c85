// Low-memory integration (issue 10, item 6): `ondo run` inside a memory cgroup whose limit is
// its --mem-budget, (a) with a model that fits and (b) with a model larger than the limit,
// whose layers are streamed. Both must finish, not be killed, and give the tokens of a run
// without a limit. Where no cgroup can be created (no cgroupfs, no permission) the cgroup
// test skips saying why; the peak resident set (VmHWM) is checked against the budget either
// way. The model is synthetic (random F16 weights, about 50 MB), so nothing here needs
// ../shared. Before each run the model's pages are dropped from the page cache
// (posix_fadvise DONTNEED on the unmapped file), so the run reads and is charged for them.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "memory/budget.h"
#include "tests/examples/cli_runner.h"
#include "tests/runtime/gguf_writer.h"
#include "tests/runtime/reference_forward.h"

namespace ondo::test {
namespace {

constexpr uint64_t kMiB = 1ull << 20;

// A file removed when the test process exits (each test runs in a process of its own: left
// behind, every run of the suite would leave 50 MB files in the temporary folder).
struct TempFile {
  std::string path;
  ~TempFile() {
    if (!path.empty()) std::remove(path.c_str());
  }
};

// Eight layers of about 6.2 MB: 50 MB of weights.
const std::string& ModelPath() {
  static const TempFile file{[] {
    GgufWriter w;
    SyntheticSpec spec;
    spec.config = SmallLlama(512, 1536, 8);
    spec.weight_type = GgmlType::kF16;
    spec.seed = 21;
    RefModel ref;
    BuildSyntheticModel(spec, &w, &ref);
    const std::string p = CliTempPath("lowmem.gguf");
    EXPECT_TRUE(w.WriteFile(p));
    return p;
  }()};
  return file.path;
}

void DropPageCache(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return;
  ::fdatasync(fd);
  (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

std::vector<std::string> RunArgs(const std::string& budget) {
  std::vector<std::string> a = {"run", "-m", ModelPath(), "-p", "low memory, same tokens", "--raw", "--temp", "0",
                                "-n", "24", "--ctx", "128", "-t", "2", "--json", "--verbose"};
  if (!budget.empty()) {
    a.push_back("--mem-budget");
    a.push_back(budget);
  }
  return a;
}

struct RunOutput {
  CliResult r;
  std::vector<int> ids;
  uint64_t peak_rss = 0;
};
RunOutput Parse(CliResult r) {
  RunOutput o;
  o.r = std::move(r);
  nlohmann::json j = nlohmann::json::parse(o.r.out, nullptr, false);
  if (j.is_object()) {
    o.ids = j.value("ids", std::vector<int>{});
    o.peak_rss = j.value("peak_rss_bytes", uint64_t{0});
  }
  return o;
}

const RunOutput& Unlimited() {
  static const RunOutput o = [] {
    DropPageCache(ModelPath());
    return Parse(Ondo(RunArgs("")));
  }();
  return o;
}

// A figure of the unlimited run's plan (--verbose): "  NAME   N bytes ...".
uint64_t PlanFigure(const std::string& name) {
  const std::string& err = Unlimited().r.err;
  const size_t at = err.find("  " + name + " ");
  if (at == std::string::npos) return 0;
  return std::stoull(err.substr(at + name.size() + 2));
}
// The two limits, from the unlimited run's plan (the process's own share differs between
// builds: sanitizers multiply it): all weights plus room (it fits), and the process, KV cache,
// scratch and three layers' worth of weights (the tensors outside the layers, two stream
// buffers and one resident layer), so that most of the model is streamed.
uint64_t Others() { return PlanFigure("process") + PlanFigure("KV cache") + PlanFigure("scratch"); }
uint64_t FitsLimit() { return Others() + PlanFigure("weights") + 16 * kMiB; }
uint64_t StreamedLimit() { return Others() + PlanFigure("weights") * 3 / 8 + 2 * kMiB; }

void ExpectSameRun(const RunOutput& o, uint64_t limit, bool streamed) {
  ASSERT_EQ(o.r.code, 0) << o.r.err;
  ASSERT_FALSE(Unlimited().ids.empty()) << Unlimited().r.err;
  EXPECT_EQ(o.ids, Unlimited().ids);
  EXPECT_GT(o.peak_rss, 0u);
  EXPECT_LE(o.peak_rss, limit) << o.r.err;
  EXPECT_EQ(o.r.err.find("  streamed ") != std::string::npos, streamed) << o.r.err;
}

TEST(LowMemory, PeakRssStaysUnderTheBudget) {
  ASSERT_EQ(Unlimited().r.code, 0) << Unlimited().r.err;
  ASSERT_GT(PlanFigure("process"), 0u) << Unlimited().r.err;
  // The streamed case is one where the model cannot be resident beside the process.
  ASSERT_GT(PlanFigure("process") + PlanFigure("weights"), StreamedLimit());
  for (uint64_t limit : {FitsLimit(), StreamedLimit()}) {
    SCOPED_TRACE(limit);
    DropPageCache(ModelPath());
    const RunOutput o = Parse(Ondo(RunArgs(std::to_string(limit))));
    ExpectSameRun(o, limit, limit == StreamedLimit());
  }
}

// ---- memory cgroups ---------------------------------------------------------------------

bool WriteText(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  f.flush();
  return static_cast<bool>(f);
}
std::string ReadText(const std::string& path) { return ReadWholeFile(path); }

// "key value" lines (memory.events, memory.oom_control): the value of `key`, or -1.
long long KeyValue(const std::string& text, const std::string& key) {
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t end = text.find('\n', pos);
    const std::string line = text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    if (line.rfind(key + " ", 0) == 0) return std::stoll(line.substr(key.size() + 1));
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return -1;
}

class MemoryCgroup {
 public:
  // A child of this process's cgroup with `limit` bytes of memory (v2 if this machine's v2
  // group can take the memory controller, else v1); ok() false with why() otherwise.
  explicit MemoryCgroup(uint64_t limit) {
    static int counter = 0;
    const std::string name = "ondo-lowmem-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    const memory::CgroupDirs dirs = memory::OwnCgroupDirs();
    if (!dirs.v2.empty()) {
      const std::string dir = dirs.v2 + "/" + name;
      if (::mkdir(dir.c_str(), 0755) == 0) {
        if (std::filesystem::exists(dir + "/memory.max") && WriteText(dir + "/memory.max", std::to_string(limit))) {
          if (std::filesystem::exists(dir + "/memory.swap.max")) WriteText(dir + "/memory.swap.max", "0");
          dir_ = dir;
          version_ = 2;
          return;
        }
        ::rmdir(dir.c_str());
        why_ += "v2 group " + dirs.v2 + " does not delegate the memory controller; ";
      } else {
        why_ += "cannot create a v2 group in " + dirs.v2 + ": " + std::strerror(errno) + "; ";
      }
    }
    if (!dirs.v1_memory.empty()) {
      const std::string dir = dirs.v1_memory + "/" + name;
      if (::mkdir(dir.c_str(), 0755) == 0) {
        if (WriteText(dir + "/memory.limit_in_bytes", std::to_string(limit))) {
          if (std::filesystem::exists(dir + "/memory.memsw.limit_in_bytes")) {
            WriteText(dir + "/memory.memsw.limit_in_bytes", std::to_string(limit));
          }
          dir_ = dir;
          version_ = 1;
          return;
        }
        ::rmdir(dir.c_str());
        why_ += "cannot set memory.limit_in_bytes in " + dir + "; ";
      } else {
        why_ += "cannot create a v1 memory group in " + dirs.v1_memory + ": " + std::strerror(errno) + "; ";
      }
    }
    if (dirs.v2.empty() && dirs.v1_memory.empty()) why_ = "no cgroup filesystem with the memory controller";
  }
  ~MemoryCgroup() {
    if (!dir_.empty()) ::rmdir(dir_.c_str());
  }
  bool ok() const { return !dir_.empty(); }
  const std::string& why() const { return why_; }
  int version() const { return version_; }
  const std::string& dir() const { return dir_; }
  long long OomKills() const {
    return KeyValue(ReadText(dir_ + (version_ == 2 ? "/memory.events" : "/memory.oom_control")), "oom_kill");
  }
  // The group's peak charge, where the kernel reports it (v2 memory.peak is recent), else 0.
  uint64_t PeakCharge() const {
    const std::string f = dir_ + (version_ == 2 ? "/memory.peak" : "/memory.max_usage_in_bytes");
    const std::string t = ReadText(f);
    return t.empty() ? 0 : std::stoull(t);
  }

  // Runs `ondo args` with the child moved into the group before exec.
  CliResult Run(const std::vector<std::string>& args) const { return Ondo(args, dir_ + "/cgroup.procs"); }

 private:
  std::string dir_, why_;
  int version_ = 0;
};

TEST(LowMemory, InsideAMemoryCgroupBothFinishWithTheSameTokens) {
  ASSERT_EQ(Unlimited().r.code, 0) << Unlimited().r.err;
  for (uint64_t limit : {FitsLimit(), StreamedLimit()}) {
    SCOPED_TRACE(limit);
    MemoryCgroup cg(limit);
    if (!cg.ok()) GTEST_SKIP() << "no memory cgroup can be created here (" << cg.why() << "); PeakRssStaysUnderTheBudget checks VmHWM instead";
    DropPageCache(ModelPath());
    const RunOutput o = Parse(cg.Run(RunArgs(std::to_string(limit))));
    EXPECT_NE(o.r.code, 126) << "could not join the cgroup " << cg.dir();
    EXPECT_NE(o.r.code, 128 + SIGKILL) << "killed (out of memory?) in " << cg.dir() << "\n" << o.r.err;
    ExpectSameRun(o, limit, limit == StreamedLimit());
    EXPECT_EQ(cg.OomKills(), 0) << cg.dir();
    const uint64_t peak = cg.PeakCharge();
    EXPECT_LE(peak, limit);
    // Streamed: the group never held the whole model.
    if (limit == StreamedLimit() && peak > 0) {
      EXPECT_LT(peak, PlanFigure("process") + PlanFigure("weights"));
    }
    RecordProperty(limit == StreamedLimit() ? "streamed_cgroup" : "fits_cgroup",
                   "v" + std::to_string(cg.version()) + " " + cg.dir() + " peak " + std::to_string(peak));
  }
}

}  // namespace
}  // namespace ondo::test
