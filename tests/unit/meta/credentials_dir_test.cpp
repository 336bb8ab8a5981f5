#include "meta/credentials_dir.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "common/logging.h"

namespace waop::meta {
namespace {

namespace fs = std::filesystem;
using Values = std::map<std::string, std::string>;

constexpr char kToken[] = "EAAG-super-secret-token-1";

Values Full(const std::string& suffix = "") {
  return {{"WHATSAPP_ACCESS_TOKEN", std::string(kToken) + suffix},
          {"WHATSAPP_BUSINESS_ACCOUNT_ID", "1029384756" + suffix},
          {"WHATSAPP_PHONE_NUMBER_ID", "123456789012345" + suffix},
          {"WHATSAPP_API_VERSION", "v21.0" + suffix},
          {"WHATSAPP_WEBHOOK_VERIFY_TOKEN", "verify-me" + suffix},
          {"WHATSAPP_APP_SECRET", "app-secret" + suffix}};
}

// A Secret volume as kubelet writes it (pkg/volume/util/atomic_writer.go): timestamped
// directories, `..data` pointing at the current one, and per-key symlinks through `..data`.
class KubeletVolume {
 public:
  KubeletVolume() {
    char tmpl[] = "/tmp/waop-creds-XXXXXX";
    dir_ = fs::path(mkdtemp(tmpl));
  }
  ~KubeletVolume() { fs::remove_all(dir_); }
  const fs::path& dir() const { return dir_; }

  // Writes a new version with `values` (each with a trailing newline, as `kubectl create secret
  // --from-file` of a file ending in one would give) and swaps `..data` to it; removes the
  // previous version, and relinks the per-key symlinks.
  void Publish(const Values& values, bool trailing_newline = true) {
    const std::string version = "..2026_11_27_10_00_00." + std::to_string(++generation_);
    fs::create_directory(dir_ / version);
    for (const auto& [k, v] : values) {
      std::ofstream(dir_ / version / k) << v << (trailing_newline ? "\n" : "");
    }
    fs::remove(dir_ / "..data_tmp");
    fs::create_directory_symlink(version, dir_ / "..data_tmp");
    fs::rename(dir_ / "..data_tmp", dir_ / "..data");  // atomic, as kubelet does
    for (const auto& [k, v] : values) {
      if (!fs::is_symlink(dir_ / k)) fs::create_symlink(fs::path("..data") / k, dir_ / k);
    }
    // Keys gone from the new version: kubelet removes their symlinks.
    for (const auto& entry : fs::directory_iterator(dir_)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("..", 0) != 0 && !values.count(name)) fs::remove(entry.path());
    }
    if (!previous_.empty()) fs::remove_all(dir_ / previous_);
    previous_ = version;
  }

 private:
  fs::path dir_;
  int generation_ = 0;
  std::string previous_;
};

class CredentialsDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_);
    logging::SetUpLogging({logging::LogFormat::kJson, spdlog::level::debug, "test"}, sink);
  }
  void TearDown() override {
    EXPECT_EQ(log_.str().find(kToken), std::string::npos) << "a token value reached the log";
    logging::SetUpLogging({});
  }
  int CountLines(const std::string& needle) const {
    std::istringstream in(log_.str());
    int n = 0;
    for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
    return n;
  }
  std::ostringstream log_;
};

TEST_F(CredentialsDirTest, ReadsTheKubeletLayoutTrimmingOneNewline) {
  KubeletVolume vol;
  vol.Publish(Full());
  std::ofstream(vol.dir() / "..data" / "UNRELATED") << "ignored\n";
  DirCredentialsSource source(vol.dir());
  EXPECT_TRUE(source.Reload());
  auto c = source.Current();
  EXPECT_EQ(c->values.size(), 6u);
  EXPECT_EQ(c->Get("WHATSAPP_ACCESS_TOKEN"), kToken);
  EXPECT_EQ(c->ApiVersion(), "v21.0");
  EXPECT_EQ(c->values.count("UNRELATED"), 0u);
  EXPECT_TRUE(source.Configured());
  EXPECT_EQ(CountLines("WhatsApp master account configured"), 1);
  EXPECT_FALSE(source.Reload()) << "nothing changed";
}

TEST_F(CredentialsDirTest, ReadsPlainFilesWithoutDataLink) {
  KubeletVolume vol;
  std::ofstream(vol.dir() / "WHATSAPP_ACCESS_TOKEN") << kToken << "\r\n";
  std::ofstream(vol.dir() / "WHATSAPP_BUSINESS_ACCOUNT_ID") << "42";
  std::ofstream(vol.dir() / "WHATSAPP_PHONE_NUMBER_ID") << "";  // empty = missing
  MasterCredentials c = ReadCredentialsDir(vol.dir());
  EXPECT_EQ(c.Get("WHATSAPP_ACCESS_TOKEN"), kToken);
  EXPECT_EQ(c.Get("WHATSAPP_BUSINESS_ACCOUNT_ID"), "42");
  EXPECT_EQ(c.values.count("WHATSAPP_PHONE_NUMBER_ID"), 0u);
  EXPECT_TRUE(c.Configured());
}

TEST_F(CredentialsDirTest, OnlyOneTrailingNewlineIsTrimmed) {
  KubeletVolume vol;
  Values v = Full();
  v["WHATSAPP_API_VERSION"] = "v22.0\n";  // plus the writer's newline: two
  vol.Publish(v);
  EXPECT_EQ(ReadCredentialsDir(vol.dir()).Get("WHATSAPP_API_VERSION"), "v22.0\n");
}

TEST_F(CredentialsDirTest, MissingDirectoryIsNotConfiguredAndLogsOnce) {
  DirCredentialsSource source("/nonexistent/waop/credentials");
  EXPECT_FALSE(source.Reload()) << "nothing read, nothing changed";
  EXPECT_FALSE(source.Configured());
  EXPECT_TRUE(source.Current()->values.empty());
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(source.Reload());
  EXPECT_EQ(CountLines("WhatsApp master account not configured"), 1) << log_.str();
  EXPECT_NE(log_.str().find("WHATSAPP_ACCESS_TOKEN,WHATSAPP_BUSINESS_ACCOUNT_ID"),
            std::string::npos)
      << "the line names the missing keys: " << log_.str();
}

TEST_F(CredentialsDirTest, PartialSecretNamesTheMissingKeysAndRecovers) {
  KubeletVolume vol;
  Values partial = Full();
  partial.erase("WHATSAPP_BUSINESS_ACCOUNT_ID");
  vol.Publish(partial);
  DirCredentialsSource source(vol.dir());
  EXPECT_TRUE(source.Reload());
  EXPECT_FALSE(source.Configured());
  EXPECT_EQ(source.Current()->Get("WHATSAPP_ACCESS_TOKEN"), kToken) << "what is there is read";
  EXPECT_FALSE(source.Reload());
  EXPECT_EQ(CountLines("WhatsApp master account not configured"), 1);
  EXPECT_NE(log_.str().find("\"missing\":\"WHATSAPP_BUSINESS_ACCOUNT_ID\""), std::string::npos)
      << log_.str();

  vol.Publish(Full());
  EXPECT_TRUE(source.Reload());
  EXPECT_TRUE(source.Configured());
  EXPECT_EQ(CountLines("WhatsApp master account configured"), 1);
  EXPECT_FALSE(source.Reload());
  EXPECT_EQ(CountLines("WhatsApp master account"), 2) << "no line per poll";
}

TEST_F(CredentialsDirTest, RotationIsDetectedAndLoggedByKeyName) {
  KubeletVolume vol;
  vol.Publish(Full());
  DirCredentialsSource source(vol.dir());
  ASSERT_TRUE(source.Reload());
  const std::string hash_before = source.Current()->PublishedHash();
  auto before = source.Current();

  Values rotated = Full();
  rotated["WHATSAPP_ACCESS_TOKEN"] = std::string(kToken) + "-rotated";
  vol.Publish(rotated);
  EXPECT_TRUE(source.Reload());
  EXPECT_EQ(source.Current()->Get("WHATSAPP_ACCESS_TOKEN"), std::string(kToken) + "-rotated");
  EXPECT_NE(source.Current()->PublishedHash(), hash_before);
  EXPECT_EQ(before->Get("WHATSAPP_ACCESS_TOKEN"), kToken) << "an old snapshot stays as it was";
  EXPECT_EQ(CountLines("WhatsApp master credentials changed"), 1);
  EXPECT_NE(log_.str().find("\"keys\":\"WHATSAPP_ACCESS_TOKEN\""), std::string::npos);
  EXPECT_FALSE(source.Reload());
}

TEST_F(CredentialsDirTest, SecretsAreRegisteredForRedaction) {
  KubeletVolume vol;
  vol.Publish(Full());
  DirCredentialsSource source(vol.dir());
  ASSERT_TRUE(source.Reload());
  EXPECT_EQ(logging::Redact(std::string("x ") + kToken + " app-secret verify-me"),
            "x [REDACTED] [REDACTED] [REDACTED]");
  logging::Log(spdlog::level::info, std::string("oops ") + kToken);
  EXPECT_EQ(log_.str().find(kToken), std::string::npos);
}

TEST_F(CredentialsDirTest, ConcurrentReaderNeverSeesATornSnapshot) {
  KubeletVolume vol;
  vol.Publish(Full("-0"));
  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::atomic<int> torn{0};
  std::thread reader([&] {
    while (!done.load()) {
      MasterCredentials c = ReadCredentialsDir(vol.dir());
      ++reads;
      // Every value of a version ends in the same "-<n>" suffix, and all six are present.
      if (c.values.size() != 6) {
        ++torn;
        continue;
      }
      const std::string& token = c.values.at("WHATSAPP_ACCESS_TOKEN");
      const std::string suffix = token.substr(token.rfind('-'));
      for (const auto& [k, v] : c.values) {
        if (v.size() < suffix.size() ||
            v.compare(v.size() - suffix.size(), suffix.size(), suffix) != 0) {
          ++torn;
        }
      }
    }
  });
  constexpr int kSwaps = 400;
  for (int i = 1; i <= kSwaps; ++i) vol.Publish(Full("-" + std::to_string(i)));
  // Let the reader finish a few reads after the last swap.
  const int reads_before_end = reads.load();
  while (reads.load() < reads_before_end + 3) std::this_thread::yield();
  done = true;
  reader.join();
  EXPECT_EQ(torn.load(), 0) << "of " << reads.load() << " reads during " << kSwaps << " swaps";
  EXPECT_EQ(ReadCredentialsDir(vol.dir()).Get("WHATSAPP_API_VERSION"),
            "v21.0-" + std::to_string(kSwaps));
}

}  // namespace
}  // namespace waop::meta
