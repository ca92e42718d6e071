#include "localproxy/build_info.hpp"

#include <boost/version.hpp>
#include <google/protobuf/stubs/common.h>
#include <openssl/crypto.h>

#include "localproxy/version.hpp"

namespace localproxy {

std::string version_text(std::string_view program) {
  std::string out(program);
  out += ' ';
  out += version;
  out += " (git ";
  out += git_revision;
  out += ")\nBoost ";
  out += std::to_string(BOOST_VERSION / 100000) + "." + std::to_string(BOOST_VERSION / 100 % 1000) + "." +
         std::to_string(BOOST_VERSION % 100);
  out += ", OpenSSL ";
  out += OpenSSL_version(OPENSSL_VERSION_STRING);
  out += ", Protobuf ";
  out += google::protobuf::internal::VersionString(GOOGLE_PROTOBUF_VERSION);
  out += '\n';
  return out;
}

}  // namespace localproxy
