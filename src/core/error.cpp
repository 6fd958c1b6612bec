#include "statestore/error.hpp"

namespace statestore {
namespace {

class category_impl final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "statestore"; }
    std::string message(int ev) const override
    {
        switch (static_cast<errc>(ev)) {
        case errc::not_found: return "not found";
        case errc::precondition_failed: return "precondition failed";
        case errc::lock_timeout: return "timed out waiting for lock";
        case errc::lock_lost: return "lock lost";
        case errc::invalid_state_id: return "invalid state id";
        case errc::invalid_uri: return "invalid URI";
        case errc::invalid_document: return "invalid state document";
        case errc::invalid_lock: return "invalid lock content";
        case errc::invalid_setting: return "invalid setting";
        case errc::unsupported_backend: return "unsupported backend";
        case errc::io_error: return "I/O error";
        case errc::database_error: return "database error";
        case errc::auth_failed: return "authentication failed";
        case errc::throttled: return "throttled";
        case errc::backend_unavailable: return "backend unavailable";
        case errc::cancelled: return "cancelled";
        }
        return "unknown statestore error";
    }
};

} // namespace

const boost::system::error_category& error_category() noexcept
{
    static const category_impl instance;
    return instance;
}

void throw_error(errc code, const std::string& message) { throw error(code, message); }

} // namespace statestore
