// Log set-up for the `learnflow` commands: spdlog to stderr, UTC timestamps, text or one JSON
// object per line (`log.format: json`, message escaped per RFC 8259).
//
// Call from the main thread before starting other threads. MakeLogFormatter() is separate so
// tests can check the exact line format on a logger of their own.
#pragma once

#include <memory>

#include <spdlog/formatter.h>

#include "app/config.h"

namespace learnflow {

std::unique_ptr<spdlog::formatter> MakeLogFormatter(LogFormat format);
void ConfigureLogging(LogFormat format, LogLevel level);

}  // namespace learnflow
