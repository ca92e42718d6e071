// The one translation unit that compiles Asio, Asio SSL, Beast and Boost.JSON (see Dependencies.cmake).
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
#include <boost/json/src.hpp>
