// The version search against a simulated CP of every 3.x minor: it settles on the CP's minor
// (never a lower one, which would lose fields; never a higher one, which is refused), within five
// refusals, from any remembered minor.
#include "sidecar/cp/version_negotiation.h"

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace tether::cp {
namespace {

constexpr int kNewest = VersionNegotiator::kNewestMinor;

int MinorOf(const std::string& version) {
  // "3.<minor>.0"
  return std::stoi(version.substr(2, version.find('.', 2) - 2));
}

struct Outcome {
  std::string version;
  int refusals = 0;
  int probes = 0;  // accepted attempts closed to search further
};

// A Kong CP at 3.<cp_minor>: accepts a minor at most its own.
Outcome Negotiate(VersionNegotiator& n, int cp_minor) {
  Outcome out;
  for (int attempt = 0; attempt < 64; ++attempt) {
    if (MinorOf(n.version()) > cp_minor) {
      n.Refused();
      ++out.refusals;
      continue;
    }
    if (n.Accepted()) {
      out.version = n.version();
      return out;
    }
    ++out.probes;
  }
  ADD_FAILURE() << "no settlement after 64 attempts";
  return out;
}

TEST(VersionNegotiatorTest, FindsEveryMinorWithinFiveRefusals) {
  std::vector<std::optional<int>> remembered = {std::nullopt};
  for (int r = 0; r <= kNewest; ++r) remembered.push_back(r);
  for (const std::optional<int>& r : remembered) {
    for (int cp = 0; cp <= kNewest; ++cp) {
      SCOPED_TRACE(absl::StrCat("cp 3.", cp, " remembered ", r.has_value() ? *r : -1));
      VersionNegotiator n = VersionNegotiator::Auto(r);
      const Outcome out = Negotiate(n, cp);
      EXPECT_EQ(out.version, absl::StrCat("3.", cp, ".0"));
      EXPECT_LE(out.refusals, 5);
      EXPECT_NE(n.source(), VersionNegotiator::Source::kNegotiating);
    }
  }
}

TEST(VersionNegotiatorTest, RememberedMinorCostsOneRefusalAndNoProbe) {
  VersionNegotiator n = VersionNegotiator::Auto(9);
  EXPECT_EQ(n.version(), "3.10.0");  // one above: a CP upgrade is noticed
  const Outcome out = Negotiate(n, 9);
  EXPECT_EQ(out.refusals, 1);
  EXPECT_EQ(out.probes, 0);
  EXPECT_EQ(n.source(), VersionNegotiator::Source::kRemembered);
}

TEST(VersionNegotiatorTest, UpgradedCpIsFoundFromTheRememberedMinor) {
  VersionNegotiator n = VersionNegotiator::Auto(9);
  const Outcome out = Negotiate(n, 12);
  EXPECT_EQ(out.version, "3.12.0");
  EXPECT_EQ(n.source(), VersionNegotiator::Source::kNegotiated);
}

TEST(VersionNegotiatorTest, NewerCpThanKnownGetsTheNewestKnown) {
  VersionNegotiator n = VersionNegotiator::Auto(std::nullopt);
  EXPECT_EQ(Negotiate(n, kNewest + 3).version, absl::StrCat("3.", kNewest, ".0"));
}

TEST(VersionNegotiatorTest, DowngradedCpIsSearchedAgain) {
  VersionNegotiator n = VersionNegotiator::Auto(std::nullopt);
  ASSERT_EQ(Negotiate(n, 10).version, "3.10.0");
  // The CP comes back as 3.4: the kept version is refused, and the search resumes below it.
  const Outcome out = Negotiate(n, 4);
  EXPECT_EQ(out.version, "3.4.0");
  EXPECT_LE(out.refusals, 5);
}

TEST(VersionNegotiatorTest, CpRefusingEveryMinorKeepsCycling) {
  VersionNegotiator n = VersionNegotiator::Auto(std::nullopt);
  for (int i = 0; i < 40; ++i) {
    n.Refused();
    const int minor = MinorOf(n.version());
    EXPECT_GE(minor, 0);
    EXPECT_LE(minor, kNewest);
  }
}

TEST(VersionNegotiatorTest, FixedVersionNeverChanges) {
  VersionNegotiator n = VersionNegotiator::Fixed("3.9.1");
  n.Refused();
  EXPECT_EQ(n.version(), "3.9.1");
  EXPECT_TRUE(n.Accepted());
  EXPECT_EQ(n.source(), VersionNegotiator::Source::kFlag);
  EXPECT_FALSE(n.searching());
}

}  // namespace
}  // namespace tether::cp
