#include "sidecar/cp/basic_info.h"

#include "gtest/gtest.h"
#include "sidecar/cp/outlet.h"

namespace tether::cp {
namespace {

// Plugins are sorted by lowercase name, a plugin without version sends only its name, filters is
// an empty object and labels are left out when none are set (kong-protocol.md §2).
TEST(BasicInfoTest, ShapeWithoutLabels) {
  EXPECT_EQ(BuildBasicInfo({{"key-auth", "3.10.0"}, {"ACL", "3.10.0"}, {"custom", ""}}, {}),
            R"({"type":"basic_info","plugins":[{"name":"ACL","version":"3.10.0"},)"
            R"({"name":"custom"},{"name":"key-auth","version":"3.10.0"}],"filters":{}})");
}

TEST(BasicInfoTest, LabelsWhenSet) {
  EXPECT_EQ(BuildBasicInfo({}, {{"region", "eu"}, {"deployment", "mycloud"}}),
            R"({"type":"basic_info","plugins":[],"filters":{},)"
            R"("labels":{"deployment":"mycloud","region":"eu"}})");
}

TEST(BasicInfoTest, EscapesStrings) {
  EXPECT_EQ(BuildBasicInfo({{"we\"ird", "1"}}, {}),
            R"({"type":"basic_info","plugins":[{"name":"we\"ird","version":"1"}],"filters":{}})");
}

// §1.1: the query values are concatenated as Kong does, without URL-encoding.
TEST(OutletTargetTest, QueryParameters) {
  SessionOptions options;
  options.node_id = "6f1d2a3b-0c4d-4e5f-8a9b-0c1d2e3f4a5b";
  options.node_hostname = "dp-1.example";
  options.node_version = "3.10.0";
  EXPECT_EQ(OutletTarget(options, options.node_version),
            "/v1/outlet?node_id=6f1d2a3b-0c4d-4e5f-8a9b-0c1d2e3f4a5b"
            "&node_hostname=dp-1.example&node_version=3.10.0");
}

// The URL in logs and status names the endpoint and the node, not a version that `auto` changes
// from one attempt to the next (status has node.version for that).
TEST(OutletUrlTest, LeavesTheVersionOut) {
  SessionOptions options;
  options.host = "cp.example";
  options.port = 8005;
  options.node_id = "n1";
  options.node_hostname = "dp-1.example";
  options.node_version = "auto";
  EXPECT_EQ(OutletUrl(options),
            "wss://cp.example:8005/v1/outlet?node_id=n1&node_hostname=dp-1.example");
}

}  // namespace
}  // namespace tether::cp
