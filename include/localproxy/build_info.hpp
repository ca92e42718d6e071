#pragma once
// What --version prints, for localproxy and tunnel-service alike.
#include <string>
#include <string_view>

namespace localproxy {

// "PROGRAM VERSION (git REVISION)\nBoost X, OpenSSL Y, Protobuf Z\n". OpenSSL is the library
// loaded at run time; Boost and Protobuf are the versions built against.
[[nodiscard]] std::string version_text(std::string_view program);

}  // namespace localproxy
