// The one translation unit that compiles Asio (BOOST_ASIO_SEPARATE_COMPILATION), so the
// other TUs only parse its declarations.
#include <boost/asio/impl/src.hpp>
