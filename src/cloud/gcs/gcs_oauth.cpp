#include "cloud/gcs/gcs_oauth.hpp"

#include "statestore/error.hpp"
#include "core/text_util.hpp"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>
#include <string>

namespace statestore::gcs {
namespace {

namespace json = boost::json;

struct bio_free {
    void operator()(BIO* b) const noexcept { BIO_free(b); }
};
struct pkey_free {
    void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
struct md_ctx_free {
    void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};

[[noreturn]] void bad_key(const service_account& account, const char* why)
{
    // OpenSSL's queue may describe the PEM; drop it rather than risk it reaching a message.
    ERR_clear_error();
    throw_error(errc::invalid_setting, "the private_key of service account " +
                                           account.client_email + " " + why);
}

std::string rs256_sign(const service_account& account, std::string_view input)
{
    std::unique_ptr<BIO, bio_free> bio(
        BIO_new_mem_buf(account.private_key.data(), static_cast<int>(account.private_key.size())));
    if (!bio)
        bad_key(account, "could not be read (out of memory)");
    std::unique_ptr<EVP_PKEY, pkey_free> key(
        PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    if (!key)
        bad_key(account, "is not a PEM private key");
    if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA)
        bad_key(account, "is not an RSA key (RS256 needs one)");
    std::unique_ptr<EVP_MD_CTX, md_ctx_free> ctx(EVP_MD_CTX_new());
    std::size_t len = 0;
    if (!ctx ||
        EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
        EVP_DigestSignUpdate(ctx.get(), input.data(), input.size()) != 1 ||
        EVP_DigestSignFinal(ctx.get(), nullptr, &len) != 1)
        bad_key(account, "could not be used to sign");
    std::string sig(len, '\0');
    if (EVP_DigestSignFinal(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len) != 1)
        bad_key(account, "could not be used to sign");
    sig.resize(len);
    return sig;
}

} // namespace

std::string base64url(std::string_view bytes)
{
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    const auto at = [&](std::size_t k) { return static_cast<unsigned char>(bytes[k]); };
    for (; i + 3 <= bytes.size(); i += 3) {
        const unsigned v = (at(i) << 16) | (at(i + 1) << 8) | at(i + 2);
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += alphabet[v & 63];
    }
    const std::size_t rest = bytes.size() - i;
    if (rest == 1) {
        const unsigned v = at(i) << 16;
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
    } else if (rest == 2) {
        const unsigned v = (at(i) << 16) | (at(i + 1) << 8);
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
    }
    return out;
}

std::string jwt_signing_input(const service_account& account, std::string_view scope,
                              std::int64_t iat)
{
    // Boost.JSON keeps insertion order, so the bytes are fixed by this code.
    json::object header;
    header["alg"] = "RS256";
    header["typ"] = "JWT";
    json::object claims;
    claims["iss"] = account.client_email;
    claims["scope"] = scope;
    claims["aud"] = account.token_uri;
    claims["iat"] = iat;
    claims["exp"] = iat + 3600;
    return base64url(json::serialize(header)) + "." + base64url(json::serialize(claims));
}

std::string jwt_assertion(const service_account& account, std::string_view scope,
                          std::int64_t iat)
{
    std::string input = jwt_signing_input(account, scope, iat);
    const std::string sig = rs256_sign(account, input);
    input += '.';
    input += base64url(sig);
    return input;
}

std::string form_encode(std::string_view value)
{
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(value.size());
    for (const char ch : value) {
        const auto c = static_cast<unsigned char>(ch);
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            out += ch;
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

std::string jwt_bearer_request_body(std::string_view assertion)
{
    return "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=" +
           form_encode(assertion);
}

std::string refresh_token_request_body(const authorized_user& user)
{
    return "grant_type=refresh_token&client_id=" + form_encode(user.client_id) +
           "&client_secret=" + form_encode(user.client_secret) +
           "&refresh_token=" + form_encode(user.refresh_token);
}

token_response parse_token_response(unsigned status, std::string_view body, std::string_view who)
{
    boost::system::error_code ec;
    const json::value doc = json::parse(body, ec);
    const json::object* o = !ec && doc.is_object() ? &doc.get_object() : nullptr;
    const auto text = [&](std::string_view field) -> std::string {
        if (!o)
            return {};
        const auto* v = o->if_contains(field);
        return v && v->is_string() ? std::string(v->get_string()) : std::string();
    };

    if (status == 200) {
        token_response r;
        r.access_token = text("access_token");
        if (r.access_token.empty())
            throw_error(errc::backend_unavailable,
                        "the token endpoint " + std::string(who) +
                            " answered 200 without an access_token");
        r.expires_in = std::chrono::seconds(3600);
        if (const auto* e = o->if_contains("expires_in")) {
            // Google sends a number; some proxies send a string.
            if (auto n = e->if_int64())
                r.expires_in = std::chrono::seconds(*n);
            else if (auto d = e->if_double())
                r.expires_in = std::chrono::seconds(static_cast<std::int64_t>(*d));
            else if (e->is_string())
                r.expires_in = std::chrono::seconds(std::atoll(e->get_string().c_str()));
        }
        if (r.expires_in.count() <= 0)
            throw_error(errc::backend_unavailable, "the token endpoint " + std::string(who) +
                                                       " answered with a token that has "
                                                       "already expired (expires_in <= 0)");
        return r;
    }

    // The endpoint's own words (RFC 6749 section 5.2): the code and its description. These are
    // the service's text, not ours; they hold no secret of ours, but bound and escape them.
    std::string words;
    if (const std::string code = text("error"); !code.empty()) {
        words = detail::escape_for_message(code, 80);
        if (const std::string d = text("error_description"); !d.empty())
            words += ": " + detail::escape_for_message(d, 200);
    }
    std::string msg = "the token endpoint " + std::string(who) + " refused the request (HTTP " +
                      std::to_string(status) + (words.empty() ? "" : ", " + words) + ")";
    if (status == 400 || status == 401 || status == 403)
        throw_error(errc::auth_failed, msg);
    if (status == 429)
        throw_error(errc::throttled, msg);
    throw_error(errc::backend_unavailable, msg);
}

} // namespace statestore::gcs
