// The web proxy's reply to CONNECT (check_connect_reply): the input is the reply header as the
// dialer collects it (up to and including the first blank line, at most 8 KiB).
// Checks: only a readable 2xx reply lets the connection go on; a refusal is classified by its
// status (4xx: do not retry, anything else: retry); the message is one line and never shows the
// proxy password.
#include <string>

#include "fuzz_common.hpp"
#include "transport/http_connect.hpp"

namespace {
namespace lt = localproxy::transport;
}

LP_FUZZ_INITIALIZE()

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 8192) return -1;  // http_connect gives up on a longer header before parsing it
  std::string header(fuzz::as_text(data, size));
  // What http_connect hands over always ends the header, unless the input itself says otherwise.
  if (!header.empty() && header.back() == '!') header.pop_back();
  else if (!header.ends_with("\r\n\r\n")) header += "\r\n\r\n";

  lt::http_proxy proxy;
  proxy.host = "proxy.example";
  proxy.port = 3128;
  proxy.user = "user";
  proxy.password = "s3cret-Pa55word";
  lt::connect_failure failure;
  failure.message = "(untouched)";
  const bool ok = lt::check_connect_reply(header, proxy, failure);

  if (ok) {
    // A 2xx reply: "HTTP/1.x 2" at the start, after which the TLS stream begins.
    fuzz::check(header.size() >= 12 && header.starts_with("HTTP/1.") && header[9] == '2',
                "accepted a CONNECT reply that is not 2xx: " + fuzz::printable(header.substr(0, 40)));
    fuzz::check(failure.message == "(untouched)", "a failure was filled in for an accepted reply");
    return 0;
  }
  fuzz::check(failure.message != "(untouched)" && !failure.message.empty(), "a refusal without a message");
  fuzz::check(failure.message.find_first_of("\r\n") == std::string::npos,
              "the refusal message spans lines: " + fuzz::printable(failure.message));
  fuzz::check(failure.message.find(proxy.password) == std::string::npos, "the refusal message shows the password");
  const int status = failure.http_status;
  if (failure.kind == lt::failure_kind::proxy_rejected) {
    fuzz::check(status >= 400 && status < 500, "rejected (no retry) with status " + std::to_string(status));
    fuzz::check(!failure.retryable(), "a 4xx refusal is retried");
  } else {
    fuzz::check(failure.kind == lt::failure_kind::proxy_failed, "unexpected failure kind for a CONNECT reply");
    fuzz::check(status < 400 || status >= 500, "a 4xx CONNECT reply is retried: " + std::to_string(status));
    fuzz::check(status < 200 || status >= 300, "a 2xx CONNECT reply failed");
    fuzz::check(failure.retryable(), "a non-4xx refusal is not retried");
  }
  return 0;
}
