#include "sidecar/settings/bundled_plugins.h"

#include <algorithm>
#include <string>

#include "absl/strings/ascii.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tether::settings {
namespace {

using ::testing::Contains;
using ::testing::Not;

bool HasPlugin(const std::vector<Plugin>& plugins, const std::string& name) {
  return std::any_of(plugins.begin(), plugins.end(),
                     [&](const Plugin& p) { return p.name == name; });
}

TEST(BundledPluginsTest, Kong310ListAtTheNodeVersionSortedByLowercaseName) {
  const std::vector<Plugin> plugins = BundledPlugins("3.10.0");
  // 45 from BUNDLED_PLUGINS in kong/constants.lua at 3.10.0, 51 bundled by Kong Enterprise.
  EXPECT_EQ(plugins.size(), 96u);
  EXPECT_THAT(plugins, Contains(Plugin{"key-auth", "3.10.0"}));
  EXPECT_THAT(plugins, Contains(Plugin{"openid-connect", "3.10.0"}));
  EXPECT_THAT(plugins, Contains(Plugin{"request-callout", "3.10.0"}));
  EXPECT_THAT(plugins, Contains(Plugin{"acl", "3.10.0"}));
  EXPECT_THAT(plugins, Contains(Plugin{"redirect", "3.10.0"}));
  EXPECT_TRUE(std::is_sorted(plugins.begin(), plugins.end(), [](const Plugin& a, const Plugin& b) {
    return absl::AsciiStrToLower(a.name) < absl::AsciiStrToLower(b.name);
  }));
  for (const Plugin& p : plugins) EXPECT_EQ(p.version, "3.10.0") << p.name;
}

TEST(BundledPluginsTest, VersionSuffixIsKept) {
  EXPECT_THAT(BundledPlugins("3.10.0-enterprise-version"),
              Contains(Plugin{"key-auth", "3.10.0-enterprise-version"}));
}

TEST(BundledPluginsTest, OlderMinorsLeaveOutLaterPlugins) {
  // ai-* came in 3.6, standard-webhooks in 3.8, redirect in 3.9; Enterprise: saml in 3.1,
  // ai-proxy-advanced in 3.8, application-registration until 3.4.
  const std::vector<Plugin> v35 = BundledPlugins("3.5.2");
  EXPECT_EQ(v35.size(), 37u + 35u);
  EXPECT_FALSE(HasPlugin(BundledPlugins("3.0.0"), "saml"));
  EXPECT_TRUE(HasPlugin(BundledPlugins("3.1.0"), "saml"));
  EXPECT_FALSE(HasPlugin(BundledPlugins("3.7.0"), "ai-proxy-advanced"));
  EXPECT_TRUE(HasPlugin(BundledPlugins("3.8.0"), "ai-proxy-advanced"));
  EXPECT_TRUE(HasPlugin(BundledPlugins("3.4.2"), "application-registration"));
  EXPECT_FALSE(HasPlugin(v35, "application-registration"));
  EXPECT_FALSE(HasPlugin(v35, "ai-proxy"));
  EXPECT_TRUE(HasPlugin(BundledPlugins("3.6.0"), "ai-proxy"));
  EXPECT_FALSE(HasPlugin(BundledPlugins("3.7.1"), "standard-webhooks"));
  EXPECT_TRUE(HasPlugin(BundledPlugins("3.8.0"), "standard-webhooks"));
  EXPECT_FALSE(HasPlugin(BundledPlugins("3.8.0"), "redirect"));
  EXPECT_TRUE(HasPlugin(BundledPlugins("3.9.3"), "redirect"));
}

TEST(BundledPluginsTest, UnknownMajorOrNewerMinorGetsTheNewestList) {
  EXPECT_EQ(BundledPlugins("3.11.0").size(), 96u);
  EXPECT_EQ(BundledPlugins("4.0.0").size(), 96u);
}

}  // namespace
}  // namespace tether::settings

namespace tether::settings {
namespace {

// With --node-version=auto the selection is resolved again for each version tried: bundled
// plugins follow the version (ones that arrived later are left out), listed ones without a
// version take it, listed ones with a version keep theirs and win over a bundled one.
TEST(ResolvePluginsTest, FollowsTheVersionInUse) {
  PluginSelection selection;
  selection.bundled = true;
  selection.listed = {{"key-auth", "1.2.3"}, {"my-plugin", ""}};
  const std::vector<Plugin> at_3_4 = ResolvePlugins(selection, "3.4.0");
  const std::vector<Plugin> at_3_9 = ResolvePlugins(selection, "3.9.0");
  auto find = [](const std::vector<Plugin>& plugins, absl::string_view name) -> const Plugin* {
    for (const Plugin& p : plugins) {
      if (p.name == name) return &p;
    }
    return nullptr;
  };
  EXPECT_EQ(find(at_3_4, "redirect"), nullptr);  // bundled since 3.9
  ASSERT_NE(find(at_3_9, "redirect"), nullptr);
  EXPECT_EQ(find(at_3_9, "redirect")->version, "3.9.0");
  EXPECT_EQ(find(at_3_4, "key-auth")->version, "1.2.3");
  EXPECT_EQ(find(at_3_4, "my-plugin")->version, "3.4.0");
  EXPECT_EQ(find(at_3_4, "acl")->version, "3.4.0");
  EXPECT_TRUE(std::is_sorted(at_3_9.begin(), at_3_9.end(),
                             [](const Plugin& a, const Plugin& b) { return a.name < b.name; }));
}

}  // namespace
}  // namespace tether::settings
