// Replay driver for the fuzz targets in builds without libFuzzer (the default g++ build).
//
// Linked with one target's LLVMFuzzerTestOneInput, it runs that function once over every file
// of the directories (and over the files) named on the command line, in name order, and prints
// how many inputs it replayed. ctest runs it over the target's seed corpus and its regressions,
// so every input a fuzzer ever found to crash stays a test of the normal build.
//
//   learnflow_fuzz_xapi tests/fuzz/corpus/xapi tests/fuzz/regressions/xapi
//
// Exit status: 0 when every input ran; 2 on a usage error, a missing or empty directory or an
// unreadable file (so the test cannot pass by reading nothing). A broken invariant aborts the
// process inside the target, as it does under libFuzzer.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

// Runs the target on the contents of `path`. False when it cannot be read.
bool ReplayFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
  if (in.bad()) return false;
  // An exactly-sized heap copy, as libFuzzer passes it: reading past the end is a real bug.
  std::vector<uint8_t> input(bytes.begin(), bytes.end());
  std::fprintf(stderr, "replay %s (%zu bytes)\n", path.c_str(), input.size());
  LLVMFuzzerTestOneInput(input.data(), input.size());
  return true;
}

// The regular files of `dir`, sorted by name. Hidden files (editor droppings) are skipped.
bool ListInputs(const fs::path& dir, std::vector<fs::path>& out, std::string& error) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& path = it->path();
    if (path.filename().string().starts_with('.')) continue;
    if (it->is_regular_file(ec)) out.push_back(path);
  }
  if (ec) {
    error = ec.message();
    return false;
  }
  std::sort(out.begin(), out.end());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR_OR_FILE...\n", argv[0]);
    return 2;
  }
  size_t replayed = 0;
  for (int i = 1; i < argc; ++i) {
    const fs::path arg(argv[i]);
    std::error_code ec;
    if (fs::is_directory(arg, ec)) {
      std::vector<fs::path> inputs;
      std::string error;
      if (!ListInputs(arg, inputs, error)) {
        std::fprintf(stderr, "error: cannot list %s: %s\n", argv[i], error.c_str());
        return 2;
      }
      if (inputs.empty()) {
        std::fprintf(stderr, "error: %s holds no inputs\n", argv[i]);
        return 2;
      }
      for (const fs::path& input : inputs) {
        if (!ReplayFile(input)) {
          std::fprintf(stderr, "error: cannot read %s\n", input.c_str());
          return 2;
        }
        ++replayed;
      }
    } else if (fs::is_regular_file(arg, ec)) {
      if (!ReplayFile(arg)) {
        std::fprintf(stderr, "error: cannot read %s\n", argv[i]);
        return 2;
      }
      ++replayed;
    } else {
      std::fprintf(stderr, "error: %s does not exist\n", argv[i]);
      return 2;
    }
  }
  std::printf("replayed %zu inputs\n", replayed);
  return 0;
}
