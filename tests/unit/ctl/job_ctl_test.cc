// Proves `agentctl job validate FILE` (agent/ctl/job_cmd.h): a valid file prints the success line
// and a summary, an invalid one every problem and exit 1, a missing or oversize file one clear
// line, -format json both ways; all with no agent running (the socket given does not exist).
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "agent/ctl/ctl.h"
#include "agent/sched/job.h"
#include "hal/posix/posix_env.h"
#include "tests/unit/ctl/ctl_helpers.h"

namespace {

using ctltest::RunResult;

class JobCtlTest : public ::testing::Test {
 protected:
  JobCtlTest() {
    dir_ = ctltest::make_temp_dir("weft-jobctl-");
    EXPECT_FALSE(dir_.empty());
  }
  ~JobCtlTest() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string write(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    FILE* f = std::fopen(path.c_str(), "wb");
    EXPECT_NE(f, nullptr);
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
    return path;
  }

  RunResult ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {"-socket", dir_ + "/none.sock"});
    return ctltest::run_ctl(env_.env(), args);
  }

  hal::posix::PosixEnv env_;
  std::string dir_;
};

constexpr const char* kValid =
    R"({"Job":{"ID":"web","Type":"batch","TaskGroups":[{"Name":"g","Tasks":[)"
    R"({"Name":"a","Driver":"exec","Config":{"command":"/bin/true"}},{"Name":"b","Driver":"exec","Config":{"command":"/bin/true"}}]}]}})";

TEST_F(JobCtlTest, ValidFilePrintsSummary) {
  RunResult r = ctl({"job", "validate", write("web.json", kValid)});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "Job validation successful\n\"web\" (batch): 1 group, 2 tasks\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(JobCtlTest, InvalidFileListsEveryProblem) {
  RunResult r = ctl({"job", "validate",
                     write("bad.json", R"({"Job":{"ID":"web","Priority":0,"Colour":"red"}})")});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("Job validation failed: 3 problems in "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("\nJob.Priority: want a whole number from 1 to 100\n"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("\nJob.Colour: unknown field\n"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("\nJob.TaskGroups: required (at least one group)\n"), std::string::npos)
      << r.err;
}

TEST_F(JobCtlTest, MissingAndOversizeFiles) {
  RunResult r = ctl({"job", "validate", dir_ + "/nope.json"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "agentctl job validate: cannot read " + dir_ + "/nope.json: no such file\n");
  r = ctl({"job", "validate", write("big.json", std::string(sched::kJobBytesMax + 1, ' '))});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("larger than 1048576 bytes"), std::string::npos) << r.err;
}

TEST_F(JobCtlTest, JsonFormat) {
  RunResult r = ctl({"-format", "json", "job", "validate", write("web.json", kValid)});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out.rfind(R"({"Valid":true,"Job":{"ID":"web",)", 0), 0u) << r.out;
  r = ctl({"-format", "json", "job", "validate",
           write("bad.json", R"({"ID":"x","TaskGroups":[],"X":1})")});
  EXPECT_EQ(r.rc, 1);
  const std::string want =
      R"x({"Valid":false,"Problems":["Job.X: unknown field","Job.TaskGroups: required (at least one group)"],)x"
      R"("ProblemsDropped":0})";
  EXPECT_EQ(r.out, want + "\n");
}

TEST_F(JobCtlTest, Usage) {
  EXPECT_EQ(ctl({"job"}).rc, 2);
  EXPECT_EQ(ctl({"job", "validate"}).rc, 2);
  EXPECT_EQ(ctl({"job", "run", "x"}).rc, 2);
  RunResult help = ctl({"help"});
  EXPECT_NE(help.out.find("job validate FILE"), std::string::npos);
}

}  // namespace
