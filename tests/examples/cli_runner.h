// Runs the built `ondo` program (ONDO_CLI_PATH) the way a script does: argv without a shell,
// stdout and stderr captured, the exit code. Shared by the command-line test files.
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

extern char** environ;

namespace ondo::test {

struct CliResult {
  int code = -1;
  std::string out, err;
};

inline std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A path in the temporary folder unique to this process and `name`.
inline std::string CliTempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("ondo_cli_test_" + std::to_string(getpid()) + "_" + name))
      .string();
}

// Runs build/bin/ondo with `args`, stdout and stderr captured (no shell involved). With
// `cgroup_procs` (a cgroup's cgroup.procs file), the child moves itself into that cgroup
// before it executes ondo (exit code 126 if it cannot).
inline CliResult Ondo(const std::vector<std::string>& args, const std::string& cgroup_procs = "") {
  const std::string out_path = CliTempPath("stdout"), err_path = CliTempPath("stderr");
  std::vector<std::string> all;
#ifdef ONDO_CLI_EMULATOR
  // A cross build tested under emulation (qemu-aarch64): the test runs emulated, and so must the
  // program it starts (the host runs the emulator, which runs ondo; QEMU_CPU is inherited).
  all.push_back(ONDO_CLI_EMULATOR);
#endif
  all.push_back(ONDO_CLI_PATH);
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);

  CliResult r;
  pid_t pid = -1;
  if (cgroup_procs.empty()) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid = -1;
    posix_spawn_file_actions_destroy(&actions);
  } else {
    pid = fork();
    if (pid == 0) {
      // Only async-signal-safe calls between fork and exec.
      const int fd = open(cgroup_procs.c_str(), O_WRONLY);
      if (fd < 0 || write(fd, "0", 1) != 1) _exit(126);  // "0": the writing process
      close(fd);
      const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (out < 0 || err < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) _exit(126);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  if (pid > 0) {
    int status = 0;
    waitpid(pid, &status, 0);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  r.out = ReadWholeFile(out_path);
  r.err = ReadWholeFile(err_path);
  std::filesystem::remove(out_path);
  std::filesystem::remove(err_path);
  return r;
}

// Exactly one line, "ondo: error: ...".
inline void ExpectOneErrorLine(const CliResult& r) {
  EXPECT_EQ(r.err.rfind("ondo: error: ", 0), 0u) << r.err;
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
}

}  // namespace ondo::test
