// memory/residency: the residency plan's arithmetic, and the layer streamer reading a real
// file (direct and buffered) cyclically into its two buffers, checked byte for byte against
// the file; out-of-order use and a truncated file are errors, not crashes or hangs.
#include "memory/residency.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include "platform/file_reader.h"
#include "platform/mapped_file.h"

namespace ondo::memory {
namespace {

constexpr uint64_t kPage = platform::FileReader::kDirectAlign;

TEST(PlanResidency, AllResidentWhenTheyFit) {
  const std::vector<uint64_t> bytes = {100, 100, 100}, read = {4096, 4096, 4096};
  ResidencyPlan p = PlanResidency(bytes, read, 50, 350);
  EXPECT_EQ(p.n_resident, 3);
  EXPECT_FALSE(p.streamed());
  EXPECT_EQ(p.resident_bytes, 350u);
  EXPECT_EQ(p.buffer_bytes, 0u);
  EXPECT_EQ(p.streamed_bytes, 0u);
}

TEST(PlanResidency, KeepsTheFirstLayersThatFitAndStreamsTheRest) {
  // Eight layers of 1000 bytes (reads of 1024), 500 outside the layers: all resident is 8500;
  // k resident and the rest streamed is 500 + 1000 k + 2 x 1024.
  const std::vector<uint64_t> bytes(8, 1000), read(8, 1024);
  ResidencyPlan p = PlanResidency(bytes, read, 500, 6000);
  EXPECT_EQ(p.n_resident, 3);
  EXPECT_TRUE(p.streamed());
  EXPECT_EQ(p.resident_bytes, 3500u);
  EXPECT_EQ(p.buffer_bytes, 2048u);
  EXPECT_EQ(p.streamed_bytes, 5u * 1024u);
  EXPECT_EQ(PlanResidency(bytes, read, 500, 8499).n_resident, 5);
  EXPECT_EQ(PlanResidency(bytes, read, 500, 8500).n_resident, 8);
  p = PlanResidency(bytes, read, 500, 2548);  // the least: everything streamed
  EXPECT_EQ(p.n_resident, 0);
  EXPECT_EQ(p.total(), 2548u);
  // Buffers are sized by the largest streamed layer, not the largest layer.
  const std::vector<uint64_t> uneven = {8000, 3000, 3000, 3000}, uneven_read = {8192, 3072, 3072, 3072};
  p = PlanResidency(uneven, uneven_read, 0, 8000 + 2 * 3072);
  EXPECT_EQ(p.n_resident, 1);
  EXPECT_EQ(p.buffer_bytes, 2u * 3072u);
}

TEST(PlanResidency, NothingFitsReportsTheMinimum) {
  const std::vector<uint64_t> bytes = {1000, 1000}, read = {1024, 1024};
  ResidencyPlan p = PlanResidency(bytes, read, 500, 100);
  EXPECT_EQ(p.n_resident, 0);
  EXPECT_GT(p.total(), 100u);
  EXPECT_EQ(p.total(), 500u + 2048u);
}

// A file of `bytes` bytes whose byte i is (i * 7 + i / 4096) & 255.
std::string WritePatternFile(const std::string& stem, size_t bytes) {
  const std::string path = ::testing::TempDir() + stem + std::to_string(::getpid());
  std::vector<char> data(bytes);
  for (size_t i = 0; i < bytes; ++i) data[i] = static_cast<char>((i * 7 + i / 4096) & 255);
  std::ofstream(path, std::ios::binary).write(data.data(), static_cast<std::streamsize>(data.size()));
  return path;
}
uint8_t Pattern(uint64_t i) { return static_cast<uint8_t>((i * 7 + i / 4096) & 255); }

class StreamerTest : public ::testing::TestWithParam<bool> {};

TEST_P(StreamerTest, ReadsEveryLayerInCycles) {
  const bool direct = GetParam();
  const std::string path = WritePatternFile("ondo_residency_", 40 * kPage);
  std::unique_ptr<platform::MappedFile> file;
  ASSERT_TRUE(platform::MappedFile::Open(path, &file).ok());
  std::remove(path.c_str());  // read through the descriptor
  std::vector<std::unique_ptr<platform::FileReader>> readers(1);
  ASSERT_TRUE(platform::FileReader::Open(*file, direct, &readers[0]).ok());
  if (!direct) {
    EXPECT_FALSE(readers[0]->direct());
  }
  // Layer 0: one extent of 3 pages at page 2; layer 1: two extents (page 10, 2 pages; page
  // 20, 1 page); layer 2: the last 5 pages.
  std::vector<StreamedLayer> layers(3);
  layers[0].extents = {{0, 2 * kPage, 3 * kPage, 3 * kPage, 0}};
  layers[0].buffer_bytes = 3 * kPage;
  layers[1].extents = {{0, 10 * kPage, 2 * kPage, 2 * kPage, 0}, {0, 20 * kPage, kPage, kPage, 2 * kPage}};
  layers[1].buffer_bytes = 3 * kPage;
  layers[2].extents = {{0, 35 * kPage, 5 * kPage, 5 * kPage, 0}};
  layers[2].buffer_bytes = 5 * kPage;
  const std::vector<StreamedLayer> expect = layers;
  std::unique_ptr<WeightStreamer> s;
  ASSERT_TRUE(WeightStreamer::Create(std::move(readers), std::move(layers), &s).ok());
  EXPECT_EQ(s->buffer_bytes(), 2 * 5 * kPage);
  if (!direct) {
    EXPECT_FALSE(s->direct());
  }
  const uint64_t read_before = platform::StorageReadBytes();
  for (int round = 0; round < 4; ++round) {
    for (int l = 0; l < 3; ++l) {
      ASSERT_EQ(s->next_layer(), l);
      const uint8_t* data = nullptr;
      ASSERT_TRUE(s->Acquire(l, &data).ok());
      for (const StreamExtent& e : expect[static_cast<size_t>(l)].extents) {
        for (uint64_t i = 0; i < e.bytes; i += 997) {
          ASSERT_EQ(data[e.buffer_offset + i], Pattern(e.offset + i)) << "layer " << l << " round " << round;
        }
      }
      s->Release();
    }
  }
  // Direct reads bypass the page cache: each round read the 11 pages from storage again
  // (/proc/self/io read_bytes).
  if (s->direct()) {
    EXPECT_GE(platform::StorageReadBytes() - read_before, 3 * 11 * kPage);
  }
}

TEST_P(StreamerTest, OutOfOrderAndTruncatedFilesAreErrors) {
  const bool direct = GetParam();
  const std::string path = WritePatternFile("ondo_residency_trunc_", 8 * kPage);
  std::unique_ptr<platform::MappedFile> file;
  ASSERT_TRUE(platform::MappedFile::Open(path, &file).ok());
  std::vector<std::unique_ptr<platform::FileReader>> readers(1);
  ASSERT_TRUE(platform::FileReader::Open(*file, direct, &readers[0]).ok());
  // Layer 1 needs bytes up to page 8; the file is cut to 6 pages below.
  std::vector<StreamedLayer> layers(2);
  layers[0].extents = {{0, 0, 2 * kPage, 2 * kPage, 0}};
  layers[0].buffer_bytes = 2 * kPage;
  layers[1].extents = {{0, 4 * kPage, 4 * kPage, 4 * kPage - 100, 0}};
  layers[1].buffer_bytes = 4 * kPage;
  ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(6 * kPage)), 0);
  std::unique_ptr<WeightStreamer> s;
  ASSERT_TRUE(WeightStreamer::Create(std::move(readers), std::move(layers), &s).ok());
  const uint8_t* data = nullptr;
  Status st = s->Acquire(1, &data);
  EXPECT_EQ(st.code(), StatusCode::kInternal) << st.ToString();
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(s->Acquire(0, &data).ok());
    EXPECT_EQ(data[kPage + 5], Pattern(kPage + 5));
    s->Release();
    st = s->Acquire(1, &data);
    EXPECT_EQ(st.code(), StatusCode::kIoError);
    EXPECT_NE(st.message().find("truncated"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find(path), std::string::npos) << st.message();
    s->Release();
  }
  std::remove(path.c_str());
}

INSTANTIATE_TEST_SUITE_P(Io, StreamerTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? std::string("Direct") : std::string("Buffered"); });

TEST(Streamer, RejectsBadExtents) {
  std::vector<std::unique_ptr<platform::FileReader>> none;
  std::unique_ptr<WeightStreamer> s;
  EXPECT_EQ(WeightStreamer::Create(std::move(none), {}, &s).code(), StatusCode::kInvalidArgument);
  std::vector<StreamedLayer> layers(1);
  layers[0].extents = {{0, 0, kPage, kPage, 0}};
  layers[0].buffer_bytes = kPage;
  std::vector<std::unique_ptr<platform::FileReader>> missing(1);  // file 0 has no reader
  EXPECT_EQ(WeightStreamer::Create(std::move(missing), layers, &s).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ondo::memory
