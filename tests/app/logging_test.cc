#include "app/logging.h"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

#include <sstream>

namespace learnflow {
namespace {

std::string LogOneLine(LogFormat format, const std::string& message) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  spdlog::logger logger("test", sink);
  logger.set_formatter(MakeLogFormatter(format));
  logger.warn("{}", message);
  logger.flush();
  return out.str();
}

TEST(LoggingTest, JsonLinesEscapeTheMessage) {
  const std::string message = "dead-lettered \"learning.events/0/5\"\n\tpath C:\\x \x01 naïve";
  const std::string line = LogOneLine(LogFormat::kJson, message);
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line per event: " << line;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(line).get(doc), simdjson::SUCCESS) << line;
  std::string_view msg, level, time;
  ASSERT_EQ(doc["msg"].get(msg), simdjson::SUCCESS);
  ASSERT_EQ(doc["level"].get(level), simdjson::SUCCESS);
  ASSERT_EQ(doc["time"].get(time), simdjson::SUCCESS);
  EXPECT_EQ(msg, message);
  EXPECT_EQ(level, "warning");
  EXPECT_EQ(time.back(), 'Z');
}

TEST(LoggingTest, TextLinesCarryTimeLevelAndMessage) {
  const std::string line = LogOneLine(LogFormat::kText, "partition assigned");
  EXPECT_NE(line.find(" warning partition assigned"), std::string::npos) << line;
  EXPECT_EQ(line[10], 'T');
}

}  // namespace
}  // namespace learnflow
