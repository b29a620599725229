// Proves the oci driver's bundle spec: the task's args, env, cwd, user, hostname, limits,
// cgroup path, namespaces and binds land where the OCI runtime spec puts them; users resolve
// from an image's passwd/group text (numbers, names, name:group) and unknown names are refused;
// and, where runc, busybox and root are present, runc really runs a bundle made from it.
#include "agent/supervisor/oci_spec.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "agent/http/json.h"

namespace supervisor {
namespace {

std::string text_of(const cJSON* item) { return cJSON_IsString(item) ? item->valuestring : ""; }

TEST(OciSpec, TaskFieldsLandInTheSpec) {
  OciSpecInput in;
  in.args = {"/bin/sh", "-c", "echo hi"};
  in.env = {"PATH=/bin", "A=b"};
  in.cwd = "/work";
  in.uid = 1000;
  in.gid = 100;
  in.hostname = "abc";
  in.memory_bytes_max = 64 << 20;
  in.cpu_shares = 512;
  in.cgroups_path = "/weft/x.t";
  in.host_network = false;
  in.binds = {{"/host/resolv.conf", "/etc/resolv.conf"}};
  auto doc = http::Json::parse(oci_runtime_spec(in), 1 << 20);
  ASSERT_TRUE(doc.is_ok());
  const cJSON* root = doc->get();
  const cJSON* process = cJSON_GetObjectItem(root, "process");
  EXPECT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(process, "args")), 3);
  EXPECT_EQ(text_of(cJSON_GetArrayItem(cJSON_GetObjectItem(process, "env"), 1)), "A=b");
  EXPECT_EQ(text_of(cJSON_GetObjectItem(process, "cwd")), "/work");
  const cJSON* user = cJSON_GetObjectItem(process, "user");
  char* uid = cJSON_PrintUnformatted(cJSON_GetObjectItem(user, "uid"));
  EXPECT_EQ(std::string(uid), "1000");
  cJSON_free(uid);
  EXPECT_EQ(text_of(cJSON_GetObjectItem(root, "hostname")), "abc");
  EXPECT_EQ(text_of(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "root"), "path")), "rootfs");
  const cJSON* linux = cJSON_GetObjectItem(root, "linux");
  EXPECT_EQ(text_of(cJSON_GetObjectItem(linux, "cgroupsPath")), "/weft/x.t");
  const cJSON* memory = cJSON_GetObjectItem(cJSON_GetObjectItem(linux, "resources"), "memory");
  char* limit = cJSON_PrintUnformatted(cJSON_GetObjectItem(memory, "limit"));
  EXPECT_EQ(std::string(limit), std::to_string(64 << 20));
  cJSON_free(limit);
  bool network = false;
  const cJSON* ns;
  cJSON_ArrayForEach(ns, cJSON_GetObjectItem(linux, "namespaces")) network |= text_of(cJSON_GetObjectItem(ns, "type")) == "network";
  EXPECT_TRUE(network) << "host_network false gives a network namespace";
  bool bound = false;
  const cJSON* m;
  cJSON_ArrayForEach(m, cJSON_GetObjectItem(root, "mounts")) {
    bound |= text_of(cJSON_GetObjectItem(m, "destination")) == "/etc/resolv.conf" &&
             text_of(cJSON_GetObjectItem(m, "source")) == "/host/resolv.conf";
  }
  EXPECT_TRUE(bound);
}

TEST(OciSpec, BridgeJoinsTheAllocationsNamespaceByPath) {
  OciSpecInput in;
  in.args = {"/bin/true"};
  in.host_network = false;
  in.netns_path = "/run/weft/netns/abc";
  auto doc = http::Json::parse(oci_runtime_spec(in), 1 << 20);
  ASSERT_TRUE(doc.is_ok());
  int networks = 0;
  std::string path;
  const cJSON* ns;
  cJSON_ArrayForEach(ns, cJSON_GetObjectItem(cJSON_GetObjectItem(doc->get(), "linux"), "namespaces")) {
    if (text_of(cJSON_GetObjectItem(ns, "type")) != "network") continue;
    ++networks;
    path = text_of(cJSON_GetObjectItem(ns, "path"));
  }
  EXPECT_EQ(networks, 1);
  EXPECT_EQ(path, "/run/weft/netns/abc");
}

TEST(OciSpec, HostNetworkHasNoNetworkNamespace) {
  OciSpecInput in;
  in.args = {"/bin/true"};
  std::string spec = oci_runtime_spec(in);
  EXPECT_EQ(spec.find("\"network\""), std::string::npos);
  EXPECT_NE(spec.find("\"pid\""), std::string::npos);
}

TEST(OciSpec, UsersResolveFromTheImage) {
  const std::string passwd = "root:x:0:0:root:/root:/bin/sh\nwww:x:33:44::/var/www:/bin/false\n";
  const std::string group = "root:x:0:\nstaff:x:50:\n";
  uint32_t uid = 9, gid = 9;
  EXPECT_TRUE(resolve_oci_user("", passwd, group, &uid, &gid));
  EXPECT_EQ(uid, 0u);
  EXPECT_TRUE(resolve_oci_user("www", passwd, group, &uid, &gid));
  EXPECT_EQ(uid, 33u);
  EXPECT_EQ(gid, 44u);
  EXPECT_TRUE(resolve_oci_user("33", passwd, group, &uid, &gid));
  EXPECT_EQ(gid, 44u) << "a numeric uid takes its passwd group";
  EXPECT_TRUE(resolve_oci_user("1234", passwd, group, &uid, &gid));
  EXPECT_EQ(uid, 1234u);
  EXPECT_EQ(gid, 0u);
  EXPECT_TRUE(resolve_oci_user("www:staff", passwd, group, &uid, &gid));
  EXPECT_EQ(gid, 50u);
  EXPECT_TRUE(resolve_oci_user("www:7", passwd, group, &uid, &gid));
  EXPECT_EQ(gid, 7u);
  EXPECT_FALSE(resolve_oci_user("nobody", passwd, group, &uid, &gid));
  EXPECT_FALSE(resolve_oci_user("www:nogroup", passwd, group, &uid, &gid));
}

// runc runs a bundle whose config.json this module wrote (a busybox rootfs).
TEST(OciSpec, RuncRunsTheBundle) {
  if (geteuid() != 0 || std::system("command -v runc >/dev/null && test -x /bin/busybox") != 0) {
    GTEST_SKIP() << "needs root, runc and busybox-static";
  }
  char dir_template[] = "/tmp/weft-oci-spec.XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  ASSERT_EQ(std::system(("mkdir -p " + dir + "/rootfs/bin && cp /bin/busybox " + dir + "/rootfs/bin/ && ln -s busybox " + dir +
                         "/rootfs/bin/sh && echo nameserver 10.9.9.9 > " + dir + "/resolv.conf")
                            .c_str()),
            0);
  OciSpecInput in;
  in.args = {"/bin/sh", "-c", "echo hello from $(busybox id -u):$(busybox hostname); busybox cat /etc/resolv.conf"};
  in.env = {"PATH=/bin"};
  in.hostname = "box1";
  in.memory_bytes_max = 64 << 20;
  in.cgroups_path = "/weft/oci-spec-test";
  in.binds = {{dir + "/resolv.conf", "/etc/resolv.conf"}};
  FILE* f = std::fopen((dir + "/config.json").c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::string spec = oci_runtime_spec(in);
  std::fwrite(spec.data(), 1, spec.size(), f);
  std::fclose(f);
  const std::string id = "weft-oci-spec-test-" + std::to_string(getpid());
  FILE* p = popen(("cd " + dir + " && timeout 30 runc run " + id + " 2>&1").c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  EXPECT_EQ(pclose(p), 0) << out;
  EXPECT_NE(out.find("hello from 0:box1"), std::string::npos) << out;
  EXPECT_NE(out.find("nameserver 10.9.9.9"), std::string::npos) << out;
  std::system(("runc delete --force " + id + " >/dev/null 2>&1; rm -rf " + dir).c_str());
}

}  // namespace
}  // namespace supervisor
