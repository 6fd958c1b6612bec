#pragma once
// OAuth 2.0 for Google Cloud Storage as pure functions: the RS256 JWT bearer assertion of a
// service account (RFC 7523), the token request bodies, and the token endpoint's answer.
// No I/O and no clock: the time is an argument, so the assertion is reproducible byte for byte.

#include "cloud/gcs/gcs_credentials.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace statestore::gcs {

/// base64url without padding (RFC 7515 section 2).
std::string base64url(std::string_view bytes);

/// The signing input `base64url(header) "." base64url(claims)` of the assertion issued at
/// `iat` (seconds since the epoch): header {"alg":"RS256","typ":"JWT"}, claims
/// {"iss":client_email,"scope":scope,"aud":token_uri,"iat":iat,"exp":iat+3600}, serialised
/// compactly in exactly that member order.
std::string jwt_signing_input(const service_account& account, std::string_view scope,
                              std::int64_t iat);

/// The complete assertion: signing input "." base64url(RSASSA-PKCS1-v1_5 SHA-256 signature)
/// with the account's private key (OpenSSL EVP). Throws statestore::error(errc::invalid_setting)
/// when the key is not a usable PEM RSA private key; the message never contains the key.
std::string jwt_assertion(const service_account& account, std::string_view scope,
                          std::int64_t iat);

/// application/x-www-form-urlencoded bodies for the token endpoint.
std::string jwt_bearer_request_body(std::string_view assertion);
std::string refresh_token_request_body(const authorized_user& user);

/// Form encoding of one value (RFC 3986 unreserved kept, everything else %XX).
std::string form_encode(std::string_view value);

/// A token endpoint's successful answer.
struct token_response {
    std::string access_token; ///< secret
    std::chrono::seconds expires_in{0};
};

/// Interprets the token endpoint's answer. 200 with {"access_token": "...", "expires_in": N}
/// gives the token (expires_in defaults to 3600 when absent). Anything else throws
/// statestore::error: errc::auth_failed for 400/401/403 with the endpoint's `error` and
/// `error_description` (e.g. "invalid_grant: Invalid JWT Signature."), errc::throttled for
/// 429, errc::backend_unavailable for other statuses or an unreadable body. `who` names the
/// endpoint and the account for the message (never a secret).
token_response parse_token_response(unsigned status, std::string_view body, std::string_view who);

} // namespace statestore::gcs
