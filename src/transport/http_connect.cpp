#include "http_connect.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/beast/core/detail/base64.hpp>

#include "localproxy/log/log.hpp"

namespace localproxy::transport {

namespace http = boost::beast::http;

std::string authority(const std::string& host, std::uint16_t port) {
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(host, ec);
  const bool v6 = !ec && address.is_v6();
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string connect_request(const websocket_target& target) {
  const auto where = authority(target.host, target.port);
  std::string request = "CONNECT " + where + " HTTP/1.1\r\nHost: " + where + "\r\nUser-Agent: " + target.user_agent + "\r\n";
  if (target.proxy && !target.proxy->user.empty()) {
    const std::string credentials = target.proxy->user + ":" + target.proxy->password;
    std::string encoded(boost::beast::detail::base64::encoded_size(credentials.size()), '\0');
    encoded.resize(boost::beast::detail::base64::encode(encoded.data(), credentials.data(), credentials.size()));
    request += "Proxy-Authorization: Basic " + encoded + "\r\n";
  }
  return request + "\r\n";
}

bool check_connect_reply(const std::string& header, const http_proxy& proxy, connect_failure& failure) {
  const auto where = "web proxy " + authority(proxy.host, proxy.port);
  http::response_parser<http::empty_body> parser;
  parser.skip(true);  // a reply to CONNECT has no body
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(header), ec);
  if (ec || !parser.is_header_done()) {
    failure = {failure_kind::proxy_failed, 0, {}, where + " sent an unreadable CONNECT reply: " + ec.message()};
    return false;
  }
  const int status = parser.get().result_int();
  LP_LOG(info) << "Web proxy CONNECT status: " << status << " " << parser.get().reason();
  if (status >= 200 && status < 300) return true;
  if (status == 407 || status == 401) {  // some proxies (tinyproxy 1.11) answer a bad password with 401
    failure = {failure_kind::proxy_rejected, status, {},
               where + " answered " + std::to_string(status) + ": it wants " + std::string(proxy.user.empty() ? "credentials" : "other credentials") +
                   " (user:password in the proxy URL)"};
  } else if (status >= 400 && status < 500) {
    failure = {failure_kind::proxy_rejected, status, {}, where + " refused CONNECT with " + std::to_string(status)};
  } else {
    failure = {failure_kind::proxy_failed, status, {}, where + " answered CONNECT with " + std::to_string(status)};
  }
  return false;
}

}  // namespace localproxy::transport
